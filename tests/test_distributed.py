"""Data-parallel pre-training under torchrun: 2 CPU processes (gloo) against 1 process, same global batch.

The two processes must hold identical weights at the end (checked by the trainer and reported as
``processes_in_sync``), and follow the same loss curve and reach the same weights as one process (the loss
is normalised by the global masked/token counts and the masking is partition-invariant, so they differ only
by floating-point summation order). Dropout is 0 here: it is the one random stream that is per process.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from model import distributed as mdist
from model.metrics import CURVE_COLUMNS
from tests.conftest import REPO
from tests.test_model import tiny_params, write_shards

STEPS = 8


def _env() -> dict:
    return {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}


def _run(cmd: list, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run in a new session; on timeout kill the whole session (torchrun's ranks too, not only torchrun)."""
    p = subprocess.Popen(cmd, cwd=REPO, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, err = p.communicate()
        raise AssertionError(f"timed out after {timeout} s: {cmd}\n{out[-3000:]}\n{err[-3000:]}") from None
    return subprocess.CompletedProcess(cmd, p.returncode, out, err)


def _args(tmp, shards, name):
    d = tmp / name
    return ["-m", "model.pretrain", "--shards", str(shards), "--out", str(d / "out"), "--checkpoints", str(d / "ck"),
            "--params", str(tmp / "p.json"), "--metrics", str(d / "m.json"), "--curve", str(d / "c.tsv")]


def _curve(path):
    lines = path.read_text().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, map(float, ln.split("\t")))) for ln in lines[1:]]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ddp")
    shards = write_shards(tmp / "shards", n_train=200, n_val=16)
    p = tiny_params(steps=STEPS, batch_size=16, grad_accum=2, log_every=1, checkpoint_every=4, eval_batches=1,
                    dropout=0.0, learning_rate=2e-3, warmup_steps=2)
    (tmp / "p.json").write_text(json.dumps(p))
    one = _run([sys.executable, *_args(tmp, shards, "one")])
    assert one.returncode == 0, one.stdout[-3000:] + one.stderr[-3000:]
    two = _run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                *_args(tmp, shards, "two")])
    assert two.returncode == 0, two.stdout[-5000:] + two.stderr[-5000:]
    return tmp, two.stdout + two.stderr


def test_two_processes_in_sync_and_only_rank0_writes(runs):
    tmp, log = runs
    m = json.loads((tmp / "two" / "m.json").read_text())
    assert m["processes"] == 2 and m["processes_in_sync"] is True
    assert m["examples_seen"] == STEPS * 16  # the global batch, not 2x
    assert "2 processes (gloo, ddp)" in log
    assert log.count("[pretrain] step 1/") == 1  # rank 0 logs alone
    assert sorted(p.name for p in (tmp / "two" / "ck").iterdir()) == ["step-000000004", "step-000000008"]
    one = json.loads((tmp / "one" / "m.json").read_text())
    assert one["processes"] == 1 and one["processes_in_sync"] is None


def test_two_processes_match_one_process(runs):
    tmp, _ = runs
    a, b = _curve(tmp / "one" / "c.tsv"), _curve(tmp / "two" / "c.tsv")
    assert [r["step"] for r in a] == [r["step"] for r in b] == list(range(1, STEPS + 1))
    for ra, rb in zip(a, b):
        assert ra["tokens_seen"] == rb["tokens_seen"]
        for k in ("loss", "gen_loss", "disc_loss", "disc_acc", "gen_acc"):
            assert rb[k] == pytest.approx(ra[k], rel=1e-4, abs=1e-5), (ra["step"], k, ra[k], rb[k])
    wa = load_file(str(tmp / "one" / "out" / "model.safetensors"))
    wb = load_file(str(tmp / "two" / "out" / "model.safetensors"))
    for k in wa:
        assert torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-5), k
    assert set(CURVE_COLUMNS) <= set(tmp.joinpath("two", "c.tsv").read_text().splitlines()[0].split("\t"))


def test_fsdp_interrupted_and_resumed_matches_one_process(runs):
    """``distributed: fsdp`` (FSDP2, tied embeddings in the root unit): checkpoint at step 4 (gathered
    full weights and optimizer moments), resume in new processes, finish: same curve and weights as one
    process."""
    tmp, _ = runs
    p = json.loads((tmp / "p.json").read_text())
    (tmp / "pf.json").write_text(json.dumps(dict(p, distributed="fsdp")))
    args = [a if a != str(tmp / "p.json") else str(tmp / "pf.json") for a in _args(tmp, tmp / "shards", "fsdp")]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *args]
    first = _run([*cmd, "--stop-after", "4"])
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    assert "(gloo, fsdp)" in first.stdout + first.stderr
    assert not (tmp / "fsdp" / "out").exists()
    second = _run(cmd)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    m = json.loads((tmp / "fsdp" / "m.json").read_text())
    assert m["resumed_from_step"] == 4 and m["processes"] == 2
    a, b = _curve(tmp / "one" / "c.tsv"), _curve(tmp / "fsdp" / "c.tsv")
    for ra, rb in zip(a, b):
        for k in ("loss", "gen_loss", "disc_loss"):
            assert rb[k] == pytest.approx(ra[k], rel=1e-4, abs=1e-5), (ra["step"], k)
    wa = load_file(str(tmp / "one" / "out" / "model.safetensors"))
    wb = load_file(str(tmp / "fsdp" / "out" / "model.safetensors"))
    for k in wa:
        assert torch.allclose(wa[k], wb[k], rtol=1e-4, atol=1e-5), k


def _shutdown_cycles(rank: int, ports: list) -> None:
    """One rank: per port, join a 2-process gloo group, one DDP step, the trainer's last collective (an
    all_gather of Python tensors), ``close()``, and only then free the wrapper: the order in which the group
    used to die with the wrapper, its destructor joining gloo's threads with the GIL held while a thread
    waited for the GIL to free the all_gather's tensors."""
    import faulthandler
    faulthandler.dump_traceback_later(60, exit=True)  # a hang prints every thread's stack and fails
    os.environ.update(RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="2", MASTER_ADDR="127.0.0.1")
    torch.manual_seed(0)
    for port in ports:
        os.environ["MASTER_PORT"] = str(port)
        d = mdist.init(use_cuda=False)
        net = mdist.wrap(torch.nn.Linear(8, 8), d, torch.device("cpu"))
        net(torch.randn(4, 8)).sum().backward()
        assert d.all_equal(torch.ones(16))
        d.close()
        assert "reducer" not in net.__dict__
        del net
    faulthandler.cancel_dump_traceback_later()


def _free_ports(n: int) -> list:
    socks = [socket.socket() for _ in range(n)]
    for s in socks:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in socks]
    for s in socks:
        s.close()
    return ports


def test_close_with_the_ddp_wrapper_still_alive_does_not_hang():
    """Dist.close() releases the DDP wrappers' hold on the group before destroying it. With the previous
    close() this test hung at cycle 5 of 30 (2 CPU processes beside the test suite and 4 busy processes; a
    rank of the 2-process pre-training run above hung the same way once in CI); now 20 of 20 (and 30 of 30) finish."""
    code = ("import sys, json, torch.multiprocessing as mp; from tests.test_distributed import _shutdown_cycles; "
            "mp.spawn(_shutdown_cycles, args=(json.loads(sys.argv[1]),), nprocs=2)")
    r = _run([sys.executable, "-c", code, json.dumps(_free_ports(20))], timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-5000:]
