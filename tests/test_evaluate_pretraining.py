"""Real signal: pre-training on real English text, then the evaluation harness shows the pre-trained model
beating the same architecture from random initialisation on UPOS, seed by seed.

Budget (2 CPU cores; one torch thread for pre-training, two fine-tuning workers): ~15 s to build the
tokenizer and shards with the real vocab and shard stages from text/en (3.9 MB), ~3-4 min of pre-training,
~1-2 min of fine-tuning (6 seeds x 2 models). About 5-6 minutes.

What is pre-trained: the `tiny` size as it ships -- a ConvBERT whose convolution heads start on the previous /
next token, trained with ELECTRA's replaced-token detection plus the discriminator's corrective MLM
(`disc_mlm_weight` 5) at lr 5e-4 (docs/pretraining.md, "Backbones" and "What replaced-token detection does to the
attention heads"). Measured 2026-12-03: 76.2 vs 71.5, paired +4.80 points, 6/6 seeds, t = 24.7. (The paper's
ELECTRA backbone at this budget fine-tuned 15-21 points *below* random init; the ConvBERT without the corrective
MLM at lr 1e-3 at random-init level, +0.6. MLM on the same backbone, which this test ran until then: +9.1, t 30.9.)
"""
from __future__ import annotations

import math
import statistics

import pytest

from tests.conftest import REPO, SHARED, require_shared

pytestmark = pytest.mark.slow

# the ELECTRA objective as `tiny` runs it (measured at 1000 steps of 128 tokens: +4.8 UPOS points, 5/5 seeds,
# docs/pretraining.md); here 1500 steps of 64 tokens
PRETRAIN = {"objective": "electra", "steps": 1500, "batch_size": 32, "learning_rate": 5e-4, "warmup_steps": 100,
            "mask_prob": 0.15, "device": "cpu", "seed": 1, "log_every": 500, "checkpoint_every": 10 ** 9,
            "eval_batches": 5}
# UD English-EWT: only the test file is in the shared data -> the suite's seeded 70/30 split of it
UPOS = dict(name="upos", type="tagging", format="conllu", train="ud/UD_English-EWT/en_ewt-ud-test.conllu",
            dev_fraction=0.3, max_train_examples=200, max_eval_examples=500, max_length=64, epochs=10,
            learning_rate=1e-3)
SEEDS = 6
MIN_WINS = 5


def test_electra_pretraining_beats_random_init_on_upos(tmp_path, monkeypatch):
    """The test issue 5 could not write: a few CPU minutes of replaced-token-detection pre-training beat random
    initialisation on UPOS, paired over seeds."""
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
    assert metrics["val_disc_auc"] > 0.6  # replaced-token detection was learnt, not only the corrective MLM
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
