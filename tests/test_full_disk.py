"""A full disk is an error, not damage (model/diskspace.py): the write that runs out of room stops with one line
naming the output and the space, leaves nothing that looks finished, and the next run with room completes.

The disk is "filled" with a file size limit (``RLIMIT_FSIZE``, set in the child process: no root, no loop
device): a write past it fails with EFBIG, which is handled as a full disk (ENOSPC) is."""
from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from model.diskspace import DiskFull, free_bytes, require_space
from tests.conftest import REPO

WRITERS = r'''
import json, sys, pathlib
from model.atomic import atomic_file, atomic_dir
from model.diskspace import DiskFull
d = pathlib.Path(sys.argv[1])
def plain():
    with atomic_file(d / "a.txt") as f:
        f.write("x" * 200000)
def arrow():
    import pyarrow as pa, pyarrow.parquet as pq
    with atomic_dir(d / "pq") as tmp:
        pq.write_table(pa.table({"a": list(range(100000))}), tmp / "x.parquet")
def torch_save():
    import torch
    with atomic_dir(d / "ts") as tmp:
        torch.save({"a": torch.randn(100000)}, tmp / "s.pt")
def safetensors():
    import torch
    from safetensors.torch import save_file
    with atomic_dir(d / "st") as tmp:
        save_file({"a": torch.randn(100000)}, str(tmp / "m.safetensors"))
out = {}
for f in (plain, arrow, torch_save, safetensors):
    try:
        f()
        out[f.__name__] = "no error"
    except DiskFull as e:
        out[f.__name__] = [e.errno, str(e), sorted(p.name for p in d.iterdir())]
    except Exception as e:
        out[f.__name__] = f"{type(e).__name__}: {e}"
print(json.dumps(out))
'''


def _limit(nbytes: int):
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}


def test_every_writer_turns_a_full_disk_into_one_error_and_leaves_nothing(tmp_path):
    """Text, Parquet (pyarrow), torch.save and safetensors each report the disk their own way; the atomic
    writers turn all of them into a DiskFull naming the output, and remove their temp."""
    r = subprocess.run([sys.executable, "-c", WRITERS, str(tmp_path)], cwd=REPO, env=_env(), capture_output=True,
                       text=True, timeout=300, preexec_fn=_limit(100_000))
    assert r.returncode == 0, r.stderr[-2000:]
    out = json.loads(r.stdout.strip().splitlines()[-1])
    for name, target in (("plain", "a.txt"), ("arrow", "pq"), ("torch_save", "ts"), ("safetensors", "st")):
        code, msg, left = out[name]
        assert code == errno.EFBIG and left == [], (name, out[name])
        assert msg.startswith(f"disk full writing {tmp_path / target}: a file outgrew the file size limit of "
                              f"97.7 KB (ulimit -f); raise the limit, then run again"), msg


def test_the_space_needed_is_checked_before_writing(tmp_path):
    free = free_bytes(tmp_path)
    with pytest.raises(DiskFull) as e:
        require_space(tmp_path / "step-000000005", {"model.safetensors": free, "state.pt": free})
    assert e.value.errno == errno.ENOSPC and "\n" not in str(e.value)
    assert str(e.value).startswith(f"disk full writing {tmp_path / 'step-000000005'}: needs ")
    assert " free on /" in str(e.value) and "no space left on the device" in str(e.value)
    require_space(tmp_path / "step-000000005", {"model.safetensors": 1000, "state.pt": 2000})   # fits: no error


def test_pretraining_stops_before_a_checkpoint_that_cannot_fit_then_resumes(tmp_path):
    from tests.test_model import tiny_params, write_shards
    shards = write_shards(tmp_path / "shards", n_train=64, n_val=16)
    (tmp_path / "p.json").write_text(json.dumps(tiny_params(steps=4, checkpoint_every=2, log_every=2)))
    cmd = [sys.executable, "-m", "model.pretrain", "--shards", str(shards), "--out", str(tmp_path / "out"),
           "--checkpoints", str(tmp_path / "ck"), "--params", str(tmp_path / "p.json"),
           "--metrics", str(tmp_path / "m.json"), "--curve", str(tmp_path / "c.tsv")]
    r = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300,
                       preexec_fn=_limit(50_000))
    assert r.returncode == 2, r.stderr[-2000:]
    (line,) = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert line.startswith(f"error: disk full writing {tmp_path / 'ck' / 'step-000000002'}/state.pt: needs a ")
    assert "file, over the file size limit of 48.8 KB (ulimit -f)" in line
    # checked before writing: no checkpoint (not even a temp), no curve, no model
    assert sorted(p.name for p in tmp_path.iterdir()) == [".ck.writer.lock", "p.json", "shards"]
    r = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    assert (tmp_path / "out" / "model.safetensors").is_file()
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["step-000000002", "step-000000004"]


@pytest.mark.slow
def test_a_stage_on_a_full_disk_then_with_room(tmp_path):
    """The clean stage as DVC runs it, under a file size limit of half its largest output file: exit 2 with one
    line, the previous output untouched and no temp left; `dvc repro` with room completes, and the outputs of
    the original settings come back byte for byte."""
    from benchmarks import _run_safety as rs
    from benchmarks import fault_injection as fi
    proj = rs.make_project(tmp_path)
    r, _ = fi.repro(proj, "clean")
    assert r.returncode == 0, r.stderr[-2000:]
    res = rs.full_disk_trial(proj, "clean")
    assert not res["problems"], json.dumps(res, indent=1)
    assert res["message"].startswith(f"error: clean demo: disk full writing {proj}/"), res["message"]
    assert res["states"]["data/demo/clean"] == "previous" and res["temps_left"] == []
    assert res["rerun_rc"] == 0 and res["back_to_a_equal"]
