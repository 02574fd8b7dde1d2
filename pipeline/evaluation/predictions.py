"""Every scored prediction of an evaluation, kept beside eval.json as ``predictions.json``, so that two models
scored in *different* runs can still be compared example by example with a paired interval.

eval.json holds scores; the bootstrap interval of a delta (``interval.py``) needs the predictions behind
them. Within one run the harness has them in memory (pre-trained vs random init). Across runs — the joint
model against a member's monolingual model and random init, scored by the member's own evaluate stage — they
come from this file. Two records pair when they scored the same examples (equal gold labels, in order) with
the same number of seeds; seed i of one then meets seed i of the other, as in one run. For tagging, two
tokenizers may fit different numbers of a long sentence's words into max_length; such records pair on the
words both scored.

Layout: ``{"version": 1, "tasks": {task: {"metric": m, "gold": [...], "models": {key: [[seed 0's
predictions], ...]}}}}``; ``key`` is pretrained, random_init or a reference's name (only models scored on the
main tokenizer's gold; a reference whose own tokenizer dropped tagged words beyond max_length is left out).
A regression prediction that is not finite is stored as null and read back as NaN."""
from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from pipeline.atomic import atomic_file
from pipeline.evaluation.interval import interval, replicate_deltas, verdict

VERSION = 1
FILENAME = "predictions.json"


def path_beside(eval_json: Path) -> Path:
    """predictions.json in eval.json's folder."""
    return Path(eval_json).with_name(FILENAME)


def _finite(x):
    return None if isinstance(x, float) and not math.isfinite(x) else x


def record(metric: str, gold: list, models: dict[str, list[list]]) -> dict:
    """One task's record: its main metric, the scored gold labels and each model's predictions per seed (as
    scored: a diverged regression prediction stays NaN in memory, as :func:`read` gives it back)."""
    return {"metric": metric, "gold": list(gold), "models": {k: [list(run) for run in runs] for k, runs in models.items()}}


def write(path: Path, tasks: dict[str, dict]) -> None:
    """Atomically, as compact JSON (one line: tens of thousands of labels; eval.json is the file people read);
    NaN becomes null (strict JSON)."""
    out = {t: {**r, "models": {k: [[_finite(p) for p in run] for run in runs] for k, runs in r["models"].items()}}
           for t, r in tasks.items()}
    with atomic_file(path) as f:
        json.dump({"version": VERSION, "tasks": out}, f, ensure_ascii=False, allow_nan=False,
                  separators=(",", ":"), sort_keys=True)
        f.write("\n")


def _nan(x):
    return float("nan") if x is None else x


def read(path: Path) -> dict[str, dict] | None:
    """{task: record} from a predictions.json, or None when it is missing, unreadable or of another version
    (an evaluation made before predictions were kept: comparisons then fall back to the scores' sign)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("version") != VERSION or not isinstance(data.get("tasks"), dict):
        return None
    out = {}
    for task, r in data["tasks"].items():
        out[task] = {"metric": r["metric"], "gold": r["gold"],
                     "models": {k: [[_nan(p) for p in run] for run in runs] for k, runs in r["models"].items()}}
    return out


def compare(a: dict | None, a_key: str, b: dict | None, b_key: str) -> tuple[np.ndarray | None, str | None]:
    """Bootstrap replicates of "median of ``a_key`` in record ``a`` - median of ``b_key`` in record ``b``" and
    None, or (None, why not) when the two cannot be paired. Tagging records whose sentences differ only in how
    many trailing words each model's tokenizer fitted into max_length pair on the words both scored: the
    replicates come with a note saying so ("9812 of 9840 words both scored")."""
    if a is None or b is None:
        return None, "no predictions.json"
    runs_a, runs_b = a["models"].get(a_key), b["models"].get(b_key)
    if runs_a is None or runs_b is None:
        return None, f"no predictions of {a_key if runs_a is None else b_key}"
    if a["metric"] != b["metric"]:
        return None, f"different metrics ({a['metric']} vs {b['metric']})"
    if len(runs_a) != len(runs_b):
        return None, f"{len(runs_a)} vs {len(runs_b)} seeds"
    if a["gold"] == b["gold"]:
        return replicate_deltas(a["metric"], a["gold"], runs_a, runs_b), None
    common = _common_words(a["gold"], b["gold"])
    if common is None:
        return None, "different scored examples"
    gold = [g[:k] for g, k in zip(a["gold"], common)]
    cut = lambda runs: [[p[:k] for p, k in zip(run, common)] for run in runs]  # noqa: E731
    words = max(sum(len(g) for g in a["gold"]), sum(len(g) for g in b["gold"]))
    return replicate_deltas(a["metric"], gold, cut(runs_a), cut(runs_b)), f"{sum(common)} of {words} words both scored"


def _common_words(x: list, y: list) -> list[int] | None:
    """Per sentence, how many leading words two tagging golds share, when one is a prefix of the other in every
    sentence (what two tokenizers' max_length truncation gives); None otherwise."""
    if len(x) != len(y) or not all(isinstance(g, list) for g in x) or not all(isinstance(g, list) for g in y):
        return None
    out = []
    for p, q in zip(x, y):
        k = min(len(p), len(q))
        if p[:k] != q[:k]:
            return None
        out.append(k)
    return out


def delta_with_interval(delta: float | None, deltas: np.ndarray | None) -> dict:
    """``{"interval": .., "verdict": ..}`` for a delta of medians and its replicates (None: the sign rule)."""
    iv = interval(deltas) if deltas is not None else None
    return {"interval": iv, "verdict": verdict(delta, iv)}
