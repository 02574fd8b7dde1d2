"""model.fastpath: the faster ConvBERT attention computes what transformers' does, the numpy-drawn dropout is
dropout, and swapping them in leaves the model's parameters and export unchanged."""
from __future__ import annotations

import copy

import pytest
import torch
from transformers import ConvBertConfig, ConvBertModel

from model.electra import build_pretrainer
from model.fastpath import ConvBertSelfAttention, Dropout, restore, speed_up
from model.sizes import resolve_params


def _convbert(dropout: float = 0.0) -> ConvBertModel:
    torch.manual_seed(0)
    cfg = ConvBertConfig(vocab_size=300, hidden_size=64, num_attention_heads=4, head_ratio=2, conv_kernel_size=9,
                         intermediate_size=128, num_hidden_layers=2, embedding_size=32, max_position_embeddings=64,
                         hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout)
    return ConvBertModel(cfg).train()


def _inputs():
    g = torch.Generator().manual_seed(1)
    ids = torch.randint(5, 300, (3, 40), generator=g)
    mask = torch.ones_like(ids)
    mask[1, 25:] = 0  # padding: the convolution runs over it as the library's does, attention masks it
    return ids, mask


@pytest.mark.parametrize("attentions", [False, True])
def test_convbert_attention_equals_the_library(attentions):
    ref = _convbert()
    fast = copy.deepcopy(ref)
    # every nn.Dropout (embeddings; per layer: attention probabilities, attention output, FFN output), p=0 too
    assert speed_up(fast) == {"dropout": 7, "convbert_attention": 2}
    assert all(type(m.attention.self) is ConvBertSelfAttention for m in fast.encoder.layer)
    ids, mask = _inputs()
    out_r = ref(ids, attention_mask=mask, output_attentions=attentions)
    out_f = fast(ids, attention_mask=mask, output_attentions=attentions)
    torch.testing.assert_close(out_f.last_hidden_state, out_r.last_hidden_state, rtol=1e-5, atol=1e-5)
    if attentions:
        for a, b in zip(out_f.attentions, out_r.attentions):
            torch.testing.assert_close(a, b)
    w = torch.randn_like(out_r.last_hidden_state)
    (out_r.last_hidden_state * w).sum().backward()
    (out_f.last_hidden_state * w).sum().backward()
    top = max(p.grad.abs().max() for p in ref.parameters() if p.grad is not None)
    for (name, p), q in zip(ref.named_parameters(), fast.parameters()):
        if p.grad is None:
            assert q.grad is None, name
            continue
        # float rounding: sums in another order, relative to the largest entry of that gradient (floored at
        # 1e-4 of the largest of all: the keys' bias has an exactly-zero gradient, rounding noise on both sides)
        assert (q.grad - p.grad).abs().max() <= 1e-5 * max(p.grad.abs().max(), 1e-4 * top), name


def test_dropout_is_dropout():
    d = Dropout(0.1).train()
    x = torch.ones(200_000, requires_grad=True)
    torch.manual_seed(3)
    y = d(x)
    kept = y != 0
    share = kept.float().mean().item()
    assert abs(share - 0.9) < 5 * (0.9 * 0.1 / x.numel()) ** 0.5    # Bernoulli(0.9), five standard errors
    torch.testing.assert_close(y[kept], torch.full_like(y[kept], 1 / 0.9))
    y.sum().backward()                                               # the gradient goes through the kept ones
    torch.testing.assert_close(x.grad, y.detach())
    torch.manual_seed(3)
    assert torch.equal(d(x), y)                                      # torch's seed decides the mask
    assert not torch.equal(d(x), y)                                  # and the next call draws a new one
    assert torch.equal(d.eval()(x), x)                               # identity at evaluation
    assert torch.equal(Dropout(0.0).train()(x), x)
    assert not Dropout(1.0).train()(x).any()


def test_dropout_masks_are_independent_across_positions():
    """Neighbouring elements are not correlated (one generator stream per call, consecutive uniforms)."""
    torch.manual_seed(0)
    m = (Dropout(0.5).train()(torch.ones(400_000)) != 0).float()
    c = torch.corrcoef(torch.stack([m[:-1], m[1:]]))[0, 1].item()
    assert abs(c) < 0.01


def test_pretrainer_is_built_sped_up_with_the_same_parameters():
    params = resolve_params({"size": "tiny", "dropout": 0.1})
    torch.manual_seed(0)
    model = build_pretrainer(params, 300, 32)
    torch.manual_seed(0)
    plain = restore(build_pretrainer(params, 300, 32))   # transformers' own classes
    assert not any(type(m) in (Dropout, ConvBertSelfAttention) for m in plain.modules())
    assert any(type(m) is ConvBertSelfAttention for m in model.modules())
    assert any(type(m) is Dropout for m in model.modules())
    sa, sb = model.state_dict(), plain.state_dict()
    assert list(sa) == list(sb) and all(torch.equal(sa[k], sb[k]) for k in sa)
