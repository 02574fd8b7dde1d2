"""``parquet``: one document per row of column ``source.field`` (or ``source.fields`` joined with a blank line),
read batch by batch; a text longer than ``clean.max_chars`` is cut into kept pieces (``RawDoc.split``).

Work-unit segments are runs of row groups (``start``/``end`` count rows)."""
from __future__ import annotations

from typing import Iterator

from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile
from pipeline.readers.rows import BATCH_ROWS, batch_documents, check_columns, columns

# pyarrow is imported where used: reading the other formats does not pay for it
FORMAT = "parquet"
SUFFIXES = (".parquet",)
LINE_BASED = False


def _open(sf: SourceFile, bad: BadInput):
    """The ``ParquetFile``, checked to have the string column(s) of the source; None (reported) when unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(sf.path)
        schema = pf.schema_arrow
    except (pa.ArrowException, OSError, ValueError) as e:
        bad("unreadable_parquet", f"{sf.path}: not a readable Parquet file ({e})", sf.rel, 0)
        return None
    check_columns(str(sf.path), schema, sf.source.text_fields)
    return pf


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    import pyarrow as pa

    pf = _open(sf, bad)
    if pf is None:
        return
    # the row groups of the segment [start, end)
    groups, first = [], 0
    for i in range(pf.metadata.num_row_groups):
        n = pf.metadata.row_group(i).num_rows
        if first >= start and (end is None or end < 0 or first < end):
            groups.append(i)
        first += n
    row = start
    try:
        if not groups:
            return
        batches = pf.iter_batches(batch_size=BATCH_ROWS, columns=columns(pf.schema_arrow, sf.source.text_fields),
                                  row_groups=groups)
        for batch in batches:
            yield from batch_documents(sf, batch, row, max_chars)
            row += batch.num_rows
    except (pa.ArrowException, OSError) as e:
        bad("unreadable_parquet", f"{sf.path}: cannot read Parquet data near row {row} ({e})", sf.rel, row)


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        md = pq.ParquetFile(sf.path).metadata
    except (pa.ArrowException, OSError, ValueError):
        return [Segment(file_index, 0, -1, 0, 0)]  # the reader reports it
    segments: list[Segment] = []
    row, start, size = 0, 0, 0
    for i in range(md.num_row_groups):
        rg = md.row_group(i)
        row += rg.num_rows
        size += rg.total_byte_size
        if size >= task_bytes and i < md.num_row_groups - 1:
            segments.append(Segment(file_index, start, row, start, size))
            start, size = row, 0
    segments.append(Segment(file_index, start, -1, start, size))
    return segments
