"""Repair DVC's ``.dvc/tmp/rwlock`` and ``dvc.lock`` after a crash: ``python -m flows.dvclock [PROJECT]``.

DVC 3 rewrites that JSON file in place (truncate, then dump) every time a command takes or releases a
read/write lock on outputs. A DVC process killed inside that write (SIGKILL, OOM killer, power loss) leaves it
truncated, and from then on every ``dvc repro``/``status``/``commit`` in the project fails with *Unable to
read RWLock-file '.dvc/tmp/rwlock'. JSON structure is corrupted* until someone deletes it (found by
``benchmarks/fault_injection.py``, docs/reliability.md). The file only lists the pids of DVC commands in
progress, so a corrupt one is replaced by an empty one, under DVC's own guard lock for it
(``rwlock.lock``). The flows repair it before every DVC operation (``flows.dvcops``).

``dvc.lock`` is rewritten in place too (``modify_yaml``: load, update the stage's entry, truncate, dump) after
every stage that finishes. A DVC process killed inside that write leaves it cut short, and every later DVC
command fails with *'./dvc.lock' validation failed ... required key not provided* (found by the
fault-injection suite, 2026-12-05). :func:`repair_lockfile` keeps what is intact: the longest prefix of the
file that parses as YAML, less every stage entry that DVC's own lock-file schema rejects. A stage whose entry
is gone (cut, or after the cut) is one DVC has no record of, so the next ``dvc repro`` runs it again (or
restores its outputs from DVC's run cache); a cut hash can only differ from the real one, which DVC also
reads as "changed". Nothing is ever marked up to date that was not. The flows call it before every DVC
operation (:func:`repair`: both).
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


def _lockfile_problem(text: str) -> str | None:
    """Why DVC would refuse this ``dvc.lock`` text (None: it would not)."""
    from dvc.schema import COMPILED_LOCKFILE_SCHEMA
    from dvc.utils.serialize import loads_yaml
    try:
        COMPILED_LOCKFILE_SCHEMA(loads_yaml(text) or {})
    except Exception as e:  # noqa: BLE001 - a YAML error or vol.Invalid: DVC refuses the file either way
        return str(e).splitlines()[0] if str(e) else type(e).__name__
    return None


# dvc.lock path -> (mtime_ns, size) when it last validated: a flow calls DVC many times, the file rarely changes
_CHECKED: dict[str, tuple[int, int]] = {}


def _intact_prefix(lines: list[str]) -> dict:
    """The data of the longest prefix of ``lines`` that parses as a YAML mapping."""
    from dvc.utils.serialize import loads_yaml
    for n in range(len(lines), -1, -1):
        try:
            data = loads_yaml("".join(lines[:n]))
        except Exception:  # noqa: BLE001 - any YAML error: try a shorter prefix
            continue
        if data is None or isinstance(data, dict):
            return data or {}
    return {}


def repair_lockfile(root: Path) -> list[str] | None:
    """Make a ``dvc.lock`` cut short by a killed DVC process readable again. None when it was fine (or absent);
    else the names of the stage entries that were cut and dropped (entries after the cut are gone as well;
    all of those stages run again)."""
    import voluptuous as vol
    from dvc.lock import make_lock
    from dvc.schema import LOCK_FILE_STAGE_SCHEMA
    from dvc.utils.serialize import dumps_yaml

    path = Path(root) / "dvc.lock"
    try:
        st = path.stat()
        if _CHECKED.get(str(path)) == (st.st_mtime_ns, st.st_size):   # unchanged since it last validated
            return None
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    if _lockfile_problem(text) is None:
        _CHECKED[str(path)] = (st.st_mtime_ns, st.st_size)
        return None
    tmp = Path(root) / ".dvc" / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    with make_lock(str(tmp / "lock"), tmp_dir=str(tmp), wait=True):   # DVC's repo lock: no DVC command writes now
        text = path.read_text(encoding="utf-8")
        if _lockfile_problem(text) is None:   # another process repaired it meanwhile
            return None
        data = _intact_prefix(text.splitlines(keepends=True))
        stages = data.get("stages") if isinstance(data.get("stages"), dict) else {}
        entry = vol.Schema(LOCK_FILE_STAGE_SCHEMA)
        kept, dropped = {}, []
        for name, body in stages.items():
            try:
                entry(body)
                kept[name] = body
            except vol.Invalid:
                dropped.append(name)
        fixed = {"schema": "2.0", "stages": kept}
        if isinstance(data.get("datasets"), list):
            fixed["datasets"] = data["datasets"]
        write_text(path, dumps_yaml(fixed))
    return dropped


def repair(root: Path) -> list[str]:
    """Both repairs; one line per file that needed one (none: both were fine)."""
    done = []
    if repair_rwlock(root):
        done.append(".dvc/tmp/rwlock was corrupt (a DVC process killed while writing it): replaced by an empty "
                    "lock table")
    dropped = repair_lockfile(root)
    if dropped is not None:
        done.append("dvc.lock was cut short (a DVC process killed while writing it): repaired; the stages whose "
                    f"records were cut ({', '.join(dropped) or 'none'}) or lost after the cut run again")
    return done


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    root = Path(args[0] if args else ".")
    print("\n".join(repair(root)) or f"{root}: .dvc/tmp/rwlock and dvc.lock ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
