"""How sure a delta is: a paired bootstrap interval of "pre-trained median - random-init median".

With a few hundred scored examples and three seeds a median moves by points from noise alone (which examples
happen to be scored, which seeds were drawn), so a delta of -1.4 can mean "worse" or "the same". Each replicate
draws the scored examples with replacement (the same draw for both models: the comparison is paired) and the
seeds with replacement (the same seed numbers for both: same head init, data order and dropout masks), takes
each model's median over those seeds of the task's main metric on those examples, and their difference. The
interval is the central ``level`` share of the replicates' differences (percentile bootstrap). It covers the
two sources of noise a re-run would change; it says nothing about other corpora or pre-training seeds.

The suite average's interval averages the tasks' replicates (each task resampled on its own)."""
from __future__ import annotations

import numpy as np

from pipeline.evaluation.metrics import resampled

REPLICATES = 2000
LEVEL = 0.95
METHOD = ("paired bootstrap over the scored examples and the seeds (the same draws for both models), "
          "percentile interval")


def replicate_deltas(metric: str, gold: list, pretrained: list[list], random_init: list[list],
                     replicates: int = REPLICATES, seed: int = 0) -> np.ndarray:
    """``replicates`` bootstrap values of the delta of medians; ``pretrained`` / ``random_init``: one list of
    predictions per seed, seed i of one paired with seed i of the other."""
    if len(pretrained) != len(random_init) or not pretrained:
        raise ValueError(f"{len(pretrained)} pre-trained and {len(random_init)} random-init runs: cannot pair")
    rng = np.random.default_rng(seed)
    n = len(gold)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=replicates)
    pre = np.stack([resampled(metric, p, gold, counts) for p in pretrained], axis=1)   # replicates x seeds
    rnd = np.stack([resampled(metric, p, gold, counts) for p in random_init], axis=1)
    s = pre.shape[1]
    pick = rng.integers(0, s, size=(replicates, s))
    rows = np.arange(replicates)[:, None]
    return np.median(pre[rows, pick], axis=1) - np.median(rnd[rows, pick], axis=1)


def interval(deltas: np.ndarray, level: float = LEVEL) -> dict:
    """eval.json's ``delta_interval``: low, high, level, replicates and the method, in one place."""
    tail = (1.0 - level) / 2.0
    low, high = np.quantile(np.asarray(deltas, dtype=np.float64), [tail, 1.0 - tail])
    return {"low": float(low), "high": float(high), "level": level, "replicates": int(len(deltas)),
            "method": METHOD}


def average_deltas(per_task: list[np.ndarray]) -> np.ndarray | None:
    """Replicates of the suite average's delta: the mean over tasks of each task's replicate b."""
    return np.mean(np.stack(per_task), axis=0) if per_task else None


def verdict(delta: float | None, iv: dict | None) -> str | None:
    """'above', 'below' or 'level' (the interval spans 0; with no interval, only an exact 0 is level)."""
    if delta is None:
        return None
    if iv is None:
        return "above" if delta > 0 else "below" if delta < 0 else "level"
    if iv["low"] > 0:
        return "above"
    if iv["high"] < 0:
        return "below"
    return "level"
