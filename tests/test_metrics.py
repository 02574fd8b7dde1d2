"""pipeline.evaluation.metrics: hand-written numpy formulas equal scikit-learn / scipy / seqeval."""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from scipy import stats
from seqeval import metrics as sq
from seqeval.metrics.sequence_labeling import get_entities as sq_get_entities
from sklearn import metrics as skm

from pipeline.evaluation import metrics as M

SEEDS = range(12)


def _labels(rng, n, classes, p=None):
    return [str(x) for x in rng.choice(classes, size=n, p=p)]


@pytest.mark.parametrize("seed", SEEDS)
def test_classification_metrics_match_sklearn(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 300))
    y = _labels(rng, n, ["0", "1"])
    p = _labels(rng, n, ["0", "1"], p=[0.3, 0.7])
    assert M.accuracy(p, y) == pytest.approx(skm.accuracy_score(y, p))
    assert M.f1_binary(p, y) == pytest.approx(skm.f1_score(y, p, pos_label="1", zero_division=0))
    assert M.macro_f1(p, y) == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=0))
    assert M.matthews_corrcoef(p, y) == pytest.approx(skm.matthews_corrcoef(y, p))


@pytest.mark.parametrize("seed", SEEDS)
def test_multiclass_metrics_match_sklearn(seed):
    rng = np.random.default_rng(100 + seed)
    n = int(rng.integers(5, 300))
    classes = ["contradiction", "entailment", "neutral", "other"][: int(rng.integers(2, 5))]
    y = _labels(rng, n, classes)
    p = [t if rng.random() < 0.5 else str(rng.choice(classes)) for t in y]
    assert M.accuracy(p, y) == pytest.approx(skm.accuracy_score(y, p))
    assert M.macro_f1(p, y) == pytest.approx(skm.f1_score(y, p, average="macro", zero_division=0))
    assert M.matthews_corrcoef(p, y) == pytest.approx(skm.matthews_corrcoef(y, p))


def test_degenerate_classification():
    y = ["0", "1", "1", "0"]
    # constant prediction: MCC undefined -> 0.0 like sklearn; F1 with no positive prediction -> 0.0
    assert M.matthews_corrcoef(["0"] * 4, y) == 0.0 == skm.matthews_corrcoef(y, ["0"] * 4)
    assert M.f1_binary(["0"] * 4, y) == 0.0
    assert M.matthews_corrcoef(y, y) == pytest.approx(1.0)
    assert M.matthews_corrcoef(["1", "0", "0", "1"], y) == pytest.approx(-1.0)
    with pytest.raises(ValueError):
        M.accuracy(["0"], ["0", "1"])


@pytest.mark.parametrize("seed", SEEDS)
def test_correlations_match_scipy(seed):
    rng = np.random.default_rng(200 + seed)
    n = int(rng.integers(3, 400))
    y = rng.uniform(0, 5, size=n)
    if seed % 2:  # STS-B style ties: scores on a 0.2 grid
        y = np.round(y * 5) / 5
    p = y + rng.normal(0, 1.5, size=n)
    if seed % 3 == 0:
        p = np.round(p)  # ties in the predictions too
    if np.ptp(p) == 0 or np.ptp(y) == 0:
        pytest.skip("degenerate draw")
    assert M.pearson(p, y) == pytest.approx(stats.pearsonr(p, y)[0], abs=1e-10)
    assert M.spearman(p, y) == pytest.approx(stats.spearmanr(p, y)[0], abs=1e-10)
    np.testing.assert_allclose(M.rankdata(p), stats.rankdata(p))


def test_constant_prediction_correlation_is_zero():
    y = [1.0, 2.0, 3.5, 4.0]
    assert M.pearson([2.0] * 4, y) == 0.0
    assert M.spearman([2.0] * 4, y) == 0.0
    assert M.spearman(y, y) == pytest.approx(1.0)


def _random_tags(rng, n, scheme):
    types = ["PER", "LOC", "ORG", "DATE"]
    prefixes = {"iob": ["B", "I"], "iobes": ["B", "I", "E", "S"]}[scheme]
    out = []
    for _ in range(n):
        if rng.random() < 0.45:
            out.append("O")
        else:
            out.append(f"{rng.choice(prefixes)}-{rng.choice(types)}")
    return out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("scheme", ["iob", "iobes"])
def test_entity_scores_match_seqeval(seed, scheme):
    rng = np.random.default_rng(300 + seed)
    gold, pred = [], []
    for _ in range(int(rng.integers(1, 40))):
        n = int(rng.integers(1, 25))
        g = _random_tags(rng, n, scheme)
        # predictions: mostly copies (so there are matches), sometimes random (invalid I- starts etc.)
        p = [t if rng.random() < 0.7 else _random_tags(rng, 1, scheme)[0] for t in g]
        gold.append(g)
        pred.append(p)
    for g in gold:
        assert M.get_entities(g) == sq_get_entities(g)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        want = {"entity_precision": sq.precision_score(gold, pred), "entity_recall": sq.recall_score(gold, pred),
                "entity_f1": sq.f1_score(gold, pred)}
    got = M.entity_scores(pred, gold)
    for k in want:
        assert got[k] == pytest.approx(want[k]), k
    flat_g = [t for s in gold for t in s]
    flat_p = [t for s in pred for t in s]
    assert M.token_accuracy(pred, gold) == pytest.approx(skm.accuracy_score(flat_g, flat_p))


def test_entity_f1_no_entities_predicted():
    gold = [["B-PER", "I-PER", "O"]]
    assert M.entity_f1([["O", "O", "O"]], gold) == 0.0
    assert M.entity_f1(gold, gold) == 1.0


def test_token_accuracy_length_mismatch():
    with pytest.raises(ValueError, match="sentence 0"):
        M.token_accuracy([["NOUN"]], [["NOUN", "VERB"]])


def test_task_metrics_main_metric():
    y = ["1", "0", "1", "1", "0"]
    p = ["1", "0", "0", "1", "1"]
    cola = M.task_metrics("CoLA", "classification", p, y)
    assert cola["main"] == cola["mcc"] == pytest.approx(skm.matthews_corrcoef(y, p))
    mrpc = M.task_metrics("MRPC", "pair_classification", p, y)
    assert mrpc["main"] == mrpc["accuracy"] == pytest.approx(0.6)
    assert mrpc["f1"] == pytest.approx(skm.f1_score(y, p, pos_label="1"))
    assert M.main_metric("sst-2", "classification") == "accuracy"
    assert M.main_metric("glue-cola", "classification") == "mcc"
    rte = M.task_metrics("RTE", "pair_classification", ["entailment", "not_entailment"],
                         ["entailment", "entailment"])
    assert rte["main"] == rte["accuracy"] == 0.5 and "f1" not in rte
    sts = M.task_metrics("STS-B", "regression", [1.0, 2.0, 2.5, 5.0], [0.5, 2.5, 2.0, 4.0])
    assert sts["main"] == sts["spearman"] == pytest.approx(stats.spearmanr([1, 2, 2.5, 5], [0.5, 2.5, 2, 4])[0])
    assert "pearson" in sts
    upos = M.task_metrics("upos", "tagging", [["NOUN", "VERB"]], [["NOUN", "NOUN"]], task_format="conllu")
    assert upos["main"] == upos["token_accuracy"] == 0.5 and "entity_f1" not in upos
    ner = M.task_metrics("ner", "tagging", [["B-PER", "O"]], [["B-PER", "O"]], task_format="conll")
    assert ner["main"] == ner["entity_f1"] == 1.0
    # NER recognised from the tags when the format is not given
    assert M.main_metric("x", "tagging", None, [["B-LOC", "I-LOC", "O"]]) == "entity_f1"
    assert M.main_metric("x", "tagging", None, [["NOUN", "O"]]) == "token_accuracy"


def test_non_finite_predictions_score_zero():
    y = [1.0, 2.0, 3.0]
    assert M.pearson([1.0, float("nan"), 3.0], y) == 0.0
    assert M.spearman([1.0, float("inf"), 3.0], y) == 0.0
