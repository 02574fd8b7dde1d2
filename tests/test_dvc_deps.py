"""dvc.yaml's code deps are exactly the code each stage runs, computed from the source (pipeline/codedeps.py):
changing any file a stage can execute makes that stage stale, and a file it never imports does not."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.codedeps import closure, declared_deps, is_code_dep, rewrite, stage_deps
from pipeline.stages import STAGES

ROOT = Path(__file__).resolve().parents[1]
FIX = "python -m pipeline.codedeps --write rewrites them; --check lists the differences"


def test_dvc_yaml_declares_the_stages_of_the_table_in_order():
    stages = list(yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"])
    assert stages == list(STAGES)


@pytest.mark.parametrize("stage", STAGES)
def test_dvc_yaml_lists_exactly_the_code_the_stage_runs(stage):
    declared = set(declared_deps(ROOT / "dvc.yaml", ROOT)[stage])
    computed = set(stage_deps(stage, ROOT))
    problems = [f"dvc.yaml stage {stage} misses {d} (the stage runs it)" for d in sorted(computed - declared)]
    problems += [f"dvc.yaml stage {stage} lists {d}, which the stage never imports" for d in sorted(declared - computed)]
    assert not problems, "\n".join(problems + [FIX])



def test_cleaning_does_not_depend_on_the_evaluation_library():
    """clean reads tasks' text (`format: tasks`) through pipeline/taskdata/; an edit to the scorecard or the
    fine-tuning jobs must not re-clean every corpus, while an edit to a task reader must."""
    clean = stage_deps("clean", ROOT)
    assert "pipeline/taskdata" in clean and not any(d.startswith("pipeline/evaluation") for d in clean), clean
    assert "pipeline/taskdata" in stage_deps("evaluate", ROOT)

def test_rewrite_changes_only_code_deps():
    text = (ROOT / "dvc.yaml").read_text(encoding="utf-8")
    new = rewrite(text, ROOT)

    def other_lines(t: str) -> list[str]:
        return [ln for ln in t.splitlines() if not (ln.strip().startswith("- ") and is_code_dep(ln.strip()[2:], ROOT))]

    assert other_lines(new) == other_lines(text)
    tmp_yaml = yaml.safe_load(new)["stages"]
    for stage in STAGES:
        deps = [d for d in tmp_yaml[stage]["do"]["deps"] if isinstance(d, str) and is_code_dep(d, ROOT)]
        assert deps == stage_deps(stage, ROOT)


def _write(root: Path, files: dict[str, str]) -> None:
    for rel, src in files.items():
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(src, encoding="utf-8")


def test_closure_follows_every_kind_of_import_and_stops_at_third_party(tmp_path):
    _write(tmp_path, {
        "pipeline/__init__.py": "",
        "pipeline/config/__init__.py": "from pipeline.config.sections import *\n",
        "pipeline/config/sections.py": "import yaml\n",
        "pipeline/stages/__init__.py": "",
        "pipeline/stages/one.py": (
            "import numpy as np\n"
            "from pipeline.config import *\n"
            "from pipeline.lib import helper\n"
            "import pipeline.plugins\n"
            "from . import shared\n"
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n    from pipeline import typed_only\n"
            "def run(lang, root):\n"
            "    from pipeline import later\n"
            "    import importlib\n"
            "    importlib.import_module(f'pipeline.formats.{lang}')\n"
            "    return importlib.import_module('model.net')\n"),
        # a package that imports each of its modules by listing itself
        "pipeline/plugins/__init__.py": ("import importlib, pkgutil\n"
                                         "def _load():\n"
                                         "    for m in pkgutil.iter_modules(__path__):\n"
                                         "        importlib.import_module(f'{__name__}.{m.name}')\n"),
        "pipeline/plugins/a.py": "",
        "pipeline/plugins/b/__init__.py": "",
        "pipeline/formats/__init__.py": "",
        "pipeline/formats/text.py": "",
        "pipeline/stages/shared.py": "",
        "pipeline/stages/two.py": "",
        "pipeline/lib/__init__.py": "",
        "pipeline/lib/helper.py": "from .deeper import x\n",
        "pipeline/lib/deeper.py": "x = 1\n",
        "pipeline/later.py": "",
        "pipeline/typed_only.py": "",
        "pipeline/unused.py": "",
        "model/__init__.py": "",
        "model/net.py": "import torch\n",
    })
    rel = {p.relative_to(tmp_path).as_posix() for p in closure(tmp_path / "pipeline/stages/one.py", tmp_path)}
    assert rel == {"pipeline/stages/one.py", "pipeline/stages/__init__.py", "pipeline/stages/shared.py",
                   "pipeline/__init__.py", "pipeline/config/__init__.py", "pipeline/config/sections.py",
                   "pipeline/lib/__init__.py",
                   "pipeline/lib/helper.py", "pipeline/lib/deeper.py", "pipeline/later.py",
                   "model/__init__.py", "model/net.py", "pipeline/plugins/__init__.py", "pipeline/plugins/a.py",
                   "pipeline/plugins/b/__init__.py", "pipeline/formats/__init__.py", "pipeline/formats/text.py"}
    # library packages collapse to their folder; stage modules and top-level modules stay files
    assert stage_deps("one", tmp_path) == [
        "pipeline/stages/one.py", "model/__init__.py", "model/net.py", "pipeline/__init__.py",
        "pipeline/config", "pipeline/formats", "pipeline/later.py", "pipeline/lib", "pipeline/plugins",
        "pipeline/stages/__init__.py", "pipeline/stages/shared.py"]
    # pipeline/config is listed even for a stage that never imports it (it holds the defaults the YAMLs omit)
    assert stage_deps("two", tmp_path) == [
        "pipeline/stages/two.py", "pipeline/__init__.py", "pipeline/config", "pipeline/stages/__init__.py"]
