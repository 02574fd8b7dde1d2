"""Fine-tuning a pre-trained (or randomly initialised) encoder on one task, the ELECTRA way.

``finetune(init, task_type, num_labels, train, dev, hparams, arch=None) -> dict``

* ``init``: a Hugging Face model folder -- the discriminator exported by the pretrain stage, or any
  encoder ``AutoModel`` can load without remote code (BERT, RoBERTa, a published ELECTRA...) -- or
  None for a random init from ``arch`` (the folder's ``config.json`` as a dict; ``model_type``
  defaults to ``electra``), so the random-init baseline has exactly the same architecture.
* ``task_type``: 'classification' | 'pair_classification' (segments via token_type_ids) | 'regression'
  | 'tagging'. Head (official ``finetune/`` code): dropout(0.1) + linear on the final hidden state of
  the first token, [CLS] (classification/regression; ELECTRA has no pooler), or a linear layer on
  every token without dropout (tagging; the caller labels each word's first sub-token and gives the
  rest -100). Losses: cross-entropy / squared error / token cross-entropy (label -100 ignored).
* ``train``/``dev``: lists of ``{"input_ids", "token_type_ids", "label"}`` (tagging: per-token label
  ids aligned with input_ids, -100 where ignored). Batches are padded to their longest example only
  (dynamic padding).
* ``hparams``: learning_rate (required), epochs (3), batch_size (32), eval_batch_size (2 x batch),
  seed (0), layerwise_lr_decay (None = off), weight_decay (0), warmup_fraction (0.1),
  max_grad_norm (1.0), dropout (0.1), bias_correction (False), threads (None = leave torch's
  setting), device ('auto'|'cpu'|'cuda').

Optimiser (:mod:`model.optim`, shared with pre-training): the official ``AdamWeightDecayOptimizer`` --
Adam *without* bias correction, eps 1e-6, betas 0.9/0.999, decoupled weight decay except LayerNorm and
biases -- with global grad-norm clipping at 1.0 and LR = peak x linear warmup x linear decay to 0
(``lr_factor``: global_step from 0, so the first update has LR 0, as the official fine-tuning does).
Layer-wise LR decay (``layerwise_param_groups``) follows the official ELECTRA code (``_get_layer_lrs`` in
electra/model/optimization.py) exactly: with L layers and decay d, the head gets lr, encoder layer i
(0-based from the bottom) gets lr * d^(L + 1 - i) -- so the top layer gets lr * d^2 (a vestige of the
removed pooler, google-research/electra issue #51) -- and the embeddings (incl. embeddings_project) get
lr * d^(L + 2). Other encoders: ``...layer.N.`` / ``layers.N`` / ``block.N`` / ``h.N`` parameters are
layers, anything named ``*embeddings*`` is the embeddings (DeBERTa: with the LayerNorm of its relative
embeddings), and any other backbone parameter (a pooler, a final LayerNorm) gets lr * d.

On CUDA the forward pass runs under bf16 autocast (losses and predictions in fp32). Returns
``{"predictions", "labels", "train_loss", "seconds", "steps"}``: predictions are class ids, floats,
or (tagging) per-example lists of tag ids at the positions whose label != -100, with ``labels``
aligned the same way. ``train_loss`` is the mean training loss over all steps. Metrics are computed
by the caller. Deterministic on CPU for a given seed and thread count.
"""
from __future__ import annotations

import json
import math
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from transformers import AutoConfig, AutoModel, ElectraConfig, ElectraModel

from model.device import autocast, cpu_threads, pick_device, use_tf32
from model.fastpath import speed_up
from model.hf import quiet
from model.optim import AdamWeightDecay, layerwise_param_groups, lr_factor

TASK_TYPES = ("classification", "pair_classification", "regression", "tagging")
IGNORE = -100
_DROP_CONFIG_KEYS = ("architectures", "transformers_version", "dtype", "torch_dtype", "_name_or_path")


class ElectraFinetuner(torch.nn.Module):
    """Encoder backbone (``self.electra``; any HF encoder) + a linear head: dropout + linear on the
    first token for sequence tasks, linear on every token for tagging (no dropout, as the official
    tagging head)."""

    def __init__(self, backbone, num_outputs: int, per_token: bool, dropout: float = 0.1):
        super().__init__()
        self.electra = backbone
        self.per_token = per_token
        self.dropout = torch.nn.Dropout(0.0 if per_token else dropout)
        self.head = torch.nn.Linear(hidden_size(backbone.config), num_outputs)
        std = getattr(backbone.config, "initializer_range", 0.02)
        with torch.no_grad():
            self.head.weight.normal_(0.0, std)
            self.head.bias.zero_()
        self.use_token_types = int(getattr(backbone.config, "type_vocab_size", 2) or 0) >= 2

    def forward(self, input_ids, attention_mask, token_type_ids):
        kw = {"token_type_ids": token_type_ids} if self.use_token_types else {}
        h = self.electra(input_ids, attention_mask=attention_mask, return_dict=True, **kw).last_hidden_state
        if not self.per_token:
            h = h[:, 0]
        return self.head(self.dropout(h))


Finetuner = ElectraFinetuner


def hidden_size(config) -> int:
    for k in ("hidden_size", "dim", "d_model"):
        v = getattr(config, k, None)
        if isinstance(v, int):
            return v
    raise ValueError(f"cannot tell the hidden size of a {type(config).__name__}")


def _collate(examples: list[dict], task_type: str, device: torch.device, pad_id: int = 0) -> dict:
    L = max(len(e["input_ids"]) for e in examples)
    B = len(examples)
    ids = torch.full((B, L), int(pad_id), dtype=torch.long)
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


def _max_tokens(config) -> int:
    n = int(getattr(config, "max_position_embeddings", 0) or 0)
    if getattr(config, "model_type", "") in ("roberta", "xlm-roberta", "camembert", "longformer"):
        n -= 2  # positions start after the padding index
    return n if n > 0 else 1 << 30


def _check_examples(examples: list[dict], name: str, task_type: str, n_out: int, config) -> None:
    max_len = _max_tokens(config)
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


# an arch dict key (not a config.json one): the initialisation recipe a random-init baseline shares with the
# pre-trained model (model.backbones.init_local_convolution), read from the export's pretrain_params.json
LOCAL_INIT_KEY = "foundry_local_init"


def config_from_dict(arch: dict):
    """A transformers config from a config.json dict (``model_type`` default: electra)."""
    d = {k: v for k, v in dict(arch).items() if k not in _DROP_CONFIG_KEYS and k != LOCAL_INIT_KEY}
    model_type = d.pop("model_type", "electra")
    if model_type == "electra":
        return ElectraConfig.from_dict(d)
    return AutoConfig.for_model(model_type, **d)


def load_backbone(init, arch: dict | None = None):
    """The encoder from an HF folder (``AutoModel``; for an ELECTRA discriminator folder that is the
    ``ElectraModel`` inside ``ElectraForPreTraining``), or randomly initialised from ``arch``."""
    if init is not None:
        with quiet():
            try:
                return AutoModel.from_pretrained(str(init), attn_implementation="sdpa")
            except (ValueError, ImportError):  # no SDPA for this architecture
                return AutoModel.from_pretrained(str(init))
    if arch is None:
        raise ValueError("finetune: init is None, so arch (the model's config.json as a dict) is required")
    cfg = config_from_dict(arch)
    with quiet():
        try:
            cfg._attn_implementation = "sdpa"
            model = ElectraModel(cfg) if isinstance(cfg, ElectraConfig) else AutoModel.from_config(cfg)
        except (ValueError, ImportError):
            cfg._attn_implementation = "eager"
            model = AutoModel.from_config(cfg)
    if arch.get(LOCAL_INIT_KEY) not in (None, "none"):  # the same initialisation as the pre-trained model's
        from model.backbones import init_local
        init_local(model, arch[LOCAL_INIT_KEY])
    return model


def read_config(init) -> dict:
    """config.json of a model folder as a dict."""
    return json.loads((Path(init) / "config.json").read_text(encoding="utf-8"))


def finetune(init, task_type: str, num_labels: int, train: list[dict], dev: list[dict], hparams: dict,
             arch: dict | None = None) -> dict:
    if task_type not in TASK_TYPES:
        raise ValueError(f"task_type must be one of {TASK_TYPES}, got {task_type!r}")
    if not train:
        raise ValueError("finetune: no training examples")
    if "learning_rate" not in hparams:
        raise ValueError("finetune: hparams['learning_rate'] is required")
    with cpu_threads(hparams.get("threads")):
        return _finetune(init, task_type, num_labels, train, dev, hparams, arch)


def _finetune(init, task_type, num_labels, train, dev, hparams, arch):
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
    device = pick_device(hparams.get("device", "auto"))
    use_tf32(device)
    n_out = 1 if task_type == "regression" else int(num_labels)

    rng_devices = [torch.cuda.current_device()] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=rng_devices):
        torch.manual_seed(seed)  # random-init backbone, head init and dropout
        backbone = load_backbone(init, arch)
        _check_examples(train, "train", task_type, n_out, backbone.config)
        _check_examples(dev, "dev", task_type, n_out, backbone.config)
        pad_id = getattr(backbone.config, "pad_token_id", None) or 0
        model = ElectraFinetuner(backbone, n_out, per_token=task_type == "tagging", dropout=dropout).to(device)
        speed_up(model)  # faster equivalents of dropout and ConvBERT's convolution (model.fastpath)
        groups = layerwise_param_groups(model, lr, decay, wd)
        opt = AdamWeightDecay([{k: v for k, v in g.items() if k != "names"} for g in groups], lr=lr,
                              betas=(0.9, 0.999), eps=1e-6, weight_decay=0.0,
                              bias_correction=bool(hparams.get("bias_correction", False)))
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
                batch = _collate([train[j] for j in perm[i:i + bs]], task_type, device, pad_id)
                f = lr_factor(step, warmup, total)
                for g in opt.param_groups:
                    g["lr"] = g["base_lr"] * f
                with autocast(device):
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

        preds, labels = predict(model, dev, task_type, ebs, device, pad_id)
    return {"predictions": preds, "labels": labels, "train_loss": train_loss,
            "seconds": round(time.perf_counter() - t0, 3), "steps": step}


@torch.no_grad()
def predict(model: ElectraFinetuner, examples: list[dict], task_type: str, batch_size: int,
            device: torch.device, pad_id: int = 0) -> tuple[list, list]:
    model.eval()
    preds: list = []
    labels: list = []
    for i in range(0, len(examples), batch_size):
        chunk = examples[i:i + batch_size]
        batch = _collate(chunk, task_type, device, pad_id)
        with autocast(device):
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


@torch.no_grad()
def representation_stats(init, examples: list[dict], arch: dict | None = None, max_examples: int = 64,
                         seed: int = 0) -> dict:
    """How distinct the encoder's token representations are, layer by layer: the mean cosine similarity
    between the hidden states of different tokens of the same example (special tokens and padding
    excluded), averaged over up to ``max_examples`` examples. Near 1.0 in the last layer means the
    representation has collapsed (every token maps to the same vector) -- e.g. a discriminator that
    never left the "everything is original" plateau -- and fine-tuning starts from a degenerate state."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        backbone = load_backbone(init, arch).eval()
    use_tt = int(getattr(backbone.config, "type_vocab_size", 2) or 0) >= 2
    sims: list[list[float]] = []
    for e in examples[:max_examples]:
        ids = torch.as_tensor([e["input_ids"]], dtype=torch.long)
        if ids.shape[1] < 4:
            continue
        kw = {"token_type_ids": torch.as_tensor([e.get("token_type_ids") or [0] * ids.shape[1]])} if use_tt else {}
        out = backbone(ids, attention_mask=torch.ones_like(ids), output_hidden_states=True, return_dict=True, **kw)
        keep = slice(1, ids.shape[1] - 1)  # without [CLS] ... [SEP]
        row = []
        for h in out.hidden_states:
            x = F.normalize(h[0, keep].float(), dim=-1)
            n = x.shape[0]
            c = (x @ x.T).sum() - n
            row.append(float(c / (n * (n - 1))) if n > 1 else 1.0)
        sims.append(row)
    if not sims:
        return {"layers": [], "final": None, "examples": 0}
    layers = [sum(r[i] for r in sims) / len(sims) for i in range(len(sims[0]))]
    return {"layers": layers, "final": layers[-1], "examples": len(sims)}
