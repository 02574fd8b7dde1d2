"""`foundry status` and `foundry metrics` through the CLI on a real project (git + DVC, the pretrain stage run
for real on synthetic shards, upstream stages committed as the flow does) beside a registered language that
never ran: the never-run stages say so (DVC calls them 'modified/deleted'), and the metrics table shows the
pre-training numbers in a few columns without DVC's "failed to load some metrics"."""
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
    # what it spares the user: DVC's own view warns about the language that never ran
    raw = _dvc(ran_and_committed, "metrics", "show")
    assert "failed to load some metrics" in raw.stdout + raw.stderr
