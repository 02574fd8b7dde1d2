"""ELECTRA (or MLM-baseline) pre-training loop: shards in, HF model folder out.

``pretrain(shards_dir, tokenizer_dir, out_dir, checkpoint_dir, params, metrics_path, curve_path, card)``
trains with the official ELECTRA recipe (Adam without bias correction, eps 1e-6, decoupled weight decay
except LayerNorm/bias, global grad-norm clip 1.0, LR = peak x linear warmup x linear decay to 0, the two
multiplied as in the official ``optimization.create_optimizer``), checkpoints and resumes exactly,
evaluates on the validation split, and exports:

    out_dir/                 ElectraForPreTraining (discriminator) in safetensors + config.json
      generator/             ElectraForMaskedLM (the generator; for objective 'mlm' the trained MLM model)
      tokenizer files        copied from tokenizer_dir
      pretrain_params.json   the resolved params
      README.md              model card

Speed: the loader (:class:`model.data.PretrainBatcher`) masks on the CPU in a background thread, packs
examples into full rows (no padding FLOPs), pins memory and the loop copies with ``non_blocking``; bf16
autocast and TF32 on CUDA; SDPA attention; generator logits only at masked positions; a fused
(``torch._fused_adamw_``) or ``_foreach`` optimizer step; optional ``torch.compile`` (``compile: true``);
gradient accumulation (``grad_accum``). Model FLOPs (:mod:`model.flops`), FLOP/s and MFU are logged.

Scale: run under ``torchrun`` for DDP over several GPUs / nodes (``distributed: fsdp`` for FSDP2); each
process takes a disjoint slice of every global batch, the loss is normalised by the *global* masked and
token counts, so N processes compute the same update as one process with the same global batch. Only rank
0 writes checkpoints, exports, metrics and calls ``on_log``.

Randomness: weights from ``seed``; masking and generator sampling are counter-based functions of
``(seed, step, example, position)`` (see :mod:`model.data`); dropout is reseeded from ``(seed, step, rank)``
at every step. A resumed run therefore repeats an uninterrupted one exactly.

Checkpoints: ``checkpoint_dir/step-000000100/{model.safetensors, state.pt, meta.json}`` (weights; optimizer
moments, step, data position, RNG scheme, curve and logging window), written under a ``.tmp-`` name and
renamed when complete, every ``checkpoint_every`` steps, at the end, and when SIGTERM arrives (the step in
progress finishes, a checkpoint is written, and ``pretrain`` returns ``{"completed": False, "preempted":
True}``; the CLI then exits with status 75). The newest complete checkpoint is resumed automatically; the
last two are kept. ``state.pt`` loads with ``torch.load(weights_only=True)``.

Also runnable standalone (``python -m model.pretrain --help``; multi-GPU: ``torchrun --nproc_per_node N
-m model.pretrain ...``). Imports only torch, transformers, numpy, pyarrow, safetensors and the stdlib.
"""
from __future__ import annotations

import argparse
import fcntl
import json
import math
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model import distributed as mdist
from model import flops as mflops
from model.data import BatchIterator, Prefetcher, PretrainBatcher, ShardSplit, mix64, read_index
from model.electra import (ARCH_PARAM_KEYS, ElectraPretrainer, MLMPretrainer, build_pretrainer, count_params,
                           gumbel_sample)
from model.sizes import SIZES

CHECKPOINT_FORMAT = 2
KEEP_CHECKPOINTS = 2
PREEMPTED_EXIT = 75  # EX_TEMPFAIL: stopped by SIGTERM after checkpointing; run again to resume


class CheckpointError(ValueError):
    """The checkpoint to resume from cannot be used (damaged, another format or another model); the message
    names the file and what to delete. ``pipeline.pretrain`` reports it as a user error, without a traceback."""
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spm.model",
                   "spm.vocab")
CURVE_COLUMNS = ("step", "lr", "loss", "gen_loss", "gen_acc", "disc_loss", "disc_acc",
                 "replaced_precision", "replaced_recall", "tokens_seen", "tokens_per_s", "seconds",
                 "flops_per_s", "mfu", "disc_auc", "replaced_fraction")
# columns that do not depend on wall-clock time (equal between an interrupted+resumed and a straight run)
DETERMINISTIC_COLUMNS = CURVE_COLUMNS[:10] + ("disc_auc", "replaced_fraction")
NO_DECAY = ("LayerNorm", "layer_norm", "bias")


# --------------------------------------------------------------------------------------------------
# optimisation
# --------------------------------------------------------------------------------------------------

class AdamWeightDecay(torch.optim.Optimizer):
    """The official ELECTRA/BERT ``AdamWeightDecayOptimizer``: Adam *without* bias correction.

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  u = m / (sqrt(v) + eps) + wd * p;  p -= lr * u
    (weight decay is decoupled and uses the parameter before the update).

    ``fused=None`` (default) uses PyTorch's fused AdamW kernel (``torch._fused_adamw_``, one launch for
    all tensors) when the parameters are on CUDA, else the multi-tensor ``torch._foreach_*`` ops;
    ``fused=True`` forces the kernel (CPU too, where PyTorch has it). The fused kernel computes
    p <- p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t);
    it is given t = 2^30 so that both corrections are exactly 1, which is the same update.
    """

    _NO_CORRECTION_STEP = float(2 ** 30)

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, fused: bool | None = None):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError("lr, eps and weight_decay must be >= 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
        self.fused = fused
        self._steps: dict = {}

    def _use_fused(self, params) -> bool:
        if self.fused is False or not hasattr(torch, "_fused_adamw_"):
            return False
        if self.fused is None:
            return all(p.is_cuda for p in params)
        return True

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, ms, vs = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                ms.append(st["exp_avg"])
                vs.append(st["exp_avg_sq"])
            if not params:
                continue
            b1, b2 = group["betas"]
            if self._use_fused(params):
                self._fused_step(params, grads, ms, vs, group)
                continue
            torch._foreach_mul_(ms, b1)
            torch._foreach_add_(ms, grads, alpha=1 - b1)
            torch._foreach_mul_(vs, b2)
            torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
            upd = torch._foreach_sqrt(vs)
            torch._foreach_add_(upd, group["eps"])
            upd = torch._foreach_div(ms, upd)
            if group["weight_decay"]:
                torch._foreach_add_(upd, params, alpha=group["weight_decay"])
            torch._foreach_add_(params, upd, alpha=-group["lr"])
        return loss

    def _fused_step(self, params, grads, ms, vs, group) -> None:
        by_dev: dict = {}
        for i, p in enumerate(params):
            by_dev.setdefault((p.device, p.dtype), []).append(i)
        b1, b2 = group["betas"]
        for (dev, _), idx in by_dev.items():
            t = self._steps.get(dev)
            if t is None:
                t = self._steps[dev] = torch.tensor(self._NO_CORRECTION_STEP, dtype=torch.float32, device=dev)
            torch._fused_adamw_([params[i] for i in idx], [grads[i] for i in idx], [ms[i] for i in idx],
                                [vs[i] for i in idx], [], [t] * len(idx), amsgrad=False, lr=float(group["lr"]),
                                beta1=b1, beta2=b2, weight_decay=float(group["weight_decay"]), eps=group["eps"],
                                maximize=False, grad_scale=None, found_inf=None)


def param_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """Two groups: decayed, and no decay for LayerNorm weights/biases and every bias (official rule).

    Shared/tied parameters appear once (``named_parameters`` de-duplicates them).
    """
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if any(k in name for k in NO_DECAY) else decay).append(p)
    return [{"params": decay, "weight_decay": float(weight_decay)},
            {"params": no_decay, "weight_decay": 0.0}]


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the peak LR for the update with 0-based index ``step`` (the official global_step).

    ``min(1, step / warmup) * max(0, 1 - step / total)``: linear warmup *multiplied* by a linear decay to 0
    over the whole run, exactly as ``optimization.create_optimizer`` (``polynomial_decay`` power 1, then
    ``*= min(1, global_step / warmup_steps)``): the first update has LR 0 (it still fills Adam's moments).
    """
    warm = min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0
    decay = max(0.0, 1.0 - step / max(1, total_steps))
    return warm * decay


# --------------------------------------------------------------------------------------------------
# params
# --------------------------------------------------------------------------------------------------

TRAINING_DEFAULTS = dict(
    objective="electra", disc_weight=50.0, weight_decay=0.01, grad_accum=1, seed=1, device="auto", log_every=10,
    checkpoint_every=1000, eval_batches=10, dropout=0.1, temperature=1.0, pack=True, compile=False,
    distributed="ddp", prefetch=2, fused_optimizer=None, peak_tflops=None,
)


def resolve_params(params: dict) -> dict:
    """Fill what ``params`` lacks from the size table and the defaults (for standalone use)."""
    size = params.get("size", "small")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    s = SIZES[size]
    out = {k: s[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                             "embedding_size", "generator_fraction", "generator_layers") if k in s}
    out.update(size=size, steps=s["train_steps"], batch_size=s["batch_size"], learning_rate=s["learning_rate"],
               warmup_steps=s["warmup_steps"], mask_prob=s["mask_prob"], **TRAINING_DEFAULTS)
    out.update({k: v for k, v in params.items() if v is not None})
    if out["objective"] not in ("electra", "mlm"):
        raise ValueError(f"objective must be 'electra' or 'mlm', got {out['objective']!r}")
    if out["distributed"] not in ("ddp", "fsdp"):
        raise ValueError(f"distributed must be 'ddp' or 'fsdp', got {out['distributed']!r}")
    for k in ("steps", "batch_size", "grad_accum", "log_every", "checkpoint_every"):
        if int(out[k]) < 1:
            raise ValueError(f"{k} must be >= 1, got {out[k]!r}")
    if int(out["batch_size"]) % int(out["grad_accum"]):
        raise ValueError(f"batch_size ({out['batch_size']}) must be a multiple of grad_accum ({out['grad_accum']}): "
                         "batch_size is the number of sequences per optimizer step")
    if not 0.0 <= float(out["dropout"]) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {out['dropout']!r}")
    return out


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """CUDA (``cuda:LOCAL_RANK``) when present unless ``cpu`` is asked for; else the CPU."""
    if requested != "cpu" and torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if requested == "cuda":
        print("[pretrain] device 'cuda' requested but CUDA is not available; using the CPU", flush=True)
    return torch.device("cpu")


# --------------------------------------------------------------------------------------------------
# small file helpers (model/ must not import pipeline/)
# --------------------------------------------------------------------------------------------------

def _umask() -> int:
    u = os.umask(0)
    os.umask(u)
    return u


_UMASK = _umask()  # read once, at import (os.umask is process-wide; reading it later would race threads)


def _locked_temp(path: Path, directory: bool = False) -> tuple[str, int]:
    """A new temp sibling ``.NAME.XXXXXXXX.tmp`` of ``path`` and an fd holding an exclusive flock on it.

    Same protocol as ``pipeline.atomic`` (which model/ must not import): the next run of the stage removes
    temp siblings it can lock, i.e. those a killed writer left; a held lock marks a live writer."""
    while True:
        if directory:
            tmp = tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        else:
            fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
            os.fchmod(fd, 0o666 & ~_UMASK)  # mkstemp makes it private; the published file should not be
            os.close(fd)
        fd = os.open(tmp, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            if os.stat(tmp).st_ino == os.fstat(fd).st_ino:
                return tmp, fd
        except FileNotFoundError:   # removed as stale between its creation and the lock: make another
            pass
        os.close(fd)


def _atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp, lock = _locked_temp(path)
    try:
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    finally:
        os.close(lock)


def _json_safe(x):
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: _json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_json_safe(v) for v in x]
    return x


def _write_json(path: Path, obj) -> None:
    _atomic_write_text(path, json.dumps(_json_safe(obj), indent=2, sort_keys=True, ensure_ascii=False) + "\n")


def _fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.6g}"
    return str(v)


def write_curve(path: Path, rows: list[list]) -> None:
    lines = ["\t".join(CURVE_COLUMNS)] + ["\t".join(_fmt(v) for v in r) for r in rows]
    _atomic_write_text(path, "\n".join(lines) + "\n")


# --------------------------------------------------------------------------------------------------
# checkpoints
# --------------------------------------------------------------------------------------------------

_CKPT_RE = re.compile(r"^step-(\d+)$")


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


def _model_tensors(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    # named_parameters() lists shared/tied parameters once -> no aliasing in the safetensors file
    return {n: p.detach().to("cpu", copy=True).contiguous() for n, p in model.named_parameters()}


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


def _read_checkpoint(ck: Path, name: str, read):
    """``read(ck / name)``; a damaged file (truncated, not what it should be) is a CheckpointError naming it."""
    try:
        return read(ck / name)
    except CheckpointError:
        raise
    except Exception as e:  # noqa: BLE001 - safetensors, torch and json each raise their own types
        raise CheckpointError(f"{ck / name}: cannot read the checkpoint ({type(e).__name__}: {e}); is it truncated? "
                              f"delete {ck} to resume from the checkpoint before it (or the whole folder "
                              f"{ck.parent} to start afresh)") from None


def save_checkpoint(checkpoint_dir: Path, step: int, tensors: dict, state: dict, meta: dict) -> Path:
    """Write ``step-N`` atomically (temp folder, then rename) and keep the newest KEEP_CHECKPOINTS.

    ``tensors``: name -> CPU tensor (``_model_tensors(model)``), or the model itself."""
    if isinstance(tensors, torch.nn.Module):
        tensors = _model_tensors(tensors)
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir / f"step-{step:09d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-step-{step:09d}-", dir=checkpoint_dir))
    try:
        save_file(tensors, str(tmp / "model.safetensors"), metadata={"step": str(step)})
        torch.save(state, tmp / "state.pt")
        (tmp / "meta.json").write_text(json.dumps(_json_safe(meta), indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
        for f in tmp.iterdir():  # durable before the rename makes it visible
            with open(f, "rb") as fh:
                os.fsync(fh.fileno())
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    # keep the newest KEEP_CHECKPOINTS complete checkpoints; drop stale temp folders
    done = sorted((int(m.group(1)), p) for p in checkpoint_dir.iterdir() if (m := _CKPT_RE.match(p.name)))
    for _, p in done[:-KEEP_CHECKPOINTS]:
        shutil.rmtree(p, ignore_errors=True)
    for p in checkpoint_dir.glob(".tmp-step-*"):
        shutil.rmtree(p, ignore_errors=True)
    return final


# --------------------------------------------------------------------------------------------------
# metrics
# --------------------------------------------------------------------------------------------------

AUC_BINS = 200


def auc_from_histograms(pos: list[float], neg: list[float]) -> float:
    """ROC AUC from score histograms of the positives and negatives (ties within a bin count 1/2)."""
    n_pos, n_neg = sum(pos), sum(neg)
    if not n_pos or not n_neg:
        return float("nan")
    below = 0.0
    area = 0.0
    for p_, n_ in zip(pos, neg):  # ascending score
        area += p_ * (below + 0.5 * n_)
        below += n_
    return area / (n_pos * n_neg)


class _Window:
    """Running sums of the step outputs, kept on the device (no host sync until read).

    Losses are kept as sums (``gen_sum`` over masked positions, ``disc_sum`` over real tokens) so a
    window's loss is exact whatever the micro-batching, and sums over processes with one all-reduce.
    The discriminator's probabilities of replaced and original tokens go into two histograms
    (``AUC_BINS`` bins), from which the window's replaced-token-detection ROC AUC is read (the official
    evaluation's ``disc_auc``): 0.5 is chance, and it moves before any token crosses p = 0.5."""

    KEYS = ("gen_sum", "disc_sum", "masked_count", "token_count", "gen_correct", "disc_correct",
            "replaced_count", "predicted_replaced", "true_positive", "flops")

    def __init__(self, device, values: dict | None = None):
        self.device = device
        self.t = torch.zeros(len(self.KEYS) + 2 * AUC_BINS, dtype=torch.float64, device=device)
        self.n = 0
        if values:
            vec = [float(values.get(k, 0.0)) for k in self.KEYS]
            vec += list(values.get("auc_pos") or [0.0] * AUC_BINS) + list(values.get("auc_neg") or [0.0] * AUC_BINS)
            self.t += torch.tensor(vec, dtype=torch.float64, device=device)
            self.n = int(values.get("n", 0))

    def add(self, out: dict) -> None:
        k = len(self.KEYS)
        self.t[:9] += torch.stack([out[k_].detach().to(torch.float64) for k_ in self.KEYS[:9]])
        if "disc_logits" in out:
            prob = torch.sigmoid(out["disc_logits"].float())
            act, lab = out["active"], out["labels"]
            self.t[k:k + AUC_BINS] += torch.histc(prob[act & lab], AUC_BINS, 0.0, 1.0).double()
            self.t[k + AUC_BINS:] += torch.histc(prob[act & ~lab], AUC_BINS, 0.0, 1.0).double()

    def add_flops(self, f: float) -> None:
        self.t[9] += f

    def reduce_(self, d: mdist.Dist) -> None:
        d.all_reduce_sum_(self.t)

    def values(self) -> dict:
        vals = self.t.tolist()
        k = len(self.KEYS)
        v = dict(zip(self.KEYS, vals[:k]))
        v["auc_pos"], v["auc_neg"] = vals[k:k + AUC_BINS], vals[k + AUC_BINS:]
        v["n"] = self.n
        return v

    def summary(self, objective: str, disc_weight: float) -> dict:
        v = self.values()
        div = lambda a, b: (a / b) if b else float("nan")  # noqa: E731
        gen = div(v["gen_sum"], v["masked_count"])
        out = {"gen_loss": gen, "gen_acc": div(v["gen_correct"], v["masked_count"])}
        if objective == "electra":
            disc = div(v["disc_sum"], v["token_count"])
            out.update(loss=gen + disc_weight * disc, disc_loss=disc,
                       disc_acc=div(v["disc_correct"], v["token_count"]),
                       replaced_precision=div(v["true_positive"], v["predicted_replaced"]),
                       replaced_recall=div(v["true_positive"], v["replaced_count"]),
                       replaced_fraction=div(v["replaced_count"], v["token_count"]),
                       disc_auc=auc_from_histograms(v["auc_pos"], v["auc_neg"]))
        else:
            out.update(loss=gen, disc_loss=float("nan"), disc_acc=float("nan"), replaced_precision=float("nan"),
                       replaced_recall=float("nan"), replaced_fraction=float("nan"), disc_auc=float("nan"))
        return out


def _to_device(batch: dict, device: torch.device) -> dict:
    nb = device.type == "cuda"
    return {k: v.to(device, non_blocking=nb) for k, v in batch.items()}


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def evaluate(model, split: ShardSplit, batch_size: int, batches: int, device: torch.device, seed: int,
             objective: str, disc_weight: float = 50.0) -> dict | None:
    """Losses/accuracies over the first ``batches`` batches of ``split`` (fixed masking seed, no dropout)."""
    if batches <= 0 or split is None or split.num_examples == 0:
        return None
    was_training = model.training
    model.eval()
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) + 2)
    it = BatchIterator(split, batch_size, shuffle=False)
    win = _Window(device)
    n = 0
    for batch in it:
        if n >= batches:
            break
        batch = _to_device(batch, device)
        with _autocast(device):
            out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], generator=g)
        win.add(out)
        n += 1
    model.train(was_training)
    s = win.summary(objective, disc_weight)
    s.update(batches=n, tokens=int(win.values()["token_count"]))
    return s


# --------------------------------------------------------------------------------------------------
# export
# --------------------------------------------------------------------------------------------------

def _card(params: dict, metrics: dict, card: dict | None, files: list[str]) -> str:
    card = dict(card or {})
    lang = card.get("language")
    front = ["---", "library_name: transformers", "tags:", "  - electra", "  - electra-foundry",
             f"  - {'replaced-token-detection' if params['objective'] == 'electra' else 'masked-lm'}"]
    if lang:
        front.append(f"language: {lang}")
    front.append("---")
    title = f"ELECTRA-{params['size']}" + (f" ({lang})" if lang else "")
    obj = ("ELECTRA replaced-token detection (generator + discriminator, shared embeddings)"
           if params["objective"] == "electra" else
           "masked language modelling baseline (discriminator-sized ElectraForMaskedLM; "
           "85% [MASK] / 15% unchanged masking)")
    rows = [
        ("objective", obj), ("size", params["size"]),
        ("layers / hidden / heads / FFN / embedding",
         f"{params['num_hidden_layers']} / {params['hidden_size']} / {params['num_attention_heads']} / "
         f"{params['intermediate_size']} / {params['embedding_size']}"),
        ("generator fraction", params.get("generator_fraction")),
        ("discriminator parameters", metrics.get("disc_params")),
        ("generator parameters", metrics.get("gen_params")),
        ("steps", params["steps"]), ("batch size (sequences/step)", params["batch_size"]),
        ("peak learning rate", params["learning_rate"]), ("warmup steps", params["warmup_steps"]),
        ("mask probability", params["mask_prob"]), ("max sequence length", metrics.get("max_seq_length")),
        ("vocabulary size", metrics.get("vocab_size")), ("tokens seen", metrics.get("tokens_seen")),
        ("training seconds", metrics.get("seconds")), ("device", metrics.get("device")),
        ("processes", metrics.get("processes")),
        ("training FLOPs (model, 6N + attention)", metrics.get("train_flops")),
        ("FLOP/s achieved", metrics.get("flops_per_second")),
        ("MFU", metrics.get("mfu") if metrics.get("mfu") is not None else "n/a (no known accelerator peak)"),
    ]
    for k in ("train_gen_loss", "train_disc_loss", "train_disc_acc", "val_gen_loss", "val_gen_acc",
              "val_disc_loss", "val_disc_acc", "val_disc_auc", "val_replaced_precision", "val_replaced_recall"):
        if metrics.get(k) is not None:
            rows.append((k, metrics[k]))
    lines = front + ["", f"# {title}", "",
                     "Pre-trained with ELECTRA Foundry. The folder holds the discriminator "
                     "(`ElectraForPreTraining`); `generator/` holds the generator (`ElectraForMaskedLM`).",
                     ""]
    if params["objective"] == "mlm":
        lines += ["This model was trained with the MLM objective: the backbone here is the MLM model's "
                  "encoder and its replaced-token-detection head is untrained; `generator/` is the full "
                  "MLM model.", ""]
    lines += ["| | |", "|---|---|"] + [f"| {k} | {_fmt(v) if isinstance(v, float) else v} |" for k, v in rows]
    if card:
        lines += ["", "## Lineage", "", "| key | value |", "|---|---|"]
        for k, v in card.items():
            lines.append(f"| {k} | {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v} |")
    lines += ["", "## Usage", "", "```python",
              "from transformers import AutoModel, AutoTokenizer",
              "tok = AutoTokenizer.from_pretrained(PATH)", "model = AutoModel.from_pretrained(PATH)", "```", "",
              f"Files: {', '.join(sorted(files))}", ""]
    return "\n".join(lines)


@contextmanager
def _quiet_transformers():
    """No progress bars / info chatter from transformers while saving (restored afterwards)."""
    from transformers.utils import logging as hf_logging
    verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _fix_modes(root: Path) -> None:
    """mkdtemp/mkstemp create 0700/0600 entries; give the export the usual umask-based modes."""
    for p in [root, *root.rglob("*")]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~_UMASK)


def export(model, out_dir: Path, tokenizer_dir: Path | None, params: dict, metrics: dict,
           card: dict | None, seed: int) -> Path:
    """Write the HF folder under a temp sibling name, then swap it into place."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp, lock = _locked_temp(out_dir, directory=True)
    tmp = Path(tmp)
    try:
        if isinstance(model, MLMPretrainer):
            from transformers import ElectraForPreTraining
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(int(seed) + 3)
                disc = ElectraForPreTraining(model.generator.config)
            disc.electra.load_state_dict(model.generator.electra.state_dict())
            gen = model.generator
        else:
            disc, gen = model.discriminator, model.generator
        with _quiet_transformers():
            disc.save_pretrained(tmp, safe_serialization=True)
            gen.save_pretrained(tmp / "generator", safe_serialization=True)
        copied = []
        if tokenizer_dir is not None and Path(tokenizer_dir).is_dir():
            for name in TOKENIZER_FILES:
                src = Path(tokenizer_dir) / name
                if src.is_file():
                    shutil.copy2(src, tmp / name)
                    copied.append(name)
        (tmp / "pretrain_params.json").write_text(json.dumps(_json_safe(params), indent=2, sort_keys=True) + "\n",
                                                  encoding="utf-8")
        files = sorted(p.name for p in tmp.iterdir()) + ["README.md"]
        (tmp / "README.md").write_text(_card(params, metrics, card, files), encoding="utf-8")
        _fix_modes(tmp)
        old = None
        if out_dir.exists():
            old = out_dir.with_name(f".{out_dir.name}.old")
            if old.exists():
                shutil.rmtree(old)
            os.replace(out_dir, old)
        os.replace(tmp, out_dir)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    finally:
        os.close(lock)
    return out_dir


# --------------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------------

def _arch_signature(params: dict, vocab_size: int, max_seq_length: int) -> dict:
    sig = {k: params[k] for k in ARCH_PARAM_KEYS}
    sig.update(generator_fraction=params.get("generator_fraction"), objective=params["objective"],
               vocab_size=int(vocab_size), max_seq_length=int(max_seq_length))
    if float(params.get("generator_layers", 1.0)) != 1.0:
        sig["generator_layers"] = float(params["generator_layers"])
    return sig


class _StopFlag:
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


def _seed_dropout(seed: int, step: int, rank: int) -> None:
    torch.manual_seed(mix64(seed, 0xD809, step, rank) & 0x7FFFFFFFFFFFFFFF)


def _compile(model, backend: str | None) -> None:
    """torch.compile the encoders (the bulk of the FLOPs; fixed-shape) and the Gumbel sampler in place
    (parameter names unchanged). Masked-position gathers stay eager (data-dependent shapes)."""
    kw = {"backend": backend} if backend else {}
    encoders = [model.generator.electra] + ([model.discriminator] if hasattr(model, "discriminator") else [])
    for m in encoders:
        m.compile(dynamic=None, **kw)
    if hasattr(model, "discriminator"):
        model.sampler = torch.compile(gumbel_sample, dynamic=True, **kw)


def pretrain(shards_dir, tokenizer_dir, out_dir, checkpoint_dir, params: dict, metrics_path, curve_path,
             card: dict | None = None, *, stop_after: int | None = None, on_log=None,
             handle_signals: bool = True) -> dict:
    """Pre-train, checkpoint/resume, evaluate, export. Returns the metrics dict (also written to
    ``metrics_path``).

    ``stop_after=k`` stops after global step k with a checkpoint and no export (simulates a pre-emption;
    the next call resumes). ``on_log(step, metrics)`` is called on rank 0 at every logged step (and, when
    resuming, once per logged step restored from the checkpoint, so a logger can rebuild its history);
    ``metrics`` holds the curve's columns. ``handle_signals``: SIGTERM/SIGINT/SIGUSR1 stop the run at the
    end of the current step with a checkpoint; the result then has ``completed: False, preempted: True``."""
    t_start = time.perf_counter()
    params = resolve_params(dict(params))
    shards_dir, checkpoint_dir = Path(shards_dir), Path(checkpoint_dir)
    index = read_index(shards_dir)
    max_len = int(index["max_seq_length"])
    vocab_size = int(index["vocab_size"])
    mask_id = int(index.get("mask_id", 4))
    for key, want in (("pad_id", 0), ("cls_id", 2), ("sep_id", 3), ("mask_id", 4)):
        if key in index and int(index[key]) != want:
            raise ValueError(f"{shards_dir / 'index.json'}: {key} is {index[key]}, expected {want}")
    want_cuda = params["device"] != "cpu" and torch.cuda.is_available()
    dist_env = mdist.init(use_cuda=want_cuda)
    try:
        with _StopFlag(handle_signals) as stop_flag:
            return _pretrain(params, shards_dir, tokenizer_dir, out_dir, checkpoint_dir, metrics_path, curve_path,
                             card, stop_after, on_log, stop_flag, dist_env, index, max_len, vocab_size, mask_id,
                             t_start)
    finally:
        dist_env.close()


def train_step(net, opt, item, device: torch.device, params_list: list, on_output=None, *, world_size: int = 1,
               no_sync: bool = False, clip_norm: float = 1.0) -> None:
    """One optimizer step on a :class:`model.data.StepBatch`: every micro-batch forward (bf16 autocast on
    CUDA) and backward (DDP gradient sync only on the last), global-norm clip, optimizer step.
    ``on_output(out)`` sees each micro-batch's output dict (metrics stay on the device)."""
    last = len(item.micro) - 1
    for j, mb in enumerate(item.micro):
        batch = _to_device(mb, device)
        sync = net.no_sync() if (no_sync and j < last) else nullcontext()
        with sync, _autocast(device):
            out = net(batch.pop("input_ids"), batch.pop("attention_mask"), batch.pop("token_type_ids"),
                      gen_denom=item.gen_denom, disc_denom=item.disc_denom, **batch)
            loss = out["loss"] * world_size  # DDP averages gradients; the loss is a global mean
        loss.backward()
        if on_output is not None:
            on_output(out)
    torch.nn.utils.clip_grad_norm_(params_list, clip_norm)
    opt.step()
    opt.zero_grad(set_to_none=True)


def _pretrain(params, shards_dir, tokenizer_dir, out_dir, checkpoint_dir, metrics_path, curve_path, card,
              stop_after, on_log, stop_flag, d: mdist.Dist, index, max_len, vocab_size, mask_id, t_start) -> dict:
    device = pick_device(params["device"], d.local_rank)
    objective = params["objective"]
    seed = int(params["seed"])
    total = int(params["steps"])
    accum = int(params["grad_accum"])
    batch_size = int(params["batch_size"])
    disc_weight = float(params["disc_weight"])
    if batch_size % (accum * d.world_size):
        raise ValueError(f"batch_size ({batch_size}) must be a multiple of grad_accum x processes "
                         f"({accum} x {d.world_size})")
    micro = batch_size // accum
    train_split = ShardSplit(shards_dir, "train", index)
    if train_split.num_examples == 0:
        raise ValueError(f"{shards_dir}: the train split has no examples")
    try:
        val_split = ShardSplit(shards_dir, "validation", index)
    except FileNotFoundError:
        val_split = None
    sig = _arch_signature(params, vocab_size, max_len)
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
    rng_devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    log = (lambda msg: print(f"[pretrain] {msg}", flush=True)) if d.is_main else (lambda msg: None)
    if d.enabled:
        log(f"{d.world_size} processes ({d.backend}, {params['distributed']}); per-process micro-batch "
            f"{micro // d.world_size} x {accum} accumulation")

    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)  # weight init (same on every rank)
        model = build_pretrainer(dict(params), vocab_size, max_len, mask_id=mask_id).to(device)
        model.train()
        coeffs = mflops.model_coefficients(model)
        peak = float(params["peak_tflops"]) * 1e12 if params.get("peak_tflops") else mflops.peak_flops(device)
        fsdp = d.enabled and params["distributed"] == "fsdp"
        optim_state = None
        step, tokens_seen, examples_seen, train_seconds, flops_seen = 0, 0, 0, 0.0, 0.0
        rows: list[list] = []
        window_vals = None
        data_pos = {"epoch": 0, "offset": 0}
        resumed_from = None

        ck = latest_checkpoint(checkpoint_dir)
        if d.enabled and not d.same_int(-1 if ck is None else int(ck.name.split("-")[1])):
            raise RuntimeError(f"{checkpoint_dir}: processes see different latest checkpoints; the checkpoint "
                               "folder must be on storage shared by every node")
        if ck is not None:
            meta = _read_checkpoint(ck, "meta.json", lambda f: json.loads(f.read_text(encoding="utf-8")))
            if not isinstance(meta, dict):
                raise CheckpointError(f"{ck / 'meta.json'}: not a checkpoint description; delete {ck} to resume "
                                      f"from the one before (or {checkpoint_dir} to start afresh)")
            if meta.get("format") != CHECKPOINT_FORMAT:
                raise CheckpointError(f"{ck}: checkpoint format {meta.get('format')} (this code writes "
                                      f"{CHECKPOINT_FORMAT}); delete {checkpoint_dir} to start afresh")
            if meta.get("arch") != sig:
                raise CheckpointError(f"{ck}: checkpoint was made for a different model ({meta.get('arch')} vs "
                                      f"{sig}); delete {checkpoint_dir} to start afresh")
            changed = sorted(k for k in ("steps", "batch_size", "learning_rate", "warmup_steps", "mask_prob",
                                         "disc_weight", "weight_decay", "seed", "dropout", "temperature")
                             if meta.get("params", {}).get(k) != params.get(k))
            if changed:
                log(f"resuming {ck.name} with changed settings {changed}; the run will not match an "
                    "uninterrupted one")
            _read_checkpoint(ck, "model.safetensors", lambda f: _load_model_tensors(model, f))
            st = _read_checkpoint(ck, "state.pt", lambda f: torch.load(f, map_location="cpu", weights_only=True))
            optim_state = st["optimizer"]
            step = int(st["step"])
            tokens_seen, examples_seen = int(st["tokens_seen"]), int(st["examples_seen"])
            train_seconds, flops_seen = float(st["seconds"]), float(st.get("flops", 0.0))
            rows = [list(r) for r in st["curve"]]
            window_vals = st["window"] if d.is_main else None  # global sums live on rank 0 only
            data_pos = st["data"]
            resumed_from = step
            log(f"resumed from {ck} (step {step}/{total})")
            if on_log is not None and d.is_main:
                for r in rows:
                    on_log(int(r[0]), dict(zip(CURVE_COLUMNS, r)))

        if params.get("compile"):
            _compile(model, params.get("compile_backend"))
        net = mdist.wrap(model, d, device, params["distributed"])
        # after wrapping: FSDP replaces the parameters by sharded ones
        opt = AdamWeightDecay(param_groups(model, params["weight_decay"]), lr=params["learning_rate"],
                              betas=(0.9, 0.999), eps=1e-6,
                              fused=False if fsdp else params.get("fused_optimizer"))
        if optim_state is not None:
            mdist.load_optimizer_state(model, opt, optim_state, fsdp)
        batcher = PretrainBatcher(train_split, batch_size, seed=seed, mask_prob=float(params["mask_prob"]),
                                  max_seq_length=max_len, grad_accum=accum, world_size=d.world_size, rank=d.rank,
                                  pack=bool(params["pack"]), start_step=step, position=data_pos, mask_id=mask_id)
        prefetch = Prefetcher(batcher.next_step, depth=int(params["prefetch"]), pin=device.type == "cuda") \
            if int(params["prefetch"]) > 0 else None
        data_state = dict(data_pos)
        win = _Window(device, window_vals)
        params_list = [p for g in opt.param_groups for p in g["params"]]
        stop = total if stop_after is None else min(total, int(stop_after))
        ckpt_every = int(params["checkpoint_every"])
        log_every = int(params["log_every"])
        win_tokens, win_t0 = 0, time.perf_counter()
        if device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(device)

        def make_checkpoint():
            # the window's sums become global on rank 0 (zero elsewhere), as after a resume
            win.reduce_(d)
            if not d.is_main:
                win.t.zero_()
            tensors = mdist.full_model_tensors(model, d, fsdp)       # collective under FSDP
            optimizer = mdist.full_optimizer_state(model, opt, d, fsdp)
            if d.is_main:
                state = {
                    "format": CHECKPOINT_FORMAT, "step": step, "device": device.type, "optimizer": optimizer,
                    "data": data_state, "rng": {"scheme": "counter", "seed": seed}, "torch_rng": torch.get_rng_state(),
                    "tokens_seen": tokens_seen, "examples_seen": examples_seen, "seconds": train_seconds,
                    "flops": flops_seen, "lr": lr, "curve": [list(r) for r in rows], "window": win.values(),
                }
                meta = {"step": step, "arch": sig, "params": params, "data": data_state, "format": CHECKPOINT_FORMAT,
                        "world_size": d.world_size}
                save_checkpoint(checkpoint_dir, step, tensors, state, meta)
                write_curve(Path(curve_path), rows)
            d.barrier()

        last_ckpt_step = step if ck is not None else None
        preempted = None
        lr = float(params["learning_rate"]) * lr_factor(step, int(params["warmup_steps"]), total)
        try:
            while step < stop:
                t0 = time.perf_counter()
                item = prefetch.get() if prefetch is not None else batcher.next_step()
                lr = float(params["learning_rate"]) * lr_factor(step, int(params["warmup_steps"]), total)
                for g in opt.param_groups:
                    g["lr"] = lr
                _seed_dropout(seed, step, d.rank)
                train_step(net, opt, item, device, params_list, win.add, world_size=d.world_size,
                           no_sync=d.enabled and params["distributed"] == "ddp")
                step += 1
                win.n += 1
                data_state = item.state
                f = coeffs.step_flops(item.sum_len, item.sum_len_sq, item.gen_denom)
                win.add_flops(f / d.world_size)  # summed over ranks at log time
                flops_seen += f
                tokens_seen += item.sum_len
                win_tokens += item.sum_len
                examples_seen += item.examples
                stopping = d.any_flag(stop_flag.set_by is not None)
                boundary = step % log_every == 0 or step == total or step % ckpt_every == 0 or step == stop \
                    or stopping
                if device.type == "cuda" and boundary:
                    torch.cuda.synchronize(device)
                train_seconds += time.perf_counter() - t0
                if step % log_every == 0 or step == total:
                    win.reduce_(d)
                    s = win.summary(objective, disc_weight)
                    dt = max(1e-9, time.perf_counter() - win_t0)
                    fps = win.values()["flops"] / dt
                    m = mflops.mfu(fps, peak, d.world_size)
                    rows.append([step, lr, s["loss"], s["gen_loss"], s["gen_acc"], s["disc_loss"], s["disc_acc"],
                                 s["replaced_precision"], s["replaced_recall"], tokens_seen, win_tokens / dt,
                                 train_seconds, fps, m if m is not None else float("nan"), s["disc_auc"],
                                 s["replaced_fraction"]])
                    log(f"step {step}/{total} lr {lr:.3g} gen {s['gen_loss']:.4f} disc {s['disc_loss']:.4f} "
                        f"disc_acc {s['disc_acc']:.4f} auc {s['disc_auc']:.3f} rec {s['replaced_recall']:.3f} "
                        f"tok/s {win_tokens / dt:.0f} "
                        + (f"MFU {m:.1%}" if m is not None else f"{fps / 1e9:.1f} GFLOP/s"))
                    if on_log is not None and d.is_main:
                        on_log(step, dict(zip(CURVE_COLUMNS, rows[-1])))
                    win = _Window(device)
                    win_tokens, win_t0 = 0, time.perf_counter()
                if step % ckpt_every == 0 or step == stop or stopping:
                    make_checkpoint()
                    last_ckpt_step = step
                    win_t0 = time.perf_counter()  # don't count checkpoint I/O as training throughput
                if stopping:
                    preempted = stop_flag.set_by or "another process"
                    break
        finally:
            if prefetch is not None:
                prefetch.close()

        if preempted is not None or step < total:  # stopped early: by a signal, or on purpose
            out = {"completed": False, "stopped_at": step, "steps": total,
                   "checkpoint": str(latest_checkpoint(checkpoint_dir))}
            if preempted is not None:
                out.update(preempted=True, signal=preempted)
            return out
        if last_ckpt_step != step:
            make_checkpoint()

        last = {}
        if rows:
            r = dict(zip(CURVE_COLUMNS, rows[-1]))
            last = {k: r[k] for k in ("loss", "gen_loss", "gen_acc", "disc_loss", "disc_acc",
                                      "replaced_precision", "replaced_recall", "disc_auc", "replaced_fraction")}
        in_sync = None
        if d.enabled and params["distributed"] == "ddp":  # same weights everywhere: checked, not assumed
            with torch.no_grad():
                fp = torch.stack([torch.stack([p.double().sum(), p.double().square().sum()])
                                  for p in model.parameters()]).flatten().cpu()
            in_sync = d.all_equal(fp)
        if fsdp:  # evaluation and export need the whole model on rank 0: rebuild a plain copy
            tensors = mdist.full_model_tensors(model, d, True)
            if d.is_main:
                with torch.random.fork_rng(devices=rng_devices):
                    model = build_pretrainer(dict(params), vocab_size, max_len, mask_id=mask_id)
                with torch.no_grad():
                    for n, p in model.named_parameters():
                        p.copy_(tensors[n])
                model = model.to(device)
        val = None
        if d.is_main:
            val = evaluate(model, val_split, micro, int(params["eval_batches"]), device, seed, objective, disc_weight)
        peak_mem = torch.cuda.max_memory_allocated(device) if device.type == "cuda" else None

    if not d.is_main:
        d.barrier()
        return {"completed": True, "rank": d.rank, "steps": step}
    if isinstance(model, ElectraPretrainer):
        disc_params, gen_params = count_params(model.discriminator), count_params(model.generator)
    else:
        disc_params, gen_params = count_params(model.generator.electra), count_params(model.generator)
    fps = flops_seen / train_seconds if train_seconds > 0 else None
    metrics = {
        "objective": objective, "size": params["size"], "device": str(device.type), "steps": step,
        "processes": d.world_size, "processes_in_sync": in_sync, "batch_size": batch_size, "grad_accum": accum,
        "max_seq_length": max_len,
        "vocab_size": vocab_size, "tokens_seen": tokens_seen, "examples_seen": examples_seen,
        "seconds": round(train_seconds, 3),
        "tokens_per_second": (tokens_seen / train_seconds) if train_seconds > 0 else None,
        "train_flops": flops_seen, "flops_per_second": fps,
        "flops_per_token": coeffs.per_token_estimate(max_len, float(params["mask_prob"])),
        "peak_flops": peak, "mfu": mflops.mfu(fps, peak, d.world_size),
        "peak_memory_bytes": peak_mem, "packed": bool(params["pack"]), "compiled": bool(params.get("compile")),
        "disc_params": disc_params, "gen_params": gen_params, "total_params": count_params(model),
        "resumed_from_step": resumed_from,
        **{f"train_{k}": v for k, v in last.items()},
    }
    if val is not None:
        metrics.update({f"val_{k}": v for k, v in val.items()})
    else:
        metrics.update(val_batches=0)
    if objective == "mlm":  # no discriminator: report its metrics as null, not as a misleading 0
        for k in list(metrics):
            if k.endswith(("disc_loss", "disc_acc", "disc_auc", "replaced_precision", "replaced_recall",
                           "replaced_fraction")):
                metrics[k] = None
    try:
        export(model, Path(out_dir), Path(tokenizer_dir) if tokenizer_dir else None, params, metrics, card, seed)
        write_curve(Path(curve_path), rows)
        metrics["wall_seconds"] = round(time.perf_counter() - t_start, 3)
        _write_json(Path(metrics_path), metrics)
    finally:
        d.barrier()
    return _json_safe(metrics)


# --------------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------------

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.pretrain", description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", required=True, help="shards folder (index.json + train-*.parquet)")
    ap.add_argument("--tokenizer", default=None, help="tokenizer folder whose files are copied into --out")
    ap.add_argument("--out", required=True, help="output HF model folder")
    ap.add_argument("--checkpoints", required=True, help="checkpoint folder (resumed automatically)")
    ap.add_argument("--params", required=True, help="JSON file of pretrain params (missing keys: size defaults)")
    ap.add_argument("--metrics", required=True, help="metrics JSON to write")
    ap.add_argument("--curve", required=True, help="training curve TSV to write")
    ap.add_argument("--card", default=None, help="optional JSON file of extra model-card key/values")
    ap.add_argument("--stop-after", type=int, default=None, help="stop (with a checkpoint) after this step")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a param (a JSON value, else a string), e.g. --set steps=1000 --set device=cpu")
    a = ap.parse_args(argv)
    with open(a.params, encoding="utf-8") as f:
        params = json.load(f)
    for kv in a.set:
        k, _, v = kv.partition("=")
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    card = None
    if a.card:
        with open(a.card, encoding="utf-8") as f:
            card = json.load(f)
    try:
        res = pretrain(a.shards, a.tokenizer, a.out, a.checkpoints, params, a.metrics, a.curve, card,
                       stop_after=a.stop_after)
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(res, indent=2, sort_keys=True))
    if res.get("preempted"):
        return PREEMPTED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
