"""The exported folders are what a Hugging Face user expects: the tokenizer truncates to the model's positions,
`pipeline("fill-mask")` works on `generator/`, and the discriminator loads into the task classes.

Built for real: the vocab and shard stages on a slice of text/en, a short `tiny` (ConvBERT) pre-training, export.
"""
from __future__ import annotations

import pytest

from tests.conftest import SHARED, require_shared

pytestmark = pytest.mark.slow

PRETRAIN = {"steps": 30, "batch_size": 16, "learning_rate": 1e-3, "warmup_steps": 5, "device": "cpu", "seed": 1,
            "log_every": 10, "checkpoint_every": 10 ** 9, "eval_batches": 1}


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    require_shared("text", "en")
    from benchmarks.rtd_vs_mlm import prepare_corpus, pretrain_model
    tmp = tmp_path_factory.mktemp("hf")
    root = prepare_corpus("en", tmp / "en", SHARED / "text" / "en", vocab_size=2000, max_seq_length=64,
                          max_chars=300_000)
    pretrain_model(root, "en", tmp / "model", PRETRAIN, threads=1)
    return tmp / "model"


def test_tokenizer_truncates_to_the_model_positions(exported):
    import torch
    from transformers import AutoConfig, AutoModel, AutoTokenizer
    for folder in (exported, exported / "generator"):
        tok = AutoTokenizer.from_pretrained(folder)
        positions = AutoConfig.from_pretrained(folder).max_position_embeddings
        assert tok.model_max_length == positions == 64
    tok = AutoTokenizer.from_pretrained(exported)
    enc = tok(" ".join(["the quick brown fox jumps over the lazy dog"] * 60), truncation=True, return_tensors="pt")
    assert enc["input_ids"].shape[1] == 64
    with torch.no_grad():  # a forward pass on the truncated input does not crash
        AutoModel.from_pretrained(exported)(**enc)


def test_fill_mask_pipeline_on_the_generator_fills_real_tokens(exported):
    """A word of held-out text (web sentences, not in the training text) masked; the generator folder, loaded
    by name alone, fills it with real vocabulary pieces."""
    from transformers import pipeline
    lines = require_shared("langid", "lingua_sentences", "en.txt").read_text(encoding="utf-8").splitlines()
    words = next(s.split() for s in lines if len(s.split()) >= 10)
    sentence = " ".join(words[:4] + ["[MASK]"] + words[5:])
    fill = pipeline("fill-mask", model=str(exported / "generator"), device="cpu")
    out = fill(sentence)
    pieces = fill.tokenizer.convert_ids_to_tokens([o["token"] for o in out])
    assert len(out) == 5 and all(o["token"] > 4 for o in out)  # not [PAD]/[UNK]/[CLS]/[SEP]/[MASK]
    # real pieces, not empty strings (the bare word-boundary piece '▁' alone decodes to nothing)
    assert all(o["token_str"].strip() for o, p in zip(out, pieces) if p != "▁"), out
    assert sum(p != "▁" for p in pieces) >= 4, pieces
    assert all(0.0 <= o["score"] <= 1.0 for o in out) and "[MASK]" not in out[0]["sequence"]


def test_discriminator_loads_into_task_classes(exported):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer, pipeline
    tagger = pipeline("token-classification", model=str(exported), device="cpu")
    assert isinstance(tagger("Rain fell on the hills."), list)
    clf = AutoModelForSequenceClassification.from_pretrained(exported, num_labels=3)
    assert clf.config.model_type == "convbert"  # tiny's backbone, loaded by the Auto classes as such
    tok = AutoTokenizer.from_pretrained(exported)
    assert clf(**tok("A short sentence.", return_tensors="pt")).logits.shape == (1, 3)
