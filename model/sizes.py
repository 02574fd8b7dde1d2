"""ELECTRA model sizes (Clark et al. 2020, Table 6) plus ``tiny`` for tests and the CPU demo.

Plain data only: imported by ``pipeline.config`` to validate size names, and by ``model`` itself.
"""
from __future__ import annotations

# Backbone (discriminator) shapes and the generator's width fraction. The generator keeps the
# discriminator's depth; its hidden size, heads and FFN are multiplied by ``generator_fraction``.
SIZES: dict[str, dict] = {
    "tiny": dict(
        num_hidden_layers=2, hidden_size=128, num_attention_heads=2, intermediate_size=512,
        embedding_size=128, generator_fraction=0.25, generator_layers=1.0,
        learning_rate=1e-3, batch_size=32, max_seq_length=128, mask_prob=0.15, warmup_steps=20,
        train_steps=200,
    ),
    "small": dict(
        num_hidden_layers=12, hidden_size=256, num_attention_heads=4, intermediate_size=1024,
        embedding_size=128, generator_fraction=0.25, generator_layers=1.0,
        learning_rate=5e-4, batch_size=128, max_seq_length=128, mask_prob=0.15, warmup_steps=10_000,
        train_steps=1_000_000,
    ),
    "base": dict(
        num_hidden_layers=12, hidden_size=768, num_attention_heads=12, intermediate_size=3072,
        embedding_size=768, generator_fraction=1 / 3, generator_layers=1.0,
        learning_rate=2e-4, batch_size=256, max_seq_length=512, mask_prob=0.15, warmup_steps=10_000,
        train_steps=766_000,
    ),
    "large": dict(
        num_hidden_layers=24, hidden_size=1024, num_attention_heads=16, intermediate_size=4096,
        embedding_size=1024, generator_fraction=0.25, generator_layers=1.0,
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
    "num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
    "embedding_size", "generator_fraction", "generator_layers",
)
