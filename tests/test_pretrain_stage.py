"""The pretrain *stage* (pipeline/pretrain.py) in a temporary git + DVC project: DVCLive metrics declared in
dvc.yaml and written nowhere else, no DVC experiment, a no-op `dvc status` after `dvc commit`, and a model
card whose lineage carries the DVC hashes that dvc.lock records for the upstream stages."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.pretrain import LIVE_METRICS, dvc_md5
from tests.conftest import REPO
from tests.test_model import write_shards, write_tokenizer

CONFIG = """\
language: xx
script: Latn
sources:
  - path: raw/*.txt
    root: project
clean: {}
validate: {}
review: {}
vocab: {size: 100}
shard: {}
model:
  size: tiny
  overrides: {num_hidden_layers: 2, hidden_size: 64, num_attention_heads: 1, intermediate_size: 128,
              embedding_size: 32}
pretrain:
  steps: 6
  batch_size: 16
  warmup_steps: 2
  log_every: 2
  checkpoint_every: 3
  eval_batches: 1
  device: cpu
evaluate: {}
"""


def _env(proj: Path) -> dict:
    return {**os.environ, "FOUNDRY_PROJECT": str(proj), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t", "OMP_NUM_THREADS": "1"}


def _sh(proj: Path, *cmd: str, env: dict | None = None) -> subprocess.CompletedProcess:
    r = subprocess.run(list(cmd), cwd=proj, env={**_env(proj), **(env or {})}, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, f"{cmd}: {r.stdout[-2000:]}{r.stderr[-2000:]}"
    return r


def _dvc(proj: Path, *args: str) -> subprocess.CompletedProcess:
    return _sh(proj, sys.executable, "-m", "dvc", *args)


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    proj = tmp_path_factory.mktemp("stage") / "proj"
    proj.mkdir()
    for name in ("pipeline", "model"):
        shutil.copytree(REPO / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", proj / "dvc.yaml")
    (proj / "corpora").mkdir()
    (proj / "corpora" / "xx.yaml").write_text(CONFIG)
    (proj / "raw").mkdir()
    (proj / "raw" / "a.txt").write_text("some raw text\n")
    (proj / "evalset").mkdir()
    (proj / "evalset" / "t.tsv").write_text("x\t1\n")
    (proj / "params.yaml").write_text(yaml.safe_dump({"languages": {"xx": {"raw": "raw", "eval": ["evalset"] * 4}}}))
    (proj / ".gitignore").write_text("/checkpoints/\n__pycache__/\n")
    # upstream artifacts (what clean/validate/vocab/shard would have produced)
    (proj / "data" / "xx" / "clean").mkdir(parents=True)
    (proj / "data" / "xx" / "clean" / "part-00000.parquet").write_bytes(b"not really parquet")
    (proj / "data" / "xx" / "validation.json").write_text(json.dumps({"passed": True}))
    (proj / "data" / "xx" / "review.json").write_text(json.dumps({"decision": "auto-approved"}))
    (proj / "reports" / "xx" / "quality").mkdir(parents=True)
    (proj / "reports" / "xx" / "quality" / "index.html").write_text("<html/>")
    write_shards(proj / "data" / "xx" / "shards", n_train=120, n_val=16)
    write_tokenizer(proj / "models" / "xx" / "tokenizer")
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"]):
        _sh(proj, *cmd)
    # record the upstream stages in dvc.lock as the flow does (it `dvc commit`s each stage after running it)
    _dvc(proj, "commit", "-f", "-q", "clean@xx", "validate@xx", "vocab@xx", "shard@xx")
    _sh(proj, "git", "add", "-A")
    _sh(proj, "git", "commit", "-qm", "upstream")
    return proj


@pytest.fixture(scope="module")
def ran(project):
    before = _sh(project, "git", "status", "--porcelain", "--untracked-files=all").stdout
    # torch would take 2 threads (OMP_NUM_THREADS); the stage's share of the cores, as the flow sets it when
    # two languages run at once, is 1
    r = _sh(project, sys.executable, "-m", "pipeline", "pretrain", "xx", env={"OMP_NUM_THREADS": "2",
                                                                              "FOUNDRY_CORES": "1"})
    after = _sh(project, "git", "status", "--porcelain", "--untracked-files=all").stdout
    return project, r, before, after


def test_dvclive_writes_declared_plots_and_metrics_only(ran):
    proj, r, before, after = ran
    live = proj / "metrics" / "xx" / "pretrain_live"
    summary = json.loads((live / "metrics.json").read_text())
    assert summary["step"] == 6 and "train" in summary and "val" in summary
    assert {"replaced_precision", "mfu"} <= set(LIVE_METRICS)  # logged when finite (not NaN / CPU n/a)
    for k in ("disc_loss", "gen_loss", "disc_acc", "replaced_recall", "lr", "tokens_per_s", "flops_per_s"):
        assert k in LIVE_METRICS
        tsv = live / "plots" / "metrics" / "train" / f"{k}.tsv"
        rows = tsv.read_text().splitlines()
        assert rows[0].split("\t") == ["step", k] and [r.split("\t")[0] for r in rows[1:]] == ["2", "4", "6"], rows
    # nothing but the stage's outputs (and the checkpoint folder, git-ignored) appeared or changed
    new = {ln[3:] for ln in after.splitlines()} - {ln[3:] for ln in before.splitlines()}
    allowed = ("metrics/xx/pretrain.json", "metrics/xx/pretrain_curve.tsv", "metrics/xx/pretrain_live/",
               "models/xx/electra/")
    assert new and all(p.startswith(allowed) for p in new), new
    assert not (proj / "dvclive").exists() and "dvc.yaml" not in new
    # no DVC experiment and no git side effect
    refs = _sh(proj, "git", "for-each-ref").stdout
    assert "refs/exps" not in refs
    assert _sh(proj, "git", "log", "--oneline").stdout.count("\n") == 1
    assert "dvc.yaml" not in _sh(proj, "git", "status", "--porcelain").stdout


def test_pretraining_keeps_to_the_stages_share_of_the_cores(ran):
    proj, *_ = ran
    assert json.loads((proj / "metrics" / "xx" / "pretrain.json").read_text())["cpu_threads"] == 1


def test_dvc_commit_then_status_is_a_noop(ran):
    proj, *_ = ran
    _dvc(proj, "commit", "-f", "-q", "pretrain@xx")
    st = _dvc(proj, "status", "pretrain@xx").stdout
    assert "up to date" in st or st.strip() == "", st
    lock = yaml.safe_load((proj / "dvc.lock").read_text())["stages"]["pretrain@xx"]
    assert {o["path"] for o in lock["outs"]} >= {"models/xx/electra", "metrics/xx/pretrain_live/metrics.json",
                                                 "metrics/xx/pretrain_live/plots/metrics"}
    shown = _dvc(proj, "plots", "show", "--json").stdout
    assert "pretrain_live/plots/metrics/train/disc_loss.tsv" in shown


def test_model_card_lineage_has_dvc_hashes(ran):
    proj, *_ = ran
    card = (proj / "models" / "xx" / "electra" / "README.md").read_text()
    lock = yaml.safe_load((proj / "dvc.lock").read_text())["stages"]
    shards_md5 = lock["shard@xx"]["outs"][0]["md5"]
    tok_md5 = lock["vocab@xx"]["outs"][0]["md5"]
    clean_md5 = lock["clean@xx"]["outs"][0]["md5"]
    raw_md5 = next(d["md5"] for d in lock["clean@xx"]["deps"] if d["path"] == "raw")
    assert shards_md5.endswith(".dir") and shards_md5 == dvc_md5(proj / "data" / "xx" / "shards")
    line = next(ln for ln in card.splitlines() if ln.startswith("| dvc_hashes |"))
    hashes = json.loads(line.split("|")[2])
    assert hashes["data/xx/shards"] == shards_md5 and hashes["models/xx/tokenizer"] == tok_md5
    assert hashes["data/xx/clean"] == clean_md5 and hashes["raw"] == raw_md5
    assert "data/xx/review.json" in hashes
    assert "| dvc_lock_consistent | true |" in card
    assert "| git_commit |" in card and "| parameters |" in card
    assert "MFU" in card and "training FLOPs" in card
