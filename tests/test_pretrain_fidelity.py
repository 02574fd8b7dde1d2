"""Fidelity of model/ to the official ELECTRA code (google-research/electra) and the paper's Table 6,
plus the invariances the fast path relies on (loader masking, packing, fused optimizer, FLOP count).

Each test names the official behaviour it pins down; each would fail if that behaviour were wrong."""
from __future__ import annotations

import pytest
import torch
from transformers import ElectraForMaskedLM, ElectraForPreTraining

import model.electra as electra
from model.data import PretrainBatcher, ShardSplit, first_fit_decreasing, pack_batch, position_keys
from model.electra import build_configs, build_pretrainer, hash32, sample_from_softmax
from model.flops import coefficients, model_coefficients, peak_flops, mfu
from model.device import pick_device
from model.optim import AdamWeightDecay, param_groups
from model.sizes import SIZES, resolve_params
from tests.test_model import ARCH, MAX_LEN, VOCAB, random_batch, tiny_params, write_shards

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_shards(tmp_path_factory.mktemp("fshards") / "shards", n_train=200, n_val=16)


# ---------------------------------------------------------------------------------------------- sizes

# ELECTRA paper (Clark et al. 2020), Table 6 "Pre-train hyperparameters", and configure_pretraining.py
TABLE6 = {
    "small": dict(num_hidden_layers=12, hidden_size=256, intermediate_size=1024, num_attention_heads=4,
                  embedding_size=128, generator_fraction=1 / 4, mask_prob=0.15, learning_rate=5e-4,
                  batch_size=128, train_steps=1_000_000, warmup_steps=10_000, max_seq_length=128),
    "base": dict(num_hidden_layers=12, hidden_size=768, intermediate_size=3072, num_attention_heads=12,
                 embedding_size=768, generator_fraction=1 / 3, mask_prob=0.15, learning_rate=2e-4,
                 batch_size=256, train_steps=766_000, warmup_steps=10_000, max_seq_length=512),
    "large": dict(num_hidden_layers=24, hidden_size=1024, intermediate_size=4096, num_attention_heads=16,
                  embedding_size=1024, generator_fraction=1 / 4, mask_prob=0.25, learning_rate=2e-4,
                  batch_size=2048, train_steps=400_000, warmup_steps=10_000, max_seq_length=512),
}


@pytest.mark.parametrize("size", ["small", "base", "large"])
def test_sizes_match_table6(size):
    s = SIZES[size]
    for k, v in TABLE6[size].items():
        assert s[k] == pytest.approx(v), (size, k)
    assert s["hidden_size"] // s["num_attention_heads"] == 64  # attention head size 64 everywhere
    assert s["generator_layers"] == 1.0


def test_tiny_is_cpu_sized():
    t = SIZES["tiny"]
    assert t["hidden_size"] <= 256 and t["num_hidden_layers"] <= 4 and t["max_seq_length"] <= 128
    # 4 heads of 32: ConvBERT (tiny's backbone) turns half of them into the two convolution heads that start on
    # the previous and the next token (model.backbones.init_local_convolution)
    assert t["backbone"] == "convbert" and t["num_attention_heads"] == 4


def _official_generator(disc: dict, frac: float, layers_frac: float = 1.0) -> dict:
    """run_pretraining.get_generator_config, transcribed."""
    h = int(round(disc["hidden_size"] * frac))
    return dict(hidden_size=h, num_hidden_layers=int(round(disc["num_hidden_layers"] * layers_frac)),
                intermediate_size=4 * h, num_attention_heads=max(1, h // 64))


@pytest.mark.parametrize("size", ["tiny", "small", "base", "large"])
def test_generator_config_is_official(size):
    p = resolve_params({"size": size})
    d, g = build_configs(p, 30522, 128)
    want = _official_generator(p, p["generator_fraction"])
    assert {k: getattr(g, k) for k in want} == want
    # Table 6: the fraction multiplies hidden size, FFN size and heads alike
    f = p["generator_fraction"]
    if size != "tiny":
        assert g.hidden_size == round(d.hidden_size * f) and g.intermediate_size == round(d.intermediate_size * f)
        assert g.num_attention_heads == round(d.num_attention_heads * f)
    assert g.embedding_size == d.embedding_size and g.num_hidden_layers == d.num_hidden_layers


def test_generator_layers_dropout_temperature_configurable():
    d, g = build_configs(dict(ARCH, generator_layers=0.5, dropout=0.0), VOCAB, MAX_LEN)
    assert g.num_hidden_layers == 1 and d.num_hidden_layers == 2
    assert d.hidden_dropout_prob == d.attention_probs_dropout_prob == g.hidden_dropout_prob == 0.0
    d, _ = build_configs(dict(ARCH), VOCAB, MAX_LEN)
    assert d.hidden_dropout_prob == 0.1 and d.attention_probs_dropout_prob == 0.1  # official default
    torch.manual_seed(0)
    m = build_pretrainer(tiny_params(temperature=2.0), VOCAB, MAX_LEN)
    assert m.temperature == 2.0


def test_every_hyperparameter_overridable_from_language_config(tmp_path):
    import yaml
    from pipeline.config import parse_language
    cfg = {"language": "xx", "script": "Latn", "sources": [{"path": "x.txt"}],
           "model": {"size": "small", "overrides": {"hidden_size": 128, "num_attention_heads": 2,
                                                    "intermediate_size": 512, "embedding_size": 64,
                                                    "generator_fraction": 0.5, "generator_layers": 0.5,
                                                    "learning_rate": 1e-4, "mask_prob": 0.2}},
           "pretrain": {"batch_size": 64, "warmup_steps": 7, "steps": 99, "dropout": 0.05, "temperature": 1.5,
                        "disc_weight": 30.0, "weight_decay": 0.02, "pack": False, "compile": True,
                        "distributed": "fsdp", "peak_tflops": 100.0}}
    path = tmp_path / "xx.yaml"
    path.write_text(yaml.safe_dump(cfg))
    p = parse_language(path).pretrain_resolved()
    assert p["hidden_size"] == 128 and p["generator_layers"] == 0.5 and p["generator_fraction"] == 0.5
    assert p["learning_rate"] == 1e-4 and p["mask_prob"] == 0.2  # from overrides
    assert (p["batch_size"], p["warmup_steps"], p["steps"]) == (64, 7, 99)
    assert (p["dropout"], p["temperature"], p["disc_weight"], p["weight_decay"]) == (0.05, 1.5, 30.0, 0.02)
    assert p["pack"] is False and p["compile"] is True and p["distributed"] == "fsdp"
    r = resolve_params(p)
    d, g = build_configs(r, 100, 64)
    assert d.hidden_size == 128 and g.hidden_size == 64 and g.num_hidden_layers == 6 and d.hidden_dropout_prob == 0.05


# ---------------------------------------------------------------------------------------------- losses

def _loader_batch(shards, **kw):
    split = ShardSplit(shards, "train")
    kw = {"seed": 5, "mask_prob": 0.15, "max_seq_length": MAX_LEN, "pack": False, **kw}
    return PretrainBatcher(split, 16, **kw).next_step()


def test_losses_equal_hf_reference_heads(shards):
    """gen loss = HF ElectraForMaskedLM cross-entropy over masked positions only (labels -100 elsewhere);
    disc loss = HF ElectraForPreTraining BCE over attention-mask tokens; labels = masked & sampled != original."""
    torch.manual_seed(0)
    m = build_pretrainer(tiny_params(dropout=0.0), VOCAB, MAX_LEN).eval()
    st = _loader_batch(shards)
    b = st.micro[0]
    out = m(b["input_ids"], b["attention_mask"], b["token_type_ids"], masked_input_ids=b["masked_input_ids"],
            masked=b["masked"], sample_keys=b["sample_keys"])
    gen: ElectraForMaskedLM = m.generator
    labels = b["input_ids"].masked_fill(~b["masked"], -100)
    ref_gen = gen(b["masked_input_ids"], attention_mask=b["attention_mask"], token_type_ids=b["token_type_ids"],
                  labels=labels).loss
    assert torch.allclose(out["gen_loss"], ref_gen, atol=1e-5)
    disc: ElectraForPreTraining = m.discriminator
    ref_disc = disc(out["fake_input_ids"], attention_mask=b["attention_mask"], token_type_ids=b["token_type_ids"],
                    labels=out["labels"].long()).loss
    assert torch.allclose(out["disc_loss"], ref_disc, atol=1e-6)
    assert torch.allclose(out["loss"], out["gen_loss"] + 50.0 * out["disc_loss"])
    assert torch.equal(out["labels"], b["masked"] & (out["fake_input_ids"] != b["input_ids"]))
    # the discriminator input differs from the original only at masked positions
    assert torch.equal(out["fake_input_ids"][~b["masked"]], b["input_ids"][~b["masked"]])
    # global normalisers: the loss is sum / denominator
    out2 = m(b["input_ids"], b["attention_mask"], b["token_type_ids"], masked_input_ids=b["masked_input_ids"],
             masked=b["masked"], sample_keys=b["sample_keys"], gen_denom=1000.0, disc_denom=4000.0)
    assert torch.allclose(out2["gen_loss"], out["gen_sum"] / 1000.0) and torch.allclose(out2["disc_loss"],
                                                                                      out["disc_sum"] / 4000.0)


def test_no_gradient_through_the_sample():
    """The discriminator loss reaches the generator only through the shared embeddings, never through
    the sampled tokens (official: tf.stop_gradient on the sample)."""
    torch.manual_seed(0)
    m = build_pretrainer(tiny_params(), VOCAB, MAX_LEN)
    ids, att, tt = random_batch()
    out = m(ids, att, tt, generator=torch.Generator().manual_seed(0))
    out["disc_loss"].backward()
    shared = {id(p) for p in m.discriminator.electra.embeddings.parameters()}
    own = [(n, p) for n, p in m.generator.named_parameters() if id(p) not in shared]
    assert own
    for n, p in own:
        assert p.grad is None or not p.grad.abs().sum(), n
    assert m.discriminator.electra.embeddings.word_embeddings.weight.grad.abs().sum() > 0


# ---------------------------------------------------------------------------------------------- randomness

def _lowbias32(x: int) -> int:
    x &= 0xFFFFFFFF
    x ^= x >> 16
    x = (x * 0x7FEB352D) & 0xFFFFFFFF
    x ^= x >> 15
    x = (x * 0x846CA68B) & 0xFFFFFFFF
    return x ^ (x >> 16)


def test_hash32_is_lowbias32_on_uint32():
    vals = [0, 1, 2, 12345, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF, 0xDEADBEEF]
    got = hash32(torch.tensor([electra.as_int32(v) for v in vals], dtype=torch.int32)).tolist()
    assert [g & 0xFFFFFFFF for g in got] == [_lowbias32(v) for v in vals]


def test_counter_sampling_samples_the_softmax():
    """The counter-keyed inverse-CDF draw samples softmax(logits) (temperature 1): frequencies within 0.01 of
    the probabilities over 40,000 keys, a zero-probability entry never; temperature divides the logits."""
    probs = torch.tensor([0.5, 0.25, 0.15, 0.1, 0.0])
    logits = torch.log(probs.clamp(min=1e-30)).repeat(40000, 1)
    keys = hash32(torch.arange(40000, dtype=torch.int32))
    s = sample_from_softmax(logits, keys=keys)
    freq = torch.bincount(s, minlength=5).float() / 40000
    assert torch.allclose(freq, probs, atol=0.01), freq
    assert not (s == 4).any()
    hot = sample_from_softmax(torch.log(probs.clamp(min=1e-30))[:4].repeat(40000, 1), keys=keys, temperature=1e6)
    assert abs((hot == 3).float().mean().item() - 0.25) < 0.02


def test_counter_sampling_is_a_function_of_the_key_alone():
    """A row's sample depends on its key and logits only: the same rows in another order, or split in two
    calls (other processes, micro-batches), draw the same tokens; other keys draw other tokens."""
    g = torch.Generator().manual_seed(0)
    logits = torch.randn(300, 1000, generator=g) * 3
    keys = hash32(torch.arange(300, dtype=torch.int32) * 7919)
    whole = sample_from_softmax(logits, keys=keys)
    perm = torch.randperm(300, generator=g)
    assert torch.equal(sample_from_softmax(logits[perm], keys=keys[perm]), whole[perm])
    halves = torch.cat([sample_from_softmax(logits[:120], keys=keys[:120]),
                        sample_from_softmax(logits[120:], keys=keys[120:])])
    assert torch.equal(halves, whole)
    assert not torch.equal(sample_from_softmax(logits, keys=keys + 1), whole)


def test_counter_sampling_compiles_to_the_same_tokens():
    """``compile: true`` compiles the sampler (model.pretrain._compile); compiled and eager draw the same tokens
    (inductor on the CPU here; the GPU check compiles it with Triton)."""
    g = torch.Generator().manual_seed(1)
    logits = torch.randn(64, 16000, generator=g) * 2
    keys = hash32(torch.arange(64, dtype=torch.int32))
    compiled = torch.compile(sample_from_softmax, dynamic=True)(logits, keys=keys)
    assert torch.equal(compiled, sample_from_softmax(logits, keys=keys))


def test_loader_masking_official_rules(shards):
    st = _loader_batch(shards)
    b = st.micro[0]
    ids, masked, mids = b["input_ids"], b["masked"], b["masked_input_ids"]
    special = (ids == 0) | (ids == 2) | (ids == 3) | (ids == 4)
    assert not (masked & special).any()
    n = (ids != 0).sum(1)
    cap = int((0.15 + 0.005) * MAX_LEN)
    want = torch.round(n.float() * 0.15).long().clamp(1, cap)
    assert torch.equal(masked.sum(1), want)
    assert ((mids[masked] == 4) | (mids[masked] == ids[masked])).all()  # never a random token
    assert torch.equal(mids[~masked], ids[~masked])
    assert st.gen_denom == float(masked.sum()) and st.disc_denom == float((ids != 0).sum())


def test_loader_85_percent_mask_over_many_steps(shards):
    split = ShardSplit(shards, "train")
    pb = PretrainBatcher(split, 32, seed=1, mask_prob=0.15, max_seq_length=MAX_LEN, pack=False)
    tot = rep = 0
    for _ in range(30):
        b = pb.next_step().micro[0]
        tot += int(b["masked"].sum())
        rep += int((b["masked_input_ids"][b["masked"]] == 4).sum())
    assert abs(rep / tot - 0.85) < 0.02


def _per_example(st: "StepBatch") -> dict:  # noqa: F821
    """{example tokens tuple -> (masked positions, masked ids, keys)} from any layout (packed or not)."""
    out = {}
    for b in st.micro:
        seg = b.get("segment_ids")
        for r in range(b["input_ids"].shape[0]):
            segs = [b["attention_mask"][r].bool()] if seg is None else \
                [seg[r] == s for s in range(1, int(seg[r].max()) + 1)]
            for sel in segs:
                ids = tuple(b["input_ids"][r][sel].tolist())
                out.setdefault(ids, []).append((tuple(b["masked"][r][sel].tolist()),
                                                tuple(b["masked_input_ids"][r][sel].tolist()),
                                                tuple(b["sample_keys"][r][sel].tolist())))
    return out


def test_loader_is_partition_invariant(shards):
    """The same global batch is masked identically whatever the processes / accumulation / packing, each
    process gets a disjoint slice, and the loss normalisers are global."""
    split = ShardSplit(shards, "train")
    kw = dict(seed=3, mask_prob=0.15, max_seq_length=MAX_LEN, start_step=4, position={"epoch": 0, "offset": 64})
    ref = PretrainBatcher(split, 16, pack=False, **kw).next_step()
    ref_ex = _per_example(ref)
    for world, accum, pack in ((2, 1, False), (2, 2, True), (4, 2, False), (1, 4, True)):
        merged: dict = {}
        denoms = set()
        for rank in range(world):
            st = PretrainBatcher(split, 16, world_size=world, rank=rank, grad_accum=accum, pack=pack, **kw).next_step()
            assert len(st.micro) == accum and st.state == ref.state
            denoms.add((st.gen_denom, st.disc_denom, st.sum_len_sq))
            for k, v in _per_example(st).items():
                merged.setdefault(k, []).extend(v)
        assert denoms == {(ref.gen_denom, ref.disc_denom, ref.sum_len_sq)}
        assert {k: sorted(v) for k, v in merged.items()} == {k: sorted(v) for k, v in ref_ex.items()}, \
            (world, accum, pack)


def test_position_keys_depend_on_step_row_position_only():
    a = position_keys(1, 7, torch.tensor([3, 4]), 10)
    b = position_keys(1, 7, torch.tensor([4]), 12)
    assert torch.equal(a[1], b[0, :10])
    assert not torch.equal(position_keys(1, 8, torch.tensor([3]), 10)[0], a[0])
    assert not torch.equal(position_keys(2, 7, torch.tensor([3]), 10)[0], a[0])


def test_first_fit_decreasing_and_pack_layout():
    assert first_fit_decreasing([5, 3, 4, 2, 6], 8) == [[4, 3], [0, 1], [2]]
    ids = torch.tensor([[2, 7, 3, 0], [2, 8, 9, 3], [2, 3, 0, 0]])
    att = (ids != 0).long()
    b = pack_batch({"input_ids": ids, "attention_mask": att, "masked": ids == 7}, capacity=6)
    assert b["input_ids"].tolist() == [[2, 8, 9, 3, 2, 3], [2, 7, 3, 0, 0, 0]]
    assert b["position_ids"].tolist() == [[0, 1, 2, 3, 0, 1], [0, 1, 2, 0, 0, 0]]
    assert b["segment_ids"].tolist() == [[1, 1, 1, 1, 2, 2], [1, 1, 1, 0, 0, 0]]
    assert b["attention_mask"].tolist() == [[1] * 6, [1, 1, 1, 0, 0, 0]]
    assert b["masked"].tolist() == [[False] * 6, [False, True, False, False, False, False]]


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_forward_equals_padded_forward(shards, attn):
    """Packing is exact: block-diagonal attention + per-example positions give the same losses and samples."""
    torch.manual_seed(0)
    m = build_pretrainer(tiny_params(dropout=0.0, attn_implementation=attn), VOCAB, MAX_LEN).eval()
    outs = {}
    for pack in (False, True):
        st = _loader_batch(shards, pack=pack)
        b = dict(st.micro[0])
        if pack:
            assert b["input_ids"].shape[0] < 16  # rows were merged
        with torch.no_grad():
            outs[pack] = m(b.pop("input_ids"), b.pop("attention_mask"), b.pop("token_type_ids"),
                           gen_denom=st.gen_denom, disc_denom=st.disc_denom, **b)
    a, p = outs[False], outs[True]
    for k in ("gen_sum", "disc_sum", "loss"):
        assert torch.allclose(a[k], p[k], rtol=1e-4, atol=1e-4), (k, a[k], p[k])
    for k in ("masked_count", "token_count", "replaced_count", "gen_correct"):
        assert int(a[k]) == int(p[k]), k
    assert sorted(a["fake_input_ids"][a["masked"]].tolist()) == sorted(p["fake_input_ids"][p["masked"]].tolist())


# ---------------------------------------------------------------------------------------------- optimizer

@pytest.mark.skipif(not hasattr(torch, "_fused_adamw_"), reason="no fused AdamW kernel in this torch")
def test_fused_optimizer_step_equals_official_update():
    torch.manual_seed(0)
    ps = [torch.nn.Parameter(torch.randn(7, 5)), torch.nn.Parameter(torch.randn(5))]
    qs = [torch.nn.Parameter(p.detach().clone()) for p in ps]
    groups = lambda xs: [{"params": [xs[0]], "weight_decay": 0.01}, {"params": [xs[1]], "weight_decay": 0.0}]  # noqa
    try:
        fused = AdamWeightDecay(groups(ps), lr=0.05, eps=1e-6, fused=True)
        ref = AdamWeightDecay(groups(qs), lr=0.05, eps=1e-6, fused=False)
        for i in range(4):
            g = [torch.randn_like(p) for p in ps]
            for p, q, gi in zip(ps, qs, g):
                p.grad, q.grad = gi.clone(), gi.clone()
            fused.step()
            ref.step()
    except (RuntimeError, NotImplementedError) as e:  # kernel not built for this device
        pytest.skip(f"fused AdamW unavailable on CPU: {e}")
    for p, q in zip(ps, qs):
        assert torch.allclose(p, q, rtol=1e-5, atol=1e-6)
    assert torch.allclose(fused.state[ps[0]]["exp_avg_sq"], ref.state[qs[0]]["exp_avg_sq"])


def test_optimizer_defaults_are_official():
    m = build_pretrainer(tiny_params(), VOCAB, MAX_LEN)
    opt = AdamWeightDecay(param_groups(m, 0.01), lr=1e-3)
    g = opt.param_groups[0]
    assert g["betas"] == (0.9, 0.999) and g["eps"] == 1e-6
    assert [x["weight_decay"] for x in opt.param_groups] == [0.01, 0.0]


def test_pick_device_prefers_cuda(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert pick_device("auto").type == "cuda" and pick_device("auto", 3) == torch.device("cuda", 3)
    assert pick_device("cpu").type == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert pick_device("auto").type == "cpu" and pick_device("cuda").type == "cpu"


# ---------------------------------------------------------------------------------------------- FLOPs

@pytest.mark.parametrize("objective,backbone", [("electra", "electra"), ("mlm", "electra"), ("electra", "deberta"),
                                                ("mlm", "deberta")])
def test_flop_formula_equals_counted_matmul_flops(objective, backbone):
    """model/flops.py against torch's FlopCounterMode over a real forward+backward (eager attention, so
    that QK^T and AV are visible as bmm): equal, to the FLOP. DeBERTa adds its disentangled terms (per token)
    and the projection of its relative embeddings (once per forward pass: two micro-batch sizes tell them apart)."""
    torch.manual_seed(0)
    p = dict(ARCH, intermediate_size=256, dropout=0.0, attn_implementation="eager", objective=objective,
             backbone=backbone)
    m = build_pretrainer(p, 500, 64)
    for B, L in ((4, 64), (2, 40)):
        _assert_counted_flops(m, B, L)
    if backbone == "deberta":
        assert model_coefficients(m).per_forward > 0


def _assert_counted_flops(m, B, L):
    from torch.utils.flop_counter import FlopCounterMode
    ids = torch.randint(5, 500, (B, L))
    ids[:, 0], ids[:, -1] = 2, 3
    fc = FlopCounterMode(display=False)
    with fc:
        out = m(ids, torch.ones_like(ids), torch.zeros_like(ids), generator=torch.Generator().manual_seed(0))
        out["loss"].backward()
    c = model_coefficients(m)
    assert c.step_flops(B * L, B * L * L, int(out["masked_count"])) == fc.get_total_flops()


def test_flops_paper_scale_and_peaks():
    s = resolve_params({"size": "small"})
    d, g = build_configs(s, 30522, 128)
    c = coefficients(d.to_dict(), g.to_dict(), 30522)
    per_tok = c.per_token_estimate(128, 0.15)
    # ELECTRA-Small, forward per token: disc layers 12 x (8*256^2 + 4*256*1024) = 18.87M, gen layers
    # 12 x (8*64^2 + 4*64*256) = 1.18M, attention 12 x 4 x 128 x (256 + 64) = 1.97M, projections and disc
    # head 0.21M, generator head 0.15 x (2*64*128 + 2*128*30522) = 1.17M: 23.4M; x 3 for training
    assert per_tok == pytest.approx(3 * 23.41e6, rel=0.01), per_tok
    mlm = coefficients(d.to_dict(), None, 30522).per_token_estimate(128, 0.15)
    assert mlm < per_tok  # no generator, no discriminator head
    assert peak_flops("cpu") is None and mfu(1e12, None) is None
    assert mfu(989e12 * 0.5, 989e12) == pytest.approx(0.5) and mfu(989e12, 989e12, processes=4) == pytest.approx(0.25)
