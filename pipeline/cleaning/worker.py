"""The work of one unit: read its segments, normalise, run the filters before language ID, score the language,
find the first failed quality rule and the dedup keys, and write ``<work>/tasks/NNNNN/`` (``workunits.py``
describes the folder).

The folder is written under a temporary name and renamed when complete, so a unit folder that exists is
complete; a killed run leaves at most a temporary folder, removed on the next run.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.cleaning.dedup import MinHasher, exact_key, text_digest
from pipeline.cleaning.filters import Doc, PreLidFilters
from pipeline.cleaning.lid import Histogram, accepted_labels, load_model
from pipeline.cleaning.normalize import normalize
from pipeline.cleaning.quality import build_filters
from pipeline.cleaning.segment import tokenizer
from pipeline.cleaning.workunits import DOCS_SCHEMA, Context
from pipeline.readers import BadInput, RawDoc, iter_file
from pipeline.readers.pieces import split_long


def _cpu(ru) -> float:
    return ru.ru_utime + ru.ru_stime


class _LidScores:
    """Labels and score histograms of one model over a unit (the corpus-wide calibration merges them)."""

    def __init__(self, accept, keep_all: bool):
        self.accept, self.n, self.labels = accept, 0, Counter()
        self.h_accept = Histogram()
        self.h_all = Histogram() if keep_all else None

    def add(self, label: str, score: float) -> None:
        self.n += 1
        self.labels[label] += 1
        if self.h_all is not None:
            self.h_all.add(score)
        if label in self.accept:
            self.h_accept.add(score)

    def to_dict(self) -> dict:
        out = {"n": self.n, "labels": dict(self.labels), "accept": self.h_accept.to_dict()}
        if self.h_all is not None:
            out["all"] = self.h_all.to_dict()
        return out


class _Unit:
    """What one unit accumulates: the rows for docs.parquet, their dedup keys and the counts."""

    def __init__(self, ctx: Context, primary_accept: set[str]):
        self.cols: dict[str, list] = {n: [] for n in DOCS_SCHEMA.names}
        self.keys: list[list[int]] = []
        self.docs_in = self.chars_in = self.chars_norm = self.split = 0
        self.per_source: Counter[str] = Counter()
        self.source_lines: Counter[str] = Counter()   # lines and characters of the documents read, per file
        self.source_chars: Counter[str] = Counter()
        self.normalized: Counter[str] = Counter()
        self.filters = PreLidFilters(ctx.cfg.clean, ctx.cfg.script)
        self.lid = _LidScores(primary_accept, keep_all=True)
        self.alt = _LidScores({ctx.cfg.clean.lid.model_label}, keep_all=False)   # the configured model's

    def add_row(self, **row) -> None:
        for k in DOCS_SCHEMA.names:
            self.cols[k].append(row[k])


class UnitWorker:
    """Per-process state: models and filters are loaded once, then ``run`` does one unit after another."""

    def __init__(self, ctx: Context):
        self.ctx = ctx
        c = ctx.cfg.clean
        self.lid = load_model(None)   # scores are recorded even when lid.enabled is false
        self.alt = load_model(ctx.model_path) if ctx.model_path else None
        self.accept = accepted_labels(ctx.cfg)
        self.quality = build_filters(ctx.cfg, ctx.segmenter, ctx.quality)
        self.minhash = MinHasher(c.dedup, tokenizer(ctx.segmenter)) if c.dedup.minhash else None

    def _documents(self, unit: dict, bad: BadInput,
                   normalized: Counter | None = None) -> Iterator[tuple[RawDoc, str, int]]:
        """(document, normalised text, raw characters) in source order; ``normalized`` counts what normalisation
        changed."""
        c = self.ctx.cfg.clean
        for seg in unit["segments"]:
            sf = self.ctx.files[seg["file"]]
            end = seg["end"] if seg["end"] >= 0 else None
            for doc in iter_file(sf, c.max_chars, seg["start"], end, seg["line"], bad):
                text = normalize(doc.text, c.normalize, normalized)
                if len(text) <= c.max_chars:
                    yield doc, text, doc.raw_chars
                    continue
                # normalisation can lengthen a piece the reader cut at max_chars (NFC decomposes the
                # Devanagari nukta letters, for one): cut it again instead of dropping it
                for k, part in enumerate(split_long(text, c.max_chars)):
                    yield replace(doc, split=True), part, (doc.raw_chars if k == 0 else 0)

    def _score(self, u: _Unit, doc: Doc, raw_chars: int) -> None:
        """Language scores, the first failed quality rule and the dedup keys of a document that reached LID."""
        text, nb = doc.text, self.ctx.cfg.clean.dedup.num_buckets
        label, score = self.lid.predict(text)
        u.lid.add(label, score)
        alt_label, alt_score = None, None
        if self.alt is not None:
            alt_label, alt_score = self.alt.predict(text)
            u.alt.add(alt_label, alt_score)
        fail = self.quality.first_failure(text)
        digest = text_digest(text)
        row_keys = [exact_key(digest)] + [0] * nb
        if fail is None and self.minhash is not None:
            bk = self.minhash.band_keys(text)
            if bk:
                row_keys[1:] = bk
        u.keys.append(row_keys)
        u.add_row(id=digest.hex()[:16], text=text, source=doc.raw.source, line=doc.raw.line, raw_chars=raw_chars,
                  lid_lang=label, lid_score=score, alt_lang=alt_label, alt_score=alt_score,
                  script_share=doc.meta["script_share"], n_chars=len(text),
                  quality=f"{fail[0]}:{fail[1]}" if fail else None)

    def run(self, unit: dict, out: Path) -> None:
        t_start = time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        bad = BadInput(self.ctx.cfg.clean.on_bad_input)
        u = _Unit(self.ctx, self.accept)
        for raw, text, raw_chars in self._documents(unit, bad, u.normalized):
            u.docs_in += 1
            u.chars_in += raw_chars
            u.per_source[raw.source] += 1
            u.source_lines[raw.source] += text.count("\n") + 1
            u.source_chars[raw.source] += raw_chars
            u.split += raw.split
            u.chars_norm += len(text)
            doc = Doc(raw, text)
            if u.filters(doc):
                self._score(u, doc, raw_chars)
        ru1 = resource.getrusage(resource.RUSAGE_SELF)
        stats = {
            "unit": unit["id"], "seconds": round(time.perf_counter() - t_start, 3), "pid": os.getpid(),
            "cpu_s": round(_cpu(ru1) - _cpu(ru0), 3), "rss_mb": round(ru1.ru_maxrss / 1024, 1),
            "documents_in": u.docs_in, "chars_in": u.chars_in, "chars_norm": u.chars_norm,
            "pre_lid": u.filters.dropped(), "split_long_document": u.split, "normalized": dict(u.normalized),
            "per_source": dict(u.per_source), "source_lines": dict(u.source_lines),
            "source_chars": dict(u.source_chars), "rows": len(u.keys),
            "skipped": dict(bad.counts), "examples": u.filters.examples() + bad.examples,
            "lid": u.lid.to_dict(), "alt": u.alt.to_dict() if self.alt is not None else None,
        }
        self._write(unit["id"], out, u, stats)

    def _write(self, unit_id: int, out: Path, u: _Unit, stats: dict) -> None:
        nb = self.ctx.cfg.clean.dedup.num_buckets
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{unit_id:05d}-", dir=out.parent))
        try:
            pq.write_table(pa.Table.from_pydict(u.cols, schema=DOCS_SCHEMA), tmp / "docs.parquet",
                           compression="zstd", compression_level=1)
            arr = np.array(u.keys, dtype=np.uint64) if u.keys else np.zeros((0, nb + 1), dtype=np.uint64)
            np.save(tmp / "keys.npy", arr)
            (tmp / "stats.json").write_text(json.dumps(stats, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, out)   # the unit is complete when its folder exists
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
