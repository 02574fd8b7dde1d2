"""The corpus-wide steps after the units: the language decision (with the calibrated threshold), the quality
verdict the unit recorded, and the duplicates among the documents both keep."""
from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from pipeline.cleaning import dedup as dd
from pipeline.cleaning import lid as lidmod
from pipeline.cleaning.workunits import unit_dir
from pipeline.config import LanguageConfig

COLUMNS = ["lid_lang", "lid_score", "script_share", "alt_lang", "alt_score", "quality"]


class Verdicts:
    """(reason, rule, rescued) for row i of a batch of docs.parquet columns: 'language', a quality filter's name,
    or None (kept so far); ``rescued`` when the fallback rule kept a document the threshold would drop."""

    def __init__(self, cfg: LanguageConfig, cal: dict):
        self.cal, self.accept = cal, lidmod.accepted_labels(cfg)
        self.language = lidmod.LanguageRule(cal, self.accept, cfg.clean.lid.model_label)

    def __call__(self, batch: dict, i: int) -> tuple[str | None, str, bool]:
        keep, rule, rescued = self.language(batch["lid_lang"][i], batch["lid_score"][i], batch["script_share"][i],
                                            batch["alt_lang"][i], batch["alt_score"][i])
        if not keep:
            return "language", rule, False
        q = batch["quality"][i]
        if q:
            name, _, r = q.partition(":")
            return name, r, rescued
        return None, "", rescued


def find_removed(cfg: LanguageConfig, verdicts: Verdicts, units: list[dict], work: Path) -> dict:
    """(unit id, row) -> (reason, keeper) for every duplicate among the documents the verdicts keep."""
    d = cfg.clean.dedup
    if not (d.exact or d.minhash):
        return {}
    shutil.rmtree(work / "dedup", ignore_errors=True)
    dedup_dirs = []
    for u in units:
        ud = unit_dir(work, u["id"])
        cols = pq.read_table(ud / "docs.parquet", columns=COLUMNS).to_pydict()
        n = len(cols["lid_lang"])
        cand = np.fromiter((verdicts(cols, i)[0] is None for i in range(n)), dtype=bool, count=n)
        keys = np.load(ud / "keys.npy")
        out = work / "dedup" / f"{u['id']:05d}"
        dd.write_sorted(keys, cand, out, list(range(keys.shape[1] if keys.ndim == 2 else 1)))
        dedup_dirs.append(out)
    return dd.find_duplicates(dedup_dirs, d.num_buckets, d.exact, d.minhash)
