"""Process helpers for the tests that kill a stage and check what it leaves running (Linux: reads /proc)."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path


def parent_of() -> dict[int, int]:
    """pid -> parent pid of every process now running."""
    out = {}
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:  # a process may end between the listing and the read
                out[int(d.name)] = int((d / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    return out


def descendants(pid: int) -> set[int]:
    """Every process below ``pid``."""
    parents = parent_of()
    out, todo = set(), [pid]
    while todo:
        here = todo.pop()
        kids = {c for c, p in parents.items() if p == here}
        out |= kids
        todo.extend(kids)
    return out


def alive(pid: int) -> bool:
    """Running (a zombie, waiting for its parent to reap it, counts as gone)."""
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def kill_alone(stage: subprocess.Popen, sig: int, watched: set[int], within: float = 15.0) -> list[int]:
    """Send ``sig`` to the stage's process alone (not its group, as a scheduler or `kill PID` does), reap it, and
    return those of ``watched`` still running ``within`` seconds later."""
    os.kill(stage.pid, sig)
    stage.wait(timeout=30)
    deadline = time.monotonic() + within
    while time.monotonic() < deadline and any(alive(p) for p in watched):
        time.sleep(0.2)
    return [p for p in watched if alive(p)]


@contextmanager
def reaped(stage: subprocess.Popen):
    """The stage, started with ``start_new_session=True``; its whole process group is killed on the way out."""
    try:
        yield stage
    finally:
        try:
            os.killpg(stage.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        stage.wait(timeout=30)
