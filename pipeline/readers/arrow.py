"""``arrow`` (.arrow, .feather): an Arrow IPC file or stream (what ``datasets`` writes), memory-mapped and read
record batch by record batch; one document per row of column ``source.field`` (or ``source.fields`` joined
with a blank line); a text longer than ``clean.max_chars`` is cut into kept pieces (``RawDoc.split``).

Work-unit segments are runs of record batches (``start``/``end`` count rows)."""
from __future__ import annotations

from typing import Iterator

from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile
from pipeline.readers.rows import batch_documents, check_columns, columns

FORMAT = "arrow"
SUFFIXES = (".arrow", ".feather")
LINE_BASED = False


def open_batches(path):
    """(schema, iterator of record batches) of an Arrow IPC file or stream, memory-mapped (nothing is copied
    until a batch is read). Raises pyarrow's error when the file is neither."""
    import pyarrow as pa

    source = pa.memory_map(str(path), "r")
    try:
        reader = pa.ipc.open_file(source)
        return reader.schema, (reader.get_batch(i) for i in range(reader.num_record_batches))
    except pa.ArrowInvalid:
        source.seek(0)
        reader = pa.ipc.open_stream(source)
        return reader.schema, iter(reader)


def _batches(sf: SourceFile, bad: BadInput):
    import pyarrow as pa

    try:
        schema, batches = open_batches(sf.path)
    except (pa.ArrowException, OSError, ValueError) as e:
        bad("unreadable_parquet", f"{sf.path}: not a readable Arrow file ({e})", sf.rel, 0)
        return None
    check_columns(str(sf.path), schema, sf.source.text_fields)
    return batches


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    import pyarrow as pa

    batches = _batches(sf, bad)
    if batches is None:
        return
    row = 0
    try:
        for batch in batches:
            if end is not None and 0 <= end <= row:
                return
            if row >= start:
                yield from batch_documents(sf, batch.select(columns(batch.schema, sf.source.text_fields)), row,
                                           max_chars)
            row += batch.num_rows
    except (pa.ArrowException, OSError) as e:
        bad("unreadable_parquet", f"{sf.path}: cannot read Arrow data near row {row} ({e})", sf.rel, row)


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    import pyarrow as pa

    segments: list[Segment] = []
    row, start, size = 0, 0, 0
    try:
        _, batches = open_batches(sf.path)
        for batch in batches:
            if size >= task_bytes:
                segments.append(Segment(file_index, start, row, start, size))
                start, size = row, 0
            row += batch.num_rows
            size += batch.nbytes
    except (pa.ArrowException, OSError, ValueError):
        pass  # the reader reports it
    segments.append(Segment(file_index, start, -1, start, size))
    return segments
