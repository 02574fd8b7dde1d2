"""Evaluation tasks: read, split, cap, augment and check a task's data.

A task in ``corpora/<lang>.yaml`` (``evaluate.tasks[]``, see :class:`pipeline.config.TaskSettings`)
names a train and a dev file, a ``format`` and a ``type``. :func:`load_task` reads both files into
a :class:`TaskData`; :func:`pipeline.evaluation.encode.encode` turns it into the feature dicts
``model.finetune.finetune`` takes.

Formats (readers in ``pipeline/taskdata/formats/``, picked by ``formats/registry.py``)
-------------------------------------------------------------------------------------------
``glue``   The TSV layout written by GLUE's ``download_glue_data.py``. The task (CoLA, SST-2, MRPC,
           STS-B, RTE, QNLI, WNLI, QQP, MNLI) is recognised from the task name, else from the file's
           folder name, and fixes the columns and whether there is a header (CoLA has none). Any of
           ``text_a``/``text_b``/``label`` (and ``skip_header``, when set explicitly) override it.
``tsv``    Generic tab-separated file, read without quote handling (as GLUE files are). Columns are
           header names or 0-based integer indices; ``skip_header`` says whether line 1 is a header.
           Defaults: with a header, the first of ``sentence1|sentence|text_a|text|premise|question``
           (also ``<name>_xx``, e.g. ``sentence1_sw``), ``sentence2|text_b|hypothesis|question2``
           (only for pair tasks and regression) and ``label|gold_label|labels|score|category``;
           without one, ``text_a=0, label=1`` (``text_a=0, text_b=1, label=2`` for pair tasks).
``csv``    As ``tsv``, read with quoting (cells may hold commas, quotes and line breaks); a spreadsheet's
           byte-order mark is dropped.
``jsonl``  One JSON object a line; fields ``text_a``/``text_b``/``label`` (names overridable; when
           absent, ``text``/``sentence``/``sentence1`` and ``sentence2`` are tried). Tagging: a
           ``tokens`` list and a ``tags`` (or ``label``/``ner_tags``) list of strings.
``parquet`` One example per row of a Parquet file, with the fields of ``jsonl``.
``conllu`` Universal Dependencies CoNLL-U: word lines with integer IDs (multi-word ranges ``1-2``
           and empty nodes ``1.1`` are skipped); tokens = FORM, tags = UPOS (``label`` may name
           another column: lemma/upos/xpos/feats/deprel or an index).
``conll``  NER-style: ``token<TAB or spaces>tag`` a line, blank line between sentences,
           ``-DOCSTART-`` lines ignored. The tag is the last column; the token the first, or the
           second when the first column is a running index (WikiANN files: ``0<TAB>Hu<TAB>B-LOC``).
``xnli``   XNLI dev/test TSV in any of the shared data's layouts (read as ``tsv`` with header names);
           sentence pairs, labels contradiction/entailment/neutral.
``masakhanews`` MasakhaNEWS TSV (``category headline text [url]``, CSV quoting); text_a is the headline
           and the article body joined (``text_a: headline`` or ``text`` picks one), label ``category``.
``hf``     Hugging Face ``datasets``: ``train`` (and ``dev``) is a folder written by ``save_to_disk``
           (relative to the data root or project) or, when online, a hub dataset name (``hf_config``);
           ``train_split``/``dev_split`` pick splits (``dev_split: null``: a seeded split). Columns as
           for jsonl; ``ClassLabel`` ids (also inside sequences, e.g. ``ner_tags``) become their names.

Splits, caps, augmentation
--------------------------
``dev`` omitted: a seeded ``dev_fraction`` of ``train`` is scored (the same split for every model and
seed). ``max_train_examples``/``max_eval_examples`` keep N examples spread evenly through the file, in
file order (``subset: first``: the first N); ``all`` keeps every example, said explicitly. Files sorted by
genre or document (XNLI: 501 pairs per genre; UD: sentence after sentence of one document) would otherwise
train or score one genre. MRPC and STS-B (or
``swap_augment: true``) train on every pair twice, the second time with the segments swapped, as the
official ELECTRA code does (``double_unordered``). STS-B targets (or ``label_range``) are scaled to
``(y - min) / max`` for training, as the official ``RegressionTask``; predictions are scored back on the
original scale. ``TaskData.trained_on``/``scored_on`` say in words what was trained on and scored.

Labels
------
Classification and tagging labels are strings; the label set is the sorted set of labels in the
(capped) training examples, and a dev label outside it is an error naming the file and line. The
exception is UPOS tagging from CoNLL-U, whose label set is the fixed 17-tag UD inventory (a rare tag
may be absent from a small train split without being an error; a tag outside the inventory is).
Regression labels are floats.

Every malformed row raises :class:`pipeline.errors.StageError` naming the file and line.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example
from pipeline.taskdata.formats.conllu import UPOS_TAGS
from pipeline.taskdata.formats.glue import GLUE_TASKS
from pipeline.taskdata.formats.registry import read_split_files


@dataclass
class TaskData:
    name: str
    type: str
    labels: list[str] | None
    train: list[Example]
    dev: list[Example]
    format: str = ""
    train_path: str = ""
    dev_path: str = ""
    train_available: int = 0   # examples in the train file before max_train_examples
    dev_available: int = 0     # examples in the dev file before max_eval_examples
    glue_task: str | None = None   # GLUE key when the task follows a GLUE convention
    notes: list[str] = field(default_factory=list)
    label_range: tuple[float, float] | None = None   # regression: trained on (y - min) / max
    swapped: int = 0               # training examples added by A/B swap augmentation (train includes them)
    trained_on: str = ""           # what was trained on, in words (file, split, share)
    scored_on: str = ""            # what was scored, in words

    @property
    def num_labels(self) -> int:
        return 1 if self.type == "regression" else len(self.labels or [])


def _rel_data(p: Path, task: TaskSettings, root: Path) -> str:
    """A path as the config names it: relative to the data root (or project) when under it."""
    from pipeline.config import data_root

    base = root if task.root == "project" else data_root(root)
    try:
        return str(Path(p).resolve().relative_to(Path(base).resolve()))
    except ValueError:
        return str(p)


def cap(examples: list, n: int, subset: str = "spread") -> list:
    """At most ``n`` examples: the first n, or n spread evenly through the list (index i * len / n), in order."""
    if len(examples) <= n:
        return examples
    if subset == "first":
        return examples[:n]
    return [examples[i * len(examples) // n] for i in range(n)]


def _limit(n: int | str | None) -> int | None:
    """A max_*_examples value as a cap: N, or None for ``all`` and unset."""
    return n if isinstance(n, int) else None


def _seeded_split(task: TaskSettings, train: list[Example]) -> tuple[list[Example], list[Example]]:
    """One file: a seeded split, the same for every model and seed -> (train, dev)."""
    order = list(range(len(train)))
    random.Random(task.split_seed).shuffle(order)
    n_dev = max(1, int(round(len(train) * task.dev_fraction))) if len(train) > 1 else 0
    dev_idx = set(order[:n_dev])
    return [ex for i, ex in enumerate(train) if i not in dev_idx], [ex for i, ex in enumerate(train) if i in dev_idx]


def _label_set(task: TaskSettings, train: list[Example], dev: list[Example], is_upos: bool,
               train_where: str, dev_where: str) -> list[str] | None:
    """The sorted training labels (UPOS: the fixed inventory); every dev label must be among them."""
    if task.type == "regression":
        return None
    capped = f" (after max_train_examples={task.max_train_examples})" if _limit(task.max_train_examples) else ""
    if task.type == "tagging":
        seen = {t for ex in train for t in ex.label}
    else:
        seen = {ex.label for ex in train}
    labels = sorted(UPOS_TAGS) if is_upos else sorted(seen)
    if task.type != "tagging" and len(labels) < 2:
        raise StageError(f"{train_where}: only one label ({labels[0]!r}) in the training examples{capped}; "
                         f"a classifier needs at least two")
    allowed = set(labels)
    for ex in dev:
        bad = [t for t in (ex.label if task.type == "tagging" else [ex.label]) if t not in allowed]
        if bad:
            shown = ", ".join(labels[:30]) + (" ..." if len(labels) > 30 else "")
            raise StageError(f"{dev_where}:{ex.line}: label {bad[0]!r} does not occur in the training file "
                             f"{train_where}{capped}; labels seen there: {shown}")
    return labels


def _swapped(task: TaskSettings, train: list[Example], conv: dict, notes: list[str]) -> list[Example]:
    """The A/B-swapped copies of the training pairs when the task (or its GLUE convention) asks for them."""
    swap = task.swap_augment if task.swap_augment is not None else bool(conv.get("swap"))
    if not swap:
        return []
    if task.type not in ("pair_classification", "regression") or any(ex.text_b is None for ex in train):
        raise StageError(f"task {task.name!r}: swap_augment needs sentence pairs (text_b) in every example")
    extra = [Example(text_a=ex.text_b, text_b=ex.text_a, label=ex.label, source=ex.source, line=ex.line)
             for ex in train]
    notes.append(f"training set doubled with the segments swapped ({len(extra)} + {len(extra)} examples), as the "
                 f"official code does for MRPC and STS-B")
    return extra


def load_task(task: TaskSettings | dict, root: Path) -> TaskData:
    """Read, split, cap, augment and check a task's train and dev data."""
    if isinstance(task, dict):
        task = TaskSettings.model_validate(task)
    root = Path(root)
    train, dev, train_where, dev_where, glue_key, is_upos = read_split_files(task, root)
    show = (lambda w: _rel_data(Path(w), task, root)) if task.format != "hf" else (lambda w: w)
    split_note = None
    if dev is None:
        train, dev = _seeded_split(task, train)
        dev_where = train_where
        split_note = (f"one file: a seeded split (split_seed={task.split_seed}) scores "
                      f"{task.dev_fraction:.0%} of {Path(train_where).name} and trains on the rest")
        trained_on = f"{show(train_where)} ({1 - task.dev_fraction:.0%}, split_seed {task.split_seed})"
        scored_on = f"{show(train_where)} (the other {task.dev_fraction:.0%})"
    else:
        trained_on, scored_on = show(train_where), show(dev_where)
    if not train:
        raise StageError(f"{train_where}: no examples (task {task.name!r})")
    if not dev:
        raise StageError(f"{dev_where}: no examples (task {task.name!r})")
    n_train, n_dev = len(train), len(dev)
    if _limit(task.max_train_examples):
        train = cap(train, task.max_train_examples, task.subset)
    if _limit(task.max_eval_examples):
        dev = cap(dev, task.max_eval_examples, task.subset)
    notes = [split_note] if split_note else []
    if task.note:
        notes.insert(0, task.note)
    if task.dev and (train_where == dev_where or (task.format != "hf" and
                                                  Path(train_where).resolve() == Path(dev_where).resolve())):
        notes.append("train and dev are the same file: the dev score is not a held-out score")
    labels = _label_set(task, train, dev, is_upos, train_where, dev_where)
    conv = GLUE_TASKS.get(glue_key or "", {})
    label_range = task.label_range or (conv.get("range") if task.type == "regression" else None)
    if label_range is not None:
        lo, hi = label_range
        bad = next((ex for ex in train if not lo <= ex.label <= hi), None)
        if bad is not None:
            raise StageError(f"{bad.source}:{bad.line}: label {bad.label} outside label_range [{lo}, {hi}]")
    extra = _swapped(task, train, conv, notes)
    return TaskData(name=task.name, type=task.type, labels=labels, train=train + extra, dev=dev, format=task.format,
                    train_path=str(train_where), dev_path=str(dev_where), train_available=n_train,
                    dev_available=n_dev, glue_task=glue_key, notes=notes,
                    label_range=tuple(label_range) if label_range else None, swapped=len(extra),
                    trained_on=trained_on, scored_on=scored_on)
