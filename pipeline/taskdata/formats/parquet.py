"""``parquet``: a task's rows in a Parquet file (a Hub dataset snapshot's ``data/train-*.parquet``), one
example per row with the fields of ``jsonl`` (``text_a``/``text_b``/``label``, defaults by name; tagging:
``tokens`` and a list of tags). Integer class ids of a file written by ``datasets`` (as every Hub snapshot's
files are) become their names, read from the ClassLabel features ``datasets`` stores in the schema."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.files import member_at
from pipeline.taskdata.formats.base import Example
from pipeline.taskdata.formats.hf import class_names, named_rows


def parquet_class_names(schema) -> dict[str, list[str]]:
    """Column -> ClassLabel names from the ``huggingface`` metadata ``datasets`` writes ({} without it)."""
    raw = (schema.metadata or {}).get(b"huggingface")
    if not raw:
        return {}
    try:
        import datasets

        features = datasets.Features.from_dict(json.loads(raw)["info"]["features"])
    except (ValueError, KeyError, TypeError):   # metadata of another writer: ids stay as they are
        return {}
    return class_names(features)


def read_parquet(path: Path, task: TaskSettings) -> list[Example]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        inside = member_at(path) is not None
        raise StageError(f"{path}: a Parquet file inside an archive; extract it (only line-based task files are "
                         f"read from archives)" if inside else f"{path}: file not found")
    try:
        table = pq.read_table(path)
    except (pa.ArrowException, OSError) as e:
        raise StageError(f"{path}: not a readable Parquet file ({e})") from None
    # "row N" (1-based) where the other formats give a line
    return named_rows(table.to_pylist(), parquet_class_names(table.schema), f"{path} row", task)
