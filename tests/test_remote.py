"""Remote storage end to end: run the demo language in a throwaway git + DVC project, `foundry push` to a
local DVC remote, `git clone` the project elsewhere, `foundry pull` there, and check that every artifact
is back, byte for byte, and that DVC sees everything up to date, so a `foundry run` in the clone runs no
stage. Also checks the published folder (models/<lang>/hub, the publish stage's): the Hub card with the scores
read back with huggingface_hub, offline, and the folder loading in transformers' pipelines."""
from __future__ import annotations

import filecmp
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO
from tests.test_flow import _env, make_project, ran_stages

pytestmark = pytest.mark.slow

STAGES = ["clean", "validate", "vocab", "shard", "pretrain", "evaluate", "publish"]


def demo_config() -> str:
    """corpora/demo.yaml with a CPU-test budget: a few pre-training steps, one seed, one epoch."""
    cfg = yaml.safe_load((REPO / "corpora/demo.yaml").read_text(encoding="utf-8"))
    cfg["vocab"]["size"] = 1000
    cfg["shard"]["max_seq_length"] = 64
    cfg["pretrain"] = {"steps": 12, "batch_size": 8, "warmup_steps": 2, "log_every": 4, "checkpoint_every": 6,
                       "eval_batches": 1}
    cfg["evaluate"]["seeds"] = 1
    for t in cfg["evaluate"]["tasks"]:
        t.update(epochs=1, max_length=64, max_train_examples=64, max_eval_examples=32)
    return yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True)


def demo_project(tmp: Path) -> Path:
    proj = make_project(tmp, tmp, "demo", demo_config(), "unused", "unused")
    shutil.copytree(REPO / "corpora" / "demo", proj / "corpora" / "demo")
    shutil.copy(REPO / ".dvcignore", proj / ".dvcignore")
    (proj / "params.yaml").write_text(yaml.safe_dump({
        "data_root": str(tmp),
        "languages": {"demo": {"raw": "corpora/demo/text", "eval": ["corpora/demo/task"] * 4}},
    }))
    git(proj, "add", "-A")
    git(proj, "commit", "-qm", "demo project")
    return proj


def git(proj: Path, *args: str) -> str:
    r = subprocess.run(["git", *args], cwd=proj, env=_env(proj), capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout


def run(proj: Path, remote: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**_env(proj), "FOUNDRY_REMOTE": str(remote)}
    return subprocess.run([sys.executable, *args], cwd=proj, env=env, capture_output=True, text=True, timeout=900)


def foundry(proj: Path, remote: Path, *args: str) -> subprocess.CompletedProcess:
    return run(proj, remote, "-m", "flows.cli", *args)


def dvc_outputs(proj: Path) -> list[str]:
    """Every output path dvc.lock records (outs, metrics, plots), relative to the project."""
    lock = yaml.safe_load((proj / "dvc.lock").read_text(encoding="utf-8"))
    return sorted({o["path"] for st in lock["stages"].values() for o in st.get("outs") or []})


def same_tree(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two files or folders (missing, extra or different bytes)."""
    if a.is_file() or b.is_file():
        return [] if a.is_file() and b.is_file() and filecmp.cmp(a, b, shallow=False) else [str(a)]
    fa = {p.relative_to(a) for p in a.rglob("*") if p.is_file()}
    fb = {p.relative_to(b) for p in b.rglob("*") if p.is_file()} if b.is_dir() else set()
    bad = sorted(str(p) for p in fa ^ fb)
    bad += [str(p) for p in sorted(fa & fb) if not filecmp.cmp(a / p, b / p, shallow=False)]
    return bad


def check_published(proj: Path) -> None:
    """models/demo/hub: the model folder's files (hard links) and a Hub card with valid metadata and the scores."""
    from huggingface_hub import ModelCard, metadata_load
    from huggingface_hub.repocard_data import model_index_to_eval_results
    from transformers import pipeline

    hub, model = proj / "models/demo/hub", proj / "models/demo/electra"
    ev = json.loads((proj / "metrics/demo/eval.json").read_text(encoding="utf-8"))
    meta = metadata_load(hub / "README.md")
    assert meta["language"] == ["en"] and meta["license"] == "other" and meta["library_name"] == "transformers"
    assert meta["pipeline_tag"] and {"electra", "convbert"} <= set(meta["tags"])
    _, results = model_index_to_eval_results(meta["model-index"])
    assert [(r.dataset_type, r.metric_value) for r in results] == \
        [("topic", round(ev["tasks"]["topic"]["pretrained"]["median"], 4))]
    text = ModelCard.load(hub / "README.md").text
    for heading in ("## Intended use", "## Limitations", "## Training data", "## Scores", "## Lineage"):
        assert heading in text, heading
    assert "| topic |" in text and "**auto-approved**" in text
    verdict = ev["tasks"]["topic"]["verdict"]   # the summary's warning is in the card too
    assert ("**Warning:** the pre-trained model scores below random initialisation" in text) == (verdict == "below")
    assert ("**Warning:** pre-training gained nothing measurable over random initialisation" in text) == \
        (verdict == "level")
    files = {p.relative_to(model).as_posix() for p in model.rglob("*") if p.is_file()}
    assert files == {p.relative_to(hub).as_posix() for p in hub.rglob("*") if p.is_file()}
    assert same_tree(model, hub) == ["README.md"]  # the same files, but for the card
    fill = pipeline("fill-mask", model=str(hub / "generator"), device="cpu")
    assert fill("The lighthouse keeper climbed the [MASK] every evening.")[0]["token"] > 4


def test_push_clone_pull_is_up_to_date(tmp_path):
    remote = tmp_path / "remote"
    proj = demo_project(tmp_path)

    r = foundry(proj, remote, "run", "demo")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert ran_stages(r.stdout) == set(STAGES)

    # the published card: lineage and review from pretrain, the scores from evaluate
    check_published(proj)
    model_readme = (proj / "models/demo/electra/README.md").read_text(encoding="utf-8")
    lock = yaml.safe_load((proj / "dvc.lock").read_text(encoding="utf-8"))["stages"]
    outs = {o["path"]: o["md5"] for s in lock.values() for o in s.get("outs") or []}
    for path in ("data/demo/clean", "models/demo/tokenizer", "data/demo/shards"):
        assert outs[path] in model_readme, f"{path} hash missing from the model card"
    head = git(proj, "rev-parse", "HEAD").strip()
    assert re.search(rf"\| git_commit \| {head}", model_readme)
    assert '"decision": "auto-approved"' in model_readme
    assert "| review_decision_in_lineage | true |" in model_readme
    assert '"steps": 12' in model_readme  # the parameters
    assert "models/demo/hub/README.md" in model_readme  # the model's card points to the published one

    # commit what git tracks (dvc.lock, the .gitignore files DVC wrote, the review decision), then push
    git(proj, "add", "-A")
    git(proj, "commit", "-qm", "demo run")
    assert "dvc.lock" in git(proj, "ls-files")
    assert "data/demo/review.json" in git(proj, "ls-files")
    r = foundry(proj, remote, "push")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "foundry-local" in r.stdout and str(remote) in r.stdout, r.stdout
    assert re.search(r"pushed [1-9]\d* file", r.stdout), r.stdout
    assert "foundry-local" in (proj / ".dvc/config.local").read_text()
    assert "config.local" not in git(proj, "ls-files", ".dvc")  # the machine's remote is not committed

    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "-q", str(proj), str(clone)], check=True, env=_env(clone), timeout=120)
    assert not (clone / "models/demo/electra").exists() and not (clone / "data/demo/clean").exists()
    r = foundry(clone, remote, "pull")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "(missing)" not in r.stdout, r.stdout

    # every DVC output is back, identical
    outputs = dvc_outputs(proj)
    assert {"data/demo/clean", "models/demo/electra", "models/demo/hub", "metrics/demo/eval.json"} \
        <= set(outputs)
    for out in outputs:
        assert (clone / out).exists(), out
        assert same_tree(proj / out, clone / out) == [], out

    # DVC: nothing to do; the flow: no stage runs
    st = run(clone, remote, "-m", "dvc", "status")
    assert st.returncode == 0 and "up to date" in st.stdout, st.stdout + st.stderr
    st = foundry(clone, remote, "status", "demo")
    assert st.returncode == 0 and st.stdout.count("up to date") == len(STAGES), st.stdout
    r = foundry(clone, remote, "run", "demo")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert ran_stages(r.stdout) == set()
    assert r.stdout.count("skipped (up to date)") == len(STAGES)
    assert json.loads((clone / "metrics/demo/eval.json").read_text())["tasks"]["topic"]
    # pulling one language again is a no-op
    r = foundry(clone, remote, "pull", "demo")
    assert r.returncode == 0 and "0 added, 0 modified" in r.stdout, r.stdout + r.stderr
    assert str(remote.resolve()) in (clone / ".dvc/config.local").read_text()
