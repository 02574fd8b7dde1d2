"""From fine-tuning outputs to scores: predictions decoded back to label names (and the regression
scale), every metric per run, medians over seeds, seed-by-seed comparison, the suite average."""
from __future__ import annotations

import math
import statistics

import numpy as np

from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.evaluation.interval import average_deltas, interval, replicate_deltas, verdict
from pipeline.evaluation.jobs import hparams
from pipeline.evaluation.metrics import main_metric, task_metrics
from pipeline.evaluation.predictions import record
from pipeline.taskdata.tasks import TaskData
from pipeline.evaluation.variants import PRETRAINED, RANDOM, Variant


def _as_index(p) -> int:
    if isinstance(p, (list, tuple)):
        return max(range(len(p)), key=lambda i: p[i])
    return int(p)


def _as_float(p) -> float:
    if isinstance(p, (list, tuple)):
        return float(p[0])
    return float(p)


def _gold(data: TaskData, dev_f: list[dict]) -> list:
    if data.type == "regression":
        return [float(ex.label) for ex in data.dev]
    labels = data.labels or []
    if data.type == "tagging":
        return _by_example(dev_f, [[labels[x] for x in f["label"] if x != -100] for f in dev_f])
    return [labels[f["label"]] for f in dev_f]


def _by_example(dev_f: list[dict], rows: list[list]) -> list[list]:
    """Tagging: the rows of consecutive features cut from one sentence (same ``example``) joined in order."""
    out, last = [], None
    for f, row in zip(dev_f, rows):
        e = f.get("example")
        if e is not None and e == last:
            out[-1] = out[-1] + list(row)
        else:
            out.append(list(row))
        last = e
    return out


def _decode(data: TaskData, preds: list, dev_f: list[dict]) -> list:
    n_dev = len(dev_f)
    if len(preds) != n_dev:
        raise RuntimeError(f"finetune returned {len(preds)} predictions for {n_dev} dev examples")
    labels = data.labels or []
    if data.type == "regression":
        out = [_as_float(p) for p in preds]
        if data.label_range is not None:  # back from the (y - min) / max training scale
            lo, hi = data.label_range
            out = [p * hi + lo for p in out]
        return out
    if data.type == "tagging":
        out = []
        for i, (p, f) in enumerate(zip(preds, dev_f)):
            p, n = list(p), sum(1 for x in f["label"] if x != -100)
            if len(p) != n:
                raise RuntimeError(f"dev feature {i}: finetune returned {len(p)} tag predictions for "
                                   f"{n} labelled positions")
            out.append([labels[_as_index(x)] for x in p])
        return _by_example(dev_f, out)
    return [labels[_as_index(p)] for p in preds]


def _summary(runs: list[dict]) -> dict:
    mains = [r["metrics"]["main"] for r in runs]
    keys = [k for k in runs[0]["metrics"] if k != "main"]
    return {"median": statistics.median(mains), "mean": statistics.fmean(mains), "min": min(mains),
            "max": max(mains), "seed_scores": {str(r["seed"]): r["metrics"]["main"] for r in runs},
            "seeds": mains, "all": {k: statistics.median(r["metrics"][k] for r in runs) for k in keys},
            "runs": runs}


def _num(x):
    """A float for JSON, or None when missing or not finite (eval.json stays strict JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _variant_runs(t: TaskSettings, data: TaskData, dev_f: list[dict], gold: list, key: str, seeds: int,
                  outputs: dict, ti: int, notes: list[str]) -> tuple[list[dict], list[list]]:
    """The scored runs of one model on one task, seed by seed, and each run's decoded predictions."""
    runs, predictions = [], []
    for s in range(seeds):
        out = outputs[(ti, key, s)]
        preds = _decode(data, list(out["predictions"]), dev_f)
        ret_labels = out.get("labels")
        if ret_labels is not None and t.type != "regression":
            if _decode(data, list(ret_labels), dev_f) != gold:
                raise StageError(f"task {t.name}: labels returned by finetune do not match the dev labels "
                                 f"(order changed?)")
        if t.type == "regression":
            bad = sum(1 for p in preds if _num(p) is None)
            if bad:
                notes.append(f"{key} seed {s}: {bad} non-finite predictions (training diverged); "
                             f"correlations scored as 0")
        m = task_metrics(data.glue_task or t.name, t.type, preds, gold, task_format=t.format)
        runs.append({"seed": s, "metrics": m, "train_loss": _num(out.get("train_loss")),
                     "seconds": _num(out.get("seconds")), "steps": out.get("steps")})
        predictions.append(preds)
    return runs, predictions


def _summaries(t: TaskSettings, data: TaskData, feats: dict, variants: list[Variant], seeds: int, outputs: dict,
               ti: int, notes: list[str]) -> tuple[dict[str, dict], dict[str, list[list]], dict[str, list]]:
    summaries: dict[str, dict] = {}
    predictions: dict[str, list[list]] = {}
    golds: dict[str, list] = {}
    for v in variants:
        train_f, dev_f, max_len = feats[v.tokenizer_key]
        gold = golds[v.key] = _gold(data, dev_f)
        runs, predictions[v.key] = _variant_runs(t, data, dev_f, gold, v.key, seeds, outputs, ti, notes)
        summaries[v.key] = _summary(runs)
        if t.type == "tagging":
            total = sum(len(ex.tokens or []) for ex in data.dev)
            scored = sum(len(g) for g in gold)
            summaries[v.key]["dev_words"] = total
            summaries[v.key]["dev_words_scored"] = scored
            if scored < total and v.key != RANDOM:
                notes.append(f"{v.key}: {total - scored} of {total} dev words produced no sub-token (max_length "
                             f"{max_len}) and were not scored")
    return summaries, predictions, golds


def task_entry(t: TaskSettings, data: TaskData, feats: dict, variants: list[Variant], seeds: int,
               outputs: dict, ti: int, device: str) -> tuple[dict, np.ndarray | None, dict]:
    """A task's eval.json entry (what was trained and scored, every model's summary over seeds, the delta and
    its bootstrap interval), the delta's bootstrap replicates (None without a random-init baseline) and the
    task's predictions.json record (every model scored on the main gold)."""
    notes = list(data.notes)
    main_gold = _gold(data, feats["main"][1])
    metric = main_metric(data.glue_task or t.name, t.type, t.format, main_gold if t.type == "tagging" else None)
    summaries, predictions, golds = _summaries(t, data, feats, variants, seeds, outputs, ti, notes)
    pre, rnd = summaries[PRETRAINED], summaries.get(RANDOM)
    delta = (pre["median"] - rnd["median"]) if rnd else None
    deltas = replicate_deltas(metric, main_gold, predictions[PRETRAINED], predictions[RANDOM]) if rnd else None
    iv = interval(deltas) if deltas is not None else None
    v0 = variants[0]
    entry = {
        "type": t.type, "format": t.format, "metric": metric, "glue_task": data.glue_task,
        "trained_on": data.trained_on, "scored_on": data.scored_on,
        "train_examples": len(data.train), "train_available": data.train_available, "swapped": data.swapped,
        "dev_examples": len(data.dev), "dev_available": data.dev_available, "data_root": t.root,
        "num_labels": data.num_labels, "labels": data.labels,
        "hparams": {**hparams(t, data, v0, device), "max_length": feats["main"][2]},
        "notes": notes,
        "pretrained": pre, "random_init": rnd,
        "references": {v.key: summaries[v.key] for v in variants if v.key not in (PRETRAINED, RANDOM)},
        "delta": delta, "delta_interval": iv, "verdict": verdict(delta, iv),
        "paired": _paired(pre, rnd) if rnd else None,
    }
    if t.type == "tagging":
        entry["dev_words"] = pre["dev_words"]
        entry["dev_words_scored"] = pre["dev_words_scored"]
    which = "the first" if t.subset == "first" else "a spread of"  # tasks.cap
    if data.train_available > len(data.train) - data.swapped:
        notes.append(f"trained on {which} {len(data.train) - data.swapped} of {data.train_available} examples")
    if data.dev_available > len(data.dev):
        notes.append(f"scored on {which} {len(data.dev)} of {data.dev_available} examples")
    kept = record(metric, main_gold, {k: runs for k, runs in predictions.items() if golds[k] == main_gold})
    return entry, deltas, kept


def _paired(a: dict, b: dict) -> dict:
    """Seed-by-seed comparison (same seed = same head init, data order and dropout masks)."""
    diffs = [a["seed_scores"][s] - b["seed_scores"][s] for s in a["seed_scores"] if s in b["seed_scores"]]
    return {"seeds": len(diffs), "wins": sum(1 for d in diffs if d > 0),
            "mean_difference": statistics.fmean(diffs) if diffs else None,
            "min_difference": min(diffs) if diffs else None}


def summary_of(entry: dict, key: str) -> dict | None:
    """A model's summary in a task's eval.json entry (``key``: pretrained, random_init or a reference)."""
    if key in (PRETRAINED, RANDOM):
        return entry.get(key)
    return (entry.get("references") or {}).get(key)


def average_of(avg: dict, key: str):
    """A model's suite average in eval.json's ``average``."""
    if key in (PRETRAINED, RANDOM):
        return avg.get(key)
    return (avg.get("references") or {}).get(key)


def averages(tasks: dict, average: list[str] | None, name: str | None, variants: list[str],
             replicates: dict[str, np.ndarray] | None = None) -> dict:
    """The suite average: the unweighted mean of the task medians over ``average`` (every task by default);
    with every averaged task's delta replicates (``task_entry``), the interval of its delta too."""
    names = [n for n in (average if average is not None else list(tasks)) if n in tasks]
    out: dict = {"name": name or ("mean over every task" if average is None else "mean over " + ", ".join(names)),
                 "tasks": names, PRETRAINED: None, RANDOM: None, "delta": None, "delta_interval": None,
                 "verdict": None, "references": {}}
    if not names:
        return out

    def mean_of(key):
        vals = []
        for n in names:
            s = summary_of(tasks[n], key)
            if not s:
                return None
            vals.append(s["median"])
        return statistics.fmean(vals)

    out[PRETRAINED] = mean_of(PRETRAINED)
    out[RANDOM] = mean_of(RANDOM)
    if out[PRETRAINED] is not None and out[RANDOM] is not None:
        out["delta"] = out[PRETRAINED] - out[RANDOM]
        reps = [(replicates or {}).get(n) for n in names]
        if all(r is not None for r in reps):
            out["delta_interval"] = interval(average_deltas(reps))
        out["verdict"] = verdict(out["delta"], out["delta_interval"])
    for k in variants:
        if k not in (PRETRAINED, RANDOM):
            out["references"][k] = mean_of(k)
    return out
