"""A DVC process killed while rewriting .dvc/tmp/rwlock or dvc.lock leaves it truncated and every later DVC
command fails (found by the fault-injection suite); flows.dvclock repairs both, and the flows do so before each
DVC call."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


def _two_stages(root):
    """a -> b; each appends a line to runs.txt when it runs, so a rerun shows."""
    assert _dvc(root, "init", "--no-scm", "-q").returncode == 0
    py = sys.executable
    (root / "dvc.yaml").write_text(
        "stages:\n"
        f"  a:\n    cmd: {py} -c \"open('a.txt','w').write('A'*50); open('runs.txt','a').write('a\\\\n')\"\n"
        "    outs: [a.txt]\n"
        f"  b:\n    cmd: {py} -c \"open('b.txt','w').write(open('a.txt').read()+'B'); "
        "open('runs.txt','a').write('b\\\\n')\"\n"
        "    deps: [a.txt]\n    outs: [b.txt]\n")
    r = _dvc(root, "repro")
    assert r.returncode == 0, r.stderr
    assert (root / "runs.txt").read_text().split() == ["a", "b"]


@pytest.mark.parametrize("cut", ["after_b_name", "in_b_outs", "after_a_name", "in_b_hash"])
def test_dvc_lock_cut_short_is_repaired_and_only_cut_stages_rerun(tmp_path, cut):
    """A DVC process killed while rewriting dvc.lock can leave it cut short so that every DVC command fails
    ("'./dvc.lock' validation failed", seen in the fault-injection suite). repair_lockfile keeps the intact
    entries: the cut stage (and any after it) runs again, the others stay up to date. A cut that leaves valid
    YAML (mid-hash) needs no repair: DVC itself reads the stage as changed."""
    from flows.dvclock import repair_lockfile
    _two_stages(tmp_path)
    lock = tmp_path / "dvc.lock"
    good = lock.read_text()
    assert repair_lockfile(tmp_path) is None and lock.read_text() == good   # a valid file is left alone
    b_at = good.index("\n  b:")
    at = {"after_b_name": b_at + 5,
          "in_b_outs": good.index("- path:", good.index("outs:", b_at)) + 2,
          "after_a_name": good.index("\n  a:") + 5,
          "in_b_hash": good.index("md5:", good.index("outs:", b_at)) + 9}[cut]
    lock.write_text(good[:at])
    r = _dvc(tmp_path, "status")
    if cut == "in_b_hash":
        assert r.returncode == 0 and "b:" in r.stdout and repair_lockfile(tmp_path) is None, r.stdout + r.stderr
    else:
        assert r.returncode != 0 and "dvc.lock" in (r.stderr + r.stdout), r.stdout + r.stderr
        assert repair_lockfile(tmp_path) == (["a"] if cut == "after_a_name" else ["b"])
        assert repair_lockfile(tmp_path) is None                            # now valid
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dvc.lock")] == []   # no temp left
    r = _dvc(tmp_path, "repro")
    assert r.returncode == 0, r.stderr
    reran = (tmp_path / "runs.txt").read_text().split()[2:]
    # an intact record is kept (a does not run again when only b was cut); a cut stage runs again, or DVC
    # restores its outputs from its run cache (b: same command and deps as a recorded run)
    assert ("a" in reran) == (cut == "after_a_name") and set(reran) <= {"a", "b"}, reran
    assert (tmp_path / "b.txt").read_text() == "A" * 50 + "B"
    r = _dvc(tmp_path, "status")
    assert r.returncode == 0 and "up to date" in r.stdout, r.stdout + r.stderr
