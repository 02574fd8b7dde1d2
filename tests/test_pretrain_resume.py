"""Pre-emption and crash recovery of `python -m model.pretrain`, in real subprocesses.

* SIGKILL after a checkpoint exists, then resume: the loss curve (every time-independent column) and the
  final weights equal an uninterrupted run's exactly.
* SIGTERM: the step in progress finishes, a checkpoint is written *at that step*, the process exits with
  status 75; resuming finishes the run identically.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from safetensors.torch import load_file

from model.checkpoint import latest_checkpoint
from model.metrics import DETERMINISTIC_COLUMNS
from model.preemption import PREEMPTED_EXIT
from tests.conftest import REPO
from tests.test_model import tiny_params, write_shards

STEPS, CKPT = 40, 10


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("resume")
    shards = write_shards(root / "shards", n_train=300, n_val=16)
    p = tiny_params(steps=STEPS, checkpoint_every=CKPT, log_every=5, eval_batches=1, batch_size=16)
    (root / "p.json").write_text(json.dumps(p))
    return root, shards


def _cmd(root: Path, shards: Path, name: str) -> list[str]:
    d = root / name
    return [sys.executable, "-m", "model.pretrain", "--shards", str(shards), "--out", str(d / "out"),
            "--checkpoints", str(d / "ck"), "--params", str(root / "p.json"), "--metrics", str(d / "m.json"),
            "--curve", str(d / "c.tsv")]


def _env() -> dict:
    # same thread count in every process: bitwise-equal arithmetic
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _run(cmd) -> subprocess.CompletedProcess:
    r = subprocess.run(cmd, cwd=REPO, env=_env(), capture_output=True, text=True, timeout=600)
    return r


def _start(cmd) -> subprocess.Popen:
    return subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    t0 = time.time()
    while not path.is_file():
        if proc.poll() is not None:
            raise AssertionError(f"process ended (rc {proc.returncode}) before {path} appeared:\n{proc.stdout.read()}")
        if time.time() - t0 > timeout:
            proc.kill()
            raise AssertionError(f"timed out waiting for {path}")
        time.sleep(0.02)


def _curve(path: Path) -> list[list[str]]:
    lines = path.read_text().splitlines()
    header = lines[0].split("\t")
    idx = [header.index(c) for c in DETERMINISTIC_COLUMNS]
    return [[ln.split("\t")[i] for i in idx] for ln in lines]


def _weights(out: Path) -> dict:
    return {**load_file(str(out / "model.safetensors")),
            **{f"gen.{k}": v for k, v in load_file(str(out / "generator" / "model.safetensors")).items()}}


@pytest.fixture(scope="module")
def straight(setup):
    root, shards = setup
    r = _run(_cmd(root, shards, "straight"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    return root / "straight"


def _assert_same_run(a: Path, b: Path) -> None:
    ca, cb = _curve(a / "c.tsv"), _curve(b / "c.tsv")
    assert len(ca) == 1 + STEPS // 5
    assert ca == cb
    wa, wb = _weights(a / "out"), _weights(b / "out")
    assert wa.keys() == wb.keys()
    import torch
    for k in wa:
        assert torch.equal(wa[k], wb[k]), k


def test_sigkill_then_resume_equals_uninterrupted(setup, straight):
    root, shards = setup
    cmd = _cmd(root, shards, "killed")
    proc = _start(cmd)
    _wait_for(root / "killed" / "ck" / f"step-{CKPT:09d}" / "meta.json", proc)
    still_running = proc.poll() is None
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    assert still_running, "the run finished before it could be killed"
    assert proc.returncode == -signal.SIGKILL
    assert not (root / "killed" / "out").exists()  # nothing that looks finished
    done = latest_checkpoint(root / "killed" / "ck")
    assert done is not None and int(done.name.split("-")[1]) < STEPS
    r = _run(cmd)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    m = json.loads((root / "killed" / "m.json").read_text())
    assert m["resumed_from_step"] == int(done.name.split("-")[1])
    _assert_same_run(straight, root / "killed")


def test_sigterm_checkpoints_current_step_and_exits_75(setup, straight):
    root, shards = setup
    cmd = _cmd(root, shards, "termed")
    proc = _start(cmd)
    _wait_for(root / "termed" / "ck" / f"step-{CKPT:09d}" / "meta.json", proc)
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == PREEMPTED_EXIT, out[-3000:]
    assert "SIGTERM received" in out
    res = json.loads(out[out.rindex("\n{") + 1:])
    assert res["preempted"] is True and res["signal"] == "SIGTERM" and res["completed"] is False
    stopped = res["stopped_at"]
    assert CKPT <= stopped < STEPS
    ck = latest_checkpoint(root / "termed" / "ck")
    assert ck.name == f"step-{stopped:09d}"  # written at the step in progress, not the last interval
    meta = json.loads((ck / "meta.json").read_text())
    assert meta["step"] == stopped
    assert meta["data"]["epoch"] * 300 + meta["data"]["offset"] == stopped * 16  # data position of that step
    assert not (root / "termed" / "out").exists()
    r = _run(cmd)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    _assert_same_run(straight, root / "termed")


def test_deterministic_cpu_rerun_gives_identical_weights(setup, straight):
    """Issue 6 reproducibility: the same params on the CPU, run again from scratch in a new process, give
    the same loss curve and bitwise-identical discriminator and generator weights (and safetensors bytes)."""
    root, shards = setup
    r = _run(_cmd(root, shards, "rerun"))
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    _assert_same_run(straight, root / "rerun")
    assert (straight / "out" / "model.safetensors").read_bytes() == (root / "rerun" / "out" / "model.safetensors").read_bytes()
