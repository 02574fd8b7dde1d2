"""The cleaned corpus as the validate stage reads it: one row per document, without the text.

The expectations and the review page need every document's id, source, language label, scores and length, but
the text of only a few: the seeded samples the page scans and shows (``review.scan_documents``,
``review.samples``). Holding every text in pandas took ~7 bytes of memory per byte of text (3.6 GB for a 485 MB
corpus), so the stage could not validate what the clean stage can clean. Here each text is read once, in row
groups, and kept as a 64-bit hash (``text_digest``, xxh3; null where the text is null), which is what the
``text_not_null`` and ``text_unique`` expectations need; the other string columns stay in Arrow memory
(``pd.ArrowDtype``, no Python object per value). ``Corpus.texts`` reads the texts of chosen rows back from the
Parquet parts. Memory grows with the number of documents (~120 bytes each, measured from 36k to 285k documents
in ``benchmarks/corpus_scale.py``), not with their text.
"""
from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass
from pathlib import Path

from pipeline.errors import StageError
from pipeline.layout import Layout

COLUMNS = ["id", "text", "source", "lid_lang", "lid_score", "script_share", "n_chars"]
DIGEST = "text_digest"
FRAME_COLUMNS = [DIGEST if c == "text" else c for c in COLUMNS]


@dataclass
class Corpus:
    df: object                 # pandas DataFrame: COLUMNS with ``text`` replaced by ``text_digest``; index = row
    files: list[Path]          # the Parquet parts, in corpus order
    starts: list[int]          # the first row of each part

    def __len__(self) -> int:
        return len(self.df)

    def texts(self, rows) -> list[str | None]:
        """The texts of the given rows (positions in the corpus), in that order."""
        import pyarrow.parquet as pq

        rows = [int(r) for r in rows]
        want: dict[int, list[int]] = {}
        for r in sorted(set(rows)):
            want.setdefault(bisect_right(self.starts, r) - 1, []).append(r)
        got: dict[int, str | None] = {}
        for k, part_rows in want.items():
            pf = pq.ParquetFile(self.files[k])
            if "text" not in pf.schema_arrow.names:
                got.update((r, None) for r in part_rows)
                continue
            first = self.starts[k]
            for g in range(pf.metadata.num_row_groups):
                n = pf.metadata.row_group(g).num_rows
                mine = [r - first for r in part_rows if first <= r < first + n]
                if mine:
                    col = pf.read_row_group(g, columns=["text"]).column(0)
                    got.update((first + i, col[i].as_py()) for i in mine)
                first += n
        return [got[r] for r in rows]


def load_corpus(layout: Layout) -> Corpus:
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    files = layout.clean_files()
    if not files:
        raise StageError(f"{layout.clean_dir}: no cleaned corpus (part-*.parquet); run the clean stage first")
    tables, starts, n = [], [], 0
    for f in files:
        try:
            pf = pq.ParquetFile(f)
            names = pf.schema_arrow.names
            table = pf.read(columns=[c for c in names if c != "text"])
            if "text" in names:
                table = table.append_column(DIGEST, _digests(pf))
        except (pa.ArrowException, OSError) as e:
            raise StageError(f"{f}: not a readable Parquet file ({e}); re-run the clean stage") from None
        tables.append(table)
        starts.append(n)
        n += table.num_rows
    try:
        table = pa.concat_tables(tables, promote_options="permissive")
    except pa.ArrowException as e:
        raise StageError(f"{layout.clean_dir}: shards have different schemas ({e}); re-run the clean stage") from None
    strings = {pa.string(), pa.large_string()}
    df = table.to_pandas(types_mapper=lambda t: pd.ArrowDtype(t) if t in strings else
                         pd.UInt64Dtype() if t == pa.uint64() else None)
    return Corpus(df if len(df.columns) else pd.DataFrame(columns=FRAME_COLUMNS), files, starts)


def _digests(pf):
    """xxh3 64-bit hashes of a part's texts, read row group by row group (null for a null text)."""
    import pyarrow as pa
    import xxhash

    out = []
    for g in range(pf.metadata.num_row_groups):
        for t in pf.read_row_group(g, columns=["text"]).column(0).to_pylist():
            out.append(None if t is None else xxhash.xxh3_64_intdigest(t.encode("utf-8", "surrogatepass")))
    return pa.array(out, pa.uint64())
