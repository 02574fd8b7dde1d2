"""ELECTRA (or MLM-baseline) pre-training loop: shards in, HF model folder out.

``pretrain(shards_dir, tokenizer_dir, out_dir, checkpoint_dir, params, metrics_path, curve_path, card)``
trains with the official ELECTRA recipe (Adam without bias correction, eps 1e-6, decoupled weight decay
except LayerNorm/bias, global grad-norm clip 1.0, LR = peak x linear warmup x linear decay to 0),
checkpoints and resumes exactly, evaluates on the validation split, and exports:

    out_dir/                 ElectraForPreTraining (discriminator) in safetensors + config.json
      generator/             ElectraForMaskedLM (the generator; for objective 'mlm' the trained MLM model)
      tokenizer files        copied from tokenizer_dir
      pretrain_params.json   the resolved params
      README.md              model card

Checkpoints: ``checkpoint_dir/step-000000100/{model.safetensors, state.pt, meta.json}``, written under a
``.tmp-`` name and renamed when complete; the newest complete one is resumed automatically; the last
two are kept. ``state.pt`` loads with ``torch.load(weights_only=True)``.

Also runnable standalone (``python -m model.pretrain --help``). Imports only torch, transformers,
numpy, pyarrow, safetensors and the stdlib.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from contextlib import contextmanager, nullcontext
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from model.data import BatchIterator, ShardSplit, read_index
from model.electra import (ARCH_PARAM_KEYS, ElectraPretrainer, MLMPretrainer,
                           build_pretrainer, count_params)
from model.sizes import SIZES

CHECKPOINT_FORMAT = 1
KEEP_CHECKPOINTS = 2
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spm.model",
                   "spm.vocab")
CURVE_COLUMNS = ("step", "lr", "loss", "gen_loss", "gen_acc", "disc_loss", "disc_acc",
                 "replaced_precision", "replaced_recall", "tokens_seen", "tokens_per_s", "seconds")
NO_DECAY = ("LayerNorm", "layer_norm", "bias")


# --------------------------------------------------------------------------------------------------
# optimisation
# --------------------------------------------------------------------------------------------------

class AdamWeightDecay(torch.optim.Optimizer):
    """The official ELECTRA/BERT ``AdamWeightDecayOptimizer``: Adam *without* bias correction.

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  u = m / (sqrt(v) + eps) + wd * p;  p -= lr * u
    (weight decay is decoupled and uses the parameter before the update). Uses foreach kernels.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError("lr, eps and weight_decay must be >= 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

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
    """Multiplier of the peak LR for the update with 0-based index ``step``.

    ``min(1, (step + 1) / warmup) * max(0, 1 - step / total)``: linear warmup *multiplied* by a linear
    decay to 0 over the whole run (as the official code, whose decay also starts at step 0). The
    warmup counts the update being made, so the first update is not wasted at LR 0.
    """
    warm = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    decay = max(0.0, 1.0 - step / max(1, total_steps))
    return warm * decay


# --------------------------------------------------------------------------------------------------
# params
# --------------------------------------------------------------------------------------------------

def resolve_params(params: dict) -> dict:
    """Fill what ``params`` lacks from the size table and the pipeline's defaults (for standalone use)."""
    size = params.get("size", "small")
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    s = SIZES[size]
    out = {k: s[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                             "embedding_size", "generator_fraction")}
    out.update(size=size, objective="electra", steps=s["train_steps"], batch_size=s["batch_size"],
               learning_rate=s["learning_rate"], warmup_steps=s["warmup_steps"], mask_prob=s["mask_prob"],
               disc_weight=50.0, weight_decay=0.01, grad_accum=1, seed=1, device="auto", log_every=10,
               checkpoint_every=1000, eval_batches=10)
    out.update({k: v for k, v in params.items() if v is not None})
    if out["objective"] not in ("electra", "mlm"):
        raise ValueError(f"objective must be 'electra' or 'mlm', got {out['objective']!r}")
    for k in ("steps", "batch_size", "grad_accum", "log_every", "checkpoint_every"):
        if int(out[k]) < 1:
            raise ValueError(f"{k} must be >= 1, got {out[k]!r}")
    if int(out["batch_size"]) % int(out["grad_accum"]):
        raise ValueError(f"batch_size ({out['batch_size']}) must be a multiple of grad_accum ({out['grad_accum']}): "
                         "batch_size is the number of sequences per optimizer step")
    return out


def pick_device(requested: str = "auto") -> torch.device:
    if requested != "cpu" and torch.cuda.is_available():
        return torch.device("cuda")
    if requested == "cuda":
        print("[pretrain] device 'cuda' requested but CUDA is not available; using the CPU", flush=True)
    return torch.device("cpu")


# --------------------------------------------------------------------------------------------------
# small file helpers (model/ must not import pipeline/)
# --------------------------------------------------------------------------------------------------

def _atomic_write_text(path: Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
        raise ValueError(f"{path}: checkpoint does not match the model (missing {missing[:5]}, "
                         f"unexpected {unexpected[:5]}); delete the checkpoint folder to start afresh")
    with torch.no_grad():
        for n, p in params.items():
            p.copy_(tensors[n])


def save_checkpoint(checkpoint_dir: Path, step: int, model, state: dict, meta: dict) -> Path:
    checkpoint_dir = Path(checkpoint_dir)
    checkpoint_dir.mkdir(parents=True, exist_ok=True)
    final = checkpoint_dir / f"step-{step:09d}"
    tmp = Path(tempfile.mkdtemp(prefix=f".tmp-step-{step:09d}-", dir=checkpoint_dir))
    try:
        save_file(_model_tensors(model), str(tmp / "model.safetensors"), metadata={"step": str(step)})
        torch.save(state, tmp / "state.pt")
        (tmp / "meta.json").write_text(json.dumps(_json_safe(meta), indent=2, sort_keys=True) + "\n",
                                       encoding="utf-8")
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
# evaluation
# --------------------------------------------------------------------------------------------------

class _Window:
    """Running sums of the step outputs, kept on the device (no host sync until read)."""

    KEYS = ("loss", "gen_loss", "disc_loss", "gen_correct", "masked_count", "disc_correct", "token_count",
            "replaced_count", "predicted_replaced", "true_positive")

    def __init__(self, device, values: dict | None = None):
        self.device = device
        self.sums = {k: torch.zeros((), dtype=torch.float64, device=device) for k in self.KEYS}
        self.n = 0
        if values:
            for k in self.KEYS:
                self.sums[k] += float(values.get(k, 0.0))
            self.n = int(values.get("n", 0))

    def add(self, out: dict, weight: float = 1.0, count_step: bool = True) -> None:
        for k in ("loss", "gen_loss", "disc_loss"):
            self.sums[k] += out[k].detach().double() * weight
        for k in self.KEYS[3:]:
            self.sums[k] += out[k].detach().double()
        if count_step:
            self.n += 1

    def values(self) -> dict:
        v = {k: float(t) for k, t in self.sums.items()}
        v["n"] = self.n
        return v

    def summary(self, objective: str) -> dict:
        v = self.values()
        n = max(1, self.n)
        div = lambda a, b: (a / b) if b else float("nan")  # noqa: E731
        out = {"loss": v["loss"] / n, "gen_loss": v["gen_loss"] / n,
               "gen_acc": div(v["gen_correct"], v["masked_count"])}
        if objective == "electra":
            out.update(disc_loss=v["disc_loss"] / n, disc_acc=div(v["disc_correct"], v["token_count"]),
                       replaced_precision=div(v["true_positive"], v["predicted_replaced"]),
                       replaced_recall=div(v["true_positive"], v["replaced_count"]),
                       replaced_fraction=div(v["replaced_count"], v["token_count"]))
        else:
            out.update(disc_loss=float("nan"), disc_acc=float("nan"), replaced_precision=float("nan"),
                       replaced_recall=float("nan"), replaced_fraction=float("nan"))
        return out


def _to_device(batch: dict, device: torch.device) -> dict:
    nb = device.type == "cuda"
    return {k: (v.pin_memory() if nb else v).to(device, non_blocking=nb) for k, v in batch.items()}


def _autocast(device: torch.device):
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


@torch.no_grad()
def evaluate(model, split: ShardSplit, batch_size: int, batches: int, device: torch.device, seed: int,
             objective: str) -> dict | None:
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
    s = win.summary(objective)
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
    ]
    for k in ("train_gen_loss", "train_disc_loss", "train_disc_acc", "val_gen_loss", "val_gen_acc",
              "val_disc_loss", "val_disc_acc", "val_replaced_precision", "val_replaced_recall"):
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
    umask = os.umask(0)
    os.umask(umask)
    for p in [root, *root.rglob("*")]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


def export(model, out_dir: Path, tokenizer_dir: Path | None, params: dict, metrics: dict,
           card: dict | None, seed: int) -> Path:
    """Write the HF folder under a temp sibling name, then swap it into place."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", suffix=".tmp", dir=out_dir.parent))
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
    return out_dir


# --------------------------------------------------------------------------------------------------
# the loop
# --------------------------------------------------------------------------------------------------

def _arch_signature(params: dict, vocab_size: int, max_seq_length: int) -> dict:
    sig = {k: params[k] for k in ARCH_PARAM_KEYS}
    sig.update(generator_fraction=params.get("generator_fraction"), objective=params["objective"],
               vocab_size=int(vocab_size), max_seq_length=int(max_seq_length))
    return sig


def pretrain(shards_dir, tokenizer_dir, out_dir, checkpoint_dir, params: dict, metrics_path, curve_path,
             card: dict | None = None, *, stop_after: int | None = None) -> dict:
    """Pre-train, checkpoint/resume, evaluate, export. Returns the metrics dict (also written to
    ``metrics_path``). ``stop_after=k`` stops after global step k with a checkpoint and no export
    (simulates a pre-emption; the next call resumes)."""
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
    device = pick_device(params["device"])
    objective = params["objective"]
    seed = int(params["seed"])
    total = int(params["steps"])
    accum = int(params["grad_accum"])
    micro = int(params["batch_size"]) // accum
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

    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)  # weight init + dropout come from the (forked) global RNG
        model = build_pretrainer(params, vocab_size, max_len, mask_id=mask_id).to(device)
        model.train()
        opt = AdamWeightDecay(param_groups(model, params["weight_decay"]), lr=params["learning_rate"],
                              betas=(0.9, 0.999), eps=1e-6)
        mask_gen = torch.Generator(device=device)
        mask_gen.manual_seed(seed + 1)
        step, tokens_seen, examples_seen, train_seconds = 0, 0, 0, 0.0
        rows: list[list] = []
        window_vals = None
        data_pos = {"epoch": 0, "offset": 0}
        resumed_from = None

        ck = latest_checkpoint(checkpoint_dir)
        if ck is not None:
            meta = json.loads((ck / "meta.json").read_text(encoding="utf-8"))
            if meta.get("arch") != sig:
                raise ValueError(f"{ck}: checkpoint was made for a different model ({meta.get('arch')} vs {sig}); "
                                 f"delete {checkpoint_dir} to start afresh")
            changed = sorted(k for k in ("steps", "batch_size", "learning_rate", "warmup_steps", "mask_prob",
                                         "disc_weight", "weight_decay", "grad_accum", "seed")
                             if meta.get("params", {}).get(k) != params.get(k))
            if changed:
                print(f"[pretrain] resuming {ck.name} with changed settings {changed}; the run will not "
                      "match an uninterrupted one", flush=True)
            _load_model_tensors(model, ck / "model.safetensors")
            st = torch.load(ck / "state.pt", map_location="cpu", weights_only=True)
            opt.load_state_dict(st["optimizer"])
            step = int(st["step"])
            tokens_seen, examples_seen = int(st["tokens_seen"]), int(st["examples_seen"])
            train_seconds = float(st["seconds"])
            rows = [list(r) for r in st["curve"]]
            window_vals = st["window"]
            data_pos = st["data"]
            torch.set_rng_state(st["torch_rng"])
            if st.get("device", "cpu") == device.type:
                mask_gen.set_state(st["mask_rng"])
                if device.type == "cuda" and "cuda_rng" in st:
                    torch.cuda.set_rng_state(st["cuda_rng"], device)
            else:  # CPU <-> CUDA generator states are not interchangeable: reseed deterministically
                print(f"[pretrain] checkpoint made on {st.get('device')}, resuming on {device.type}: "
                      "masking/dropout RNG reseeded", flush=True)
                mask_gen.manual_seed(seed + 1 + 1_000_003 * step)
                if device.type == "cuda":
                    torch.cuda.manual_seed(seed + step)
            resumed_from = step
            print(f"[pretrain] resumed from {ck} (step {step}/{total})", flush=True)

        it = BatchIterator(train_split, micro, seed=seed, shuffle=True, position=data_pos)
        win = _Window(device, window_vals)
        params_list = [p for g in opt.param_groups for p in g["params"]]
        stop = total if stop_after is None else min(total, int(stop_after))
        ckpt_every = int(params["checkpoint_every"])
        log_every = int(params["log_every"])
        win_tokens, win_t0 = 0, time.perf_counter()

        def make_checkpoint():
            state = {
                "format": CHECKPOINT_FORMAT, "step": step, "device": device.type, "optimizer": opt.state_dict(),
                "data": it.state(), "mask_rng": mask_gen.get_state(), "torch_rng": torch.get_rng_state(),
                "tokens_seen": tokens_seen, "examples_seen": examples_seen, "seconds": train_seconds,
                "curve": [list(r) for r in rows], "window": win.values(),
            }
            if device.type == "cuda":
                state["cuda_rng"] = torch.cuda.get_rng_state(device)
            meta = {"step": step, "arch": sig, "params": params, "data": it.state(), "format": CHECKPOINT_FORMAT}
            path = save_checkpoint(checkpoint_dir, step, model, state, meta)
            write_curve(Path(curve_path), rows)
            return path

        last_ckpt_step = step if ck is not None else None
        while step < stop:
            t0 = time.perf_counter()
            lr = float(params["learning_rate"]) * lr_factor(step, int(params["warmup_steps"]), total)
            for g in opt.param_groups:
                g["lr"] = lr
            for _ in range(accum):
                batch = it.next_batch()
                n_tok = int(batch["attention_mask"].sum())
                tokens_seen += n_tok
                win_tokens += n_tok
                examples_seen += batch["input_ids"].shape[0]
                batch = _to_device(batch, device)
                with _autocast(device):
                    out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"],
                                generator=mask_gen)
                (out["loss"] / accum).backward()
                win.add(out, weight=1.0 / accum, count_step=False)
            torch.nn.utils.clip_grad_norm_(params_list, 1.0)
            opt.step()
            opt.zero_grad(set_to_none=True)
            step += 1
            win.n += 1
            if device.type == "cuda" and (step % log_every == 0 or step % ckpt_every == 0 or step == stop):
                torch.cuda.synchronize()
            train_seconds += time.perf_counter() - t0
            if step % log_every == 0 or step == total:
                s = win.summary(objective)
                dt = max(1e-9, time.perf_counter() - win_t0)
                rows.append([step, lr, s["loss"], s["gen_loss"], s["gen_acc"], s["disc_loss"], s["disc_acc"],
                             s["replaced_precision"], s["replaced_recall"], tokens_seen, win_tokens / dt,
                             train_seconds])
                print(f"[pretrain] step {step}/{total} lr {lr:.3g} gen {s['gen_loss']:.4f} "
                      f"disc {s['disc_loss']:.4f} disc_acc {s['disc_acc']:.4f} tok/s {win_tokens / dt:.0f}",
                      flush=True)
                win = _Window(device)
                win_tokens, win_t0 = 0, time.perf_counter()
            if step % ckpt_every == 0 or step == stop:
                make_checkpoint()
                last_ckpt_step = step
                win_t0 = time.perf_counter()  # don't count checkpoint I/O as training throughput

        if step < total:  # stopped early on purpose
            return {"completed": False, "stopped_at": step, "steps": total,
                    "checkpoint": str(latest_checkpoint(checkpoint_dir))}
        if last_ckpt_step != step:
            make_checkpoint()

        last = {}
        if rows:
            r = dict(zip(CURVE_COLUMNS, rows[-1]))
            last = {k: r[k] for k in ("loss", "gen_loss", "gen_acc", "disc_loss", "disc_acc",
                                      "replaced_precision", "replaced_recall")}
        val = evaluate(model, val_split, micro, int(params["eval_batches"]), device, seed, objective)

    if isinstance(model, ElectraPretrainer):
        disc_params, gen_params = count_params(model.discriminator), count_params(model.generator)
    else:
        disc_params, gen_params = count_params(model.generator.electra), count_params(model.generator)
    metrics = {
        "objective": objective, "size": params["size"], "device": str(device.type), "steps": step,
        "batch_size": int(params["batch_size"]), "grad_accum": accum, "max_seq_length": max_len,
        "vocab_size": vocab_size, "tokens_seen": tokens_seen, "examples_seen": examples_seen,
        "seconds": round(train_seconds, 3),
        "tokens_per_second": (tokens_seen / train_seconds) if train_seconds > 0 else None,
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
            if k.endswith(("disc_loss", "disc_acc", "replaced_precision", "replaced_recall", "replaced_fraction")):
                metrics[k] = None
    export(model, Path(out_dir), Path(tokenizer_dir) if tokenizer_dir else None, params, metrics, card, seed)
    write_curve(Path(curve_path), rows)
    metrics["wall_seconds"] = round(time.perf_counter() - t_start, 3)
    _write_json(Path(metrics_path), metrics)
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
    res = pretrain(a.shards, a.tokenizer, a.out, a.checkpoints, params, a.metrics, a.curve, card,
                   stop_after=a.stop_after)
    print(json.dumps(res, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
