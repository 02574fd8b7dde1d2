"""pipeline.atomic: temp siblings a killed writer leaves are removed by the next write of the same output,
never mistaken for it, and never taken from a live writer."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from pipeline.atomic import atomic_dir, atomic_file, remove_stale, stale_siblings, temp_pattern, write_json
from tests.conftest import REPO

WRITER = """
import sys, time
from pathlib import Path
from pipeline.atomic import atomic_dir, atomic_file
kind, path = sys.argv[1], Path(sys.argv[2])
ctx = atomic_dir(path) if kind == "dir" else atomic_file(path)
with ctx as t:
    if kind == "dir":
        (t / "half.bin").write_bytes(b"x" * 10)
    else:
        t.write("half"); t.flush()
    print("writing", flush=True)
    time.sleep(60)
"""


def _writer(kind: str, path: Path) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", WRITER, kind, str(path)], cwd=REPO, stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "writing"
    return p


def _kill(p: subprocess.Popen) -> None:
    os.kill(p.pid, signal.SIGKILL)
    p.wait()


def test_killed_writers_leave_temps_that_the_next_write_removes(tmp_path):
    d, f = tmp_path / "out", tmp_path / "out.json"
    write_json(f, {"v": 1})
    with atomic_dir(d) as t:
        (t / "a.txt").write_text("v1")
    for kind, path in (("dir", d), ("file", f)):
        p = _writer(kind, path)
        _kill(p)
    left = stale_siblings(d) + stale_siblings(f)
    assert len(left) == 2
    assert temp_pattern(d).match(left[0].name) and left[0].is_dir() and (left[0] / "half.bin").is_file()
    assert temp_pattern(f).match(left[1].name) and left[1].read_text() == "half"
    # the outputs are still the previous complete versions: a temp is never taken for the output
    assert (d / "a.txt").read_text() == "v1" and not (d / "half.bin").exists()
    assert f.read_text().strip().endswith("}")
    with atomic_dir(d) as t:
        (t / "a.txt").write_text("v2")
    write_json(f, {"v": 2})
    assert stale_siblings(d) == [] and stale_siblings(f) == []
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "out.json"]
    assert (d / "a.txt").read_text() == "v2"


def test_live_writers_temp_is_left_alone(tmp_path):
    d = tmp_path / "out"
    p = _writer("dir", d)
    try:
        (live,) = stale_siblings(d)
        assert remove_stale(d) == [] and live.is_dir()
        # a concurrent write of the same output works and does not disturb it
        with atomic_dir(d) as t:
            (t / "a.txt").write_text("other")
        assert live.is_dir() and (live / "half.bin").is_file()
    finally:
        _kill(p)
    assert remove_stale(d) == [live] and not live.exists()


def test_only_this_outputs_temp_names_are_touched(tmp_path):
    out = tmp_path / "shards"
    keep = [".shards.tmp", ".shards.abc.tmp", ".shards2.abcdefgh.tmp", ".shardsx.abcdefgh.tmp",
            "shards.abcdefgh.tmp", ".shards.ABCDEFGH.tmp", ".other.abcdefgh.tmp", ".shards.abcdefgh.tmp.bak"]
    for n in keep:
        (tmp_path / n).mkdir()
    stale = [tmp_path / ".shards.k2_9zq0a.tmp", tmp_path / ".shards.old"]
    stale[0].mkdir()
    (stale[0] / "index.json").write_text("{}")   # looks finished inside: still a temp, never the output
    (tmp_path / ".shards.old").mkdir()
    (tmp_path / "shards").mkdir()
    assert sorted(remove_stale(out)) == sorted(stale)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(keep + ["shards"])


def test_failed_write_leaves_nothing(tmp_path):
    f = tmp_path / "x.json"
    try:
        with atomic_file(f) as h:
            h.write("partial")
            raise RuntimeError("boom")
    except RuntimeError:
        pass
    assert list(tmp_path.iterdir()) == []


def test_published_files_and_folders_get_umask_modes(tmp_path):
    """mkstemp/mkdtemp create 0600/0700 entries; what the stages publish must be readable by the team."""
    import os
    import stat

    from pipeline.atomic import atomic_dir, write_text

    old = os.umask(0o022)
    os.umask(old)
    expect_file, expect_dir = 0o666 & ~old, 0o777 & ~old
    write_text(tmp_path / "a.json", "{}")
    with atomic_dir(tmp_path / "out") as d:
        (d / "x").write_text("1")
    assert stat.S_IMODE((tmp_path / "a.json").stat().st_mode) == expect_file
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == expect_dir
    from model.metrics import write_curve  # model/ writes through the same protocol

    write_curve(tmp_path / "curve.tsv", [])
    assert stat.S_IMODE((tmp_path / "curve.tsv").stat().st_mode) == expect_file
