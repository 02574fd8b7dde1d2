"""Which reader reads a task's files: one entry per ``format`` (``TaskSettings.format``)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from pipeline.config import TaskSettings, resolve_path
from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example
from pipeline.taskdata.formats.conll import read_conll
from pipeline.taskdata.formats.conllu import read_conllu
from pipeline.taskdata.formats.glue import glue_convention
from pipeline.taskdata.formats.hf import read_hf_task
from pipeline.taskdata.formats.jsonl import read_jsonl
from pipeline.taskdata.formats.parquet import read_parquet
from pipeline.taskdata.formats.tsv import read_csv, read_masakhanews, read_tsv, read_xnli

Reader = Callable[[Path, TaskSettings, "dict | None"], list[Example]]

# format -> reader of one file (``glue``: the task's GLUE convention; ``hf`` is read from datasets, not a file)
READERS: dict[str, Reader] = {
    "glue": read_tsv,
    "tsv": read_tsv,
    "csv": lambda path, task, glue: read_csv(path, task),
    "parquet": lambda path, task, glue: read_parquet(path, task),
    "xnli": lambda path, task, glue: read_xnli(path, task),
    "masakhanews": lambda path, task, glue: read_masakhanews(path, task),
    "jsonl": lambda path, task, glue: read_jsonl(path, task),
    "conllu": lambda path, task, glue: read_conllu(path, task)[0],
    "conll": lambda path, task, glue: read_conll(path, task),
}
TEXT_FORMATS = ("glue", "tsv", "csv", "xnli", "masakhanews")   # one or two texts and a label per row
TAGGED_FORMATS = ("conllu", "conll")                    # tagged tokens


def read_examples(path: Path, task: TaskSettings, glue: dict | None = None) -> list[Example]:
    """All examples of one file in the task's format (no capping, no label-set check)."""
    fmt = task.format
    if task.type == "tagging" and fmt in TEXT_FORMATS:
        raise StageError(f"task {task.name!r}: tagging tasks need format conllu, conll, jsonl, parquet or hf, "
                         f"not {fmt}")
    if task.type != "tagging" and fmt in TAGGED_FORMATS:
        raise StageError(f"task {task.name!r}: format {fmt} holds tagged tokens; set type: tagging")
    reader = READERS.get(fmt)
    if reader is None:
        raise StageError(f"task {task.name!r}: format {fmt!r} is not read from a file")
    return reader(path, task, glue)


def read_split_files(task: TaskSettings, root: Path):
    """(train examples, dev examples or None, train where, dev where, glue key, is UPOS)."""
    train_path = resolve_path(task.train, task.root, root)
    dev_path = resolve_path(task.dev, task.root, root) if task.dev else None
    glue_key, conv = (None, None)
    if task.format == "glue":
        glue_key, conv = glue_convention(task, train_path)
    is_upos = False
    if task.format == "hf":
        return (*read_hf_task(task, root), glue_key, is_upos)
    if task.format == "conllu":
        train, is_upos = read_conllu(train_path, task)
        dev = read_conllu(dev_path, task)[0] if dev_path else None
    else:
        train = read_examples(train_path, task, conv)
        dev = read_examples(dev_path, task, conv) if dev_path else None
    return train, dev, str(train_path), (str(dev_path) if dev_path else None), glue_key, is_upos
