"""`foundry status` and `foundry metrics` through the CLI on a real project (git + DVC, the pretrain stage run
for real on synthetic shards, upstream stages committed as the flow does) beside a registered language that
never ran: the never-run stages say so (DVC calls them 'modified/deleted'), and the metrics table shows the
pre-training numbers in a few columns without DVC's "failed to load some metrics" — as does DVC's own
`dvc metrics show` (dvc.yaml's top-level metrics: the publish stage's scores/<lang>.json)."""
from __future__ import annotations

import re
import subprocess
import sys

import pytest
import yaml

from tests.test_pretrain_stage import _dvc, _env, _sh, project  # noqa: F401


@pytest.fixture(scope="module")
def ran_and_committed(project):  # noqa: F811
    params = yaml.safe_load((project / "params.yaml").read_text())
    params["languages"]["yy"] = params["languages"]["xx"]          # registered, never run
    (project / "params.yaml").write_text(yaml.safe_dump(params))
    (project / "corpora" / "yy.yaml").write_text((project / "corpora" / "xx.yaml").read_text()
                                                 .replace("language: xx", "language: yy"))
    _sh(project, sys.executable, "-m", "pipeline", "pretrain", "xx")
    _dvc(project, "commit", "-f", "-q", "pretrain@xx")
    _sh(project, sys.executable, "-m", "pipeline", "publish", "xx")  # not evaluated: no scores yet
    return project


def _foundry(proj, *args: str) -> subprocess.CompletedProcess:
    r = subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=proj, env=_env(proj), capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout + r.stderr
    return r


def test_status_says_never_run(ran_and_committed):
    out = _foundry(ran_and_committed, "status", "xx", "yy").stdout
    xx, yy = out.split("yy:")
    for stage in ("clean", "validate", "vocab", "shard", "pretrain"):
        assert re.search(rf"^  {stage}\s+up to date$", xx, re.M), out
    assert re.search(r"^  evaluate\s+never run$", xx, re.M), out
    for stage in ("clean", "validate", "vocab", "shard", "pretrain", "evaluate"):
        assert re.search(rf"^  {stage}\s+never run$", yy, re.M), out
    assert "modified" not in yy and "deleted" not in yy


def test_metrics_table_has_the_columns_that_matter(ran_and_committed):
    r = _foundry(ran_and_committed, "metrics")
    lines = r.stdout.splitlines()
    header = lines[0].split()
    for col in ("language", "validation", "steps", "AUC", "recall", "loss", "pretrained", "random", "delta"):
        assert col in header, lines[0]
    xx = next(ln for ln in lines if ln.startswith("xx "))
    assert re.search(r"\bpassed\s+6\s+0\.\d{3}\s+0\.\d{3}\s+\d+\.\d{3}\b", xx), xx
    assert re.search(r"^yy\s+never run$", r.stdout, re.M), r.stdout
    assert max(len(ln) for ln in lines) <= 120 and "failed to load" not in r.stdout + r.stderr


def test_plain_dvc_views_are_readable(ran_and_committed):
    """`dvc metrics show`: one row per published language, a few columns, no warning about yy (never ran);
    README's `dvc exp show --drop ... [--keep ...]` fits a terminal."""
    raw = _dvc(ran_and_committed, "metrics", "show")
    assert "failed to load" not in raw.stdout + raw.stderr, raw.stdout + raw.stderr
    rows = raw.stdout.splitlines()
    assert rows[0].split()[0] == "Path" and [r.split()[0] for r in rows[1:]] == ["scores/xx.json"], raw.stdout
    header = rows[0].split()
    assert {"steps", "val_disc_auc", "val_replaced_recall", "vocab_size"} <= set(header), rows[0]
    assert len(header) <= 12 and not any(h.startswith(("train", "seeds")) for h in header), rows[0]
    assert "yy" not in raw.stdout
    # README's `dvc exp show`: the scores, then one language's knobs
    scores = r"Experiment|Created|scores/|steps|vocab_size|wall_seconds|val_|average\.|tasks\."
    args = ["exp", "show", "--no-pager", "--csv", "--drop", ".*"]
    cols = _dvc(ran_and_committed, *args, "--keep", scores).stdout.splitlines()[0].split(",")
    assert len(cols) <= 16 and {"Experiment", "val_disc_auc", "vocab_size"} <= set(cols), cols
    keep = scores + r"|corpora/xx\.yaml:(vocab|pretrain)\."
    cols = _dvc(ran_and_committed, *args, "--keep", keep).stdout.splitlines()[0]
    assert "corpora/xx.yaml:pretrain.steps" in cols.split(",") and "corpora/yy.yaml" not in cols, cols
    everything = _dvc(ran_and_committed, "exp", "show", "--no-pager", "--csv").stdout.splitlines()[0].split(",")
    assert not any(c.startswith("train.") for c in everything)  # DVCLive's summary is no longer a column
