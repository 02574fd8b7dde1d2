"""Evaluation metrics, written out with numpy (checked against scikit-learn, scipy and seqeval in
``tests/test_metrics.py``).

Inputs are label *names*: strings for classification, floats for regression, and one list of tag
strings per sentence for tagging. All scores are fractions (0..1; correlations -1..1), not percent.

Main metric per task (``main_metric``), following the ELECTRA paper's GLUE reporting
(Clark et al. 2020, Sec. 3.1: Spearman for STS, Matthews correlation for CoLA, accuracy for the
other GLUE tasks):

    CoLA -> mcc         STS-B (and any regression task) -> spearman
    MRPC, QQP -> accuracy (f1 of class '1' is reported beside it)
    tagging: NER (format conll, or B-/I-/E-/S- tags) -> entity_f1 (seqeval's default, conlleval-style
             chunking); other tagging (UPOS) -> token_accuracy
    everything else -> accuracy

Undefined values are reported as 0.0, as scikit-learn does for MCC: a correlation with a constant
prediction (e.g. a random-init model that predicts the mean) or with non-finite predictions (a
diverged run), and an F1 with no positive predictions.
"""
from __future__ import annotations

import math
import re
from typing import Sequence

import numpy as np

__all__ = [
    "accuracy", "f1_binary", "macro_f1", "matthews_corrcoef", "pearson", "spearman", "rankdata",
    "token_accuracy", "get_entities", "entity_scores", "entity_f1", "looks_like_bio", "main_metric",
    "task_metrics", "resampled",
]


def _arr(x) -> np.ndarray:
    return np.asarray(list(x), dtype=object)


def _check(preds, labels) -> None:
    if len(preds) != len(labels):
        raise ValueError(f"{len(preds)} predictions but {len(labels)} labels")
    if len(labels) == 0:
        raise ValueError("no examples to score")


def accuracy(preds: Sequence, labels: Sequence) -> float:
    _check(preds, labels)
    p, y = _arr(preds), _arr(labels)
    return float(np.mean(p == y))


def _prf(tp: float, fp: float, fn: float) -> tuple[float, float, float]:
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * prec * rec / (prec + rec) if prec + rec else 0.0
    return prec, rec, f1


def f1_binary(preds: Sequence, labels: Sequence, positive="1") -> float:
    """F1 of the positive class (GLUE's MRPC/QQP F1: positive = '1')."""
    _check(preds, labels)
    p, y = _arr(preds) == positive, _arr(labels) == positive
    tp = float(np.sum(p & y))
    return _prf(tp, float(np.sum(p & ~y)), float(np.sum(~p & y)))[2]


def macro_f1(preds: Sequence, labels: Sequence) -> float:
    """Unweighted mean of per-class F1 over the classes present in labels or predictions."""
    _check(preds, labels)
    p, y = _arr(preds), _arr(labels)
    classes = sorted(set(p.tolist()) | set(y.tolist()), key=str)
    scores = []
    for c in classes:
        pc, yc = p == c, y == c
        scores.append(_prf(float(np.sum(pc & yc)), float(np.sum(pc & ~yc)), float(np.sum(~pc & yc)))[2])
    return float(np.mean(scores))


def matthews_corrcoef(preds: Sequence, labels: Sequence) -> float:
    """Matthews correlation (multi-class form of Gorodkin 2004, as scikit-learn); 0.0 when undefined."""
    _check(preds, labels)
    p, y = _arr(preds), _arr(labels)
    classes = sorted(set(p.tolist()) | set(y.tolist()), key=str)
    idx = {c: i for i, c in enumerate(classes)}
    k = len(classes)
    cm = np.zeros((k, k), dtype=np.float64)
    np.add.at(cm, (np.array([idx[v] for v in y]), np.array([idx[v] for v in p])), 1.0)
    return float(_mcc_of_confusions(cm[None])[0])


def pearson(preds: Sequence[float], labels: Sequence[float]) -> float:
    _check(preds, labels)
    x = np.asarray(preds, dtype=np.float64)
    y = np.asarray(labels, dtype=np.float64)
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        return 0.0
    xm, ym = x - x.mean(), y - y.mean()
    denom = math.sqrt(float(np.dot(xm, xm)) * float(np.dot(ym, ym)))
    if denom == 0 or not math.isfinite(denom):
        return 0.0
    r = float(np.dot(xm, ym)) / denom
    return max(-1.0, min(1.0, r))


def rankdata(x: Sequence[float]) -> np.ndarray:
    """Ranks 1..n with ties given their average rank (scipy.stats.rankdata 'average')."""
    a = np.asarray(x, dtype=np.float64)
    order = np.argsort(a, kind="mergesort")
    sorted_a = a[order]
    # boundaries of runs of equal values
    starts = np.r_[0, np.flatnonzero(sorted_a[1:] != sorted_a[:-1]) + 1]
    ends = np.r_[starts[1:], len(a)]
    avg = (starts + ends + 1) / 2.0          # mean of 1-based ranks starts+1..ends
    ranks_sorted = np.repeat(avg, ends - starts)
    ranks = np.empty(len(a), dtype=np.float64)
    ranks[order] = ranks_sorted
    return ranks


def spearman(preds: Sequence[float], labels: Sequence[float]) -> float:
    """Spearman's rho: Pearson correlation of average ranks."""
    _check(preds, labels)
    if not (np.all(np.isfinite(np.asarray(preds, dtype=np.float64)))
            and np.all(np.isfinite(np.asarray(labels, dtype=np.float64)))):
        return 0.0
    return pearson(rankdata(preds), rankdata(labels))


def token_accuracy(preds: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]) -> float:
    """Share of tokens tagged correctly, over all sentences (UPOS accuracy)."""
    _check(preds, labels)
    correct = total = 0
    for i, (p, y) in enumerate(zip(preds, labels)):
        if len(p) != len(y):
            raise ValueError(f"sentence {i}: {len(p)} predicted tags but {len(y)} gold tags")
        correct += sum(1 for a, b in zip(p, y) if a == b)
        total += len(y)
    if total == 0:
        raise ValueError("no tokens to score")
    return correct / total


# --- entity-level scores (conlleval chunking as in seqeval's default mode) ----------------------

def _split_tag(chunk: str) -> tuple[str, str]:
    tag = chunk[0] if chunk else "O"
    type_ = chunk[1:].split("-", maxsplit=1)[-1] or "_"
    return tag, type_


def _end_of_chunk(prev_tag, tag, prev_type, type_) -> bool:
    if prev_tag in ("E", "S"):
        return True
    if prev_tag in ("B", "I") and tag in ("B", "S", "O"):
        return True
    return prev_tag != "O" and prev_tag != "." and prev_type != type_


def _start_of_chunk(prev_tag, tag, prev_type, type_) -> bool:
    if tag in ("B", "S"):
        return True
    if prev_tag in ("E", "S", "O") and tag in ("E", "I"):
        return True
    return tag != "O" and tag != "." and prev_type != type_


def get_entities(seq: Sequence[str]) -> list[tuple[str, int, int]]:
    """(type, start, end) chunks of one tag sequence, end inclusive. IOB1/IOB2/IOE/IOBES tolerant."""
    prev_tag, prev_type, begin = "O", "", 0
    chunks = []
    for i, chunk in enumerate(list(seq) + ["O"]):
        tag, type_ = _split_tag(chunk)
        if _end_of_chunk(prev_tag, tag, prev_type, type_):
            chunks.append((prev_type, begin, i - 1))
        if _start_of_chunk(prev_tag, tag, prev_type, type_):
            begin = i
        prev_tag, prev_type = tag, type_
    return chunks


def entity_scores(preds: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]) -> dict:
    """Micro precision/recall/F1 over exact entity matches (type and span), all sentences."""
    _check(preds, labels)
    tp = n_pred = n_true = 0
    for i, (p, y) in enumerate(zip(preds, labels)):
        if len(p) != len(y):
            raise ValueError(f"sentence {i}: {len(p)} predicted tags but {len(y)} gold tags")
        ep, ey = set(get_entities(p)), set(get_entities(y))
        tp += len(ep & ey)
        n_pred += len(ep)
        n_true += len(ey)
    prec, rec, f1 = _prf(tp, n_pred - tp, n_true - tp)
    return {"entity_precision": prec, "entity_recall": rec, "entity_f1": f1}


def entity_f1(preds: Sequence[Sequence[str]], labels: Sequence[Sequence[str]]) -> float:
    return entity_scores(preds, labels)["entity_f1"]


_BIO = re.compile(r"^(O|[BIES]-.+)$")


def looks_like_bio(tags) -> bool:
    """True when every tag is O or B-/I-/E-/S-<type> and at least one is not O."""
    tags = set(tags)
    return bool(tags) and tags != {"O"} and all(_BIO.match(t) for t in tags)


# --- per-task selection ------------------------------------------------------------------------

def _glue_key(name: str) -> str:
    k = re.sub(r"[^a-z0-9]", "", str(name).lower())
    return k.removeprefix("glue")


def _is_ner(task_format: str | None, labels) -> bool:
    if task_format == "conll":
        return True
    if task_format == "conllu":
        return False
    flat = {t for seq in labels for t in seq} if labels is not None else set()
    return looks_like_bio(flat)


def main_metric(task_name: str, task_type: str, task_format: str | None = None, labels=None) -> str:
    """Name of the headline metric for a task (see module docstring)."""
    if task_type == "regression":
        return "spearman"
    if task_type == "tagging":
        return "entity_f1" if _is_ner(task_format, labels) else "token_accuracy"
    if _glue_key(task_name) == "cola":
        return "mcc"
    return "accuracy"


def task_metrics(task_name: str, task_type: str, preds, labels, task_format: str | None = None) -> dict:
    """All metrics for a task plus ``main`` (the headline one; its name: :func:`main_metric`).

    classification: accuracy, macro_f1, mcc, and f1 (class '1') when the labels are '0'/'1'.
    regression: pearson, spearman.  tagging: token_accuracy, plus entity P/R/F1 for NER.
    """
    out: dict[str, float] = {}
    if task_type == "regression":
        out["pearson"] = pearson(preds, labels)
        out["spearman"] = spearman(preds, labels)
    elif task_type == "tagging":
        out["token_accuracy"] = token_accuracy(preds, labels)
        if _is_ner(task_format, labels):
            out.update(entity_scores(preds, labels))
    else:
        preds = [str(p) for p in preds]
        labels = [str(y) for y in labels]
        out["accuracy"] = accuracy(preds, labels)
        out["macro_f1"] = macro_f1(preds, labels)
        out["mcc"] = matthews_corrcoef(preds, labels)
        if set(labels) | set(preds) <= {"0", "1"}:
            out["f1"] = f1_binary(preds, labels, positive="1")
    name = main_metric(task_name, task_type, task_format, labels if task_type == "tagging" else None)
    out["main"] = out[name]
    return out


# --- the main metric on bootstrap resamples -----------------------------------------------------

def _mcc_of_confusions(cm: np.ndarray) -> np.ndarray:
    """matthews_corrcoef's formula over a stack of confusion matrices (B x k x k; rows true, columns predicted)."""
    t_sum, p_sum = cm.sum(axis=2), cm.sum(axis=1)
    n_correct = np.trace(cm, axis1=1, axis2=2)
    n = cm.sum(axis=(1, 2))
    cov_ytyp = n_correct * n - np.einsum("bk,bk->b", t_sum, p_sum)
    cov_ypyp = n * n - np.einsum("bk,bk->b", p_sum, p_sum)
    cov_ytyt = n * n - np.einsum("bk,bk->b", t_sum, t_sum)
    den = cov_ypyp * cov_ytyt
    return np.where(den > 0, cov_ytyp / np.sqrt(np.where(den > 0, den, 1.0)), 0.0)


def _f1_of_sums(tp: np.ndarray, n_pred: np.ndarray, n_true: np.ndarray) -> np.ndarray:
    prec = np.divide(tp, n_pred, out=np.zeros_like(tp), where=n_pred > 0)
    rec = np.divide(tp, n_true, out=np.zeros_like(tp), where=n_true > 0)
    s = prec + rec
    return np.divide(2 * prec * rec, s, out=np.zeros_like(tp), where=s > 0)


def resampled(metric: str, preds: Sequence, labels: Sequence, counts: np.ndarray) -> np.ndarray:
    """``metric`` (a :func:`main_metric` name) on B resamples of the examples at once: row b of ``counts``
    (B x n) says how many times each example is drawn. A row of ones gives the metric on the data itself
    (``tests/test_interval.py`` checks that against the metrics above). The unit drawn is the example: a
    sentence for tagging, so its tokens stay together. Counting metrics are sums of per-example statistics
    (one matrix product); correlations are recomputed per resample."""
    _check(preds, labels)
    w = np.asarray(counts, dtype=np.float64)
    if w.ndim != 2 or w.shape[1] != len(labels):
        raise ValueError(f"counts must be B x {len(labels)}, got {w.shape}")
    if metric == "accuracy":
        hit = np.array([str(p) == str(y) for p, y in zip(preds, labels)], dtype=np.float64)
        return w @ hit / w.sum(axis=1)
    if metric == "token_accuracy":
        hit = np.array([sum(1 for a, b in zip(p, y) if a == b) for p, y in zip(preds, labels)], dtype=np.float64)
        n = w @ np.array([len(y) for y in labels], dtype=np.float64)
        return np.divide(w @ hit, n, out=np.zeros(len(w)), where=n > 0)
    if metric == "entity_f1":
        stats = []
        for p, y in zip(preds, labels):
            ep, ey = set(get_entities(p)), set(get_entities(y))
            stats.append((len(ep & ey), len(ep), len(ey)))
        tp, n_pred, n_true = (w @ np.asarray(stats, dtype=np.float64).reshape(-1, 3)).T
        return _f1_of_sums(tp, n_pred, n_true)
    if metric == "mcc":
        p, y = [str(v) for v in preds], [str(v) for v in labels]
        classes = sorted(set(p) | set(y))
        idx = {c: i for i, c in enumerate(classes)}
        k = len(classes)
        cell = np.array([idx[a] * k + idx[b] for a, b in zip(y, p)])
        onehot = np.zeros((len(cell), k * k))
        onehot[np.arange(len(cell)), cell] = 1.0
        return _mcc_of_confusions((w @ onehot).reshape(-1, k, k))
    if metric in ("spearman", "pearson"):
        fn = spearman if metric == "spearman" else pearson
        x, t = np.asarray(preds, dtype=np.float64), np.asarray(labels, dtype=np.float64)
        out = np.empty(len(w))
        for b, row in enumerate(w.astype(np.int64)):
            take = np.repeat(np.arange(len(t)), row)
            out[b] = fn(x[take], t[take])
        return out
    raise ValueError(f"no resampling rule for metric {metric!r}")
