"""Repair DVC's ``.dvc/tmp/rwlock`` after a crash: ``python -m flows.dvclock [PROJECT]``.

DVC 3 rewrites that JSON file in place (truncate, then dump) every time a command takes or releases a
read/write lock on outputs. A DVC process killed inside that write (SIGKILL, OOM killer, power loss) leaves it
truncated, and from then on every ``dvc repro``/``status``/``commit`` in the project fails with *Unable to
read RWLock-file '.dvc/tmp/rwlock'. JSON structure is corrupted* until someone deletes it (found by
``benchmarks/fault_injection.py``, docs/reliability.md). The file only lists the pids of DVC commands in
progress, so a corrupt one is replaced by an empty one, under DVC's own guard lock for it
(``rwlock.lock``). The flows call :func:`repair_rwlock` before every DVC operation (``flows.dvcops``).
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from pipeline.atomic import write_text


def _readable(path: Path) -> bool:
    try:
        json.loads(path.read_text(encoding="utf-8"))
        return True
    except FileNotFoundError:
        return True
    except (OSError, ValueError):
        return False


def repair_rwlock(root: Path) -> bool:
    """Replace a corrupt ``.dvc/tmp/rwlock`` with an empty lock table. True when it was repaired."""
    tmp = Path(root) / ".dvc" / "tmp"
    path = tmp / "rwlock"
    if _readable(path):
        return False
    from dvc.lock import make_lock
    with make_lock(str(tmp / "rwlock.lock"), tmp_dir=str(tmp), wait=True):
        if _readable(path):   # another process repaired it meanwhile
            return False
        write_text(path, "{}")
    return True


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else ".")
    print(f"{root / '.dvc/tmp/rwlock'}: " + ("repaired" if repair_rwlock(root) else "ok"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
