"""Pre-training checkpoints: ``checkpoint_dir/step-000000100/{model.safetensors, state.pt, meta.json}``.

``model.safetensors`` holds the weights (shared parameters once), ``state.pt`` the optimizer moments, the
step (the LR schedule is a function of it), the data position, the RNG scheme, the curve and the logging
window (loads with ``torch.load(weights_only=True)``), ``meta.json`` the model's signature and params. A
checkpoint is built under a temp name and renamed when complete and fsync'd (:func:`model.atomic.atomic_dir`),
so a killed writer never leaves a ``step-N`` that looks finished; the newest :data:`KEEP_CHECKPOINTS` are kept.
"""
from __future__ import annotations

import json
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model.atomic import atomic_dir, remove_stale
from model.diskspace import require_space, tensor_bytes
from model.electra import ARCH_PARAM_KEYS
from model.locks import Busy, FileLock
from model.metrics import json_safe

CHECKPOINT_FORMAT = 2
KEEP_CHECKPOINTS = 2
WRITER_LOCK = ".{name}.writer.lock"   # beside the folder NAME: held by the one trainer writing it (:func:`one_writer`)
_CKPT_RE = re.compile(r"^step-(\d+)$")
_TEMP_RE = re.compile(r"^\.(step-\d+)\.[a-z0-9_]{8}\.tmp$")
# settings a resumed run may change, at the price of no longer matching an uninterrupted run
_TRAINING_KEYS = ("steps", "batch_size", "learning_rate", "warmup_steps", "mask_prob", "disc_weight",
                  "weight_decay", "seed", "dropout", "temperature")


class CheckpointError(ValueError):
    """The checkpoint to resume from cannot be used (damaged, another format or another model); the message
    names the file and what to delete. ``pipeline.pretrain`` reports it as a user error, without a traceback."""


def arch_signature(params: dict, vocab_size: int, max_seq_length: int) -> dict:
    """What a checkpoint's weights fit: the architecture, objective, vocabulary and sequence length."""
    sig = {k: params[k] for k in ARCH_PARAM_KEYS}
    sig.update(generator_fraction=params.get("generator_fraction"), objective=params["objective"],
               vocab_size=int(vocab_size), max_seq_length=int(max_seq_length))
    if float(params.get("generator_layers", 1.0)) != 1.0:
        sig["generator_layers"] = float(params["generator_layers"])
    if params.get("backbone", "electra") != "electra":
        sig["backbone"] = params["backbone"]
    if params.get("max_position_embeddings"):
        # a position table longer than the training length (small/base/large: 512): a checkpoint written
        # before the sizes had it (128 rows) is refused by name, not by a tensor-shape error. Only when set,
        # so tiny's signature (positions = the training length, already in it) is unchanged.
        sig["max_position_embeddings"] = max(int(max_seq_length), int(params["max_position_embeddings"]))
    if params["objective"] == "electra" and float(params.get("disc_mlm_weight") or 0.0) > 0:
        # the corrective head's weights are in the checkpoint
        sig["corrective_head"] = True
    return sig


def latest_checkpoint(checkpoint_dir) -> Path | None:
    """The newest complete checkpoint folder (``step-N`` holding meta.json), or None."""
    d = Path(checkpoint_dir)
    if not d.is_dir():
        return None
    found = []
    for p in d.iterdir():
        m = _CKPT_RE.match(p.name)
        if m and (p / "meta.json").is_file() and (p / "state.pt").is_file() and (p / "model.safetensors").is_file():
            found.append((int(m.group(1)), p))
    return max(found)[1] if found else None


def model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # named_parameters() lists shared/tied parameters once -> no aliasing in the safetensors file
    return {n: p.detach().to("cpu", copy=True).contiguous() for n, p in model.named_parameters()}


def save_checkpoint(checkpoint_dir: Path, step: int, tensors: dict, state: dict, meta: dict) -> Path:
    """Write ``step-N`` atomically and keep the newest KEEP_CHECKPOINTS.

    ``tensors``: name -> CPU tensor (``model_tensors(model)``), or the model itself."""
    if isinstance(tensors, torch.nn.Module):
        tensors = model_tensors(tensors)
    checkpoint_dir = Path(checkpoint_dir)
    final = checkpoint_dir / f"step-{step:09d}"
    # before writing: a full disk stops the run with the space it needs, not with a torch I/O error
    require_space(final, {"model.safetensors": tensor_bytes(tensors), "state.pt": tensor_bytes(state)})
    with atomic_dir(final) as tmp:
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"step": str(step)})
        torch.save(state, tmp / "state.pt")
        (tmp / "meta.json").write_text(json.dumps(json_safe(meta), indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
        for f in tmp.iterdir():  # durable before the rename makes it visible
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
    done = sorted((int(m.group(1)), p) for p in checkpoint_dir.iterdir() if (m := _CKPT_RE.match(p.name)))
    for _, p in done[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(p, ignore_errors=True)
    for p in checkpoint_dir.iterdir():  # what killed writers of other steps left
        if (m := _TEMP_RE.match(p.name)):
            remove_stale(checkpoint_dir / m.group(1))
    return final


@contextmanager
def one_writer(checkpoint_dir: Path, d, log):
    """Hold ``checkpoint_dir`` for this run (rank 0 locks ``.NAME.writer.lock`` beside it; ``d``: the run's
    :class:`model.distributed.Dist`). Another trainer on the same folder would overwrite this one's
    checkpoints and resume from them: it fails at once, on every rank, with a CheckpointError naming the
    holder. A lock left by a crashed trainer is taken over, with a message through ``log``."""
    checkpoint_dir = Path(checkpoint_dir)
    lock = FileLock(checkpoint_dir.parent / WRITER_LOCK.format(name=checkpoint_dir.name), "pre-training")
    err = None
    if d.is_main:
        try:
            stale = lock.acquire()
            if stale is not None:
                log(f"{checkpoint_dir}: took over from a trainer that stopped without releasing it, "
                    f"{stale.describe()}")
        except Busy as e:
            err = CheckpointError(f"{checkpoint_dir}: another trainer is writing this checkpoint folder, "
                                  f"{e.holder.describe() if e.holder else 'a live process'}; two would overwrite "
                                  f"and resume each other's checkpoints: wait for it to finish, or stop it")
    if d.any_flag(err is not None):
        lock.release()
        raise err or CheckpointError(f"{checkpoint_dir}: another trainer is writing this checkpoint folder")
    try:
        yield
    finally:
        lock.release()


def _read(ck: Path, name: str, read):
    """``read(ck / name)``; a damaged file (truncated, not what it should be) is a CheckpointError naming it."""
    try:
        return read(ck / name)
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - safetensors, torch and json each raise their own types
        raise CheckpointError(f"{ck / name}: cannot read the checkpoint ({type(e).__name__}: {e}); is it truncated? "
                              f"delete {ck} to resume from the checkpoint before it (or the whole folder "
                              f"{ck.parent} to start afresh)") from None


def _load_model_tensors(model: torch.nn.Module, path: Path) -> None:
    tensors = load_file(str(path))
    params = dict(model.named_parameters())
    missing = sorted(set(params) - set(tensors))
    unexpected = sorted(set(tensors) - set(params))
    if missing or unexpected:
        raise CheckpointError(f"{path}: checkpoint does not match the model (missing {missing[:5]}, "
                              f"unexpected {unexpected[:5]}); delete the checkpoint folder to start afresh")
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(tensors[n])


def load_checkpoint(ck: Path, model: torch.nn.Module, sig: dict, params: dict, log) -> dict:
    """Check that ``ck`` fits this model (format, signature), load its weights into ``model`` and return its
    ``state.pt``. Changed training settings are allowed, with a warning through ``log``."""
    run_dir = ck.parent
    meta = _read(ck, "meta.json", lambda f: json.loads(f.read_text(encoding="utf-8")))
    if not isinstance(meta, dict):
        raise CheckpointError(f"{ck / 'meta.json'}: not a checkpoint description; delete {ck} to resume "
                              f"from the one before (or {run_dir} to start afresh)")
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{ck}: checkpoint format {meta.get('format')} (this code writes "
                              f"{CHECKPOINT_FORMAT}); delete {run_dir} to start afresh")
    if meta.get("arch") != sig:
        raise CheckpointError(f"{ck}: checkpoint was made for a different model ({meta.get('arch')} vs "
                              f"{sig}); delete {run_dir} to start afresh")
    changed = sorted(k for k in _TRAINING_KEYS if meta.get("params", {}).get(k) != params.get(k))
    if changed:
        log(f"resuming {ck.name} with changed settings {changed}; the run will not match an uninterrupted one")
    _read(ck, "model.safetensors", lambda f: _load_model_tensors(model, f))
    return _read(ck, "state.pt", lambda f: torch.load(f, map_location="cpu", weights_only=True))
