"""Signals that tell a learning discriminator from one on the plateau, computed on a validation batch.

* **neighbour attention**: per layer, the strongest head's mean attention from a token to the token just
  before or just after it. Uniform attention over n real tokens gives 1/n; a model that has learnt to use
  context forms previous/next-token heads (0.5-0.9). A discriminator on the "everything is original" plateau
  keeps every head near uniform or fixed on [CLS]/[SEP].
* **last-layer cosine**: mean cosine similarity between the final hidden states of different real tokens of
  one sequence. Near 1 means the representations collapsed (every token looks alike, and fine-tuning
  starts from nothing); a random-init encoder gives ~0.3-0.4.

* **attention entropy**: the most saturated attention head's mean row entropy as a fraction of a uniform
  row's (ln n). Random init gives ~1.0; an MLM keeps its heads broad (0.86-0.97 on the demo); a
  replaced-token-detection discriminator at CPU compute turns heads into near no-ops fixed on one token
  (0.12-0.45), and a saturated softmax passes almost no gradient, so a sentence-level head reading [CLS]
  fine-tunes slowly from it (docs/pretraining.md, "What replaced-token detection does to the attention heads").

ConvBERT's attention modules return the self-attention half only (its convolution heads are local by
construction), so its neighbour attention measures what the attention heads add.

Imports only torch and transformers.
"""
from __future__ import annotations

import torch

from model.backbones import encoder


def _attentions(enc: torch.nn.Module, input_ids, attention_mask, token_type_ids):
    """Attention probabilities and the last hidden state, with the eager kernel (SDPA returns no weights)."""
    old = enc.config._attn_implementation
    if old != "eager":
        enc.set_attn_implementation("eager")
    try:
        out = enc(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                  output_attentions=True, return_dict=True)
    finally:
        if old != "eager":
            enc.set_attn_implementation(old)
    return out.attentions, out.last_hidden_state


def neighbour_attention(attentions, attention_mask: torch.Tensor) -> list[float]:
    """Per layer: max over heads of the mean attention to the previous or the next token (real tokens only)."""
    m = attention_mask.bool()
    prev_ok = m[:, 1:] & m[:, :-1]  # query i (>= 1) with a real previous token i - 1
    out = []
    for a in attentions:  # [B, H, L, L]
        a = a.float()
        prev = a.diagonal(offset=-1, dim1=-2, dim2=-1)  # [B, H, L-1]: a[b, h, i+1, i]
        nxt = a.diagonal(offset=1, dim1=-2, dim2=-1)    # [B, H, L-1]: a[b, h, i, i+1]
        w = prev_ok[:, None, :].float()
        denom = w.sum(dim=(0, 2)).clamp(min=1)
        best = torch.maximum((prev * w).sum(dim=(0, 2)) / denom, (nxt * w).sum(dim=(0, 2)) / denom)
        out.append(float(best.max()))
    return out


def attention_entropy(attentions, attention_mask: torch.Tensor) -> float:
    """Min over layers and heads of the mean entropy of real tokens' attention rows, divided by ln(n) (n real
    tokens of the row's sequence): 1.0 uniform, 0 every row on one token."""
    m = attention_mask.bool()
    log_n = m.sum(1).float().clamp(min=2).log()[:, None]      # [B, 1]
    best = float("inf")
    for a in attentions:  # [B, H, L, L]
        a = a.float()
        ent = -(a.clamp_min(1e-12).log() * a).sum(-1) / log_n[:, :, None]   # [B, H, L]
        w = m[:, None, :].float()
        per_head = (ent * w).sum(dim=(0, 2)) / w.sum(dim=(0, 2)).clamp(min=1)
        best = min(best, float(per_head.min()))
    return best if best != float("inf") else float("nan")


def token_cosine(hidden: torch.Tensor, attention_mask: torch.Tensor) -> float:
    """Mean cosine similarity between distinct real tokens' states of the same sequence."""
    h = torch.nn.functional.normalize(hidden.float(), dim=-1)
    m = attention_mask.float()
    sims = h @ h.transpose(1, 2)                       # [B, L, L]
    pair = m[:, :, None] * m[:, None, :]
    pair = pair - torch.diag_embed(m)                  # distinct tokens only
    n = pair.sum()
    return float((sims * pair).sum() / n) if n > 0 else float("nan")


@torch.no_grad()
def representation_signals(model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                           token_type_ids: torch.Tensor | None = None) -> dict:
    """``neighbour_attention`` (max over layers), ``neighbour_attention_by_layer``, ``uniform_attention`` (1/n
    averaged over the batch, the value of an encoder that ignores position), ``attention_entropy`` and
    ``last_layer_cosine`` for the
    encoder inside ``model`` (a pre-training or task model, or a bare encoder)."""
    enc = encoder(model) if hasattr(model, "base_model") else model
    was_training = enc.training
    enc.eval()
    try:
        attentions, last = _attentions(enc, input_ids, attention_mask, token_type_ids)
    finally:
        enc.train(was_training)
    by_layer = neighbour_attention(attentions, attention_mask)
    n = attention_mask.sum(1).float().clamp(min=1)
    return {"neighbour_attention": max(by_layer) if by_layer else float("nan"),
            "neighbour_attention_by_layer": [round(x, 4) for x in by_layer],
            "uniform_attention": float((1.0 / n).mean()),
            "attention_entropy": attention_entropy(attentions, attention_mask),
            "last_layer_cosine": token_cosine(last, attention_mask)}


__all__ = ["attention_entropy", "neighbour_attention", "representation_signals", "token_cosine"]
