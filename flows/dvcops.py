"""The three DVC operations the flows need, in-process and serialised.

DVC decides what is stale (``status``) and records what ran (``commit``: hashes deps, params and
outputs into dvc.lock and caches the outputs). The stage command itself runs outside DVC's repo lock,
so languages can run in parallel; only these short DVC calls take turns.
"""
from __future__ import annotations

import os
import threading
from pathlib import Path

STAGES = ("clean", "validate", "vocab", "shard", "pretrain", "evaluate")
_LOCK = threading.Lock()

os.environ.setdefault("DVC_NO_ANALYTICS", "1")


def _repo(root: Path):
    from dvc.repo import Repo

    from flows.dvclock import repair_rwlock
    repair_rwlock(root)  # a DVC process killed mid-write leaves .dvc/tmp/rwlock corrupt (flows/dvclock.py)
    return Repo(str(root))


def stale(root: Path, addrs: list[str]) -> dict[str, list]:
    """The subset of ``addrs`` (e.g. ``clean@sw``) whose deps, params or outputs changed, with reasons."""
    if not addrs:
        return {}
    with _LOCK, _repo(root) as repo:
        return dict(repo.status(targets=addrs))


def commit(root: Path, addr: str) -> None:
    with _LOCK, _repo(root) as repo:
        repo.commit(target=addr, force=True)


def known_stages(root: Path) -> set[str]:
    with _LOCK, _repo(root) as repo:
        return {s.addressing for s in repo.index.stages}


def language_status(root: Path, lang: str) -> dict[str, str]:
    """Per stage: 'up to date', 'stale: <why>' or 'downstream of a stale stage'."""
    addrs = [f"{s}@{lang}" for s in STAGES]
    changed = stale(root, addrs)
    out, upstream_stale = {}, False
    for s, a in zip(STAGES, addrs):
        if a in changed:
            out[s] = "stale: " + describe(changed[a])
            upstream_stale = True
        else:
            out[s] = "downstream of a stale stage" if upstream_stale else "up to date"
    return out


def describe(changes: list) -> str:
    parts = []
    for ch in changes:
        if isinstance(ch, str):
            parts.append(ch)
        elif isinstance(ch, dict):
            for kind, items in ch.items():
                if isinstance(items, dict):
                    parts.append(f"{kind}: " + ", ".join(f"{k} {v}" if isinstance(v, str) else f"{k}"
                                                         for k, v in items.items()))
                else:
                    parts.append(str(kind))
    return "; ".join(parts) or "changed"
