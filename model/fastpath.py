"""Faster equivalents of two hot spots of CPU training, swapped into the Hugging Face modules in place: the
parameters, their names, the checkpoints and the exported model are unchanged.

* **ConvBERT's span-based dynamic convolution.** transformers computes it with ``unfold`` (an im2col copy of
  the values, [B, C x K, L], a col2im in the backward) and a batched matmul of a [D, K] window by a [K, 1]
  kernel for every position and head. :class:`ConvBertSelfAttention` sums K shifted slices of the padded
  values, each weighted by its kernel entry: the same sums (equal to float rounding), with no copy.
* **Dropout on the CPU.** torch draws a CPU dropout mask with mt19937, one uniform per element; here the
  uniforms come from numpy's PCG64 (float32, several times faster), kept where below 1 - p, the survivors
  scaled by 1 / (1 - p), as torch does. Each call seeds its generator with one draw from torch's, so
  ``torch.manual_seed`` (and a restored RNG state on resume) gives the same masks. Tensors elsewhere than the
  CPU, and code being traced by ``torch.compile``, keep torch's dropout.

On a tiny ConvBERT training step (the demo's) the two take ~20-30% off the step time on the CPU
(``benchmarks/fastpath_speed.py``). :func:`speed_up` applies both to a model; pre-training and fine-tuning
call it on every model they build.

Imports only torch, numpy and transformers.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from transformers.models.convbert import modeling_convbert as hf_convbert


class Dropout(torch.nn.Dropout):
    """``torch.nn.Dropout`` with its CPU mask drawn by numpy's PCG64 (see the module docstring)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p == 0.0 or x.device.type != "cpu" or torch.compiler.is_compiling():
            return super().forward(x)
        if self.p >= 1.0:
            return x * 0.0
        seed = int(torch.randint(0, 2 ** 62, (), dtype=torch.int64))
        u = np.random.Generator(np.random.PCG64(seed)).random(x.numel(), dtype=np.float32)
        keep = torch.from_numpy(u < 1.0 - self.p).view(x.shape)
        return x * keep.to(x.dtype).mul_(1.0 / (1.0 - self.p))


class ConvBertSelfAttention(hf_convbert.ConvBertSelfAttention):
    """transformers' ConvBERT self-attention (same parameters, same outputs) with the dynamic convolution as
    shifted sums instead of unfold + batched matmul."""

    def forward(self, hidden_states, attention_mask=None, encoder_hidden_states=None, **kwargs):
        if encoder_hidden_states is not None:  # cross-attention: never used here; the library's code path
            return super().forward(hidden_states, attention_mask, encoder_hidden_states, **kwargs)
        B, L, _ = hidden_states.shape
        H, D, K = self.num_attention_heads, self.attention_head_size, self.conv_kernel_size
        query = self.query(hidden_states)
        # the convolution heads: a per-position kernel over K neighbours (softmax over K), from the
        # depthwise-separable convolution of the input times the query
        key_conv = self.key_conv_attn_layer(hidden_states.transpose(1, 2)).transpose(1, 2)
        kernel = self.conv_kernel_layer(key_conv * query).view(B, L, H, K).softmax(-1)
        pad = (K - 1) // 2
        values = F.pad(self.conv_out_layer(hidden_states), (0, 0, pad, K - 1 - pad)).view(B, L + K - 1, H, D)
        conv = values[:, 0:L] * kernel[..., 0:1]
        for k in range(1, K):  # position l sees value l + k - pad with weight kernel[l, k]
            conv = conv + values[:, k:k + L] * kernel[..., k:k + 1]
        # the self-attention heads, as the library computes them
        q = query.view(B, L, H, D).transpose(1, 2)
        key = self.key(hidden_states).view(B, L, H, D).transpose(1, 2)
        value = self.value(hidden_states).view(B, L, H, D).transpose(1, 2)
        scores = torch.matmul(q, key.transpose(-1, -2)) / math.sqrt(D)
        if attention_mask is not None:
            scores = scores + attention_mask
        probs = self.dropout(torch.softmax(scores, dim=-1))
        context = torch.matmul(probs, value).transpose(1, 2)
        return torch.cat([context, conv], 2).reshape(B, L, 2 * H * D), probs


def speed_up(model: torch.nn.Module) -> dict[str, int]:
    """Swap :class:`Dropout` and :class:`ConvBertSelfAttention` into ``model`` in place; returns how many
    modules of each were swapped."""
    n = {"dropout": 0, "convbert_attention": 0}
    for m in model.modules():
        if type(m) is torch.nn.Dropout:
            m.__class__ = Dropout
            n["dropout"] += 1
        elif type(m) is hf_convbert.ConvBertSelfAttention:
            m.__class__ = ConvBertSelfAttention
            n["convbert_attention"] += 1
    return n


def restore(model: torch.nn.Module) -> torch.nn.Module:
    """The inverse of :func:`speed_up`: torch's and transformers' own classes back in place (for comparisons)."""
    for m in model.modules():
        if type(m) is Dropout:
            m.__class__ = torch.nn.Dropout
        elif type(m) is ConvBertSelfAttention:
            m.__class__ = hf_convbert.ConvBertSelfAttention
    return model


__all__ = ["speed_up", "restore", "Dropout", "ConvBertSelfAttention"]
