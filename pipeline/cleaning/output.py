"""Writing the cleaned corpus: every unit's documents in order, kept or dropped by the corpus-wide steps
(language, quality, dedup), into ``part-NNNNN.parquet`` files; each step's drops counted by rule, and the first
examples kept for ``rejected.jsonl``."""
from __future__ import annotations

from collections import Counter
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.cleaning import lid as lidmod
from pipeline.cleaning.decide import Verdicts
from pipeline.cleaning.filters import EXAMPLES
from pipeline.cleaning.quality import FILTERS
from pipeline.cleaning.workunits import DOCS_SCHEMA, unit_dir
from pipeline.config import CleanSettings

# the corpus keeps these columns of the units' documents, with their types
SCHEMA = pa.schema([DOCS_SCHEMA.field(n) for n in ("id", "text", "source", "lid_lang", "lid_score", "script_share",
                                                   "n_chars")])
ROW_GROUP_ROWS = 5_000
ROW_GROUP_CHARS = 64 << 20      # flush a row group at ~64M characters whatever its row count
STEPS = ("language", *FILTERS, "exact_dedup", "minhash_dedup")   # the corpus-wide steps, in order
DEDUP_STEP = {"duplicate": "exact_dedup", "near_duplicate": "minhash_dedup"}


class PartWriter:
    """Writes part-NNNNN.parquet files of ``rows_per_shard`` rows, row group by row group."""

    def __init__(self, out: Path, rows_per_shard: int):
        self.out = out
        self.rows_per_shard = rows_per_shard
        self.files: list[str] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows_in_shard = 0
        self._buf: dict[str, list] = {n: [] for n in SCHEMA.names}
        self._buf_chars = 0

    def add(self, row: dict):
        for k in SCHEMA.names:
            self._buf[k].append(row[k])
        self._buf_chars += row["n_chars"]
        self._rows_in_shard += 1
        if self._rows_in_shard >= self.rows_per_shard:
            self._flush()
            self._close_shard()
        elif len(self._buf["id"]) >= ROW_GROUP_ROWS or self._buf_chars >= ROW_GROUP_CHARS:
            self._flush()

    def _flush(self):
        if not self._buf["id"]:
            return
        if self._writer is None:
            name = f"part-{len(self.files):05d}.parquet"
            self.files.append(name)
            self._writer = pq.ParquetWriter(
                self.out / name, SCHEMA, compression="zstd", compression_level=3, use_dictionary=["source", "lid_lang"],
                write_statistics=True, version="2.6", data_page_version="1.0", store_schema=True)
        table = pa.Table.from_pydict(self._buf, schema=SCHEMA)
        self._writer.write_table(table, row_group_size=len(table))
        self._buf = {n: [] for n in SCHEMA.names}
        self._buf_chars = 0

    def _close_shard(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._rows_in_shard = 0

    def close(self):
        self._flush()
        self._close_shard()

    def abort(self):
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - the folder is discarded anyway
                pass
            self._writer = None


def _sample_duplicates(removed: dict) -> tuple[set, set]:
    """The duplicates that get an example in rejected.jsonl (the first EXAMPLES by node per reason) and their
    keepers (to name them)."""
    sampled: dict[str, list] = {"duplicate": [], "near_duplicate": []}
    for node in sorted(removed):
        reason = removed[node][0]
        if len(sampled[reason]) < EXAMPLES:
            sampled[reason].append(node)
    nodes = {n for r in sampled.values() for n in r}
    return nodes, {removed[n][1] for n in nodes}


class CorpusWriter:
    """One pass over the units' documents: keep or drop each, write the kept ones, count the drops by step."""

    def __init__(self, c: CleanSettings, verdicts: Verdicts, removed: dict, out: Path):
        self.verdicts, self.removed, self.cal = verdicts, removed, verdicts.cal
        self.parts = PartWriter(out, c.rows_per_shard)
        self.sampled_dups, self.wanted_keepers = _sample_duplicates(removed)
        self.keeper_info: dict[tuple[int, int], dict] = {}
        self.dropped: Counter[str] = Counter()
        self.step_drops: dict[str, Counter] = {s: Counter() for s in STEPS}
        self.step_chars: Counter[str] = Counter()
        self.examples: dict[str, list] = {}
        self.rule_examples: dict[tuple[str, str], list] = {}
        self.per_source_out: Counter[str] = Counter()
        self.lid_kept = lidmod.Histogram()
        self.docs_out = self.chars_out = self.rescued = 0

    def write(self, units: list[dict], work: Path) -> None:
        try:
            for u in units:
                row = 0
                pf = pq.ParquetFile(unit_dir(work, u["id"]) / "docs.parquet")
                for batch in pf.iter_batches(batch_size=2048):
                    b = batch.to_pydict()
                    for i in range(len(b["id"])):
                        self._document((u["id"], row), b, i)
                        row += 1
            self.parts.close()
        except BaseException:
            self.parts.abort()
            raise

    def _document(self, node: tuple[int, int], b: dict, i: int) -> None:
        if node in self.wanted_keepers:
            self.keeper_info[node] = {"kept_id": b["id"][i], "kept_source": b["source"][i], "kept_line": b["line"][i]}
        reason, rule, rescued = self.verdicts(b, i)
        details: dict = {}
        if reason is None and node in self.removed:
            reason, keeper = self.removed[node]
            rule = reason
            if node in self.sampled_dups:
                details = dict(self.keeper_info.get(keeper, {}))
        if reason is None:
            self.parts.add({k: b[k][i] for k in SCHEMA.names})
            self.docs_out += 1
            self.chars_out += b["n_chars"][i]
            self.rescued += rescued
            self.per_source_out[b["source"][i]] += 1
            self.lid_kept.add(b["lid_score"][i])
            return
        self._drop(node, reason, rule, b, i, details)

    def _drop(self, node: tuple[int, int], reason: str, rule: str, b: dict, i: int, details: dict) -> None:
        self.dropped[reason] += 1
        step = DEDUP_STEP.get(reason, reason)
        self.step_drops[step][rule] += 1
        self.step_chars[step] += b["n_chars"][i]
        if reason == "language":
            details = {"rule": rule, "label": b["lid_lang"][i], "score": round(b["lid_score"][i], 4),
                       "threshold": self.cal["threshold_used"]}
            if b["alt_lang"][i] is not None:
                details.update(model_label=b["alt_lang"][i], model_score=round(b["alt_score"][i], 4))
        elif reason in FILTERS:
            details = {"filter": reason, "rule": rule}
        rec = {"reason": reason, "source": b["source"][i], "line": b["line"][i], "text": b["text"][i][:2000],
               "details": details}
        if reason in FILTERS:
            lst = self.rule_examples.setdefault((reason, rule), [])
        elif reason in DEDUP_STEP:
            lst = self.examples.setdefault(reason, []) if node in self.sampled_dups else None
        else:
            lst = self.examples.setdefault(reason, [])
        if lst is not None and (reason in DEDUP_STEP or len(lst) < EXAMPLES):
            lst.append(rec)
