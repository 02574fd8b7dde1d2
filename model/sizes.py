"""The one table of defaults: ELECTRA model sizes (Clark et al. 2020, Table 6) plus ``tiny`` for tests and the
CPU demo, the training defaults of pre-training, and fine-tuning's LR and layer-wise decay by size.

Plain data and dict arithmetic only: ``pipeline.config`` fills a language's pre-training settings with
:func:`size_defaults`, and ``model.pretrain`` fills a params file with :func:`resolve_params`.
"""
from __future__ import annotations

# Backbone (discriminator) shapes and the generator's width fraction. The generator keeps the
# discriminator's depth; its hidden size, heads and FFN are multiplied by ``generator_fraction``.
# ``backbone``: the paper's ELECTRA for the paper's sizes; the CPU size ``tiny`` is a ConvBERT with
# local convolution kernels, the backbone on which replaced-token detection learns at CPU compute
# (model/backbones.py; measured in docs/pretraining.md, "Backbones"). 4 heads = 2 attention + 2 convolution.
# ``disc_mlm_weight``: the discriminator's corrective MLM (model.electra.CorrectiveHead), 0 for the paper's
# sizes; on for ``tiny``, where it keeps the discriminator's token states from collapsing and makes its
# pre-training worth something downstream (docs/pretraining.md, "What replaced-token detection does to the
# attention heads").
# ``max_position_embeddings``: 512 for the paper's sizes, as the official code (``max_position_embeddings=512``
# in its BERT config) whatever the training sequence length, so an exported small/base/large accepts 512 tokens
# after a 128-token pre-training like the released checkpoints do (the rows past the training length stay at
# their initialisation, as in the official models). tiny keeps its training length: a CPU model, not for release.
SIZES: dict[str, dict] = {
    "tiny": dict(
        num_hidden_layers=2, hidden_size=128, num_attention_heads=4, intermediate_size=512,
        embedding_size=128, generator_fraction=0.25, generator_layers=1.0, backbone="convbert", disc_mlm_weight=5.0,
        learning_rate=5e-4, batch_size=32, max_seq_length=128, mask_prob=0.15, warmup_steps=20,
        train_steps=200,
    ),
    "small": dict(
        num_hidden_layers=12, hidden_size=256, num_attention_heads=4, intermediate_size=1024,
        embedding_size=128, generator_fraction=0.25, generator_layers=1.0, backbone="electra", disc_mlm_weight=0.0,
        max_position_embeddings=512,
        learning_rate=5e-4, batch_size=128, max_seq_length=128, mask_prob=0.15, warmup_steps=10_000,
        train_steps=1_000_000,
    ),
    "base": dict(
        num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072,
        embedding_size=768, generator_fraction=1 / 3, generator_layers=1.0, backbone="electra", disc_mlm_weight=0.0,
        max_position_embeddings=512,
        learning_rate=2e-4, batch_size=256, max_seq_length=512, mask_prob=0.15, warmup_steps=10_000,
        train_steps=766_000,
    ),
    "large": dict(
        num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096,
        embedding_size=1024, generator_fraction=0.25, generator_layers=1.0, backbone="electra", disc_mlm_weight=0.0,
        max_position_embeddings=512,
        learning_rate=2e-4, batch_size=2048, max_seq_length=512, mask_prob=0.25, warmup_steps=10_000,
        train_steps=400_000,
    ),
}

# Fine-tuning learning rates by size (ELECTRA paper, Appendix); tiny follows small.
FINETUNE_LR = {"tiny": 3e-4, "small": 3e-4, "base": 1e-4, "large": 5e-5}
# Layer-wise learning-rate decay by size.
LAYERWISE_LR_DECAY = {"tiny": 0.8, "small": 0.8, "base": 0.8, "large": 0.9}

# Keys of a size that describe the architecture (the rest are training defaults).
ARCH_KEYS = (
    "num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "embedding_size",
    "generator_fraction", "generator_layers", "backbone", "disc_mlm_weight", "max_position_embeddings",
)

# The size's training budget under the pre-training param names (size key -> param).
BUDGET_KEYS = {"train_steps": "steps", "batch_size": "batch_size", "learning_rate": "learning_rate",
               "warmup_steps": "warmup_steps", "mask_prob": "mask_prob"}
_BUDGET_TYPES = {"steps": int, "batch_size": int, "learning_rate": float, "warmup_steps": int, "mask_prob": float}

# Pre-training settings that do not depend on the size (official values where the paper has one).
TRAINING_DEFAULTS = dict(
    objective="electra", disc_weight=50.0, weight_decay=0.01, grad_accum=1, seed=1, device="auto", log_every=10,
    checkpoint_every=1000, eval_batches=10, dropout=0.1, temperature=1.0, pack=None, local_init=None, compile=False,
    distributed="ddp", prefetch=2, prefetch_process=None, fused_optimizer=None, peak_tflops=None,
    plateau_warning_steps=None,  # None: max(500, 10% of steps) (model.plateau)
)


def size_defaults(size: str, overrides: dict | None = None) -> dict:
    """Architecture and training budget of ``size`` (with per-key ``overrides`` of it), named as the
    pre-training params: the architecture keys, ``size``, steps, batch_size, learning_rate, warmup_steps,
    mask_prob. (``max_seq_length`` is the shards', not the size's.)"""
    if size not in SIZES:
        raise ValueError(f"unknown size {size!r}; known: {', '.join(SIZES)}")
    s = {**SIZES[size], **(overrides or {})}
    out = {k: s[k] for k in ARCH_KEYS if k in s}
    out["size"] = size
    out.update({param: _BUDGET_TYPES[param](s[key]) for key, param in BUDGET_KEYS.items()})
    return out


def resolve_params(params: dict) -> dict:
    """``params`` over the size's defaults and :data:`TRAINING_DEFAULTS` (``None`` values count as unset),
    checked. The complete pre-training params ``model.pretrain`` runs with."""
    out = {**size_defaults(params.get("size", "small")), **TRAINING_DEFAULTS}
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
    _resolve_backbone(out)
    return out


BACKBONE_NAMES = ("electra", "convbert", "deberta")
LOCAL_INITS = ("none", "prevnext")


def _resolve_backbone(out: dict) -> None:
    """What follows from the backbone: packing (off for ConvBERT, whose convolution would reach across the
    examples of a packed row) and the initialisation of its convolution kernels (``prevnext``)."""
    fam = out.setdefault("backbone", "electra")
    if fam not in BACKBONE_NAMES:
        raise ValueError(f"backbone must be one of {', '.join(BACKBONE_NAMES)}, got {fam!r}")
    if out["pack"] is None:
        out["pack"] = fam == "electra"
    elif out["pack"] and fam == "convbert":
        raise ValueError("pack: true does not work with backbone convbert (its convolution would mix the "
                         "examples packed into one row); leave pack unset or false")
    elif out["pack"] and fam == "deberta":
        raise ValueError("pack: true does not work with backbone deberta (its encoder takes a 2-D padding mask, "
                         "not the block-diagonal mask of packed rows); leave pack unset or false")
    if out["local_init"] is None:
        out["local_init"] = "prevnext" if fam == "convbert" else "none"
    if out["local_init"] not in LOCAL_INITS:
        raise ValueError(f"local_init must be one of {', '.join(LOCAL_INITS)}, got {out['local_init']!r}")
    if out["local_init"] != "none" and fam not in ("convbert", "electra"):
        raise ValueError(f"local_init {out['local_init']!r} sets convolution kernels (convbert) or attention heads "
                         f"(electra): it needs backbone convbert or electra, not {fam}")
