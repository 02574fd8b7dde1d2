"""``hf``: a Hugging Face ``datasets`` dataset: a ``save_to_disk`` folder (a Dataset, or a DatasetDict whose
``source.split`` is read), or, on a machine that is online, a hub dataset name (``source.config``,
``source.split``; streamed with ``streaming=True``). One document per row of column ``source.field`` (or
``source.fields`` joined with a blank line); a text longer than ``clean.max_chars`` is cut into kept pieces.

A folder is read with ``datasets.load_from_disk`` (its Arrow files are memory-mapped, so nothing is loaded
whole) in batches of ``rows.BATCH_ROWS`` rows; work-unit segments are row ranges of about ``task_bytes`` of
Arrow data. A hub dataset is one segment. With ``HF_HUB_OFFLINE=1`` a hub name is a one-line error: nothing
is downloaded then."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterator

from pipeline.errors import StageError
from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile
from pipeline.readers.rows import BATCH_ROWS, batch_documents, check_columns, columns

FORMAT = "hf"
SUFFIXES: tuple[str, ...] = ()   # a folder, found by its dataset_info.json / dataset_dict.json
LINE_BASED = False


def is_dataset_folder(path: Path) -> bool:
    return path.is_dir() and ((path / "dataset_dict.json").is_file()
                              or ((path / "state.json").is_file() and (path / "dataset_info.json").is_file()))


def splits(path: Path) -> list[str] | None:
    """The split names of a DatasetDict folder, None for a single Dataset's folder."""
    import json

    f = path / "dataset_dict.json"
    return (json.loads(f.read_text(encoding="utf-8")).get("splits") or ["train"]) if f.is_file() else None


def training_split(names: list[str] | None) -> str:
    """The split a DatasetDict is trained on: ``train``, else its first (a single Dataset: ``train``)."""
    return "train" if not names or "train" in names else names[0]


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in ("1", "true", "yes", "on")


def load_folder(path: Path, split: str, where: str | None = None):
    """The Dataset saved in ``path`` (the ``split`` of a DatasetDict); a StageError naming the folder otherwise."""
    import datasets

    where = where or str(path)
    if not is_dataset_folder(path):
        raise StageError(f"{where}: not a `datasets` save_to_disk folder (no dataset_info.json and state.json, "
                         f"nor dataset_dict.json)")
    try:
        ds = datasets.load_from_disk(str(path))
    except Exception as e:  # datasets raises FileNotFoundError, ValueError, ArrowInvalid, ... for a bad folder
        raise StageError(f"{where}: cannot load the dataset ({type(e).__name__}: {e})") from None
    if isinstance(ds, datasets.DatasetDict):
        if split not in ds:
            raise StageError(f"{where}: no split {split!r} (splits: {', '.join(ds)}); set sources[].split")
        ds = ds[split]
    return ds


def _hub(sf: SourceFile):
    name = sf.source.path
    if offline():
        raise StageError(f"sources[].path {name!r}: no such folder (looked for {sf.path}), and a hub dataset cannot "
                         f"be read with HF_HUB_OFFLINE=1; save it on a machine online (load_dataset(...)"
                         f".save_to_disk(FOLDER)) and name FOLDER")
    import datasets

    try:
        return datasets.load_dataset(name, sf.source.config, split=sf.source.split, streaming=True)
    except Exception as e:  # hub errors come in many types; one line names the dataset
        raise StageError(f"hub dataset {name!r} ({sf.source.config or 'default'}, split {sf.source.split}): "
                         f"cannot be read ({type(e).__name__}: {e})") from None


def _check(sf: SourceFile, ds) -> None:
    check_columns(str(sf.path), ds.features.arrow_schema, sf.source.text_fields)


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    if not sf.path.exists():
        ds = _hub(sf)
        if ds.features is not None:
            _check(sf, ds)
        row = 0
        names = columns(ds.features.arrow_schema, sf.source.text_fields) if ds.features is not None else \
            list(dict.fromkeys(f.split(".")[0] for f in sf.source.text_fields))
        for batch in ds.select_columns(names).iter(batch_size=BATCH_ROWS):
            yield from _dict_documents(sf, batch, row, max_chars)
            row += len(next(iter(batch.values())))
        return
    ds = load_folder(sf.path, sf.source.split)
    _check(sf, ds)
    stop = ds.num_rows if end is None or end < 0 else min(end, ds.num_rows)
    part = ds.select_columns(columns(ds.features.arrow_schema, sf.source.text_fields)).select(range(start, stop))
    part = part.with_format("arrow")
    row = start
    for table in part.iter(batch_size=BATCH_ROWS):
        yield from batch_documents(sf, table, row, max_chars)
        row += table.num_rows


def _dict_documents(sf: SourceFile, batch: dict, row: int, max_chars: int) -> Iterator[RawDoc]:
    import pyarrow as pa

    names = dict.fromkeys(f if f in batch else f.split(".")[0] for f in sf.source.text_fields)
    yield from batch_documents(sf, pa.table({k: batch[k] for k in names}), row, max_chars)


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    if not sf.path.exists():
        _hub(sf)  # the offline error, at planning time
        return [Segment(file_index, 0, -1, 0, 0)]
    ds = load_folder(sf.path, sf.source.split)
    size = sum(f.stat().st_size for f in sf.path.rglob("*.arrow"))
    rows = ds.num_rows
    step = max(1, rows * task_bytes // max(1, size)) if size else max(1, rows)
    segments = [Segment(file_index, a, min(a + step, rows), a, size * min(step, rows - a) // max(1, rows))
                for a in range(0, rows, step)]
    if segments:
        segments[-1].end = -1
    return segments or [Segment(file_index, 0, -1, 0, 0)]
