"""The text the vocabulary is trained on: the cleaned corpus's documents, a seeded sample of them and
a held-out set for the statistics, streamed in corpus order."""
from __future__ import annotations

import bisect
import random
from array import array
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq

from pipeline.errors import StageError

HELD_OUT_MAX_DOCS = 1000
_READ_BATCH = 512


def row_counts(files: list[Path]) -> list[int]:
    return [pq.ParquetFile(f).metadata.num_rows for f in files]


def document_chars(files: list[Path]) -> array:
    """Characters of every document of a cleaned corpus, in corpus order (its ``n_chars`` column), 8 bytes each
    (a list of Python ints took ~36: 360 MB for ten million documents)."""
    out = array("q")
    for f in files:
        out.frombytes(pq.read_table(f, columns=["n_chars"]).column(0).to_numpy().astype("int64").tobytes())
    return out


def iter_texts(files: list[Path], wanted: list[int] | None = None) -> Iterator[tuple[int, str]]:
    """Stream (global row index, text) in corpus order; only the rows in sorted ``wanted`` if given.
    Files holding none of the wanted rows are not read."""
    wanted_set = set(wanted) if wanted is not None else None
    base = 0
    for f in files:
        pf = pq.ParquetFile(f)
        if "text" not in pf.schema_arrow.names:
            raise StageError(f"{f}: no 'text' column; re-run the clean stage")
        n = pf.metadata.num_rows
        if wanted is not None:
            k = bisect.bisect_left(wanted, base)
            if k == len(wanted) or wanted[k] >= base + n:
                base += n
                continue
        row = base
        for batch in pf.iter_batches(batch_size=_READ_BATCH, columns=["text"]):
            for t in batch.column(0).to_pylist():
                if (wanted_set is None or row in wanted_set) and t:
                    yield row, t
                row += 1
        base += n


def split_lines(text: str) -> list[str]:
    return [s for s in (line.strip() for line in text.split("\n")) if s]


def choose_documents(n_docs: int, sample: int, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic (training rows, held-out rows), both sorted (corpus order).

    Held-out documents (2%, at most 1000, none when there are fewer than 2 documents) are set aside
    for vocab_stats.json; training is a uniform sample of at most ``sample`` of the others. Memory
    is O(sample), not O(documents): ``random.sample`` draws from a ``range``."""
    rng = random.Random(seed)
    n_held = 0 if n_docs < 2 else min(HELD_OUT_MAX_DOCS, max(1, round(0.02 * n_docs)))
    held = rng.sample(range(n_docs), n_held)
    held_set = set(held)
    if n_docs - n_held <= sample:
        train = [r for r in range(n_docs) if r not in held_set]
    else:
        pool = rng.sample(range(n_docs), sample + n_held)
        train = [r for r in pool if r not in held_set][:sample]
    return sorted(train), sorted(held)


def take_chars(pool: list[int], chars, target: int, rng: random.Random) -> list[int]:
    """Documents of ``pool`` (indices into ``chars``, their lengths) in seeded passes until ``target``
    characters are reached: a language's share of a joint vocabulary's sample (repeating a small one), or one
    pass when the pool holds more (``within_chars``)."""
    out: list[int] = []
    got = 0
    if not pool or sum(chars[i] for i in pool) <= 0:
        return out
    while got < target:
        p = list(pool)
        rng.shuffle(p)
        for i in p:
            out.append(i)
            got += chars[i]
            if got >= target:
                break
    return out


def within_chars(rows: list[int], chars, max_chars: int, seed: int) -> list[int]:
    """``rows`` (sorted) where their documents (``chars``: every document's length) hold at most ``max_chars``
    characters; else a seeded sample of them that reaches it (``take_chars``: the last may pass it), sorted:
    SentencePiece's memory grows with the text it is fed (~20 bytes a character)."""
    if sum(chars[r] for r in rows) <= max_chars:
        return rows
    return sorted(take_chars(rows, chars, max_chars, random.Random(seed)))


def held_out_lines(files: list[Path], rows: list[int], limit: int) -> list[str]:
    """The lines of the held-out documents, in corpus order, at most ``limit``."""
    lines: list[str] = []
    for _, text in iter_texts(files, rows):
        lines.extend(split_lines(text))
        if len(lines) >= limit:
            return lines[:limit]
    return lines
