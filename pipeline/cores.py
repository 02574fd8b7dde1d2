"""The CPU cores a stage may use.

``FOUNDRY_CORES``, when set, is this stage's share of the machine: the flow sets it to cores / languages when it
runs several languages at once (``flows/language.py``), and a user may set it by hand. Without it a stage uses
every core this process may run on. The clean stage's worker processes, evaluate's fine-tuning processes and
pre-training's torch threads all follow it, so languages run side by side do not take each other's cores (two
intra-op threads stall when another process holds one of two cores: docs/pretraining.md, "Threads").
"""
from __future__ import annotations

import os

from pipeline.errors import StageError

ENV = "FOUNDRY_CORES"


def machine() -> int:
    """The cores this process may run on (its affinity; all of them elsewhere)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def share() -> int | None:
    """``FOUNDRY_CORES`` as a number, or None when it is not set."""
    raw = os.environ.get(ENV, "").strip()
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < 1:
        raise StageError(f"{ENV}={raw!r}: must be a whole number of cores, at least 1")
    return int(raw)


def available() -> int:
    """The cores this stage may use: its share when one is set, else the machine's."""
    n = share()
    return machine() if n is None else n

