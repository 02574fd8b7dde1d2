"""The DeBERTa backbone (model.backbones, ``backbone: deberta``) and gradient-disentangled embedding sharing
(model.gdes, ``embedding_sharing: gdes``): native HF classes, a few real training steps, export round trips."""
from __future__ import annotations

import math

import pytest
import torch
from transformers import AutoModel, AutoModelForTokenClassification, DebertaV2ForMaskedLM, DebertaV2Model

from model.backbones import (RTD_HEAD_FILE, DebertaV2ForPreTraining, encoder, load_discriminator, mlm_head,
                             save_discriminator)
from model.electra import ElectraPretrainer, build_pretrainer
from model.gdes import GdesEmbedding
from model.optim import AdamWeightDecay, param_groups

ARCH = dict(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128, embedding_size=32,
            generator_fraction=0.25, generator_layers=1.0)


def _batch(seed=0, b=3, n=40, vocab=200):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, vocab, (b, n), generator=g)
    ids[:, 0], ids[:, -1] = 2, 3
    return ids


def _model(backbone="deberta", **kw):
    torch.manual_seed(0)
    return build_pretrainer({**ARCH, "backbone": backbone, **kw}, 200, 40)


def test_deberta_pretrainer_is_native_deberta_v3_with_shared_word_embeddings():
    m = _model()
    assert isinstance(m.discriminator, DebertaV2ForPreTraining) and isinstance(m.generator, DebertaV2ForMaskedLM)
    d, g = m.discriminator.deberta.embeddings, m.generator.deberta.embeddings
    assert g.word_embeddings is d.word_embeddings and g.token_type_embeddings is d.token_type_embeddings
    # each model projects embedding_size to its own width and normalises there: those stay its own
    assert g.embed_proj.weight.shape == (16, 32) and d.embed_proj.weight.shape == (64, 32)
    assert g.LayerNorm is not d.LayerNorm
    assert mlm_head(m.generator)[1].weight is d.word_embeddings.weight
    cfg = m.discriminator.config
    assert cfg.relative_attention and not cfg.position_biased_input and cfg.position_buckets == 256
    assert d.position_embeddings is None  # relative positions only (DeBERTa-v3)


def test_a_few_training_steps_move_the_relative_positions_and_lower_the_loss():
    m = _model()
    opt = AdamWeightDecay(param_groups(m, 0.01), lr=3e-3, betas=(0.9, 0.999), eps=1e-6)
    rel = m.discriminator.deberta.encoder.rel_embeddings.weight
    before, losses = rel.detach().clone(), []
    for step in range(6):
        out = m(_batch(0), generator=torch.Generator().manual_seed(step))
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(float(out["loss"].detach()))
    assert all(math.isfinite(x) for x in losses)
    assert not torch.equal(rel, before)
    assert losses[-1] < losses[0]


def test_relative_lr_scale_puts_the_relative_positions_in_a_group_of_their_own():
    m = _model()
    groups = param_groups(m, 0.01, {"rel_embeddings": 10.0, "encoder.LayerNorm": 10.0})
    scaled = [g for g in groups if g.get("lr_scale") == 10.0]
    ids = {id(p) for g in scaled for p in g["params"]}
    enc = m.discriminator.deberta.encoder
    assert {id(enc.rel_embeddings.weight), id(enc.LayerNorm.weight), id(enc.LayerNorm.bias)} <= ids
    assert sum(len(g["params"]) for g in groups) == len(list(m.parameters()))
    assert all("lr_scale" not in g for g in param_groups(m, 0.01)[:2]) and len(param_groups(m, 0.01)) == 2


@pytest.mark.parametrize("sharing", ["full", "gdes"])
def test_deberta_discriminator_exports_as_native_deberta_with_its_rtd_head(tmp_path, sharing):
    m = _model(embedding_sharing=sharing)
    if sharing == "gdes":  # a delta that is not zero, as after training
        torch.nn.init.normal_(m.discriminator.deberta.embeddings.word_embeddings.delta, std=0.05)
    m.eval()
    files = save_discriminator(m.discriminator, tmp_path)
    m.generator.save_pretrained(tmp_path / "generator")
    assert RTD_HEAD_FILE in files
    ids = _batch(5)
    with torch.no_grad():
        ref = m.discriminator(ids).logits
        again = load_discriminator(tmp_path).eval()(ids).logits
    assert torch.allclose(ref, again, atol=1e-6)
    enc = AutoModel.from_pretrained(tmp_path)
    assert type(enc) is DebertaV2Model
    want = m.discriminator.deberta.embeddings.word_embeddings.weight  # E (+ E_delta under gdes)
    assert torch.allclose(enc.embeddings.word_embeddings.weight, want)
    assert AutoModelForTokenClassification.from_pretrained(tmp_path, num_labels=4)(ids).logits.shape == (3, 40, 4)
    m2 = ElectraPretrainer.from_pretrained(tmp_path)
    assert m2.generator.deberta.embeddings.word_embeddings is m2.discriminator.deberta.embeddings.word_embeddings
    # the module being exported keeps training as GDES after the export
    assert isinstance(m.discriminator.deberta.embeddings.word_embeddings, GdesEmbedding) == (sharing == "gdes")


@pytest.mark.parametrize("backbone", ["convbert", "deberta", "electra"])
def test_gdes_keeps_the_discriminator_loss_off_the_shared_embeddings(tmp_path, backbone):
    m = _model(backbone, embedding_sharing="gdes")
    gen_emb = encoder(m.generator).embeddings.word_embeddings
    disc_emb = encoder(m.discriminator).embeddings.word_embeddings
    assert isinstance(disc_emb, GdesEmbedding) and disc_emb.source is gen_emb
    assert torch.count_nonzero(disc_emb.delta) == 0 and torch.equal(disc_emb.weight, gen_emb.weight)
    out = m(_batch(), generator=torch.Generator().manual_seed(1))
    (m.disc_weight * out["disc_loss"]).backward(retain_graph=True)
    assert gen_emb.weight.grad is None or torch.count_nonzero(gen_emb.weight.grad) == 0
    assert torch.count_nonzero(disc_emb.delta.grad) > 0
    m.zero_grad()
    out["gen_loss"].backward()
    assert torch.count_nonzero(gen_emb.weight.grad) > 0 and disc_emb.delta.grad is None
    # one parameter E (the generator's) and one delta: a checkpoint holds each once
    names = [n for n, _ in m.named_parameters() if "word_embeddings" in n]
    assert len(names) == 2 and any(n.endswith("word_embeddings.delta") for n in names)
    # under full sharing (the paper) the discriminator's loss does reach E
    full = _model(backbone)
    (full.disc_weight * full(_batch(), generator=torch.Generator().manual_seed(1))["disc_loss"]).backward()
    assert torch.count_nonzero(encoder(full.generator).embeddings.word_embeddings.weight.grad) > 0


def test_embedding_sharing_and_deberta_are_checked_settings():
    from model.sizes import resolve_params
    from pipeline.config.sections import ModelSettings, PretrainSettings
    p = resolve_params({"size": "tiny", "backbone": "deberta"})
    assert p["pack"] is False and p["local_init"] == "none"
    with pytest.raises(ValueError, match="pack: true does not work with backbone deberta"):
        resolve_params({"size": "tiny", "backbone": "deberta", "pack": True})
    with pytest.raises(ValueError, match="needs backbone convbert or electra, not deberta"):
        resolve_params({"size": "tiny", "backbone": "deberta", "local_init": "prevnext"})
    with pytest.raises(ValueError, match="embedding_sharing must be one of full, gdes"):
        _model(embedding_sharing="half")
    assert ModelSettings(size="tiny", backbone="deberta").backbone == "deberta"
    assert PretrainSettings(embedding_sharing="gdes").embedding_sharing == "gdes"
    with pytest.raises(ValueError):
        PretrainSettings(embedding_sharing="half")


def test_electra_prevnext_starts_two_heads_per_layer_on_the_neighbours_and_exports_as_plain_electra(tmp_path):
    from transformers import ElectraForPreTraining

    from model.diagnostics import neighbour_attention
    m = _model("electra", local_init="prevnext", num_attention_heads=4, attn_implementation="eager").eval()
    ids = _batch(2)
    mask = torch.ones_like(ids)
    with torch.no_grad():
        att = m.discriminator.electra(ids, output_attentions=True).attentions
    for a in att:
        prev = a.diagonal(offset=-1, dim1=-2, dim2=-1).mean((0, 2))
        nxt = a.diagonal(offset=1, dim1=-2, dim2=-1).mean((0, 2))
        assert prev[0] > 0.8 and nxt[1] > 0.8 and prev[1] < 0.05 and nxt[0] < 0.05
        assert nxt[2] < 0.2 and prev[3] < 0.2  # the other heads keep transformers' initialisation
    assert min(neighbour_attention(att, mask)) > 0.8
    plain = _model("electra", num_attention_heads=4, attn_implementation="eager").eval()
    with torch.no_grad():
        assert max(neighbour_attention(plain.discriminator.electra(ids, output_attentions=True).attentions, mask)) < 0.2
    save_discriminator(m.discriminator, tmp_path)
    back = AutoModel.from_pretrained(tmp_path)
    assert type(load_discriminator(tmp_path)) is ElectraForPreTraining
    assert torch.equal(back.embeddings.position_embeddings.weight,
                       m.discriminator.electra.embeddings.position_embeddings.weight)


def test_deberta_export_fine_tunes_with_layerwise_decay_and_has_a_random_init_twin(tmp_path):
    """Evaluation's path on a DeBERTa export: fine-tuning from it (layer-wise lr decay over DeBERTa's layer names)
    learns a token task, and the random-init baseline built from its config.json has the same parameters."""
    import json

    import numpy as np

    from model.finetune import finetune, layerwise_param_groups, load_backbone, ElectraFinetuner
    m = _model().eval()
    save_discriminator(m.discriminator, tmp_path)
    arch = json.loads((tmp_path / "config.json").read_text())
    pre, rnd = load_backbone(tmp_path), load_backbone(None, arch)
    assert type(pre) is type(rnd) is DebertaV2Model
    assert [(n, p.shape) for n, p in pre.named_parameters()] == [(n, p.shape) for n, p in rnd.named_parameters()]
    groups = layerwise_param_groups(ElectraFinetuner(pre, 2, per_token=True), 1.0, 0.5, 0.0)
    lrs = {n: g["base_lr"] for g in groups for n in g["names"]}
    assert lrs["head.weight"] == 1.0 and lrs["electra.encoder.layer.1.output.dense.weight"] == 0.25  # top: d^2
    assert lrs["electra.encoder.layer.0.output.dense.weight"] == 0.125
    # the relative embeddings and their LayerNorm, read by every layer, go with the embeddings
    assert (lrs["electra.embeddings.word_embeddings.weight"] == lrs["electra.encoder.rel_embeddings.weight"]
            == lrs["electra.encoder.LayerNorm.weight"] == 0.0625)
    from tests.test_model import _tag_data  # tag 1 for even token ids
    train, dev = _tag_data(200, 0), _tag_data(40, 1)
    hp = dict(learning_rate=2e-3, epochs=5, batch_size=16, seed=0, layerwise_lr_decay=0.8, device="cpu")
    for init in (tmp_path, None):
        r = finetune(init, "tagging", 2, train, dev, hp, arch=arch)
        acc = np.mean(np.array(sum(r["predictions"], [])) == np.array(sum(r["labels"], [])))
        assert acc > 0.8, (init, acc)
