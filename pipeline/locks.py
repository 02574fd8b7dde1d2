"""Who may work on what, across processes: one run per language, and pre-training slots per device.

Both are :mod:`model.locks` file locks. The language locks are the project's, in ``.dvc/tmp/foundry-locks/``
(beside DVC's own locks: ignored by git in every DVC project, so a run leaves no untracked file); the
pre-training slots are the machine's:

* ``language-LANG.lock``: one run of a language at a time. ``foundry run LANG`` holds it for the whole run
  (its flow, on whichever process or Dask worker runs it) and ``python -m pipeline STAGE LANG`` for its stage,
  so a second ``foundry run`` or a ``dvc repro`` of the same language finds it busy and stops (exit status 2,
  naming the holder) or, with ``--wait``, waits. The holder puts a token in its environment
  (``FOUNDRY_LOCK_LANG``): the stage processes it starts see their parent's token in the lock's record and run
  under its lock instead of finding the language busy. Different languages have different locks.
* ``pretrain-HOST-DEVICE/slot-N.lock``: pre-training slots of one machine (the host is in the name, so a
  folder on a shared filesystem does not make two machines share slots). ``FOUNDRY_PRETRAIN_SLOTS`` slots,
  default one per visible GPU, or one on the CPU. With several GPUs, slot N pins its trainer to GPU N
  (``CUDA_VISIBLE_DEVICES``, set before torch starts CUDA). The slots are the machine's, not the project's:
  they live in ``FOUNDRY_SLOT_DIR``, default the user's cache (``~/.cache/electra-foundry/slots``), so two
  projects (clones, or one per language family) take turns instead of sharing the cores; where that folder
  cannot be created, in the project's lock folder, and the stage says so.
"""
from __future__ import annotations

import os
import socket
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from model.locks import Busy, FileLock, Holder, Slots, try_lock
from pipeline.errors import StageError

LOCKS = Path(".dvc") / "tmp" / "foundry-locks"
SLOTS_ENV = "FOUNDRY_PRETRAIN_SLOTS"
SLOT_DIR_ENV = "FOUNDRY_SLOT_DIR"


class LanguageBusy(StageError):
    """Another run holds the language (exit status 2, not retried: waiting is the caller's choice)."""


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def lock_dir(root: Path) -> Path:
    return Path(root) / LOCKS


def language_lock_path(root: Path, lang: str) -> Path:
    return lock_dir(root) / f"language-{lang}.lock"


def token_env(lang: str) -> str:
    return "FOUNDRY_LOCK_" + "".join(c if c.isalnum() else "_" for c in lang.upper())


def busy_message(lang: str, holder: Holder | None) -> str:
    who = holder.describe() if holder else "another process"
    return f"{lang} is busy: {who} is running it; run again with --wait to wait for it"


def _parents(lang: str, holder: Holder | None) -> bool:
    """Whether ``holder`` is the run that started this process (its token is in our environment)."""
    return holder is not None and bool(holder.token) and os.environ.get(token_env(lang)) == holder.token


def language_holder(root: Path, lang: str) -> tuple[bool, Holder | None]:
    """(whether a run holds ``lang`` now, its record). Looks only: a stale record stays for
    :func:`language_lock` to report."""
    path = language_lock_path(root, lang)
    if not path.exists():
        return False, None
    fd = try_lock(path)
    if fd is not None:
        os.close(fd)
        return False, None
    return True, Holder.of_held(path)


def language_busy(root: Path, lang: str) -> str | None:
    """The busy message when another run holds ``lang`` now (a quick look before starting one), else None."""
    held, holder = language_holder(root, lang)
    return None if not held or _parents(lang, holder) else busy_message(lang, holder)


@contextmanager
def language_lock(root: Path, lang: str, what: str, wait: bool = False,
                  say: Callable[[str], None] = _say) -> Iterator[None]:
    """Hold ``lang`` for this run. Busy: :class:`LanguageBusy`, or with ``wait`` say who holds it and wait.
    Inside a run that holds it already (the parent's token in the environment) it holds nothing itself."""
    lock = FileLock(language_lock_path(root, lang), what)
    key = token_env(lang)
    stale = holder = None
    try:
        stale = lock.acquire()
    except Busy as e:
        holder = e.holder
    if lock.fd is None:   # busy
        if _parents(lang, holder):
            yield         # started by the run that holds it (foundry run -> python -m pipeline)
            return
        if not wait:
            raise LanguageBusy(busy_message(lang, holder))
        t0 = time.monotonic()
        stale = lock.acquire(wait=True, on_wait=lambda h: say(
            f"{lang} is busy: {h.describe() if h else 'another process'} is running it; waiting"))
        say(f"{lang}: the other run finished; going on after {time.monotonic() - t0:.1f} s")
    if stale is not None:
        say(f"{lang}: took over the lock left by {stale.describe()}, which stopped without releasing it")
    old = os.environ.get(key)
    os.environ[key] = lock.holder.token
    try:
        yield
    finally:
        if old is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = old
        lock.release()


def visible_gpus() -> list[str]:
    """The GPUs this process may use, without starting CUDA: ``CUDA_VISIBLE_DEVICES`` when set, else the
    NVIDIA driver's list (``/proc/driver/nvidia/gpus``)."""
    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return [g.strip() for g in env.split(",") if g.strip() and g.strip() != "-1"]
    gpus = Path("/proc/driver/nvidia/gpus")
    return [str(i) for i in range(len(list(gpus.iterdir())))] if gpus.is_dir() else []


def slot_device(requested: str) -> tuple[str, int, list[str]]:
    """(device kind, slots, GPUs) for a pre-training that asked for ``requested`` (auto / cpu / cuda)."""
    gpus = [] if requested == "cpu" else visible_gpus()
    kind = "cuda" if gpus else "cpu"
    n = int(os.environ.get(SLOTS_ENV) or (len(gpus) if gpus else 1))
    return kind, max(1, n), gpus


def slot_dir(root: Path, say: Callable[[str], None] = _say) -> Path:
    """The folder of this machine's pre-training slots: ``FOUNDRY_SLOT_DIR``, else the user's cache
    (``$XDG_CACHE_HOME`` or ``~/.cache``)/electra-foundry/slots; the project's lock folder where it cannot be made."""
    env = os.environ.get(SLOT_DIR_ENV)
    cache = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    folder = Path(env).expanduser() if env else Path(cache) / "electra-foundry" / "slots"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        return folder
    except OSError as e:
        say(f"pre-training slots: cannot create {folder} ({e.strerror or e}); this project's slots are its own, "
            f"so a pre-training of another project on this machine can run at the same time (set "
            f"{SLOT_DIR_ENV} to a writable folder)")
        return lock_dir(root)


@contextmanager
def pretrain_slot(root: Path, requested: str, what: str, say: Callable[[str], None] = _say) -> Iterator[dict]:
    """Hold one of this machine's pre-training slots for ``requested``'s device, whichever project asks; yields
    what it took (slot, device, seconds waited, when it was taken). With several GPUs and no distributed run,
    slot N trains on GPU N: call before torch starts CUDA."""
    kind, n, gpus = slot_device(requested)
    host = "".join(c if c.isalnum() or c in "-_." else "_" for c in socket.gethostname())
    slots = Slots(slot_dir(root, say) / f"pretrain-{host}-{kind}", n, f"{what} in {Path(root).resolve()}")
    t0 = time.time()
    i, lock = slots.acquire(on_wait=lambda hs: say(
        f"{what}: waiting for a pre-training slot on {kind} ({n} in use: "
        + "; ".join(h.describe() if h else "?" for h in hs) + ")"))
    try:
        info = {"slot": f"{kind} {i + 1}/{n}", "slot_wait_s": round(time.time() - t0, 2), "slot_from": time.time()}
        if kind == "cuda" and len(gpus) > 1 and i < len(gpus) and "WORLD_SIZE" not in os.environ:
            os.environ["CUDA_VISIBLE_DEVICES"] = gpus[i]
            info["gpu"] = gpus[i]
        say(f"{what}: pre-training slot {info['slot']} taken" + (f" after {info['slot_wait_s']} s" if
                                                                  info["slot_wait_s"] >= 1 else ""))
        yield info
    finally:
        lock.release()
