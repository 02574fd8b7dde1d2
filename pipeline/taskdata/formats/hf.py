"""``hf``: Hugging Face ``datasets``, from a ``save_to_disk`` folder or (online only) a hub dataset name."""
from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import TaskSettings, resolve_path
from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example
from pipeline.taskdata.formats.jsonl import from_record


def _hf_offline() -> bool:
    return any(os.environ.get(k, "").lower() in ("1", "true", "yes", "on")
               for k in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _hf_dataset(spec: str, task: TaskSettings, root: Path):
    """A Dataset/DatasetDict from a save_to_disk folder, or (online only) a hub dataset name."""
    import datasets

    path = resolve_path(spec, task.root, root)
    if path.exists():
        try:
            return datasets.load_from_disk(str(path)), str(path)
        except Exception as e:  # noqa: BLE001 - any failure: the folder is not a saved dataset
            raise StageError(f"{path}: not a dataset saved with save_to_disk ({type(e).__name__}: {e})") from None
    if Path(spec).is_absolute() or spec.startswith((".", "~")) or spec.count("/") > 1:
        raise StageError(f"{path}: not found (task {task.name!r}, format hf)")
    if _hf_offline():
        raise StageError(f"task {task.name!r}: {path} does not exist, and {spec!r} as a hub dataset name needs "
                         f"network access, but HF_HUB_OFFLINE/HF_DATASETS_OFFLINE is set; save the dataset "
                         f"with save_to_disk and point `train` at that folder")
    try:
        return datasets.load_dataset(spec, task.hf_config), f"hub:{spec}"
    except Exception as e:  # noqa: BLE001
        raise StageError(f"task {task.name!r}: cannot load hub dataset {spec!r} ({type(e).__name__}: {e})") from None


def _hf_split(ds, where: str, split: str | None, task: TaskSettings):
    import datasets

    if isinstance(ds, (datasets.DatasetDict, dict)):
        if split is None:
            raise StageError(f"{where}: holds splits {sorted(ds)}; name one (train_split/dev_split)")
        if split not in ds:
            raise StageError(f"{where}: no split {split!r} (task {task.name!r}); splits: {', '.join(sorted(ds))}")
        return ds[split], f"{where}[{split}]"
    return ds, where


def _class_names(feature) -> list[str] | None:
    names = getattr(feature, "names", None)
    if names:
        return list(names)
    inner = getattr(feature, "feature", None)
    return list(getattr(inner, "names", None) or []) or None if inner is not None else None


def class_names(features) -> dict[str, list[str]]:
    """Column -> ClassLabel names (of the column, or of a list column's items), from ``datasets`` features."""
    out = {}
    for k, f in (features or {}).items():
        names = _class_names(f)
        if names:
            out[k] = names
    return out


def named_rows(rows, names: dict[str, list[str]], where: str, task: TaskSettings) -> list[Example]:
    """Examples from dataset rows (dicts); ClassLabel ids (``names``: column -> label names) become their names."""
    out = []
    for i, row in enumerate(rows):
        obj = {}
        for k, v in row.items():
            col = names.get(k)
            if col and isinstance(v, list):
                v = [col[x] if isinstance(x, int) and 0 <= x < len(col) else str(x) for x in v]
            elif col and isinstance(v, int) and not isinstance(v, bool):
                if not 0 <= v < len(col):
                    raise StageError(f"{where}:{i + 1}: label {v} in column {k!r} is not one of its "
                                     f"{len(col)} class ids" + (" (unlabelled, e.g. a GLUE test split)"
                                                                 if v < 0 else ""))
                v = col[v]
            elif isinstance(v, list) and task.type == "tagging":
                v = [str(x) for x in v]
            obj[k] = v
        ex = from_record(obj, task, where, i + 1)
        if ex is not None:
            out.append(ex)
    return out


def _read_hf_rows(ds, where: str, task: TaskSettings) -> list[Example]:
    return named_rows(ds, class_names(getattr(ds, "features", None)), where, task)


def read_hf_task(task: TaskSettings, root: Path):
    """(train examples, dev examples or None, train where, dev where) of a ``format: hf`` task."""
    if task.type != "tagging" and task.type not in ("classification", "pair_classification", "regression"):
        raise StageError(f"task {task.name!r}: unknown type {task.type!r}")
    ds, where = _hf_dataset(task.train, task, root)
    tr_ds, train_where = _hf_split(ds, where, task.train_split, task)
    train = _read_hf_rows(tr_ds, train_where, task)
    dev, dev_where = None, None
    if task.dev:
        dds, dwhere = _hf_dataset(task.dev, task, root)
        dv_ds, dev_where = _hf_split(dds, dwhere, task.dev_split, task)
        dev = _read_hf_rows(dv_ds, dev_where, task)
    elif task.dev_split is not None:
        import datasets
        if not isinstance(ds, (datasets.DatasetDict, dict)):
            raise StageError(f"{where}: a single split, so there is no dev_split {task.dev_split!r}; give "
                             f"`dev`, or set dev_split: null for a seeded dev_fraction of it")
        dv_ds, dev_where = _hf_split(ds, where, task.dev_split, task)
        dev = _read_hf_rows(dv_ds, dev_where, task)
    return train, dev, train_where, dev_where
