"""DVC experiments on a language's knobs (docs/experiments.md).

dvc.yaml declares each stage's config sections of ``corpora/<lang>.yaml`` as its params, so
``dvc exp run -S corpora/demo.yaml:pretrain.steps=N`` edits that file, records the experiment, and re-runs
only the stages downstream of the knob; the YAML keeps its comments.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

pytestmark = pytest.mark.slow


def _project(tmp: Path) -> Path:
    proj = tmp / "proj"
    proj.mkdir()
    for name in ("pipeline", "model", "flows"):
        shutil.copytree(REPO / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", proj / "dvc.yaml")
    shutil.copytree(REPO / "corpora" / "demo", proj / "corpora" / "demo")
    # the shipped demo config, made cheap: a few pre-training steps, no fine-tuning task
    text = (REPO / "corpora" / "demo.yaml").read_text(encoding="utf-8")
    cfg = yaml.safe_load(text)
    head = text[:text.index("\nlanguage:") + 1]  # the comment block stays: -S must not drop it
    cfg["pretrain"] = {"steps": 2, "batch_size": 8, "warmup_steps": 0, "log_every": 1, "checkpoint_every": 2,
                       "eval_batches": 1}
    cfg["evaluate"] = {"seeds": 1, "tasks": []}
    (proj / "corpora" / "demo.yaml").write_text(head + yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    params["languages"] = {"demo": params["languages"]["demo"]}  # project-relative paths
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    (proj / ".gitignore").write_text("/data/*/*\n!/data/*/review.json\n/models/\n/reports/\n/metrics/\n"
                                     "/checkpoints/\n/logs/\n/.prefect/\n__pycache__/\n")
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        _run(proj, *cmd)
    return proj


def _env(proj: Path) -> dict:
    return {**os.environ, "FOUNDRY_PROJECT": str(proj), "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}


def _run(proj: Path, *cmd: str) -> subprocess.CompletedProcess:
    r = subprocess.run(list(cmd), cwd=proj, env=_env(proj), capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, f"{' '.join(cmd)}:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r


def _dvc(proj: Path, *args: str) -> subprocess.CompletedProcess:
    return _run(proj, sys.executable, "-m", "dvc", *args)


def test_exp_run_set_param_reruns_only_downstream_stages(tmp_path):
    proj = _project(tmp_path)
    base = _dvc(proj, "repro", "evaluate@demo")
    assert re.findall(r"Running stage '([^']+)'", base.stdout) == [
        f"{s}@demo" for s in ("clean", "validate", "vocab", "shard", "pretrain", "evaluate")]
    _run(proj, "git", "add", "dvc.lock", "data/demo/review.json")
    _run(proj, "git", "commit", "-qm", "baseline")

    r = _dvc(proj, "exp", "run", "-n", "steps3", "-S", "corpora/demo.yaml:pretrain.steps=3", "evaluate@demo")
    out = r.stdout + r.stderr
    assert re.findall(r"Running stage '([^']+)'", out) == ["pretrain@demo", "evaluate@demo"], out[-3000:]
    assert set(re.findall(r"Stage '([^']+)' didn't change, skipping", out)) == {
        "clean@demo", "validate@demo", "vocab@demo", "shard@demo"}
    after = (proj / "corpora" / "demo.yaml").read_text(encoding="utf-8")
    assert yaml.safe_load(after)["pretrain"]["steps"] == 3
    assert after.startswith("# The demo language"), "dvc exp run -S dropped the file's comments"
    assert json.loads((proj / "metrics/demo/pretrain.json").read_text())["steps"] == 3

    shown = json.loads(_dvc(proj, "exp", "show", "--json").stdout)
    exps = [e for rev in shown for e in (rev.get("experiments") or [])]
    names = {e.get("name") for e in exps} | {(r.get("name")) for e in exps for r in (e.get("revs") or [])}
    assert "steps3" in names, json.dumps(shown)[:2000]


def test_size_knobs_are_declared_by_dotted_name():
    """DVC's run-cache key drops every key named `size` or `nfiles` (dvc/stage/cache.py: dict_sha256 with
    exclude=[size, nfiles]), so `vocab: {size: 1000}` and `vocab: {size: 3000}` share a key and `dvc repro`
    / `dvc exp run -S corpora/demo.yaml:vocab.size=1000` restored the 3000-piece tokenizer from the run
    cache. Declared as `vocab.size`, the value is part of the key."""
    from dvc.utils import dict_sha256

    assert dict_sha256({"p": {"vocab": {"size": 1}}}, exclude=["size"]) == \
        dict_sha256({"p": {"vocab": {"size": 2}}}, exclude=["size"])          # the DVC behaviour
    assert dict_sha256({"p": {"vocab.size": 1}}, exclude=["size"]) != \
        dict_sha256({"p": {"vocab.size": 2}}, exclude=["size"])
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    params = {name: [k for p in st["do"].get("params", []) for v in p.values() for k in v] for name, st in stages.items()}
    assert "vocab.size" in params["vocab"]
    assert "model.size" in params["pretrain"] and "model.size" in params["evaluate"]
