"""The backbone knob (model.backbones): ELECTRA and ConvBERT pre-trainers, native HF export, diagnostics."""
from __future__ import annotations

import math

import pytest
import torch
from transformers import (AutoModel, AutoModelForSequenceClassification, AutoModelForTokenClassification,
                          ConvBertForMaskedLM, ConvBertModel)

from model.backbones import RTD_HEAD_FILE, ConvBertForPreTraining, load_discriminator, save_discriminator
from model.diagnostics import attention_entropy, neighbour_attention, representation_signals, token_cosine
from model.electra import ElectraPretrainer, MLMPretrainer, build_configs, build_pretrainer

ARCH = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128, embedding_size=32,
            generator_fraction=0.25, generator_layers=1.0)


def _batch(seed=0, b=3, n=40, vocab=200):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (b, n), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    return ids


def _convbert(objective="electra", **kw):
    torch.manual_seed(0)
    return build_pretrainer({**ARCH, "backbone": "convbert", "objective": objective, **kw}, 200, 40)


def test_convbert_pretrainer_is_native_convbert_with_shared_embeddings():
    m = _convbert()
    assert isinstance(m.discriminator, ConvBertForPreTraining)
    assert isinstance(m.generator, ConvBertForMaskedLM)
    assert m.generator.convbert.embeddings is m.discriminator.convbert.embeddings
    assert m.generator.generator_lm_head.weight is m.discriminator.convbert.embeddings.word_embeddings.weight
    # the paper's head ratio: half of the discriminator's heads are convolution heads
    assert m.discriminator.config.head_ratio == 2 and m.discriminator.config.conv_kernel_size == 9
    assert m.generator.config.hidden_size == 16 and m.generator.config.num_hidden_layers == 2
    out = m(_batch(), generator=torch.Generator().manual_seed(1))
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and out["masked_count"] > 0
    assert m.discriminator.convbert.encoder.layer[0].attention.self.key_conv_attn_layer.depthwise.weight.grad is not None


def test_unknown_backbone_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown backbone 'gpt'.*electra, convbert"):
        build_configs({**ARCH, "backbone": "gpt"}, 200, 40)


def test_electra_stays_the_default_backbone():
    d, g = build_configs(ARCH, 200, 40)
    assert d.model_type == g.model_type == "electra"
    assert d.max_position_embeddings == 40
    d, _ = build_configs({**ARCH, "max_position_embeddings": 512}, 200, 40)
    assert d.max_position_embeddings == 512  # the official code's positions, whatever the training length


@pytest.mark.parametrize("size", ["tiny", "small", "base", "large"])
def test_paper_sizes_have_512_positions_whatever_the_training_length(size):
    from model.checkpoint import arch_signature
    from model.sizes import resolve_params
    p = resolve_params({"size": size})
    d, g = build_configs(p, 1000, 128)
    want = 128 if size == "tiny" else 512  # tiny: its training length (a CPU model)
    assert d.max_position_embeddings == g.max_position_embeddings == want
    sig = arch_signature(p, 1000, 128)
    # a 128-row checkpoint of a paper size (written before the sizes had 512) is refused by its signature;
    # tiny's signature is what it was
    assert sig.get("max_position_embeddings") == (None if size == "tiny" else 512)


def test_generator_loss_is_reported_apart_at_mask_and_unchanged_positions():
    for m in (_convbert(), _convbert("mlm"), build_pretrainer(ARCH, 200, 40)):
        out = m(_batch(), generator=torch.Generator().manual_seed(3))
        shown, masked = int(out["mask_shown_count"]), int(out["masked_count"])
        assert 0 < shown < masked  # 85% [MASK], 15% unchanged
        assert 0 < float(out["gen_sum_at_mask"]) < float(out["gen_sum"])
        # the split is of the same per-position losses the training loss sums
        assert float(out["gen_sum_at_mask"]) == pytest.approx(float(out["gen_sum"]) * shown / masked, rel=0.3)


def test_mlm_objective_on_convbert_is_a_discriminator_sized_convbert_mlm():
    m = _convbert("mlm")
    assert isinstance(m, MLMPretrainer) and isinstance(m.generator, ConvBertForMaskedLM)
    assert m.generator.config.hidden_size == 64
    assert m.backbone is m.generator.convbert


def test_convbert_discriminator_exports_as_native_convbert_with_its_rtd_head(tmp_path):
    m = _convbert().eval()
    files = save_discriminator(m.discriminator, tmp_path)
    m.generator.save_pretrained(tmp_path / "generator")
    assert RTD_HEAD_FILE in files and (tmp_path / RTD_HEAD_FILE).is_file()
    ids = _batch(5)
    with torch.no_grad():
        ref = m.discriminator(ids).logits
        again = load_discriminator(tmp_path).eval()(ids).logits
    # the same weights in transformers' own classes; training computes the dynamic convolution as shifted sums
    # (model.fastpath), the library with unfold: equal to float rounding
    torch.testing.assert_close(again, ref, rtol=1e-5, atol=1e-6)
    m2 = ElectraPretrainer.from_pretrained(tmp_path)
    assert m2.generator.convbert.embeddings is m2.discriminator.convbert.embeddings
    # the folder is what users fine-tune: the standard Auto classes load the encoder weights
    enc = AutoModel.from_pretrained(tmp_path)
    assert isinstance(enc, ConvBertModel)
    assert torch.equal(enc.embeddings.word_embeddings.weight, m.discriminator.convbert.embeddings.word_embeddings.weight)
    tok = AutoModelForTokenClassification.from_pretrained(tmp_path, num_labels=4)
    seq = AutoModelForSequenceClassification.from_pretrained(tmp_path, num_labels=2)
    assert tok(ids).logits.shape == (3, 40, 4) and seq(ids).logits.shape == (3, 2)
    (tmp_path / RTD_HEAD_FILE).unlink()
    with pytest.raises(FileNotFoundError, match="replaced-token-detection head"):
        load_discriminator(tmp_path)


def test_neighbour_attention_and_cosine_measure_what_they_claim():
    L = 6
    prev_head = torch.zeros(1, 2, L, L)
    for i in range(1, L):
        prev_head[0, 0, i, i - 1] = 1.0
    prev_head[0, 1] = 1.0 / L  # a uniform head
    mask = torch.ones(1, L, dtype=torch.long)
    assert neighbour_attention([prev_head], mask) == [pytest.approx(1.0)]
    assert neighbour_attention([prev_head[:, 1:]], mask) == [pytest.approx(1.0 / L)]
    # entropy: the most saturated head counts -- the one-hot previous-token head (row 0 is all zeros: 0 too)
    assert attention_entropy([prev_head], mask) == pytest.approx(0.0, abs=1e-6)
    assert attention_entropy([prev_head[:, 1:]], mask) == pytest.approx(1.0)
    half = torch.zeros(1, 1, L, L)
    half[..., :2] = 0.5  # every row split over two tokens: ln 2 / ln L
    assert attention_entropy([half], mask) == pytest.approx(math.log(2) / math.log(L))
    same = torch.ones(1, L, 8)
    assert token_cosine(same, mask) == pytest.approx(1.0)
    assert abs(token_cosine(torch.randn(1, 400, 64), torch.ones(1, 400))) < 0.05


def test_representation_signals_of_random_init_are_uniform_and_uncollapsed():
    for m in (_convbert(), build_pretrainer(ARCH, 200, 40)):
        ids = _batch(7)
        s = representation_signals(m.discriminator, ids, torch.ones_like(ids))
        assert s["uniform_attention"] == pytest.approx(1 / 40)
        assert s["neighbour_attention"] < 3 / 40
        assert s["last_layer_cosine"] < 0.8
        assert s["attention_entropy"] > 0.95  # small initial weights: every head near uniform
        # the model's own kernel is restored afterwards
        assert m.discriminator.config._attn_implementation == ("eager" if m.discriminator.config.model_type ==
                                                               "convbert" else "sdpa")


def test_convbert_flop_count_matches_torch_flop_counter():
    from torch.utils.flop_counter import FlopCounterMode
    from transformers import ConvBertConfig

    from model.flops import _encoder
    for hidden, heads, ffn in ((128, 4, 512), (32, 1, 128), (256, 4, 1024)):
        cfg = ConvBertConfig(hidden_size=hidden, num_attention_heads=heads, intermediate_size=ffn, embedding_size=hidden,
                             num_hidden_layers=2, vocab_size=50, attn_implementation="eager")
        enc = ConvBertModel(cfg).eval()
        n = 48
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            enc.encoder(torch.randn(1, n, hidden))
        per_tok, per_sq, per_fwd = _encoder(hidden, 2, ffn, hidden, cfg.to_dict())
        assert per_fwd == 0
        assert counter.get_total_flops() == per_tok * n + per_sq * n * n


def test_backbone_settings_resolve_packing_and_local_init():
    from model.sizes import resolve_params
    tiny = resolve_params({"size": "tiny"})
    assert tiny["backbone"] == "convbert" and tiny["pack"] is False and tiny["local_init"] == "prevnext"
    small = resolve_params({"size": "small"})
    assert small["backbone"] == "electra" and small["pack"] is True and small["local_init"] == "none"
    assert resolve_params({"size": "small", "backbone": "convbert"})["local_init"] == "prevnext"
    with pytest.raises(ValueError, match="pack: true does not work with backbone convbert"):
        resolve_params({"size": "tiny", "pack": True})
    with pytest.raises(ValueError, match="needs backbone convbert or electra"):
        resolve_params({"size": "small", "backbone": "deberta", "local_init": "prevnext"})


def test_prevnext_init_points_each_convolution_head_at_one_neighbour():
    m = _convbert(local_init="prevnext", num_attention_heads=4)
    attn = m.discriminator.convbert.encoder.layer[1].attention.self
    kernel = torch.softmax(attn.conv_kernel_layer.bias.view(attn.num_attention_heads, attn.conv_kernel_size), -1)
    centre = attn.conv_kernel_size // 2
    assert kernel[0, centre - 1] > 0.9 and kernel[1, centre + 1] > 0.9  # previous, next
    # the exported folder is an ordinary ConvBertModel: nothing of the recipe is needed to load it
    assert type(m.discriminator.convbert) is ConvBertModel


def test_convbert_export_is_byte_identical_for_identical_weights(tmp_path):
    """DVC, fault injection and reproducible reruns compare exported bytes (safetensors metadata is a hash map:
    more than one key comes out in either order)."""
    m = _convbert()
    digests = set()
    for i in range(8):
        files = save_discriminator(m.discriminator, tmp_path / str(i))
        digests.add(tuple((tmp_path / str(i) / f).read_bytes() for f in files))
    assert len(digests) == 1


def test_corrective_head_is_off_by_default_and_adds_its_loss_and_flops_when_on():
    """disc_mlm_weight 0 (the default) is the paper's model, parameter for parameter; > 0 adds the
    discriminator's corrective head, whose loss enters the total, reaches the discriminator's encoder and is
    counted in the FLOPs (one vocabulary projection per masked position)."""
    from model.flops import model_coefficients
    torch.manual_seed(0)
    plain = _convbert()
    assert plain.corrective is None
    torch.manual_seed(0)
    hybrid = _convbert(disc_mlm_weight=2.0)
    extra = sum(p.numel() for p in hybrid.parameters()) - sum(p.numel() for p in plain.parameters())
    assert extra == sum(p.numel() for p in hybrid.corrective.parameters()) > 0
    # its output layer is the shared word embeddings, not a copy
    assert all(p is not hybrid.discriminator.convbert.embeddings.word_embeddings.weight
               for p in hybrid.corrective.parameters())
    ids = _batch()
    g = torch.Generator().manual_seed(1)
    out = hybrid(ids, generator=g)
    assert out["disc_mlm_sum"] > 0
    n = out["masked_count"].float()
    expect = out["gen_loss"] + hybrid.disc_weight * out["disc_loss"] + 2.0 * out["disc_mlm_sum"] / n
    assert torch.allclose(out["loss"], expect)
    hybrid.zero_grad()
    # gradient of the corrective term alone reaches the discriminator's attention weights
    g = torch.Generator().manual_seed(1)
    res = hybrid(ids, generator=g)
    (res["loss"] - res["gen_loss"] - hybrid.disc_weight * res["disc_loss"]).backward()
    q = hybrid.discriminator.convbert.encoder.layer[0].attention.self.query.weight
    assert q.grad is not None and q.grad.abs().sum() > 0
    a, b = model_coefficients(plain), model_coefficients(hybrid)
    V, E, H = 200, ARCH["embedding_size"], ARCH["hidden_size"]
    assert b.per_masked - a.per_masked == 2 * H * E + 2 * E * V
    assert (a.per_token, a.per_token_sq) == (b.per_token, b.per_token_sq)
