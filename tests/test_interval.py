"""pipeline.evaluation.interval and metrics.resampled: the bootstrap interval of a delta, and the warnings it
decides (below random init only when the whole interval is below 0; "nothing measurable" when it spans 0)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from pipeline.evaluation import metrics as M
from pipeline.evaluation.interval import average_deltas, interval, replicate_deltas, verdict
from pipeline.evaluation.warnings import model_warnings
from pipeline.layout import Layout


def _cases(rng, n=60):
    y = [str(v) for v in rng.choice(["a", "b", "c"], size=n)]
    p = [v if rng.random() < 0.6 else str(rng.choice(["a", "b", "c"])) for v in y]
    tags = [[str(t) for t in rng.choice(["B-PER", "I-PER", "O", "O", "B-LOC"], size=int(rng.integers(1, 9)))]
            for _ in range(n)]
    ptags = [[t if rng.random() < 0.7 else "O" for t in s] for s in tags]
    gold = rng.normal(size=n)
    pred = gold + rng.normal(size=n)
    return [("accuracy", p, y, M.accuracy(p, y)), ("mcc", p, y, M.matthews_corrcoef(p, y)),
            ("spearman", pred, gold, M.spearman(pred, gold)), ("pearson", pred, gold, M.pearson(pred, gold)),
            ("token_accuracy", ptags, tags, M.token_accuracy(ptags, tags)),
            ("entity_f1", ptags, tags, M.entity_f1(ptags, tags))]


@pytest.mark.parametrize("seed", range(4))
def test_resampled_equals_the_metric_on_the_drawn_examples(seed):
    rng = np.random.default_rng(seed)
    for metric, p, y, full in _cases(rng):
        n = len(y)
        counts = np.vstack([np.ones(n, dtype=int), rng.multinomial(n, np.full(n, 1 / n), size=3)])
        got = M.resampled(metric, p, y, counts)
        assert got[0] == pytest.approx(full), metric   # a row of ones: the data itself
        fn = {"accuracy": M.accuracy, "mcc": M.matthews_corrcoef, "spearman": M.spearman, "pearson": M.pearson,
              "token_accuracy": M.token_accuracy, "entity_f1": M.entity_f1}[metric]
        for row, val in zip(counts[1:], got[1:]):
            take = np.repeat(np.arange(n), row)
            assert val == pytest.approx(fn([p[i] for i in take], [y[i] for i in take])), metric


def test_resampled_rejects_an_unknown_metric_and_a_wrong_shape():
    with pytest.raises(ValueError, match="no resampling rule"):
        M.resampled("bleu", ["a"], ["a"], np.ones((1, 1)))
    with pytest.raises(ValueError, match="B x 2"):
        M.resampled("accuracy", ["a", "b"], ["a", "b"], np.ones((1, 3)))


def _predictor(rng, gold, acc):
    return [g if rng.random() < acc else ("b" if g == "a" else "a") for g in gold]


def test_interval_separates_a_real_gain_from_noise():
    rng = np.random.default_rng(0)
    gold = [str(v) for v in rng.choice(["a", "b"], size=400)]
    better = [_predictor(rng, gold, 0.8) for _ in range(3)]
    worse = [_predictor(rng, gold, 0.6) for _ in range(3)]
    same = [_predictor(rng, gold, 0.6) for _ in range(3)]
    up = interval(replicate_deltas("accuracy", gold, better, worse))
    assert 0.05 < up["low"] < 0.2 < up["high"] < 0.3 and verdict(0.2, up) == "above"
    down = interval(replicate_deltas("accuracy", gold, worse, better))
    assert down["high"] < 0 and verdict(-0.2, down) == "below"
    noise = interval(replicate_deltas("accuracy", gold, same, worse))
    assert noise["low"] < 0 < noise["high"] and noise["high"] - noise["low"] < 0.15
    tie = interval(replicate_deltas("accuracy", gold, worse, worse))
    assert tie["low"] == tie["high"] == 0 and verdict(0.0, tie) == "level"


def _model(rng, gold, acc, shared=0.8):
    """Three seeds of one fine-tuned model: each seed keeps the model's own outcome on ``shared`` of the
    examples and draws the rest afresh (seeds of a real run agree on most examples)."""
    base = rng.random(len(gold)) < acc
    runs = []
    for _ in range(3):
        ok = np.where(rng.random(len(gold)) < shared, base, rng.random(len(gold)) < acc)
        runs.append([g if o else ("b" if g == "a" else "a") for g, o in zip(gold, ok)])
    return runs


def test_intervals_of_equal_models_exclude_zero_about_as_often_as_their_level_says():
    """Two models of the same accuracy, 3 seeds each, 200 scored examples: 95% intervals should exclude 0 in
    about 5% of tasks (measured 4% over 200 tasks of 300 examples; allow up to 12% over these 120)."""
    rng = np.random.default_rng(1)
    excluded = 0
    trials = 120
    for t in range(trials):
        gold = [str(v) for v in rng.choice(["a", "b"], size=200)]
        iv = interval(replicate_deltas("accuracy", gold, _model(rng, gold, 0.7), _model(rng, gold, 0.7),
                                       replicates=500, seed=t))
        excluded += iv["low"] > 0 or iv["high"] < 0
    assert excluded / trials <= 0.12, excluded


def test_replicates_are_seeded_and_runs_must_pair():
    gold = ["a", "b"] * 50
    rng = np.random.default_rng(2)
    a, b = [_predictor(rng, gold, 0.7) for _ in range(3)], [_predictor(rng, gold, 0.6) for _ in range(3)]
    assert np.array_equal(replicate_deltas("accuracy", gold, a, b), replicate_deltas("accuracy", gold, a, b))
    with pytest.raises(ValueError, match="cannot pair"):
        replicate_deltas("accuracy", gold, a, b[:2])


def test_the_average_interval_averages_each_tasks_replicates():
    d1, d2 = np.array([0.0, 0.1, 0.2]), np.array([0.2, 0.3, 0.4])
    assert np.allclose(average_deltas([d1, d2]), [0.1, 0.2, 0.3])
    assert average_deltas([]) is None


def _eval(tmp_path, tasks: dict) -> None:
    entries = {}
    for name, (d, iv) in tasks.items():
        e = {"metric": "accuracy", "pretrained": {"median": 0.5 + d}, "random_init": {"median": 0.5}, "delta": d}
        if iv is not None:
            e["delta_interval"] = {"low": iv[0], "high": iv[1], "level": 0.95, "replicates": 2000, "method": "m"}
            e["verdict"] = verdict(d, e["delta_interval"])
        entries[name] = e
    path = Layout(tmp_path, "xx").eval_metrics
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"tasks": entries}), encoding="utf-8")


def test_warnings_call_below_only_what_the_interval_puts_below(tmp_path):
    _eval(tmp_path, {"ner": (-0.05, (-0.08, -0.02)), "cola": (-0.011, (-0.04, 0.019)), "wnli": (0.056, (-0.1, 0.2)),
                     "upos": (0.042, (0.03, 0.055))})
    assert model_warnings(tmp_path, "xx") == [
        "the pre-trained model scores below random initialisation on ner (-5.0; 95% interval -8.0 to -2.0) "
        "(reports/xx/scorecard.md)",
        "pre-training gained nothing measurable over random initialisation on cola (-1.1; 95% interval -4.0 to "
        "+1.9), wnli (+5.6; 95% interval -10.0 to +20.0) (the interval of the delta spans 0) "
        "(reports/xx/scorecard.md)"]
