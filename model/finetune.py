"""Fine-tuning a pre-trained (or randomly initialised) ELECTRA discriminator on one task.

``finetune(init, task_type, num_labels, train, dev, hparams, arch=None) -> dict``

* ``init``: HF folder of the discriminator (``ElectraModel`` weights are taken from it), or None for
  a random init from ``arch`` (``ElectraConfig`` kwargs, e.g. the pretrained folder's config.json), so
  the random-init baseline has exactly the same architecture.
* ``task_type``: 'classification' | 'pair_classification' (segments via token_type_ids) | 'regression'
  | 'tagging'. Head: dropout(0.1) + linear on the final [CLS] hidden state (classification/regression)
  or on every token (tagging). Losses: cross-entropy / MSE / token cross-entropy (label -100 ignored).
* ``train``/``dev``: lists of ``{"input_ids", "token_type_ids", "label"}`` (tagging: per-token label
  ids aligned with input_ids, -100 where ignored).
* ``hparams``: learning_rate (required), epochs (3), batch_size (32), eval_batch_size (2 x batch),
  seed (0), layerwise_lr_decay (None = off), weight_decay (0), warmup_fraction (0.1),
  max_grad_norm (1.0), device ('auto'|'cpu'|'cuda').

Optimiser: AdamW (with bias correction, eps 1e-6, betas 0.9/0.999; no weight decay on LayerNorm and
biases), LR = peak x linear warmup x linear decay to 0. Layer-wise LR decay follows the official
ELECTRA code (``_get_layer_lrs`` in electra/model/optimization.py) exactly: with L layers and decay d,
the head gets lr, encoder layer i (0-based from the bottom) gets lr * d^(L + 1 - i) -- so the top
layer gets lr * d^2 -- and the embeddings (incl. embeddings_project) get lr * d^(L + 2).

Returns ``{"predictions", "labels", "train_loss", "seconds", "steps"}``: predictions are class ids,
floats, or (tagging) per-example lists of tag ids at the positions whose label != -100, with
``labels`` aligned the same way. ``train_loss`` is the mean training loss over all steps. Metrics are
computed by the caller. Deterministic on CPU for a given seed.
"""
from __future__ import annotations

import math
import re
import time
from contextlib import nullcontext

import torch
import torch.nn.functional as F
from transformers import ElectraConfig, ElectraModel

TASK_TYPES = ("classification", "pair_classification", "regression", "tagging")
NO_DECAY = ("LayerNorm", "layer_norm", "bias")
IGNORE = -100


class ElectraFinetuner(torch.nn.Module):
    """ElectraModel backbone + dropout + linear head (sequence-level on [CLS], or per token)."""

    def __init__(self, backbone: ElectraModel, num_outputs: int, per_token: bool, dropout: float = 0.1):
        super().__init__()
        self.electra = backbone
        self.per_token = per_token
        self.dropout = torch.nn.Dropout(dropout)
        self.head = torch.nn.Linear(backbone.config.hidden_size, num_outputs)
        std = getattr(backbone.config, "initializer_range", 0.02)
        with torch.no_grad():
            self.head.weight.normal_(0.0, std)
            self.head.bias.zero_()

    def forward(self, input_ids, attention_mask, token_type_ids):
        h = self.electra(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                         return_dict=True).last_hidden_state
        if not self.per_token:
            h = h[:, 0]
        return self.head(self.dropout(h))


def _layer_lr_scale(name: str, n_layers: int, decay: float | None) -> float:
    if not decay or decay == 1.0:
        return 1.0
    m = re.search(r"encoder\.layer\.(\d+)\.", name)
    if m:
        depth = int(m.group(1)) + 1
    elif name.startswith("electra.embeddings") or name.startswith("electra.embeddings_project"):
        depth = 0
    elif name.startswith("electra."):
        depth = n_layers + 2  # nothing else lives in ElectraModel today; treat as task-specific
    else:
        depth = n_layers + 2  # head
    return decay ** (n_layers + 2 - depth)


def layerwise_param_groups(model: ElectraFinetuner, lr: float, decay: float | None,
                           weight_decay: float) -> list[dict]:
    """One group per (LR scale, decay/no-decay); each group carries its ``base_lr``."""
    n_layers = model.electra.config.num_hidden_layers
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        scale = _layer_lr_scale(name, n_layers, decay)
        wd = 0.0 if any(k in name for k in NO_DECAY) else float(weight_decay)
        key = (scale, wd)
        if key not in groups:
            groups[key] = {"params": [], "base_lr": lr * scale, "lr": lr * scale, "weight_decay": wd,
                           "names": []}
        groups[key]["params"].append(p)
        groups[key]["names"].append(name)
    return list(groups.values())


def _lr_factor(step: int, warmup: int, total: int) -> float:
    warm = min(1.0, (step + 1) / warmup) if warmup > 0 else 1.0
    return warm * max(0.0, 1.0 - step / max(1, total))


def _collate(examples: list[dict], task_type: str, device: torch.device) -> dict:
    L = max(len(e["input_ids"]) for e in examples)
    B = len(examples)
    ids = torch.zeros((B, L), dtype=torch.long)
    tts = torch.zeros((B, L), dtype=torch.long)
    att = torch.zeros((B, L), dtype=torch.long)
    if task_type == "tagging":
        labels = torch.full((B, L), IGNORE, dtype=torch.long)
    elif task_type == "regression":
        labels = torch.zeros(B, dtype=torch.float32)
    else:
        labels = torch.zeros(B, dtype=torch.long)
    for i, e in enumerate(examples):
        n = len(e["input_ids"])
        ids[i, :n] = torch.as_tensor(e["input_ids"], dtype=torch.long)
        tt = e.get("token_type_ids")
        if tt is not None:
            tts[i, :n] = torch.as_tensor(tt, dtype=torch.long)
        att[i, :n] = 1
        if task_type == "tagging":
            lab = e["label"]
            if len(lab) != n:
                raise ValueError(f"tagging example {i}: {len(lab)} labels for {n} tokens")
            labels[i, :n] = torch.as_tensor(lab, dtype=torch.long)
        else:
            labels[i] = float(e["label"]) if task_type == "regression" else int(e["label"])
    out = {"input_ids": ids, "token_type_ids": tts, "attention_mask": att, "labels": labels}
    return {k: v.to(device) for k, v in out.items()}


def _check_examples(examples: list[dict], name: str, task_type: str, n_out: int, config) -> None:
    max_len = config.max_position_embeddings
    for i, e in enumerate(examples):
        if len(e["input_ids"]) > max_len:
            raise ValueError(f"{name} example {i}: {len(e['input_ids'])} tokens, but the model takes at most "
                             f"{max_len} (max_position_embeddings); truncate the task's examples")
        if task_type in ("classification", "pair_classification"):
            if not 0 <= int(e["label"]) < n_out:
                raise ValueError(f"{name} example {i}: label {e['label']!r} outside 0..{n_out - 1}")
        elif task_type == "tagging":
            bad = [x for x in e["label"] if x != IGNORE and not 0 <= int(x) < n_out]
            if bad:
                raise ValueError(f"{name} example {i}: tag ids {bad[:5]} outside 0..{n_out - 1} (or -100)")


def _loss(logits, labels, task_type: str, num_labels: int):
    logits = logits.float()
    if task_type == "regression":
        return F.mse_loss(logits.squeeze(-1), labels)
    if task_type == "tagging":
        return F.cross_entropy(logits.reshape(-1, num_labels), labels.reshape(-1), ignore_index=IGNORE)
    return F.cross_entropy(logits, labels)


def _autocast(device):
    return torch.autocast("cuda", dtype=torch.bfloat16) if device.type == "cuda" else nullcontext()


def load_backbone(init, arch: dict | None = None) -> ElectraModel:
    """ElectraModel from an HF folder (discriminator), or randomly initialised from ``arch``."""
    if init is not None:
        from transformers.utils import logging as hf_logging
        verbosity, bars = hf_logging.get_verbosity(), hf_logging.is_progress_bar_enabled()
        hf_logging.set_verbosity_error()  # the discriminator head is "unexpected" here, by design
        hf_logging.disable_progress_bar()
        try:
            return ElectraModel.from_pretrained(str(init), attn_implementation="sdpa")
        finally:
            hf_logging.set_verbosity(verbosity)
            if bars:
                hf_logging.enable_progress_bar()
    if arch is None:
        raise ValueError("finetune: init is None, so arch (ElectraConfig kwargs) is required")
    cfg = ElectraConfig.from_dict({k: v for k, v in dict(arch).items()
                                   if k not in ("architectures", "transformers_version", "dtype", "torch_dtype")})
    cfg._attn_implementation = "sdpa"
    return ElectraModel(cfg)


def finetune(init, task_type: str, num_labels: int, train: list[dict], dev: list[dict], hparams: dict,
             arch: dict | None = None) -> dict:
    if task_type not in TASK_TYPES:
        raise ValueError(f"task_type must be one of {TASK_TYPES}, got {task_type!r}")
    if not train:
        raise ValueError("finetune: no training examples")
    if "learning_rate" not in hparams:
        raise ValueError("finetune: hparams['learning_rate'] is required")
    t0 = time.perf_counter()
    lr = float(hparams["learning_rate"])
    epochs = float(hparams.get("epochs", 3))
    bs = int(hparams.get("batch_size", 32))
    ebs = int(hparams.get("eval_batch_size", 2 * bs))
    seed = int(hparams.get("seed", 0))
    decay = hparams.get("layerwise_lr_decay")
    wd = float(hparams.get("weight_decay", 0.0))
    warmup_fraction = float(hparams.get("warmup_fraction", 0.1))
    max_norm = hparams.get("max_grad_norm", 1.0)
    dropout = float(hparams.get("dropout", 0.1))
    req = hparams.get("device", "auto")
    device = torch.device("cuda") if (req != "cpu" and torch.cuda.is_available()) else torch.device("cpu")
    n_out = 1 if task_type == "regression" else int(num_labels)

    rng_devices = [torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)  # random-init backbone, head init and dropout
        backbone = load_backbone(init, arch)
        _check_examples(train, "train", task_type, n_out, backbone.config)
        _check_examples(dev, "dev", task_type, n_out, backbone.config)
        model = ElectraFinetuner(backbone, n_out, per_token=task_type == "tagging", dropout=dropout).to(device)
        groups = layerwise_param_groups(model, lr, decay, wd)
        opt = torch.optim.AdamW([{k: v for k, v in g.items() if k != "names"} for g in groups], lr=lr,
                                betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0)
        per_epoch = math.ceil(len(train) / bs)
        total = max(1, math.ceil(per_epoch * epochs))
        warmup = int(round(total * warmup_fraction))
        order_gen = torch.Generator().manual_seed(seed)
        model.train()
        losses = []
        step = 0
        params = [p for g in opt.param_groups for p in g["params"]]
        while step < total:
            perm = torch.randperm(len(train), generator=order_gen).tolist()
            for i in range(0, len(perm), bs):
                if step >= total:
                    break
                batch = _collate([train[j] for j in perm[i:i + bs]], task_type, device)
                f = _lr_factor(step, warmup, total)
                for g in opt.param_groups:
                    g["lr"] = g["base_lr"] * f
                with _autocast(device):
                    logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
                loss = _loss(logits, batch["labels"], task_type, n_out)
                loss.backward()
                if max_norm:
                    torch.nn.utils.clip_grad_norm_(params, float(max_norm))
                opt.step()
                opt.zero_grad(set_to_none=True)
                losses.append(loss.detach())
                step += 1
        train_loss = float(torch.stack(losses).float().mean()) if losses else float("nan")

        preds, labels = predict(model, dev, task_type, ebs, device)
    return {"predictions": preds, "labels": labels, "train_loss": train_loss,
            "seconds": round(time.perf_counter() - t0, 3), "steps": step}


@torch.no_grad()
def predict(model: ElectraFinetuner, examples: list[dict], task_type: str, batch_size: int,
            device: torch.device) -> tuple[list, list]:
    model.eval()
    preds: list = []
    labels: list = []
    for i in range(0, len(examples), batch_size):
        chunk = examples[i:i + batch_size]
        batch = _collate(chunk, task_type, device)
        with _autocast(device):
            logits = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"]).float()
        if task_type == "regression":
            preds += logits.squeeze(-1).cpu().tolist()
            labels += [float(e["label"]) for e in chunk]
        elif task_type == "tagging":
            p = logits.argmax(-1).cpu()
            lab = batch["labels"].cpu()
            for r in range(len(chunk)):
                keep = lab[r] != IGNORE
                preds.append(p[r][keep].tolist())
                labels.append(lab[r][keep].tolist())
        else:
            preds += logits.argmax(-1).cpu().tolist()
            labels += [int(e["label"]) for e in chunk]
    return preds, labels
