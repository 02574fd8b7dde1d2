"""A DVC process killed while rewriting .dvc/tmp/rwlock leaves it truncated and every later DVC command
fails (found by the fault-injection suite); flows.dvclock repairs it, and the flows do so before each DVC call."""
from __future__ import annotations

import os
import subprocess
import sys

from flows.dvclock import repair_rwlock


def _dvc(cwd, *args):
    env = {**os.environ, "DVC_NO_ANALYTICS": "1"}
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=300)


def test_corrupt_rwlock_is_repaired(tmp_path):
    assert _dvc(tmp_path, "init", "--no-scm", "-q").returncode == 0
    (tmp_path / "dvc.yaml").write_text("stages:\n  s:\n    cmd: echo hi > out.txt\n    outs: [out.txt]\n")
    rw = tmp_path / ".dvc/tmp/rwlock"
    rw.parent.mkdir(parents=True, exist_ok=True)
    good = '{"read": {}, "write": {}}'
    rw.write_text(good)
    assert repair_rwlock(tmp_path) is False and rw.read_text() == good   # a readable file is left alone
    rw.write_text('{"read": {"/x/out.txt": [{"pid": 12, "cmd": "dvc repro"}], "/y')   # cut mid-write
    r = _dvc(tmp_path, "repro", "s")
    assert r.returncode != 0 and "rwlock" in (r.stderr + r.stdout).lower()
    assert repair_rwlock(tmp_path) is True
    assert repair_rwlock(tmp_path) is False
    r = _dvc(tmp_path, "repro", "s")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "out.txt").read_text().strip() == "hi"
    assert [p.name for p in rw.parent.iterdir() if p.name.startswith(".rwlock.")] == []
