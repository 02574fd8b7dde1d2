"""``parquet``: a task's rows in a Parquet file (a Hub dataset snapshot's ``data/train-*.parquet``), one
example per row with the fields of ``jsonl`` (``text_a``/``text_b``/``label``, defaults by name; tagging:
``tokens`` and a list of tag strings)."""
from __future__ import annotations

from pathlib import Path

from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example
from pipeline.taskdata.formats.jsonl import from_record


def read_parquet(path: Path, task: TaskSettings) -> list[Example]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise StageError(f"{path}: file not found")
    try:
        rows = pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as e:
        raise StageError(f"{path}: not a readable Parquet file ({e})") from None
    # "row N" (1-based) where the other formats give a line
    out = [from_record(r, task, f"{path} row", i) for i, r in enumerate(rows, 1)]
    return [ex for ex in out if ex is not None]
