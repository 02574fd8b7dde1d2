"""Fast CPU tests of model/: masking, shared embeddings, optimiser, schedule, data, pretrain, finetune."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
from safetensors.torch import load_file

import model.electra as electra
from model.data import BatchIterator, ShardSplit
from model.electra import (ElectraPretrainer, MLMPretrainer, build_configs, build_pretrainer, mask_tokens,
                           special_tokens_mask)
from model.checkpoint import latest_checkpoint
from model.finetune import finetune, load_backbone, ElectraFinetuner
from model.optim import AdamWeightDecay, layerwise_param_groups, lr_factor, param_groups
from model.pretrain import pretrain

torch.set_num_threads(1)

VOCAB = 64
MAX_LEN = 32
ARCH = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128,
            embedding_size=32, generator_fraction=0.25)


def tiny_params(**kw) -> dict:
    p = dict(ARCH, size="tiny", backbone="electra", objective="electra", steps=20, batch_size=16, learning_rate=2e-3,
             warmup_steps=5, mask_prob=0.15, disc_weight=50.0, weight_decay=0.01, grad_accum=1, seed=3,
             device="cpu", log_every=5, checkpoint_every=7, eval_batches=2)
    p.update(kw)
    return p


def templates(n_templates=6, seed=0) -> list[list[int]]:
    rng = np.random.default_rng([seed, 99])
    temps = []
    for _ in range(n_templates):
        body = [int(x) for x in rng.integers(5, VOCAB, size=int(rng.integers(10, MAX_LEN - 3)))]
        body[int(rng.integers(len(body)))] = 1  # an [UNK]
        temps.append(body)
    return temps


def write_shards(d: Path, n_train=384, n_val=64, n_templates=6, seed=0, per_shard=100) -> Path:
    """Structured synthetic shards: a few fixed 'sentences' repeated (two segments, some [UNK])."""
    d.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    temps = templates(n_templates, seed)

    def ex():
        body = temps[int(rng.integers(n_templates))]
        cut = len(body) // 2
        ids = [2] + body[:cut] + [3] + body[cut:] + [3]
        return ids, [0] * (cut + 2) + [1] * (len(body) - cut + 1)

    splits = {}
    for split, n in (("train", n_train), ("validation", n_val)):
        files, toks = [], 0
        for s in range(0, n, per_shard):
            rows = [ex() for _ in range(min(per_shard, n - s))]
            toks += sum(len(r[0]) for r in rows)
            t = pa.table({"input_ids": pa.array([r[0] for r in rows], pa.list_(pa.int32())),
                          "token_type_ids": pa.array([r[1] for r in rows], pa.list_(pa.int8()))})
            name = f"{split}-{len(files):05d}.parquet"
            pq.write_table(t, d / name)
            files.append(name)
        splits[split] = {"files": files, "examples": n, "tokens": toks}
    (d / "index.json").write_text(json.dumps({
        "max_seq_length": MAX_LEN, "vocab_size": VOCAB, "pad_id": 0, "unk_id": 1, "cls_id": 2, "sep_id": 3,
        "mask_id": 4, "splits": splits, "seed": seed}))
    return d


def write_tokenizer(d: Path) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        (d / name).write_text("{}")
    (d / "spm.model").write_bytes(b"\x00fake")
    return d


@pytest.fixture(scope="module")
def shards(tmp_path_factory) -> Path:
    return write_shards(tmp_path_factory.mktemp("shards") / "shards")


@pytest.fixture(scope="module")
def trained(tmp_path_factory, shards):
    """A short ELECTRA run used by several tests."""
    root = tmp_path_factory.mktemp("run")
    tok = write_tokenizer(root / "tokenizer")
    # NB Adam without bias correction makes early updates ~3-6x the nominal LR: keep the LR modest
    params = tiny_params(steps=200, log_every=20, checkpoint_every=100, warmup_steps=10, learning_rate=5e-4)
    m = pretrain(shards, tok, root / "electra", root / "ckpt", params, root / "metrics.json", root / "curve.tsv",
                 card={"language": "xx", "corpus_sha": "abc123"})
    return root, m


def make_model(seed=0, **kw) -> ElectraPretrainer:
    torch.manual_seed(seed)
    return build_pretrainer(tiny_params(**kw), VOCAB, MAX_LEN)


def random_batch(B=8, L=20, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (B, L), generator=g)
    ids[:, 0] = 2
    lengths = torch.randint(L // 2, L + 1, (B,), generator=g)
    att = (torch.arange(L)[None] < lengths[:, None]).long()
    ids[torch.arange(B), lengths - 1] = 3
    ids = ids * att
    return ids, att, torch.zeros_like(ids)


# ---------------------------------------------------------------------------------------------- masking

def test_mask_tokens_rules_and_split():
    B, L = 400, 64
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, VOCAB, (B, L), generator=g)  # includes [UNK]=1 .. and specials 2,3,4
    lengths = torch.randint(10, L + 1, (B,), generator=g)
    ids[torch.arange(L)[None] >= lengths[:, None]] = 0
    special = special_tokens_mask(ids)
    masked_ids, masked = mask_tokens(ids, special, 0.15, 4, torch.Generator().manual_seed(1))
    assert not (masked & special).any(), "special tokens must never be masked"
    cap = int((0.15 + 0.005) * L)
    n_tok = (ids != 0).sum(1)
    n_cand = (~special).sum(1)
    want = torch.minimum(torch.round(n_tok * 0.15).long().clamp(1, cap), n_cand)
    assert torch.equal(masked.sum(1), want)
    assert (masked.sum(1) <= cap).all()
    # unmasked positions untouched; masked ones are [MASK] or the original token -- never random
    assert torch.equal(masked_ids[~masked], ids[~masked])
    mm = masked_ids[masked]
    orig = ids[masked]
    assert ((mm == 4) | (mm == orig)).all()
    frac = (mm == 4).float().mean().item()
    assert abs(frac - 0.85) < 0.02, frac
    # [UNK] may be masked
    assert (orig == 1).any()


def test_mask_tokens_cap_and_determinism():
    ids = torch.full((4, 100), 7)
    ids[:, 0], ids[:, -1] = 2, 3
    special = special_tokens_mask(ids)
    _, masked = mask_tokens(ids, special, 0.5, 4, torch.Generator().manual_seed(0), max_predictions_per_seq=10)
    assert (masked.sum(1) == 10).all()
    a = mask_tokens(ids, special, 0.15, 4, torch.Generator().manual_seed(5))
    b = mask_tokens(ids, special, 0.15, 4, torch.Generator().manual_seed(5))
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    # the default cap follows the official int((p + 0.005) * L)
    _, masked = mask_tokens(ids, special, 0.5, 4, torch.Generator().manual_seed(0))
    assert (masked.sum(1) == 50).all()
    _, masked = mask_tokens(ids, special, 0.5, 4, torch.Generator().manual_seed(0), max_predictions_per_seq=20)
    assert (masked.sum(1) == 20).all()


# ---------------------------------------------------------------------------------------------- model

def test_configs_generator_scaling():
    d, g = build_configs(dict(ARCH), VOCAB, MAX_LEN)
    # official get_generator_config: round(hidden * f), FFN 4 x hidden, heads max(1, hidden // 64)
    assert (g.hidden_size, g.num_attention_heads, g.intermediate_size) == (16, 1, 64)
    assert g.num_hidden_layers == d.num_hidden_layers == 2
    assert g.embedding_size == d.embedding_size == 32
    assert d.max_position_embeddings == MAX_LEN and d.type_vocab_size == 2 and d.pad_token_id == 0
    assert d.hidden_dropout_prob == 0.1 and d.attention_probs_dropout_prob == 0.1
    assert d._attn_implementation == "sdpa"


def test_embeddings_shared_not_copied():
    m = make_model()
    de, ge = m.discriminator.electra.embeddings, m.generator.electra.embeddings
    assert de is ge
    for name in ("word_embeddings", "position_embeddings", "token_type_embeddings", "LayerNorm"):
        for pd, pg in zip(getattr(de, name).parameters(), getattr(ge, name).parameters()):
            assert pd is pg
    # the generator's output layer is the word-embedding matrix itself
    assert m.generator.generator_lm_head.weight is de.word_embeddings.weight
    assert m.generator.get_output_embeddings().weight is m.generator.get_input_embeddings().weight
    # projections: embedding 32 -> disc 64 and gen 16, each model's own
    assert m.discriminator.electra.embeddings_project.weight.shape == (64, 32)
    assert m.generator.electra.embeddings_project.weight.shape == (16, 32)
    # de-duplicated parameter count
    shared = sum(p.numel() for p in de.parameters())
    n = sum(p.numel() for p in m.parameters())
    assert n == sum(p.numel() for p in m.discriminator.parameters()) + \
        sum(p.numel() for p in m.generator.parameters()) - shared


def test_shared_embeddings_receive_both_gradients_and_step_together():
    m = make_model()
    ids, att, tt = random_batch()
    out = m(ids, att, tt, generator=torch.Generator().manual_seed(0))
    w = m.discriminator.electra.embeddings.word_embeddings.weight
    g_gen = torch.autograd.grad(out["gen_loss"], w, retain_graph=True)[0]
    g_disc = torch.autograd.grad(out["disc_loss"], w)[0]
    assert g_gen.abs().sum() > 0 and g_disc.abs().sum() > 0
    opt = AdamWeightDecay(param_groups(m, 0.01), lr=1e-2)
    before = w.detach().clone()
    out = m(ids, att, tt, generator=torch.Generator().manual_seed(0))
    out["loss"].backward()
    opt.step()
    assert not torch.equal(before, w.detach())
    assert torch.equal(m.generator.electra.embeddings.word_embeddings.weight, w)
    assert torch.equal(m.generator.generator_lm_head.weight, w)


def test_labels_masked_and_sample_differs(monkeypatch):
    m = make_model()
    m.eval()
    ids, att, tt = random_batch(B=6, L=24, seed=3)
    calls = {}

    def fake_sample(logits, generator=None, **_):
        # even masked positions: sample == original (must be labelled original); odd: a different token
        orig = calls["orig"]
        alt = 5 + (orig - 5 + 1) % (VOCAB - 5)
        pick = torch.arange(len(orig)) % 2 == 0
        return torch.where(pick, orig, alt)

    real_mask = electra.mask_tokens

    def spy_mask(input_ids, *a, **k):
        out = real_mask(input_ids, *a, **k)
        calls["orig"] = input_ids[out[1]]
        return out

    monkeypatch.setattr(electra, "sample_from_softmax", fake_sample)
    monkeypatch.setattr(electra, "mask_tokens", spy_mask)
    out = m(ids, att, tt, generator=torch.Generator().manual_seed(0))
    masked, labels, fake = out["masked"], out["labels"], out["fake_input_ids"]
    assert torch.equal(labels, masked & (fake != ids))
    n = int(masked.sum())
    assert int(labels.sum()) == n // 2
    same = masked & (fake == ids)
    assert int(same.sum()) == n - n // 2 and not labels[same].any()
    assert int(out["replaced_count"]) == n // 2


def test_real_sampling_labels_and_loss():
    m = make_model()
    ids, att, tt = random_batch(B=8, L=24, seed=1)
    out = m(ids, att, tt, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out["labels"], out["masked"] & (out["fake_input_ids"] != ids))
    assert torch.equal(out["fake_input_ids"][~out["masked"]], ids[~out["masked"]])
    assert torch.allclose(out["loss"], out["gen_loss"] + 50.0 * out["disc_loss"])
    assert 0 <= float(out["disc_acc"]) <= 1
    # the generator predicts only at masked positions: about ln(V) at init
    assert abs(out["gen_loss"].item() - math.log(VOCAB)) < 1.0


def test_hf_save_load_round_trip(tmp_path):
    m = make_model(seed=4)
    m.eval()
    m.discriminator.save_pretrained(tmp_path)
    m.generator.save_pretrained(tmp_path / "generator")
    m2 = ElectraPretrainer.from_pretrained(tmp_path, mask_prob=0.15, max_seq_length=MAX_LEN)
    m2.eval()
    assert m2.generator.electra.embeddings is m2.discriminator.electra.embeddings
    assert m2.generator.generator_lm_head.weight is m2.discriminator.electra.embeddings.word_embeddings.weight
    sd1 = {n: p for n, p in m.named_parameters()}
    sd2 = {n: p for n, p in m2.named_parameters()}
    assert sd1.keys() == sd2.keys()
    for n in sd1:
        assert torch.equal(sd1[n], sd2[n]), n
    ids, att, tt = random_batch()
    with torch.no_grad():
        a = m(ids, att, tt, generator=torch.Generator().manual_seed(0))
        b = m2(ids, att, tt, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(a["loss"], b["loss"]) and torch.equal(a["labels"], b["labels"])


def test_cli(tmp_path, shards):
    from model.pretrain import main
    (tmp_path / "p.json").write_text(json.dumps(tiny_params(steps=100)))
    (tmp_path / "card.json").write_text(json.dumps({"lineage": "cli-test"}))
    rc = main(["--shards", str(shards), "--out", str(tmp_path / "out"), "--checkpoints", str(tmp_path / "ck"),
               "--params", str(tmp_path / "p.json"), "--metrics", str(tmp_path / "m.json"),
               "--curve", str(tmp_path / "c.tsv"), "--card", str(tmp_path / "card.json"),
               "--set", "steps=3", "--set", "device=cpu"])
    assert rc == 0
    assert json.loads((tmp_path / "m.json").read_text())["steps"] == 3
    assert "cli-test" in (tmp_path / "out" / "README.md").read_text()


def test_sample_from_softmax_matches_softmax():
    logits = torch.tensor([[0.0, math.log(3.0), -1e4]]).repeat(20000, 1)
    s = electra.sample_from_softmax(logits, torch.Generator().manual_seed(0))
    frac = (s == 1).float().mean().item()
    assert abs(frac - 0.75) < 0.02 and not (s == 2).any()


def test_mlm_pretrainer_interface():
    torch.manual_seed(0)
    m = build_pretrainer(tiny_params(objective="mlm"), VOCAB, MAX_LEN)
    assert isinstance(m, MLMPretrainer)
    assert m.generator.config.hidden_size == 64  # discriminator-sized
    assert m.generator.generator_lm_head.weight is m.generator.electra.embeddings.word_embeddings.weight
    ids, att, tt = random_batch()
    out = m(ids, att, tt, generator=torch.Generator().manual_seed(0))
    assert torch.equal(out["loss"], out["gen_loss"]) and float(out["disc_loss"]) == 0.0
    out["loss"].backward()


# ---------------------------------------------------------------------------------------------- optimiser

def test_adam_without_bias_correction_first_step():
    p = torch.nn.Parameter(torch.tensor([1.0, -2.0, 0.5]))
    q = torch.nn.Parameter(torch.tensor([0.3, 0.3]))  # a "bias": no decay
    g = torch.tensor([0.1, -0.4, 2.0])
    gq = torch.tensor([1.0, -1.0])
    lr, wd, eps = 0.1, 0.01, 1e-6
    opt = AdamWeightDecay([{"params": [p], "weight_decay": wd}, {"params": [q], "weight_decay": 0.0}],
                          lr=lr, eps=eps)
    p0, q0 = p.detach().clone(), q.detach().clone()
    p.grad, q.grad = g.clone(), gq.clone()
    opt.step()
    m, v = 0.1 * g, 0.001 * g * g
    want = p0 - lr * (m / (v.sqrt() + eps) + wd * p0)
    assert torch.allclose(p.detach(), want, atol=1e-7)
    mq, vq = 0.1 * gq, 0.001 * gq * gq
    assert torch.allclose(q.detach(), q0 - lr * mq / (vq.sqrt() + eps), atol=1e-7)
    # with bias correction the first update would be ~lr * sign(g); without it is ~3.16 * lr
    assert abs(float(p0[2] - p.detach()[2]) - lr * (0.1 / math.sqrt(0.001) + wd * 0.5)) < 1e-5


def test_no_weight_decay_on_layernorm_and_bias():
    m = make_model()
    decay, no_decay = param_groups(m, 0.01)
    assert decay["weight_decay"] == 0.01 and no_decay["weight_decay"] == 0.0
    ids_nd = {id(p) for p in no_decay["params"]}
    for name, p in m.named_parameters():
        is_nd = "LayerNorm" in name or "bias" in name
        assert (id(p) in ids_nd) == is_nd, name
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(m.parameters()))


def test_lr_schedule_warmup_times_decay():
    # official create_optimizer: polynomial_decay(power 1) * min(1, global_step / warmup), global_step from 0
    W, T = 10, 100
    assert lr_factor(0, W, T) == 0.0
    assert lr_factor(1, W, T) == pytest.approx(0.1 * (1 - 1 / 100))
    assert lr_factor(5, W, T) == pytest.approx(0.5 * (1 - 5 / 100))  # multiplied, not sequential
    assert lr_factor(10, W, T) == pytest.approx(1 - 10 / 100)
    assert lr_factor(50, W, T) == pytest.approx(0.5)
    assert lr_factor(99, W, T) == pytest.approx(0.01)
    assert lr_factor(100, W, T) == 0.0
    assert lr_factor(3, 0, T) == pytest.approx(0.97)


# ---------------------------------------------------------------------------------------------- data

def test_batch_iterator_resumable_and_covers_epoch(shards):
    split = ShardSplit(shards, "train")
    assert split.num_examples == 384 and len(split.files) == 4
    it = BatchIterator(split, 10, seed=7)
    seen = []
    for _ in range(5):
        b = it.next_batch()
        assert b["input_ids"].shape[1] == int(b["attention_mask"].sum(1).max())  # dynamic padding
        assert torch.equal(b["input_ids"] != 0, b["attention_mask"].bool())
        seen.append(b)
    pos = it.state()
    assert pos == {"epoch": 0, "offset": 50}
    nxt = [it.next_batch() for _ in range(40)]  # crosses into epoch 1
    assert it.state()["epoch"] == 1
    it2 = BatchIterator(split, 10, seed=7, position=pos)
    for a in nxt:
        b = it2.next_batch()
        for k in a:
            assert torch.equal(a[k], b[k])
    # one epoch visits every example exactly once
    it3 = BatchIterator(split, 384, seed=1)
    one = it3.next_batch()
    it4 = BatchIterator(split, 384, seed=1, shuffle=False)
    ref = it4.next_batch()

    def rows(b):
        return sorted(tuple(r[r != 0].tolist()) for r in b["input_ids"])
    assert rows(one) == rows(ref)
    assert it4.next_batch() is None


# ---------------------------------------------------------------------------------------------- pretrain

def test_pretrain_learns_and_exports(trained):
    from transformers import (AutoModel, AutoModelForMaskedLM, AutoModelForPreTraining, ElectraForMaskedLM,
                              ElectraForPreTraining, ElectraModel)
    root, m = trained
    out = root / "electra"
    curve = (root / "curve.tsv").read_text().splitlines()
    header = curve[0].split("\t")
    assert header[:7] == ["step", "lr", "loss", "gen_loss", "gen_acc", "disc_loss", "disc_acc"]
    rows = [dict(zip(header, map(float, line.split("\t")))) for line in curve[1:]]
    assert len(rows) == 10 and rows[-1]["step"] == 200
    first = np.mean([r["disc_loss"] for r in rows[:2]])
    last = np.mean([r["disc_loss"] for r in rows[-3:]])
    assert last < 0.8 * first, (first, last)
    assert rows[-1]["gen_loss"] < rows[0]["gen_loss"]
    metrics = json.loads((root / "metrics.json").read_text())
    for k in ("train_disc_loss", "train_disc_acc", "val_disc_acc", "val_gen_loss", "tokens_seen", "seconds",
              "tokens_per_second", "device", "disc_params", "gen_params"):
        assert metrics[k] is not None, k
    assert metrics["device"] == "cpu" and metrics["steps"] == 200
    # better than always answering "original", and it does find replaced tokens
    assert metrics["val_disc_acc"] > 1 - metrics["val_replaced_fraction"], metrics
    assert metrics["val_replaced_recall"] > 0.1, metrics
    # HF loading
    d = AutoModelForPreTraining.from_pretrained(out)
    assert isinstance(d, ElectraForPreTraining)
    assert sum(p.numel() for p in d.parameters()) == metrics["disc_params"]
    assert isinstance(AutoModel.from_pretrained(out), ElectraModel)
    g = AutoModelForMaskedLM.from_pretrained(out / "generator")
    assert isinstance(g, ElectraForMaskedLM) and g.config.hidden_size == 16
    assert torch.equal(g.electra.embeddings.word_embeddings.weight, d.electra.embeddings.word_embeddings.weight)
    assert g.generator_lm_head.weight is g.electra.embeddings.word_embeddings.weight
    for name in ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spm.model", "README.md",
                 "model.safetensors", "config.json"):
        assert (out / name).is_file(), name
    card = (out / "README.md").read_text()
    assert "corpus_sha" in card and "abc123" in card and "language:\n  - xx" in card
    # exported weights equal the final checkpoint's
    ck = latest_checkpoint(root / "ckpt")
    assert ck.name == "step-000000200"
    st = torch.load(ck / "state.pt", weights_only=True)
    assert st["step"] == 200 and st["data"]["epoch"] >= 1
    ckw = load_file(str(ck / "model.safetensors"))
    assert torch.equal(ckw["discriminator.electra.encoder.layer.1.output.dense.weight"],
                       d.electra.encoder.layer[1].output.dense.weight)


def _weights(folder: Path) -> dict:
    return {**load_file(str(folder / "model.safetensors")),
            **{f"gen.{k}": v for k, v in load_file(str(folder / "generator" / "model.safetensors")).items()}}


def test_deterministic_and_exact_resume(tmp_path, shards):
    p = tiny_params(steps=16, checkpoint_every=6, log_every=4, eval_batches=1)

    def run(name, **kw):
        d = tmp_path / name
        return pretrain(shards, None, d / "out", d / "ck", p, d / "m.json", d / "c.tsv", **kw), d

    _, a = run("a")
    _, b = run("b")
    assert (a / "out/model.safetensors").read_bytes() == (b / "out/model.safetensors").read_bytes()
    assert (a / "out/generator/model.safetensors").read_bytes() == \
        (b / "out/generator/model.safetensors").read_bytes()
    # interrupted at step 9 (between checkpoints 6 and 12), then resumed to 16
    r, c = run("c", stop_after=9)
    assert r["completed"] is False and r["stopped_at"] == 9
    assert not (c / "out").exists()
    assert latest_checkpoint(c / "ck").name == "step-000000009"
    m2, _ = run("c")
    assert m2["resumed_from_step"] == 9
    wa, wc = _weights(a / "out"), _weights(c / "out")
    assert wa.keys() == wc.keys()
    for k in wa:
        assert torch.equal(wa[k], wc[k]), k
    ca = (a / "c.tsv").read_text().splitlines()
    cc = (c / "c.tsv").read_text().splitlines()
    assert [line.split("\t")[:10] for line in ca] == [line.split("\t")[:10] for line in cc]
    # only the newest two checkpoints are kept
    assert sorted(x.name for x in (a / "ck").iterdir()) == ["step-000000012", "step-000000016"]


def test_grad_accum_and_mlm_objective(tmp_path, shards):
    from transformers import AutoModelForMaskedLM, AutoModelForPreTraining
    p = tiny_params(objective="mlm", steps=6, batch_size=16, grad_accum=2, log_every=3, checkpoint_every=100,
                    eval_batches=1)
    m = pretrain(shards, None, tmp_path / "out", tmp_path / "ck", p, tmp_path / "m.json", tmp_path / "c.tsv")
    assert m["objective"] == "mlm" and m["val_disc_acc"] is None and m["val_gen_loss"] is not None
    assert m["examples_seen"] == 6 * 16
    d = AutoModelForPreTraining.from_pretrained(tmp_path / "out")
    g = AutoModelForMaskedLM.from_pretrained(tmp_path / "out" / "generator")
    assert g.config.hidden_size == d.config.hidden_size == 64
    assert torch.equal(d.electra.encoder.layer[0].attention.self.query.weight,
                       g.electra.encoder.layer[0].attention.self.query.weight)


def test_resume_refuses_other_architecture(tmp_path, shards):
    p = tiny_params(steps=2, checkpoint_every=1, eval_batches=0)
    pretrain(shards, None, tmp_path / "o", tmp_path / "ck", p, tmp_path / "m.json", tmp_path / "c.tsv",
             stop_after=1)
    with pytest.raises(ValueError, match="different model"):
        pretrain(shards, None, tmp_path / "o", tmp_path / "ck", dict(p, hidden_size=32), tmp_path / "m.json",
                 tmp_path / "c.tsv")


# ---------------------------------------------------------------------------------------------- finetune

def _cls_data(n, seed):
    """Label 1 iff a marker token occurs; tokens from the pre-training vocabulary in use; two segments."""
    rng = np.random.default_rng(seed)
    vocab = sorted({t for body in templates() for t in body if t > 4})
    marker, vocab = vocab[0], vocab[1:]
    out = []
    for _ in range(n):
        body = [int(x) for x in rng.choice(vocab, size=int(rng.integers(6, 14)))]
        y = int(rng.random() < 0.5)
        if y:
            body[int(rng.integers(len(body)))] = marker
        cut = len(body) // 2
        ids = [2] + body[:cut] + [3] + body[cut:] + [3]
        out.append({"input_ids": ids, "token_type_ids": [0] * (cut + 2) + [1] * (len(body) - cut + 1), "label": y})
    return out


def _tag_data(n, seed):
    """Tag 1 for even token ids; -100 on specials and on every third token ('non-first sub-tokens')."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        body = [int(x) for x in rng.integers(5, VOCAB, size=int(rng.integers(5, 15)))]
        ids = [2] + body + [3]
        lab = [-100] + [(t % 2 == 0) * 1 if i % 3 != 2 else -100 for i, t in enumerate(body)] + [-100]
        out.append({"input_ids": ids, "token_type_ids": [0] * len(ids), "label": [int(x) for x in lab]})
    return out


def test_finetune_classification_learns(trained):
    root, _ = trained
    train, dev = _cls_data(256, 0), _cls_data(100, 1)
    # lr 1e-3: at 3e-3 this was a coin flip over pre-training seeds (2 of 4 reached > 0.8, with either
    # generator sampler; 2026-12-05); at 1e-3, 12 of 12 (4 pre-training x 3 fine-tuning seeds), lowest 0.94
    hp = dict(learning_rate=1e-3, epochs=12, batch_size=16, seed=0, layerwise_lr_decay=0.8, device="cpu")
    r = finetune(root / "electra", "pair_classification", 2, train, dev, hp)
    acc = np.mean([p == y for p, y in zip(r["predictions"], r["labels"])])
    assert acc > 0.8, acc
    assert r["steps"] == 12 * 16 and isinstance(r["train_loss"], float) and r["seconds"] > 0
    assert r["labels"] == [e["label"] for e in dev]
    r2 = finetune(root / "electra", "pair_classification", 2, train[:64], dev[:20], dict(hp, epochs=1))
    r3 = finetune(root / "electra", "pair_classification", 2, train[:64], dev[:20], dict(hp, epochs=1))
    assert r2["predictions"] == r3["predictions"] and r2["train_loss"] == r3["train_loss"]  # deterministic


def test_finetune_tagging_and_regression_random_init(trained):
    root, _ = trained
    arch = json.loads((root / "electra" / "config.json").read_text())
    pre = load_backbone(root / "electra")
    rnd = load_backbone(None, arch)
    assert [(n, p.shape) for n, p in pre.named_parameters()] == [(n, p.shape) for n, p in rnd.named_parameters()]
    assert not torch.equal(pre.encoder.layer[0].output.dense.weight, rnd.encoder.layer[0].output.dense.weight)
    train, dev = _tag_data(200, 0), _tag_data(40, 1)
    hp = dict(learning_rate=2e-3, epochs=5, batch_size=16, seed=0, device="cpu")
    r = finetune(None, "tagging", 2, train, dev, hp, arch=arch)
    assert len(r["predictions"]) == len(dev)
    for p, y, e in zip(r["predictions"], r["labels"], dev):
        assert len(p) == len(y) == sum(1 for x in e["label"] if x != -100)
        assert y == [x for x in e["label"] if x != -100]
    flat_p = sum(r["predictions"], [])
    flat_y = sum(r["labels"], [])
    assert np.mean(np.array(flat_p) == np.array(flat_y)) > 0.8
    reg_train = [dict(e, label=float(e["label"]) * 2.0 - 0.5) for e in _cls_data(64, 2)]
    r = finetune(root / "electra", "regression", 1, reg_train, reg_train[:10], dict(hp, epochs=1))
    assert len(r["predictions"]) == 10 and all(isinstance(x, float) for x in r["predictions"])


def test_layerwise_lr_follows_official_code(trained):
    root, _ = trained
    m = ElectraFinetuner(load_backbone(root / "electra"), 3, per_token=False)
    lr, d, L = 1.0, 0.5, 2
    groups = layerwise_param_groups(m, lr, d, 0.0)
    by_name = {n: g["base_lr"] for g in groups for n in g["names"]}
    assert by_name["head.weight"] == lr
    assert by_name["electra.encoder.layer.1.attention.self.query.weight"] == pytest.approx(lr * d ** (L + 1 - 1))
    assert by_name["electra.encoder.layer.0.output.dense.bias"] == pytest.approx(lr * d ** (L + 1))
    assert by_name["electra.embeddings.word_embeddings.weight"] == pytest.approx(lr * d ** (L + 2))
    assert by_name["electra.embeddings_project.weight"] == pytest.approx(lr * d ** (L + 2))
    assert len(by_name) == len(list(m.parameters()))
