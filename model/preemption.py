"""Pre-emption: SIGTERM (SIGINT, SIGUSR1) stops a run at the end of the current step, with a checkpoint.

``pretrain`` then returns ``{"completed": False, "preempted": True}`` and the CLI and the stage exit with
:data:`PREEMPTED_EXIT`, which the flow treats as transient: it retries, and the retry resumes.
"""
from __future__ import annotations

import signal
import threading

PREEMPTED_EXIT = 75  # EX_TEMPFAIL: stopped by SIGTERM after checkpointing; run again to resume


class StopFlag:
    """SIGTERM (and SIGINT, SIGUSR1) -> finish the current step, checkpoint, return. Installed only in
    the main thread; the previous handlers are restored on exit."""

    SIGNALS = ("SIGTERM", "SIGINT", "SIGUSR1")

    def __init__(self, enabled: bool = True):
        self.set_by: str | None = None
        self._old: dict = {}
        self.enabled = enabled and threading.current_thread() is threading.main_thread()

    def _handler(self, signum, frame):
        if self.set_by is not None:  # asked twice: stop now (checkpoints are written atomically)
            raise KeyboardInterrupt(f"second {signal.Signals(signum).name}")
        self.set_by = signal.Signals(signum).name
        print(f"[pretrain] {self.set_by} received: stopping after this step with a checkpoint", flush=True)

    def __enter__(self):
        if self.enabled:
            for name in self.SIGNALS:
                sig = getattr(signal, name, None)
                if sig is not None:
                    self._old[sig] = signal.signal(sig, self._handler)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old = {}
