"""Alpha-smoothed language sampling (XLM-R, mT5): p_i = n_i^alpha / sum_j n_j^alpha.

With alpha < 1 a small language gets more than its natural share and a large one less, so the
vocabulary keeps the small language's pieces and pre-training sees it often enough. Reaching a share
larger than the language's data means repeating its documents or examples (whole passes, then a seeded
sample of the rest); a smaller share is a seeded sample. Plain arithmetic and ``random.Random``: the
draw is a pure function of the sizes, alpha and the seed.
"""
from __future__ import annotations

import random


def probabilities(sizes: dict[str, float], alpha: float) -> dict[str, float]:
    """p_i proportional to n_i^alpha (a language of size 0 gets 0)."""
    weights = {k: (float(n) ** alpha if n > 0 else 0.0) for k, n in sizes.items()}
    total = sum(weights.values())
    if total <= 0:
        raise ValueError("every member is empty: nothing to sample")
    return {k: w / total for k, w in weights.items()}


def repeat_sample(pool: list[int], count: int, rng: random.Random) -> list[int]:
    """``count`` items of ``pool``: whole passes (each in a seeded order) and a seeded sample of the rest.
    An item appears floor(count/len) or ceil(count/len) times; none is left out before another repeats."""
    if count <= 0 or not pool:
        return []
    out: list[int] = []
    while count - len(out) >= len(pool):
        p = list(pool)
        rng.shuffle(p)
        out.extend(p)
    out.extend(rng.sample(pool, count - len(out)))
    return out
