"""Model FLOPs of a pre-training step, achieved FLOP/s and MFU.

Counting rule ("6N plus attention", matmuls only, 2 FLOPs per multiply-add, training = 3 x forward:
the forward pass, and a backward pass of twice its cost for input and weight gradients). For an encoder
with hidden size H, L layers, FFN size F and embedding size E, on one example of n real tokens::

    encoder(n)  = n * (2*E*H [only if E != H: embedding projection] + L * (8*H^2 + 4*H*F))   # dense layers
                + L * 4 * n^2 * H                                                          # QK^T and AV
    disc_head(n) = n * (2*H^2 + 2*H)                      # ElectraDiscriminatorPredictions
    mlm_head(k)  = k * (2*H_g*E + 2*E*V)                  # at the k masked positions only (V: vocabulary)
    corrective(k) = k * (2*H*E + 2*E*V)                   # the discriminator's corrective head, when disc_mlm_weight > 0

    ELECTRA step = 3 * sum over examples of [disc encoder(n) + disc_head(n) + gen encoder(n) + gen mlm_head(k)
                                            (+ corrective(k))]
    MLM step     = 3 * sum over examples of [encoder(n) + mlm_head(k)]   (the discriminator-sized model only)

8H^2 is the Q, K, V and output projections, 4HF the two FFN matmuls. A ConvBERT layer (``model_type``
convbert; a = the attention half's width, H/2 for head ratio 2; h' attention heads; kernel k) has instead
Q, K, V at H -> a (6Ha), the key convolution (depthwise 2Hk + pointwise 2Ha), the kernel generator (2a h'k),
the convolution's input projection (2Ha) and its application (2ak), the output projection (2H^2) and the FFN;
its attention is 4 n^2 a (the convolution heads replace the other half). A DeBERTa-v2/v3 layer (``model_type``
deberta-v2, relative attention; S = position_buckets, or max_relative_positions when unbucketed) adds, per
example, 4 n S H for each disentangled term (``c2p``: queries against the 2S projected relative embeddings,
``p2c``: keys against them; S does not shrink with n) and, once per forward pass, the projection of the 2S
relative embeddings by the key and/or query projections (4 S H^2 each: both when ``share_att_key``, else one
per term) - the ``per_forward`` coefficient, charged once per micro-batch. Not counted: embedding lookups,
LayerNorm, GELU, softmax, dropout, the losses, the optimizer (together well under 2% for these sizes).
Only real tokens count (padding is waste, not model FLOPs), and attention is n^2 per *example*
(a packed row of several examples attends block-diagonally). The official ``flops_computation.py``
counts backward = forward (2x instead of our 3x) and adds the elementwise ops and dense one-hot
embedding lookups; our count is the usual MFU convention (PaLM, Chinchilla appendix).

MFU = achieved model FLOP/s / (peak dense bf16 FLOP/s of the accelerator x number of processes).
On a CPU there is no meaningful peak: MFU is reported as null and the achieved FLOP/s is given.

Imports only torch and the stdlib.
"""
from __future__ import annotations

from dataclasses import dataclass

# Dense (no sparsity) bf16 tensor-core peaks from the vendors' data sheets, FLOP/s. Matched against
# torch.cuda.get_device_name() in order: the first substring found wins.
PEAK_BF16_FLOPS: tuple[tuple[str, float], ...] = (
    ("GH200", 989e12),
    ("H200", 989e12),
    ("H100 PCIe", 756e12),
    ("H100 NVL", 835e12),
    ("H100", 989e12),      # SXM (e.g. "NVIDIA H100 80GB HBM3")
    ("H800", 989e12),
    ("A100", 312e12),      # SXM and PCIe
    ("A800", 312e12),
    ("L40S", 362e12),
    ("L4", 121e12),
    ("A10", 125e12),       # "NVIDIA A10" (not A10G)
)


@dataclass(frozen=True)
class FlopCoefficients:
    """Forward FLOPs per real token, per squared example length and per masked position."""
    per_token: float
    per_token_sq: float
    per_masked: float
    per_forward: float = 0.0   # once per forward pass of a micro-batch (DeBERTa's relative-embedding projections)

    def step_flops(self, sum_len: float, sum_len_sq: float, masked: float, forwards: int = 1) -> float:
        """Training FLOPs (3 x forward) of ``forwards`` micro-batches with these totals."""
        return 3.0 * (self.per_token * sum_len + self.per_token_sq * sum_len_sq + self.per_masked * masked
                      + self.per_forward * forwards)

    def per_token_estimate(self, seq_len: int, mask_prob: float, batch_size: int = 1) -> float:
        """Training FLOPs per token for micro-batches of ``batch_size`` full-length examples of ``seq_len``."""
        return 3.0 * (self.per_token + self.per_token_sq * seq_len + self.per_masked * mask_prob
                      + self.per_forward / (max(1, batch_size) * seq_len))


def _relative(h: int, cfg: dict) -> tuple[float, float]:
    """DeBERTa's disentangled terms per layer: (per token, per forward pass)."""
    if not cfg.get("relative_attention"):
        return 0.0, 0.0
    buckets, max_rel = int(cfg.get("position_buckets", -1)), int(cfg.get("max_relative_positions", -1))
    span = buckets if buckets > 0 else (max_rel if max_rel >= 1 else int(cfg["max_position_embeddings"]))
    terms = [t for t in (cfg.get("pos_att_type") or []) if t in ("c2p", "p2c")]
    projections = 2 if cfg.get("share_att_key") else len(terms)
    return float(len(terms) * 4 * span * h), float(projections * 4 * span * h * h)


def _encoder(h: int, layers: int, ffn: int, emb: int, cfg: dict | None = None) -> tuple[float, float, float]:
    """Forward FLOPs of an encoder: (per token, per squared example length, per forward pass)."""
    proj = 2 * emb * h if emb != h else 0
    if cfg and cfg.get("model_type") == "convbert":
        heads = max(1, int(cfg["num_attention_heads"]) // int(cfg.get("head_ratio", 2)))
        a, k = heads * ((h // heads) // 2), int(cfg.get("conv_kernel_size", 9))
        layer = 6 * h * a + (2 * h * k + 2 * h * a) + 2 * a * heads * k + 2 * h * a + 2 * a * k + 2 * h * h + 4 * h * ffn
        return float(layers * layer + proj), float(layers * 4 * a), 0.0
    rel_tok, rel_fwd = _relative(h, cfg) if cfg and cfg.get("model_type") == "deberta-v2" else (0.0, 0.0)
    per_tok = layers * (8 * h * h + 4 * h * ffn + rel_tok) + proj
    return float(per_tok), float(layers * 4 * h), float(layers * rel_fwd)


def coefficients(disc: dict, gen: dict | None, vocab_size: int, corrective: bool = False) -> FlopCoefficients:
    """From architecture dicts (``hidden_size``, ``num_hidden_layers``, ``intermediate_size``,
    ``embedding_size``; HF ``ElectraConfig.to_dict()`` works). ``gen=None``: the MLM objective
    (MLM head on the discriminator-sized model, no discriminator head)."""
    H, E, V = int(disc["hidden_size"]), int(disc["embedding_size"]), int(vocab_size)
    d_tok, d_sq, d_fwd = _encoder(H, int(disc["num_hidden_layers"]), int(disc["intermediate_size"]), E, disc)
    if gen is None:
        return FlopCoefficients(d_tok, d_sq, 2.0 * H * E + 2.0 * E * V, d_fwd)
    Hg = int(gen["hidden_size"])
    g_tok, g_sq, g_fwd = _encoder(Hg, int(gen["num_hidden_layers"]), int(gen["intermediate_size"]), E, gen)
    per_masked = 2.0 * Hg * E + 2.0 * E * V + ((2.0 * H * E + 2.0 * E * V) if corrective else 0.0)
    return FlopCoefficients(d_tok + 2.0 * H * H + 2.0 * H + g_tok, d_sq + g_sq, per_masked, d_fwd + g_fwd)


def model_coefficients(model) -> FlopCoefficients:
    """For an ``ElectraPretrainer`` / ``MLMPretrainer`` (read from its HF configs)."""
    if hasattr(model, "discriminator"):
        return coefficients(model.discriminator.config.to_dict(), model.generator.config.to_dict(),
                            model.discriminator.config.vocab_size, getattr(model, "corrective", None) is not None)
    return coefficients(model.generator.config.to_dict(), None, model.generator.config.vocab_size)


def peak_flops(device) -> float | None:
    """Dense bf16 peak FLOP/s of a CUDA device from :data:`PEAK_BF16_FLOPS`, else None (CPU, unknown GPU)."""
    import torch
    dev = torch.device(device)
    if dev.type != "cuda":
        return None
    name = torch.cuda.get_device_name(dev)
    for key, value in PEAK_BF16_FLOPS:
        if key in name:
            return value
    return None


def mfu(flops_per_second: float, peak: float | None, processes: int = 1) -> float | None:
    if not peak or flops_per_second is None:
        return None
    return flops_per_second / (peak * max(1, processes))


__all__ = ["PEAK_BF16_FLOPS", "FlopCoefficients", "coefficients", "model_coefficients", "peak_flops", "mfu"]
