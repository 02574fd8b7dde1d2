"""A locality prior for the paper's ELECTRA backbone that is only an initialisation (``local_init: prevnext``
on ``backbone: electra``): the exported model is an ordinary ``ElectraForPreTraining``.

At CPU compute no head of a plain ELECTRA discriminator learns to look at its neighbours, and replaced-token
detection stays on its plateau (docs/pretraining.md, "Backbones"). Here, in every discriminator layer, head 0
starts attending to the previous token and head 1 to the next one, by a known property of sinusoidal
position codes (Vaswani et al. 2017, section 3.5): the code of position i + d is a fixed rotation of the code
of position i. So:

* the last ``2F`` dimensions of the absolute position embeddings hold ``a * (cos(w_f i), sin(w_f i))`` for
  ``F`` frequencies ``w_f``, geometric from pi/8 to pi (a sum of cosines of these frequencies peaks at
  distance 0 with side lobes at most ~0.55 of the peak within 128 positions; evenly spaced ones alias);
  the word and token-type embeddings start at zero there, so the subspace holds position only;
* the head's query reads that subspace as it is and its key reads it rotated by one position
  (``R(+-w_f)``), so q_i . k_j = c * sum_f cos(w_f (i - j -+ 1)): largest at j = i -+ 1. The head's other
  query/key weights start at zero (content terms are learnt from there); its values keep their init;
* c is set per layer from the subspace's measured radius in that layer's input (after the LayerNorms and
  the layers below) so the peak logit is ``PEAK_LOGIT``: ~0.95 of the head's weight on the neighbour.

Imports only torch and transformers.
"""
from __future__ import annotations

import math

import torch

PAIRS = 8            # F: 2F = 16 dimensions of the embedding / residual stream carry position
# of each (cos, sin) pair in the position embeddings (HF draws the rest with std 0.02). Large because the word
# embeddings, zero in the subspace at the start, grow into it at Adam's step size (~lr per step): measured on
# text/en at lr 1e-3, with 0.05 the heads' neighbour attention fell from 0.94 to 0.28 in 30 steps and 0.11 by
# step 60; with 0.5 it was 0.85 at step 60. The price: the code holds most of the LayerNorm'd embedding's energy
# at the start (the content dimensions are scaled down until the word embeddings grow)
AMPLITUDE = 0.5
PEAK_LOGIT = 10.0    # attention logit at the neighbour; the side lobes stay under ~5.5


def frequencies(pairs: int = PAIRS) -> torch.Tensor:
    return math.pi * torch.logspace(math.log10(1 / 8), 0, pairs, dtype=torch.float64)


def _rotation(omega: torch.Tensor, d: int) -> torch.Tensor:
    """[2F, 2F] R with R @ code(j) = code(j + d), code = (cos(w j) for each w, sin(w j) for each w)."""
    c, s = torch.cos(omega * d), torch.sin(omega * d)
    return torch.cat([torch.cat([torch.diag(c), -torch.diag(s)], 1), torch.cat([torch.diag(s), torch.diag(c)], 1)], 0)


@torch.no_grad()
def _set_positions(enc, omega: torch.Tensor) -> slice:
    emb, f2 = enc.embeddings, 2 * len(omega)
    e = emb.word_embeddings.weight.shape[1]
    sub = slice(e - f2, e)
    emb.word_embeddings.weight[:, sub] = 0.0
    emb.token_type_embeddings.weight[:, sub] = 0.0
    ang = torch.arange(emb.position_embeddings.weight.shape[0], dtype=torch.float64)[:, None] * omega[None, :]
    emb.position_embeddings.weight[:, sub] = (AMPLITUDE * torch.cat([ang.cos(), ang.sin()], 1)).float()
    proj = getattr(enc, "embeddings_project", None)
    if proj is None:
        return sub
    h = proj.weight.shape[0]  # carry the subspace to the last 2F hidden dimensions unchanged
    hsub = slice(h - f2, h)
    proj.weight[hsub] = 0.0
    proj.weight[hsub, sub] = torch.eye(f2)
    proj.bias[hsub] = 0.0
    return hsub


@torch.no_grad()
def init_local_attention(model: torch.nn.Module, kind: str = "prevnext") -> int:
    """Start heads 0 / 1 of every layer of the (discriminator's) ELECTRA encoder on the previous / next token;
    returns the heads set (0 when the model has no ELECTRA encoder)."""
    from transformers import ElectraModel
    if kind != "prevnext":
        raise ValueError(f"local_init must be 'prevnext' (or 'none'), got {kind!r}")
    net = getattr(model, "discriminator", None)  # a pre-trainer: its discriminator; else the first encoder
    enc = net.base_model if net is not None else next((m for m in model.modules() if isinstance(m, ElectraModel)), None)
    if not isinstance(enc, ElectraModel) or enc.config.num_attention_heads < 2:
        return 0
    omega = frequencies()
    if enc.encoder.layer[0].attention.self.attention_head_size < 2 * len(omega):
        raise ValueError(f"local_init prevnext on electra needs heads of at least {2 * len(omega)} dimensions")
    hsub = _set_positions(enc, omega)
    f2, n = 2 * len(omega), 0
    L = min(128, enc.config.max_position_embeddings)
    probe = torch.randint(5, enc.config.vocab_size, (8, L), generator=torch.Generator().manual_seed(0))
    was = enc.training
    enc.eval()
    for i, layer in enumerate(enc.encoder.layer):
        x = enc(probe, output_hidden_states=True).hidden_states[i][..., hsub].double()   # this layer's input
        r2 = float((x[..., : f2 // 2] ** 2 + x[..., f2 // 2:] ** 2).mean())             # mean squared pair radius
        att = layer.attention.self
        dh = att.attention_head_size
        beta = math.sqrt(PEAK_LOGIT * math.sqrt(dh) / (len(omega) * r2))
        for head, d in ((0, 1), (1, -1)):  # key rotated back by one: the peak is at j = i - 1 / i + 1
            rows = slice(head * dh, head * dh + f2)
            for lin in (att.query, att.key):
                lin.weight[head * dh:(head + 1) * dh] = 0.0
                lin.bias[head * dh:(head + 1) * dh] = 0.0
            att.query.weight[rows, hsub] = beta * torch.eye(f2)
            att.key.weight[rows, hsub] = (beta * _rotation(omega, d)).float()
            n += 1
    enc.train(was)
    return n


__all__ = ["init_local_attention", "frequencies"]
