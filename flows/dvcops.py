"""The three DVC operations the flows need, in-process and serialised.

DVC decides what is stale (``status``) and records what ran (``commit``: hashes deps, params and
outputs into dvc.lock and caches the outputs). The stage command itself runs outside DVC's repo lock,
so languages can run in parallel; only these short DVC calls take turns.

Opening the repository and building its index (dvc.yaml's ``foreach`` over every language) costs about
as much as the status check itself, and the flows ask about one stage at a time — 6 questions per
language. So ``stale`` answers from a *snapshot*: a question with no valid snapshot computes the status
of every stage of the project in one DVC call, and later questions about a language are answered from
it while it holds. A language's snapshot is dropped
when one of its stages is committed (its outputs changed), when one of the small local files its stages
read (code, ``corpora/<lang>.yaml``, ``review.json`` ...) changed since, and after ``SNAPSHOT_TTL``
seconds (``FOUNDRY_DVC_SNAPSHOT_TTL``; 0 = no snapshots); then DVC is asked again. A no-op
``foundry run --all`` thus makes one DVC status call instead of one per stage (``benchmarks/noop_run.py``).
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import threading
import time
from pathlib import Path

from pipeline.stages import STAGES
_LOCK = threading.Lock()
# seconds a status snapshot may answer for; 0 turns snapshots off (one DVC status call per question)
SNAPSHOT_TTL = float(os.environ.get("FOUNDRY_DVC_SNAPSHOT_TTL", "60"))
_FINGERPRINT_MAX_BYTES = 1 << 20  # local file deps up to this size are fingerprinted by content, larger by stat

os.environ.setdefault("DVC_NO_ANALYTICS", "1")


class _Snapshot:
    __slots__ = ("taken", "changed", "files")

    def __init__(self, taken: float, changed: dict[str, list], files: dict[str, tuple]):
        self.taken, self.changed, self.files = taken, changed, files


# (project root, language) -> status of that language's stages
_SNAPSHOTS: dict[tuple[str, str], _Snapshot] = {}


def _repo(root: Path):
    from dvc.repo import Repo

    from flows.dvclock import repair
    # DVC prints its messages with its own handlers on the "dvc" logger; propagating them to the root logger
    # (Prefect's console handler) printed each line twice
    logging.getLogger("dvc").propagate = False
    for done in repair(root):  # a DVC process killed mid-write leaves .dvc/tmp/rwlock or dvc.lock cut short
        logging.getLogger(__name__).warning("%s", done)
    return Repo(str(root))


def _split(addr: str) -> tuple[str, str] | None:
    stage, sep, lang = addr.partition("@")
    return (stage, lang) if sep and stage in STAGES and lang else None


def _file_state(path: str) -> tuple:
    try:
        st = os.stat(path)
    except OSError:
        return ("missing",)
    if not os.path.isfile(path):
        return ("dir",)  # directories are stage outputs (dropped on commit) or external data
    if st.st_size <= _FINGERPRINT_MAX_BYTES:
        try:
            with open(path, "rb") as fh:
                return ("sha1", hashlib.sha1(fh.read()).hexdigest())
        except OSError:
            return ("missing",)
    return ("stat", st.st_size, st.st_mtime_ns, st.st_ino)


def _valid(snap: _Snapshot | None, now: float) -> bool:
    if snap is None or now - snap.taken > SNAPSHOT_TTL:
        return False
    return all(_file_state(p) == state for p, state in snap.files.items())


def _take(root: Path, now: float) -> None:
    """Status of every stage of the project in one DVC call; store a snapshot per language.

    One ``repo.status()`` over the whole DAG (~0.5 s for 72 stages) is cheaper than naming even a few
    stages: DVC collects each named target separately, re-reading dvc.yaml and dvc.lock for each (~0.15 s
    a target with 12 languages)."""
    with _repo(root) as repo:
        by_lang: dict[str, list] = {}
        for s in repo.index.stages:
            parts = _split(s.addressing)
            if parts:
                by_lang.setdefault(parts[1], []).append(s)
        # file states before the status call: a change while DVC looks invalidates the snapshot
        files = {lang: {str(d.fs_path): _file_state(str(d.fs_path)) for s in ss for d in s.deps
                        if getattr(d, "protocol", "local") == "local" and os.path.isfile(str(d.fs_path))}
                 for lang, ss in by_lang.items()}
        changed = dict(repo.status())
    for lang, ss in by_lang.items():
        names = {s.addressing for s in ss}
        _SNAPSHOTS[(str(root), lang)] = _Snapshot(now, {a: v for a, v in changed.items() if a in names},
                                                  files[lang])


def stale(root: Path, addrs: list[str]) -> dict[str, list]:
    """The subset of ``addrs`` (e.g. ``clean@sw``) whose deps, params or outputs changed, with reasons."""
    if not addrs:
        return {}
    key = str(root)
    with _LOCK:
        now = time.monotonic()
        if SNAPSHOT_TTL <= 0 or not all(_split(a) for a in addrs):  # ask DVC directly
            with _repo(root) as repo:
                return dict(repo.status(targets=addrs))
        langs = {_split(a)[1] for a in addrs}
        missing = {lang for lang in langs if not _valid(_SNAPSHOTS.get((key, lang)), now)}
        if missing:
            _take(root, now)
        out = {}
        for a in addrs:
            snap = _SNAPSHOTS.get((key, _split(a)[1]))
            if snap is None:  # not a stage of this project: let DVC say so
                with _repo(root) as repo:
                    return dict(repo.status(targets=addrs))
            if a in snap.changed:
                out[a] = snap.changed[a]
        return out


def forget(root: Path, lang: str | None = None) -> None:
    """Drop the status snapshots of ``lang`` (every language when None) of this project."""
    with _LOCK:
        for k in [k for k in _SNAPSHOTS if k[0] == str(root) and (lang is None or k[1] == lang)]:
            del _SNAPSHOTS[k]


def commit(root: Path, addr: str) -> None:
    with _LOCK:
        try:
            with _repo(root) as repo:
                repo.commit(target=addr, force=True)
        finally:
            parts = _split(addr)
            for k in [k for k in _SNAPSHOTS if k[0] == str(root) and (parts is None or k[1] == parts[1])]:
                del _SNAPSHOTS[k]


def known_stages(root: Path) -> set[str]:
    with _LOCK, _repo(root) as repo:
        return {s.addressing for s in repo.index.stages}


def recorded_stages(root: Path) -> set[str]:
    """The stages dvc.lock records (``STAGE@LANG``): every stage that ran and was committed."""
    import yaml

    try:
        lock = yaml.safe_load((Path(root) / "dvc.lock").read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        return set()
    return set((lock.get("stages") or {}) if isinstance(lock, dict) else ())


def language_status(root: Path, lang: str) -> dict[str, str]:
    """Per stage: 'never run' (no record in dvc.lock; DVC itself calls that 'modified/deleted'), 'up to date',
    'stale: <why>' or 'downstream of a stale stage'."""
    addrs = [f"{s}@{lang}" for s in STAGES]
    changed = stale(root, addrs)
    ran = recorded_stages(root)
    return stage_states([(s, a in ran, changed.get(a)) for s, a in zip(STAGES, addrs)])


def stage_states(stages: list[tuple[str, bool, list | None]]) -> dict[str, str]:
    """(stage, recorded in a dvc.lock, DVC's reasons when stale) in DAG order -> each stage's state, as
    :func:`language_status` words it (also a joint model's, flows/joint.py)."""
    out, upstream_stale = {}, False
    for s, recorded, why in stages:
        if not recorded:
            out[s] = "never run"
            upstream_stale = True
        elif why is not None:
            out[s] = "stale: " + describe(why)
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


@contextlib.contextmanager
def dvc_turn(root: Path):
    """Serialise DVC status/commit across threads *and* processes (Dask workers) of this project."""
    path = Path(root) / ".dvc" / "tmp" / "foundry-flow.lock"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
