"""Real signal: pre-training on real English text, then the evaluation harness shows the pre-trained model
beating the same architecture from random initialisation on UPOS, seed by seed.

Budget (2 CPU cores; one torch thread for pre-training, two fine-tuning workers): ~15 s to build the
tokenizer and shards with the real vocab and shard stages from text/en (3.9 MB), ~3-4 min of pre-training,
~1-2 min of fine-tuning (6 seeds x 2 models). About 5-6 minutes.

What is pre-trained, and why: the `tiny` size (a ConvBERT whose convolution heads start on the previous / next
token, docs/pretraining.md "Backbones") with the `mlm` objective. With the ELECTRA objective that backbone does
learn replaced-token detection in a CPU-test budget (AUC 0.77-0.80 after 1000 steps on en, tr, sw, ko), but at
~1.3e13 FLOPs its discriminator fine-tunes only at random-init level (UPOS, 200 sentences: en +0.6 points, 4/5
seeds; tr -1.8, 0/5), while MLM on the same backbone and FLOPs gains +7.5 to +9.8 (docs/evaluation.md,
benchmarks/results/rtd_vs_mlm-2026-12-03-*.md). So the ELECTRA-beats-random-init test cannot pass honestly yet;
this one checks that the harness measures a real benefit where pre-training matters: few labelled sentences.
"""
from __future__ import annotations

import math
import statistics

import pytest

from tests.conftest import REPO, SHARED, require_shared

pytestmark = pytest.mark.slow

PRETRAIN = {"objective": "mlm", "steps": 1500, "batch_size": 32, "learning_rate": 1e-3, "warmup_steps": 100,
            "mask_prob": 0.15, "device": "cpu", "seed": 1, "log_every": 500, "checkpoint_every": 10 ** 9,
            "eval_batches": 5}
# UD English-EWT: only the test file is in the shared data -> the suite's seeded 70/30 split of it
UPOS = dict(name="upos", type="tagging", format="conllu", train="ud/UD_English-EWT/en_ewt-ud-test.conllu",
            dev_fraction=0.3, max_train_examples=200, max_eval_examples=500, max_length=64, epochs=10,
            learning_rate=1e-3)
SEEDS = 6
MIN_WINS = 5


def test_pretraining_beats_random_init_on_upos(tmp_path, monkeypatch):
    require_shared("text", "en")
    require_shared("ud", "UD_English-EWT", "en_ewt-ud-test.conllu")
    monkeypatch.setenv("FOUNDRY_DATA_ROOT", str(SHARED))
    from benchmarks.rtd_vs_mlm import prepare_corpus, pretrain_model
    from pipeline.config import EvaluateSettings
    from pipeline.evaluation.harness import ModelUnderTest, evaluate_model
    from pipeline.evaluation.scorecard import render_scorecard

    root = prepare_corpus("en", tmp_path / "en", SHARED / "text" / "en", vocab_size=4000, max_seq_length=64)
    metrics = pretrain_model(root, "en", tmp_path / "model", PRETRAIN, threads=1)
    assert metrics["steps"] == PRETRAIN["steps"]
    res = evaluate_model(ModelUnderTest(tmp_path / "model", device="cpu", language="en"),
                         EvaluateSettings(tasks=[UPOS], seeds=SEEDS, workers=2), REPO)
    up = res["tasks"]["upos"]
    print(render_scorecard(res))
    pre, rnd = up["pretrained"]["seed_scores"], up["random_init"]["seed_scores"]
    diffs = [pre[s] - rnd[s] for s in pre]  # paired: the same seed = same head init, data order, dropout
    mean = statistics.fmean(diffs)
    t = mean / (statistics.stdev(diffs) / math.sqrt(len(diffs)))
    print(f"paired differences (points): {[round(100 * d, 2) for d in diffs]}; mean {100 * mean:+.2f}, t = {t:.2f}")
    assert up["dev_words_scored"] >= 0.95 * up["dev_words"]  # max_length 64 = the pre-training length
    # real signal, not noise: better in most paired seeds, on average, and by the median
    assert up["paired"]["wins"] >= MIN_WINS, diffs
    assert mean > 0.005 and t > 2.6, (diffs, t)  # one-sided paired t-test, p < 0.025 at 5 d.o.f.
    assert up["delta"] > 0, (up["pretrained"]["seeds"], up["random_init"]["seeds"])
    # the pre-trained encoder is not collapsed (the diagnostic the scorecard warns with)
    assert res["representations"]["pretrained"]["final_layer_token_cosine"] < 0.9
