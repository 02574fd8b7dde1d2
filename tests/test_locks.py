"""Locks between processes (model/locks.py, pipeline/locks.py): one holder, who it is, a crashed holder's lock
taken over, waiting, slots; and a checkpoint folder with one trainer (two real `python -m model.pretrain`)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from model.locks import Busy, FileLock, Holder, Slots
from pipeline import locks as plocks
from tests.conftest import REPO

HOLD = """
import sys, time
from model.locks import FileLock
lock = FileLock(sys.argv[1], "holder test")
lock.acquire()
print("held", flush=True)
time.sleep(float(sys.argv[2]))
lock.release()
"""


def _hold(path: Path, seconds: float = 60) -> subprocess.Popen:
    """A process that takes the lock, says so, and holds it ``seconds``."""
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(path), str(seconds)], cwd=REPO, stdout=subprocess.PIPE,
                         text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert p.stdout.readline().strip() == "held"
    return p


def test_busy_names_the_holder_and_a_killed_holder_is_taken_over(tmp_path):
    path = tmp_path / "locks" / "x.lock"
    p = _hold(path)
    with pytest.raises(Busy) as e:
        FileLock(path).acquire()
    h = e.value.holder
    assert (h.pid, h.host, h.what) == (p.pid, socket.gethostname(), "holder test") and h.started
    assert f"PID {p.pid} on {socket.gethostname()}, since {h.started}" in str(e.value)
    p.send_signal(signal.SIGKILL)
    p.wait()
    lock = FileLock(path, "me")
    stale = lock.acquire()            # the kernel released the dead holder's flock; its record is left
    assert stale is not None and stale.pid == p.pid
    assert Holder.read(path).pid == os.getpid()
    lock.release()
    assert Holder.read(path) is None  # a clean release leaves no record ...
    with FileLock(path) as again:     # ... so the next holder has nothing stale to report
        assert again.holder.pid == os.getpid()


def test_a_waiter_reads_the_record_written_just_after_the_lock_was_taken(tmp_path):
    """A holder writes its record just after taking the lock; a process that finds the lock busy in between
    reads again rather than naming the holder "?" (seen in CI: "waiting for a pre-training slot on cpu (1 in
    use: ?)")."""
    import fcntl

    path = tmp_path / "x.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(fd, fcntl.LOCK_EX)                     # taken, no record yet
    record = Holder(4242, "elsewhere", "2026-12-07 02:00:00", "pretrain xx in /p", "t")
    writer = threading.Timer(0.2, lambda: os.pwrite(fd, json.dumps(record.__dict__).encode(), 0))
    writer.start()
    with pytest.raises(Busy) as e:
        FileLock(path).acquire()
    assert e.value.holder == record
    seen: list = []
    slots = Slots(tmp_path / "slots", 1, "t", poll_s=0.05)
    (tmp_path / "slots").mkdir()
    sfd = os.open(tmp_path / "slots" / "slot-0.lock", os.O_RDWR | os.O_CREAT, 0o666)
    fcntl.flock(sfd, fcntl.LOCK_EX)
    threading.Timer(0.2, lambda: os.pwrite(sfd, json.dumps(record.__dict__).encode(), 0)).start()
    threading.Timer(0.6, lambda: os.close(sfd)).start()
    i, lock = slots.acquire(on_wait=seen.append)
    assert seen == [[record]] and i == 0
    lock.release()
    os.close(fd)


def test_wait_blocks_until_the_holder_exits(tmp_path):
    path = tmp_path / "x.lock"
    p = _hold(path, seconds=1.0)
    seen: list[Holder | None] = []
    t0 = time.monotonic()
    lock = FileLock(path)
    assert lock.acquire(wait=True, on_wait=seen.append) is None   # released cleanly: nothing stale
    assert time.monotonic() - t0 > 0.3 and [h.pid for h in seen] == [p.pid]
    lock.release()
    p.wait()


def test_slots_let_n_holders_in(tmp_path):
    slots = Slots(tmp_path / "slots", 2, "t", poll_s=0.05)
    a, la = slots.acquire()
    b, lb = slots.acquire()
    assert {a, b} == {0, 1}
    got, waited = [], []
    th = threading.Thread(target=lambda: got.append(slots.acquire(on_wait=waited.append)))
    th.start()
    time.sleep(0.3)
    assert not got and len(waited) == 1 and len(waited[0]) == 2    # both busy: told once, waiting
    lb.release()
    th.join(5)
    assert got and got[0][0] == b
    got[0][1].release()
    la.release()


def test_language_lock_and_the_token_its_stages_inherit(tmp_path):
    root = tmp_path
    said: list[str] = []
    with plocks.language_lock(root, "xx", "foundry run xx", say=said.append):
        token = os.environ[plocks.token_env("xx")]
        assert Holder.read(plocks.language_lock_path(root, "xx")).token == token
        assert plocks.language_busy(root, "xx") is None      # a child of this run: not busy for it
        with plocks.language_lock(root, "xx", "python -m pipeline clean xx"):
            pass                                             # runs under its parent's lock
        with plocks.language_lock(root, "yy", "foundry run yy"):
            pass                                             # other languages are free
        os.environ.pop(plocks.token_env("xx"))
        try:                                                 # anyone else: busy, naming the holder
            msg = plocks.language_busy(root, "xx")
            assert msg.startswith("xx is busy: `foundry run xx` (PID ") and "--wait" in msg
            with pytest.raises(plocks.LanguageBusy, match="xx is busy"):
                with plocks.language_lock(root, "xx", "second"):
                    pass
        finally:
            os.environ[plocks.token_env("xx")] = token
    assert plocks.token_env("xx") not in os.environ and not said


def test_status_names_a_running_run_and_its_last_log_line(tmp_path):
    """`foundry status` while a run holds the language: who runs it, the last line of the stage log this run
    wrote last, and that stage (marked running in its row; the other states are DVC's records). A log of an
    earlier run is not this run's."""
    from flows.status import _running

    root = tmp_path
    assert _running(root, "xx") == ("", None)
    logs = root / "logs" / "xx"
    logs.mkdir(parents=True)
    (logs / "evaluate.log").write_text("an earlier run's last stage\n", encoding="utf-8")
    os.utime(logs / "evaluate.log", (time.time() - 3600, time.time() - 3600))
    with plocks.language_lock(root, "xx", "foundry run xx", say=lambda m: None):
        text, stage = _running(root, "xx")
        assert stage is None and text.endswith("no stage has written its log yet in this run"), text
        (logs / "shard.log").write_text("shard done\n", encoding="utf-8")
        time.sleep(0.05)
        (logs / "pretrain.log").write_text("slot taken\npretrain xx: 2000/4000 (50%), 4.1step/s, auc 0.71\n\n",
                                           encoding="utf-8")
        text, stage = _running(root, "xx")
    assert text.startswith("  running   `foundry run xx` (PID ") and "other stages as DVC last recorded" in text
    assert text.endswith("logs/xx/pretrain.log: pretrain xx: 2000/4000 (50%), 4.1step/s, auc 0.71"), text
    assert stage == "pretrain"
    assert _running(root, "xx") == ("", None)            # released: nothing running


def test_gpu_slots_follow_the_visible_devices(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,5")
    monkeypatch.delenv(plocks.SLOTS_ENV, raising=False)
    assert plocks.slot_device("auto") == ("cuda", 2, ["2", "5"])
    assert plocks.slot_device("cpu") == ("cpu", 1, [])
    monkeypatch.setenv(plocks.SLOTS_ENV, "3")
    assert plocks.slot_device("cpu")[:2] == ("cpu", 3)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    monkeypatch.delenv(plocks.SLOTS_ENV)
    assert plocks.slot_device("auto") == ("cpu", 1, [])


def test_two_projects_take_turns_for_the_machines_slot(tmp_path, monkeypatch):
    """The pre-training slot is the machine's: a pre-training of project B waits for project A's, naming it and
    its folder; with the slot folder not creatable, each project has its own, and the stage says so."""
    monkeypatch.setenv(plocks.SLOT_DIR_ENV, str(tmp_path / "machine"))
    monkeypatch.delenv(plocks.SLOTS_ENV, raising=False)
    a, b = tmp_path / "a", tmp_path / "b"
    said, got = [], []

    def second():
        with plocks.pretrain_slot(b, "cpu", "pretrain en", say=said.append) as info:
            got.append(info)

    with plocks.pretrain_slot(a, "cpu", "pretrain demo", say=lambda m: None):
        th = threading.Thread(target=second)
        th.start()
        time.sleep(1.0)
        assert not got and any(m.startswith("pretrain en: waiting for a pre-training slot on cpu (1 in use: "
                                            f"`pretrain demo in {a.resolve()}` (PID {os.getpid()}") for m in said), said
    th.join(10)
    assert got and got[0]["slot"] == "cpu 1/1" and got[0]["slot_wait_s"] >= 0.5
    assert not (a / plocks.LOCKS).exists() and any((tmp_path / "machine").iterdir())
    (tmp_path / "file").write_text("x", encoding="utf-8")
    monkeypatch.setenv(plocks.SLOT_DIR_ENV, str(tmp_path / "file" / "slots"))    # under a file: cannot be made
    said.clear()
    with plocks.pretrain_slot(a, "cpu", "pretrain demo", say=said.append):
        with plocks.pretrain_slot(b, "cpu", "pretrain en", say=said.append):     # the projects' own: no wait
            assert (a / plocks.LOCKS).is_dir() and (b / plocks.LOCKS).is_dir()
    assert sum("cannot create" in m and plocks.SLOT_DIR_ENV in m for m in said) == 2, said


def _pretrain_cmd(root: Path, shards: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "model.pretrain", "--shards", str(shards), "--out", str(root / "out"),
            "--checkpoints", str(root / "ck"), "--params", str(root / "p.json"), "--metrics", str(root / "m.json"),
            "--curve", str(root / "c.tsv"), *extra]


def test_a_checkpoint_folder_has_one_trainer(tmp_path):
    from tests.test_model import tiny_params, write_shards
    shards = write_shards(tmp_path / "shards", n_train=64, n_val=16)
    (tmp_path / "p.json").write_text(json.dumps(tiny_params(steps=100000, checkpoint_every=1000, log_every=1000)))
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(_pretrain_cmd(tmp_path, shards), cwd=REPO, env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
    lock = tmp_path / ".ck.writer.lock"
    try:
        deadline = time.time() + 120
        while (h := Holder.read(lock)) is None or h.pid != first.pid:
            assert first.poll() is None and time.time() < deadline, "the first trainer did not take the folder"
            time.sleep(0.1)
        t0 = time.time()
        second = subprocess.run(_pretrain_cmd(tmp_path, shards), cwd=REPO, env=env, capture_output=True,
                                text=True, timeout=300)
        assert second.returncode == 2, second.stderr[-2000:]
        err = second.stderr.strip().splitlines()[-1]
        assert err.startswith(f"error: {tmp_path / 'ck'}: another trainer is writing this checkpoint folder, "
                              f"`pre-training` (PID {first.pid} on ")
        assert time.time() - t0 < 60 and not (tmp_path / "out").exists()
    finally:
        first.kill()
        first.wait()
    # the killed trainer's lock is free at once: the next one takes it over, and says so
    third = subprocess.run(_pretrain_cmd(tmp_path, shards, "--stop-after", "1"), cwd=REPO, env=env,
                           capture_output=True, text=True, timeout=300)
    assert third.returncode == 0, third.stderr[-2000:]
    assert f"took over from a trainer that stopped without releasing it, `pre-training` (PID {first.pid}" \
        in third.stdout
