"""Fine-tuning task loaders and encoders for the evaluate stage.

A task in ``corpora/<lang>.yaml`` (``evaluate.tasks[]``, see :class:`pipeline.config.TaskSettings`)
names a train and a dev file, a ``format`` and a ``type``. :func:`load_task` reads both files into
a :class:`TaskData`; :func:`encode` turns it into the feature dicts ``model.finetune.finetune``
takes.

Formats
-------
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
``jsonl``  One JSON object a line; fields ``text_a``/``text_b``/``label`` (names overridable; when
           absent, ``text``/``sentence``/``sentence1`` and ``sentence2`` are tried). Tagging: a
           ``tokens`` list and a ``tags`` (or ``label``/``ner_tags``) list of strings.
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
seed). ``max_train_examples``/``max_eval_examples`` keep the first N. MRPC and STS-B (or
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

import csv
import io
import json
import math
import os
import random
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from pipeline.config import TaskSettings, resolve_path
from pipeline.errors import StageError

UPOS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
             "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
CONLLU_COLUMNS = {"id": 0, "form": 1, "lemma": 2, "upos": 3, "xpos": 4, "feats": 5, "head": 6,
                  "deprel": 7, "deps": 8, "misc": 9}

# GLUE conventions (download_glue_data.py layout). Columns by header name where there is a header.
GLUE_TASKS: dict[str, dict[str, Any]] = {
    "cola": dict(display="CoLA", type="classification", header=False, text_a=3, text_b=None, label=1),
    "sst2": dict(display="SST-2", type="classification", header=True, text_a="sentence", text_b=None,
                 label="label"),
    "mrpc": dict(display="MRPC", type="pair_classification", header=True, text_a="#1 String",
                 text_b="#2 String", label="Quality", swap=True),
    "stsb": dict(display="STS-B", type="regression", header=True, text_a="sentence1", text_b="sentence2",
                 label="score", epochs=10, swap=True, range=(0.0, 5.0)),
    "qqp": dict(display="QQP", type="pair_classification", header=True, text_a="question1",
                text_b="question2", label="is_duplicate"),
    "mnli": dict(display="MNLI", type="pair_classification", header=True, text_a="sentence1",
                 text_b="sentence2", label="gold_label"),
    "qnli": dict(display="QNLI", type="pair_classification", header=True, text_a="question",
                 text_b="sentence", label="label"),
    "rte": dict(display="RTE", type="pair_classification", header=True, text_a="sentence1",
                text_b="sentence2", label="label", epochs=10),
    "wnli": dict(display="WNLI", type="pair_classification", header=True, text_a="sentence1",
                 text_b="sentence2", label="label"),
}
# The fine-tuning recipe (Clark et al. 2020, Appendix / official configure_finetuning.py): 3 epochs,
# 10 for RTE and STS-B; MRPC and STS-B train on both segment orders (``double_unordered``); STS-B
# targets scaled to [0, 1] (``(y - 0) / 5``, official RegressionTask).
DEFAULT_EPOCHS = 3.0
XNLI_LABELS = ("contradiction", "entailment", "neutral")


def default_epochs(task: TaskSettings, glue_key: str | None) -> float:
    if task.epochs is not None:
        return float(task.epochs)
    return float(GLUE_TASKS.get(glue_key or "", {}).get("epochs", DEFAULT_EPOCHS))


_TEXT_A_NAMES = ("sentence1", "sentence", "text_a", "text", "premise", "question", "question1")
_TEXT_B_NAMES = ("sentence2", "text_b", "hypothesis", "question2")
_LABEL_NAMES = ("label", "gold_label", "labels", "score", "category", "is_duplicate")


def normalize_task_name(name: str) -> str | None:
    """GLUE key (``cola``, ``sst2``, ``stsb``...) for a task or folder name, or None."""
    k = re.sub(r"[^a-z0-9]", "", str(name).lower())
    for cand in (k, k.removeprefix("glue"), k.removesuffix("glue")):
        if cand in GLUE_TASKS:
            return cand
    return None


@dataclass
class Example:
    text_a: str
    text_b: str | None = None
    # str (classification), float (regression) or list[str] (tagging: one tag per token)
    label: Any = None
    tokens: list[str] | None = None
    source: str = ""      # file it came from
    line: int = 0         # 1-based line of the row (tagging: of the sentence's first token)


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


# --- reading ---------------------------------------------------------------------------------

def _read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file without line ends; a leading BOM is dropped. Errors name the line."""
    if not path.is_file():
        raise StageError(f"{path}: file not found")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out = []
    for i, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StageError(f"{path}:{i}: not valid UTF-8 (byte {e.start} of the line)") from None
        out.append(line[:-1] if line.endswith("\r") else line)
    if out and out[-1] == "":
        out.pop()
    return out


def _column(spec, header: list[str] | None, path: Path, what: str) -> int | None:
    if spec is None:
        return None
    if isinstance(spec, bool):
        raise StageError(f"{path}: column for {what} must be a name or an index, got {spec!r}")
    if isinstance(spec, int):
        if spec < 0 and header is not None:
            return len(header) + spec
        return spec
    spec = str(spec)
    if header is None:
        if spec.lstrip("-").isdigit():
            return int(spec)
        raise StageError(f"{path}: {what} column {spec!r} is a name, but the file is read without a header "
                         f"(skip_header is false); give a 0-based column index instead")
    if spec in header:
        return header.index(spec)
    if spec.lstrip("-").isdigit():
        return int(spec)
    raise StageError(f"{path}:1: no column named {spec!r} for {what}; the header has: {', '.join(header)}")


def _default_column(names: Iterable[str], header: list[str]) -> str | None:
    for n in names:
        if n in header:
            return n
    for n in names:
        for h in header:
            if h.startswith(n + "_"):
                return h
    return None


def _parse_label(raw: str, task_type: str, path: Path, line: int):
    raw = raw.strip()
    if raw == "":
        raise StageError(f"{path}:{line}: empty label")
    if task_type == "regression":
        try:
            v = float(raw)
        except ValueError:
            raise StageError(f"{path}:{line}: label {raw!r} is not a number (regression task)") from None
        if not math.isfinite(v):
            raise StageError(f"{path}:{line}: label {raw!r} is not a finite number")
        return v
    return raw


def _read_tsv(path: Path, task: TaskSettings, glue: dict | None) -> list[Example]:
    lines = _read_lines(path)
    conv = glue or {}
    if glue is not None and "skip_header" not in task.model_fields_set:
        has_header = glue["header"]
    else:
        has_header = task.skip_header
    header = None
    start = 0
    if has_header:
        if not lines:
            raise StageError(f"{path}: empty file (expected a header line)")
        header = [h.strip() for h in lines[0].split("\t")]
        start = 1
    pair = task.type == "pair_classification"
    a_spec = task.text_a if task.text_a is not None else conv.get("text_a")
    b_spec = task.text_b if task.text_b is not None else conv.get("text_b")
    l_spec = task.label if task.label is not None else conv.get("label")
    if glue is None:
        if header is not None:
            a_spec = a_spec if a_spec is not None else _default_column(_TEXT_A_NAMES, header)
            if b_spec is None and task.type in ("pair_classification", "regression"):
                b_spec = _default_column(_TEXT_B_NAMES, header)
            l_spec = l_spec if l_spec is not None else _default_column(_LABEL_NAMES, header)
            missing = [w for w, s in (("text_a", a_spec), ("label", l_spec)) if s is None]
            if pair and b_spec is None:
                missing.append("text_b")
            if missing:
                raise StageError(f"{path}:1: cannot tell which column is {' / '.join(missing)} from the header "
                                 f"({', '.join(header)}); set evaluate.tasks[{task.name}].{missing[0]} "
                                 f"to a column name")
        else:
            a_spec = 0 if a_spec is None else a_spec
            if pair and b_spec is None:
                b_spec = 1
            l_spec = l_spec if l_spec is not None else (2 if b_spec is not None else 1)
    if pair and b_spec is None:
        raise StageError(f"{path}: task {task.name!r} is a pair task but has no text_b column")
    ia = _column(a_spec, header, path, "text_a")
    ib = _column(b_spec, header, path, "text_b")
    il = _column(l_spec, header, path, "label")
    ncols = len(header) if header is not None else None
    out = []
    for i in range(start, len(lines)):
        line = lines[i]
        lineno = i + 1
        if line.strip() == "":
            continue
        cols = line.split("\t")
        if ncols is None:
            ncols = len(cols)
        if len(cols) != ncols:
            what = "the header has" if header is not None else "the first row has"
            raise StageError(f"{path}:{lineno}: expected {ncols} tab-separated columns ({what} {ncols}), "
                             f"found {len(cols)}")
        need = max(x for x in (ia, ib, il) if x is not None)
        if need >= len(cols) or min(x for x in (ia, ib, il) if x is not None) < -len(cols):
            raise StageError(f"{path}:{lineno}: row has {len(cols)} columns, but column {need} is configured")
        label = _parse_label(cols[il], task.type, path, lineno)
        out.append(Example(text_a=cols[ia].strip(), text_b=cols[ib].strip() if ib is not None else None,
                           label=label, source=str(path), line=lineno))
    return out


def _field(obj: dict, spec, fallbacks: tuple[str, ...]):
    if spec is not None:
        return str(spec), obj.get(str(spec))
    for f in fallbacks:
        if f in obj:
            return f, obj[f]
    return fallbacks[0], None


def _read_jsonl(path: Path, task: TaskSettings) -> list[Example]:
    out = []
    for lineno, line in enumerate(_read_lines(path), 1):
        if line.strip() == "":
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise StageError(f"{path}:{lineno}: invalid JSON ({e.msg.removesuffix(' at')} at column "
                             f"{e.colno})") from None
        if not isinstance(obj, dict):
            raise StageError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        ex = _from_record(obj, task, str(path), lineno)
        if ex is not None:
            out.append(ex)
    return out


def _from_record(obj: dict, task: TaskSettings, where: str, lineno: int) -> Example | None:
    """One example from a JSON object / dataset row (None for an empty tagged sentence)."""
    if task.type == "tagging":
        tname, tokens = _field(obj, task.text_a, ("tokens", "words"))
        lname, tags = _field(obj, task.label, ("tags", "label", "labels", "ner_tags", "upos", "pos_tags"))
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise StageError(f"{where}:{lineno}: field {tname!r} must be a list of strings")
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            raise StageError(f"{where}:{lineno}: field {lname!r} must be a list of tag strings")
        if len(tokens) != len(tags):
            raise StageError(f"{where}:{lineno}: {len(tokens)} tokens but {len(tags)} tags")
        if not tokens:
            return None
        return Example(text_a=" ".join(tokens), tokens=list(tokens), label=list(tags), source=where, line=lineno)
    aname, a = _field(obj, task.text_a, ("text_a", "text", "sentence", "sentence1", "premise", "question"))
    bname, b = _field(obj, task.text_b, ("text_b", "sentence2", "hypothesis"))
    if task.type == "classification" and task.text_b is None:
        b = None
    lname, lab = _field(obj, task.label, ("label", "labels", "score", "gold_label"))
    if not isinstance(a, str):
        raise StageError(f"{where}:{lineno}: field {aname!r} is missing or not a string")
    if task.type == "pair_classification" and not isinstance(b, str):
        raise StageError(f"{where}:{lineno}: field {bname!r} is missing or not a string (pair task)")
    if b is not None and not isinstance(b, str):
        raise StageError(f"{where}:{lineno}: field {bname!r} is not a string")
    if lab is None or isinstance(lab, (list, dict)):
        raise StageError(f"{where}:{lineno}: field {lname!r} is missing or not a scalar label")
    if isinstance(lab, bool):
        lab = str(int(lab))
    label = _parse_label(str(lab), task.type, where, lineno)
    return Example(text_a=a.strip(), text_b=b.strip() if isinstance(b, str) else None, label=label,
                   source=where, line=lineno)


def _read_masakhanews(path: Path, task: TaskSettings) -> list[Example]:
    """MasakhaNEWS ``{train,dev,test}.tsv``: header ``category headline text [url]``, CSV-style quoting
    (articles contain quoted passages). text_a defaults to the headline and the article body joined by
    a space (the MasakhaNEWS "headline + text" setting); ``text_a: headline`` or ``text`` picks one."""
    if task.type != "classification":
        raise StageError(f"task {task.name!r}: format masakhanews is single-text classification "
                         f"(type: classification), not {task.type}")
    _read_lines(path)  # existence, UTF-8 and BOM checks with line numbers
    data = path.read_text(encoding="utf-8-sig")
    reader = csv.reader(io.StringIO(data, newline=""), delimiter="\t", quotechar='"')
    try:
        header = [h.strip() for h in next(reader)]
    except StopIteration:
        raise StageError(f"{path}: empty file (expected a header line)") from None
    label_col = str(task.label) if task.label is not None else "category"
    want = [label_col] + ([str(task.text_a)] if task.text_a is not None else ["headline", "text"])
    missing = [c for c in want if c not in header]
    if missing:
        raise StageError(f"{path}:1: no column(s) {missing} in the header ({', '.join(header)})")
    il = header.index(label_col)
    ia = [header.index(c) for c in want[1:]]
    out = []
    while True:
        lineno = reader.line_num + 1
        try:
            row = next(reader)
        except StopIteration:
            break
        except csv.Error as e:
            raise StageError(f"{path}:{lineno}: {e}") from None
        if not row or all(c.strip() == "" for c in row):
            continue
        if len(row) != len(header):
            raise StageError(f"{path}:{lineno}: expected {len(header)} tab-separated columns (the header has "
                             f"{len(header)}), found {len(row)}")
        text = " ".join(" ".join(row[i].split()) for i in ia if row[i].strip())
        if not text:
            raise StageError(f"{path}:{lineno}: empty text")
        out.append(Example(text_a=text, label=_parse_label(row[il], task.type, path, lineno), source=str(path),
                           line=lineno))
    return out


def _read_xnli(path: Path, task: TaskSettings) -> list[Example]:
    """XNLI ``dev.tsv``/``test.tsv`` in any of the layouts of the shared data (``genre label sentence1
    sentence2``, ``sentence1_sw``..., ``text_a text_b label``, KorNLI ``sentence1 sentence2 gold_label``);
    labels must be contradiction/entailment/neutral."""
    if task.type != "pair_classification":
        raise StageError(f"task {task.name!r}: format xnli is sentence-pair classification "
                         f"(type: pair_classification), not {task.type}")
    out = _read_tsv(path, task, None)
    for ex in out:
        if ex.label not in XNLI_LABELS:
            raise StageError(f"{path}:{ex.line}: label {ex.label!r} is not an XNLI label "
                             f"({', '.join(XNLI_LABELS)})")
    return out


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


def _read_hf_rows(ds, where: str, task: TaskSettings) -> list[Example]:
    """Examples from a datasets.Dataset; ClassLabel ids become their names."""
    features = getattr(ds, "features", {}) or {}
    conv = {k: _class_names(f) for k, f in features.items()}
    out = []
    for i, row in enumerate(ds):
        obj = {}
        for k, v in row.items():
            names = conv.get(k)
            if names and isinstance(v, list):
                v = [names[x] if isinstance(x, int) and 0 <= x < len(names) else str(x) for x in v]
            elif names and isinstance(v, int) and not isinstance(v, bool):
                if v < 0:
                    raise StageError(f"{where}: row {i}: label {v} (unlabelled, e.g. a GLUE test split) "
                                     f"in column {k!r}")
                v = names[v]
            elif isinstance(v, list) and task.type == "tagging":
                v = [str(x) for x in v]
            obj[k] = v
        ex = _from_record(obj, task, where, i + 1)
        if ex is not None:
            out.append(ex)
    return out


def _read_conllu(path: Path, task: TaskSettings) -> tuple[list[Example], bool]:
    """CoNLL-U sentences; returns (examples, label column is UPOS)."""
    def col(spec, default):
        if spec is None:
            return default
        if isinstance(spec, int):
            return spec
        s = str(spec).lower()
        if s in CONLLU_COLUMNS:
            return CONLLU_COLUMNS[s]
        if s.isdigit():
            return int(s)
        raise StageError(f"{path}: unknown CoNLL-U column {spec!r}; use one of {', '.join(CONLLU_COLUMNS)} "
                         f"or a 0-based index")
    iform = col(task.text_a, 1)
    itag = col(task.label, 3)
    for i in (iform, itag):
        if not 0 <= i < 10:
            raise StageError(f"{path}: CoNLL-U column index {i} is out of range 0..9")
    is_upos = itag == 3
    out: list[Example] = []
    tokens: list[str] = []
    tags: list[str] = []
    first = 0
    expect = 1

    def flush():
        nonlocal tokens, tags, expect
        if tokens:
            out.append(Example(text_a=" ".join(tokens), tokens=tokens, label=tags, source=str(path), line=first))
        tokens, tags, expect = [], [], 1

    for lineno, line in enumerate(_read_lines(path), 1):
        if line.strip() == "":
            flush()
            continue
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 10:
            hint = ""
            if len(cols) in (2, 3, 4):
                hint = " (this looks like a CoNLL NER file: use format: conll)"
            raise StageError(f"{path}:{lineno}: expected 10 tab-separated CoNLL-U columns, found {len(cols)}{hint}")
        wid = cols[0]
        if re.fullmatch(r"\d+-\d+", wid) or re.fullmatch(r"\d+\.\d+", wid):
            continue  # multi-word token range or empty node
        if not wid.isdigit():
            raise StageError(f"{path}:{lineno}: ID {wid!r} is not an integer, range (1-2) or empty node (1.1)")
        if int(wid) != expect:
            raise StageError(f"{path}:{lineno}: word ID {wid} out of sequence (expected {expect}); "
                             f"is a blank line missing between sentences?")
        expect += 1
        form, tag = cols[iform], cols[itag]
        if form == "":
            raise StageError(f"{path}:{lineno}: empty FORM")
        if tag in ("", "_"):
            raise StageError(f"{path}:{lineno}: word {form!r} has no tag in column {itag} ({tag!r})")
        if is_upos and tag not in UPOS_TAGS:
            raise StageError(f"{path}:{lineno}: {tag!r} is not a Universal POS tag "
                             f"(allowed: {', '.join(UPOS_TAGS)})")
        if not tokens:
            first = lineno
        tokens.append(form)
        tags.append(tag)
    flush()
    return out, is_upos


def _read_conll(path: Path, task: TaskSettings) -> list[Example]:
    rows: list[tuple[int, list[str]] | None] = []   # None = sentence break
    ncols = None
    for lineno, line in enumerate(_read_lines(path), 1):
        s = line.strip()
        if s == "":
            rows.append(None)
            continue
        if s.startswith("-DOCSTART-"):
            rows.append(None)
            continue
        cols = [c.strip() for c in line.split("\t")] if "\t" in line else s.split()
        if len(cols) < 2:
            raise StageError(f"{path}:{lineno}: expected 'token<TAB>tag' (or 'token tag'), found {len(cols)} column")
        if ncols is None:
            ncols = len(cols)
        if len(cols) != ncols:
            raise StageError(f"{path}:{lineno}: expected {ncols} columns like the first token line, found {len(cols)}")
        if any(c == "" for c in cols):
            raise StageError(f"{path}:{lineno}: empty column")
        rows.append((lineno, cols))
    rows.append(None)
    # sentences
    sents: list[list[tuple[int, list[str]]]] = []
    cur: list[tuple[int, list[str]]] = []
    for r in rows:
        if r is None:
            if cur:
                sents.append(cur)
            cur = []
        else:
            cur.append(r)
    # a running index in column 0 (WikiANN): every sentence numbered 0..n-1 or 1..n
    indexed = False
    if ncols is not None and ncols >= 3 and task.text_a is None:
        def numbered(sent):
            ids = [c[0] for _, c in sent]
            if not all(x.isdigit() for x in ids):
                return False
            start = int(ids[0])
            return start in (0, 1) and [int(x) for x in ids] == list(range(start, start + len(ids)))
        indexed = all(numbered(s) for s in sents)
    def index(spec, what, default):
        if spec is None:
            return default
        try:
            return int(spec)
        except (TypeError, ValueError):
            raise StageError(f"{path}: format conll has no column names; give {what} as a 0-based column "
                             f"index (got {spec!r})") from None
    itok = index(task.text_a, "text_a (the token column)", 1 if indexed else 0)
    itag = index(task.label, "label (the tag column)", -1)
    out = []
    for sent in sents:
        for lineno, cols in sent:
            if not -len(cols) <= itag < len(cols) or not 0 <= itok < len(cols):
                raise StageError(f"{path}:{lineno}: column index out of range for a {len(cols)}-column line")
        out.append(Example(text_a=" ".join(c[itok] for _, c in sent), tokens=[c[itok] for _, c in sent],
                           label=[c[itag] for _, c in sent], source=str(path), line=sent[0][0]))
    return out


def read_examples(path: Path, task: TaskSettings, glue: dict | None = None) -> list[Example]:
    """All examples of one file in the task's format (no capping, no label-set check)."""
    fmt = task.format
    if task.type == "tagging" and fmt in ("glue", "tsv", "xnli", "masakhanews"):
        raise StageError(f"task {task.name!r}: tagging tasks need format conllu, conll, jsonl or hf, not {fmt}")
    if task.type != "tagging" and fmt in ("conllu", "conll"):
        raise StageError(f"task {task.name!r}: format {fmt} holds tagged tokens; set type: tagging")
    if fmt in ("glue", "tsv"):
        return _read_tsv(path, task, glue)
    if fmt == "xnli":
        return _read_xnli(path, task)
    if fmt == "masakhanews":
        return _read_masakhanews(path, task)
    if fmt == "jsonl":
        return _read_jsonl(path, task)
    if fmt == "conllu":
        return _read_conllu(path, task)[0]
    if fmt == "conll":
        return _read_conll(path, task)
    raise StageError(f"task {task.name!r}: format {fmt!r} is not read from a file")


def _glue_convention(task: TaskSettings, train_path: Path) -> tuple[str, dict]:
    key = normalize_task_name(task.name) or normalize_task_name(train_path.parent.name)
    if key is None:
        known = ", ".join(v["display"] for v in GLUE_TASKS.values())
        raise StageError(f"task {task.name!r}: format glue, but neither the task name nor the folder "
                         f"{train_path.parent.name!r} is a GLUE task ({known}); use format: tsv with "
                         f"text_a/text_b/label columns")
    conv = GLUE_TASKS[key]
    want = conv["type"]
    ok = task.type == want or (want != "regression" and task.type in ("classification", "pair_classification"))
    if not ok:
        raise StageError(f"task {task.name!r}: GLUE {conv['display']} is a {want} task, but type is {task.type!r}")
    return key, conv


def _rel_data(p: Path, task: TaskSettings, root: Path) -> str:
    """A path as the config names it: relative to the data root (or project) when under it."""
    from pipeline.config import data_root

    base = root if task.root == "project" else data_root(root)
    try:
        return str(Path(p).resolve().relative_to(Path(base).resolve()))
    except ValueError:
        return str(p)


def _read_split_files(task: TaskSettings, root: Path):
    """(train examples, dev examples or None, train where, dev where, glue key, is UPOS)."""
    train_path = resolve_path(task.train, task.root, root)
    dev_path = resolve_path(task.dev, task.root, root) if task.dev else None
    glue_key, conv = (None, None)
    if task.format == "glue":
        glue_key, conv = _glue_convention(task, train_path)
    is_upos = False
    if task.format == "hf":
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
        return train, dev, train_where, dev_where, glue_key, is_upos
    if task.format == "conllu":
        train, is_upos = _read_conllu(train_path, task)
        dev = _read_conllu(dev_path, task)[0] if dev_path else None
    else:
        train = read_examples(train_path, task, conv)
        dev = read_examples(dev_path, task, conv) if dev_path else None
    return train, dev, str(train_path), (str(dev_path) if dev_path else None), glue_key, is_upos


def load_task(task: TaskSettings | dict, root: Path) -> TaskData:
    """Read, split, cap, augment and check a task's train and dev data."""
    if isinstance(task, dict):
        task = TaskSettings.model_validate(task)
    root = Path(root)
    train, dev, train_where, dev_where, glue_key, is_upos = _read_split_files(task, root)
    show = (lambda w: _rel_data(Path(w), task, root)) if task.format != "hf" else (lambda w: w)
    split_note = None
    if dev is None:  # one file: a seeded split, the same for every model and seed
        order = list(range(len(train)))
        random.Random(task.split_seed).shuffle(order)
        n_dev = max(1, int(round(len(train) * task.dev_fraction))) if len(train) > 1 else 0
        dev_idx = set(order[:n_dev])
        dev = [ex for i, ex in enumerate(train) if i in dev_idx]
        train = [ex for i, ex in enumerate(train) if i not in dev_idx]
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
    if task.max_train_examples:
        train = train[: task.max_train_examples]
    if task.max_eval_examples:
        dev = dev[: task.max_eval_examples]
    notes = [split_note] if split_note else []
    if task.note:
        notes.insert(0, task.note)
    if task.dev and (train_where == dev_where or (task.format != "hf" and
                                                  Path(train_where).resolve() == Path(dev_where).resolve())):
        notes.append("train and dev are the same file: the dev score is not a held-out score")

    labels: list[str] | None = None
    if task.type != "regression":
        capped = f" (after max_train_examples={task.max_train_examples})" if task.max_train_examples else ""
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
    conv = GLUE_TASKS.get(glue_key or "", {})
    label_range = task.label_range or (conv.get("range") if task.type == "regression" else None)
    if label_range is not None:
        lo, hi = label_range
        bad = next((ex for ex in train if not lo <= ex.label <= hi), None)
        if bad is not None:
            raise StageError(f"{bad.source}:{bad.line}: label {bad.label} outside label_range [{lo}, {hi}]")
    swap = task.swap_augment if task.swap_augment is not None else bool(conv.get("swap"))
    swapped = 0
    if swap:
        if task.type not in ("pair_classification", "regression") or any(ex.text_b is None for ex in train):
            raise StageError(f"task {task.name!r}: swap_augment needs sentence pairs (text_b) in every example")
        extra = [Example(text_a=ex.text_b, text_b=ex.text_a, label=ex.label, source=ex.source, line=ex.line)
                 for ex in train]
        swapped = len(extra)
        train = train + extra
        notes.append(f"training set doubled with the segments swapped ({swapped} + {swapped} examples), as the "
                     f"official code does for MRPC and STS-B")
    return TaskData(name=task.name, type=task.type, labels=labels, train=train, dev=dev, format=task.format,
                    train_path=str(train_where), dev_path=str(dev_where), train_available=n_train,
                    dev_available=n_dev, glue_task=glue_key, notes=notes,
                    label_range=tuple(label_range) if label_range else None, swapped=swapped,
                    trained_on=trained_on, scored_on=scored_on)


# --- encoding --------------------------------------------------------------------------------

def _type_ids(enc: dict, i: int, ids: list[int], sep_id: int | None) -> list[int]:
    tt = enc.get("token_type_ids")
    if tt is not None:
        return list(tt[i])
    # Tokenizer without token types: segment B starts after the first [SEP].
    out, seg = [], 0
    for t in ids:
        out.append(seg)
        if t == sep_id and seg == 0:
            seg = 1
    return out


def encode(task: TaskData, tokenizer, max_length: int, batch_size: int = 1000) -> tuple[list[dict], list[dict]]:
    """Feature dicts for ``model.finetune.finetune``: ``input_ids``, ``token_type_ids``, ``label``.

    Pairs are truncated longest segment first. Tagging labels the first sub-token of each word and
    gives -100 to the other sub-tokens and to [CLS]/[SEP]; words cut off by ``max_length`` are not
    labelled (and so not scored).
    """
    return (_encode_split(task, task.train, tokenizer, max_length, batch_size),
            _encode_split(task, task.dev, tokenizer, max_length, batch_size))


def _encode_split(task: TaskData, examples: list[Example], tokenizer, max_length: int,
                  batch_size: int) -> list[dict]:
    sep_id = getattr(tokenizer, "sep_token_id", None)
    feats: list[dict] = []
    if task.type == "tagging":
        if not getattr(tokenizer, "is_fast", False):
            raise StageError("tagging tasks need a fast tokenizer (tokenizer.json) to align words and sub-tokens")
        index = {t: i for i, t in enumerate(task.labels or [])}
        for s in range(0, len(examples), batch_size):
            chunk = examples[s:s + batch_size]
            enc = tokenizer([ex.tokens for ex in chunk], is_split_into_words=True, truncation=True,
                            max_length=max_length, return_token_type_ids=True)
            for i, ex in enumerate(chunk):
                ids = list(enc["input_ids"][i])
                labels, prev = [], None
                for w in enc.word_ids(i):
                    if w is None or w == prev:
                        labels.append(-100)
                    else:
                        labels.append(index[ex.label[w]])
                    if w is not None:
                        prev = w
                feats.append({"input_ids": ids, "token_type_ids": _type_ids(enc, i, ids, sep_id), "label": labels})
        return feats
    index = {t: i for i, t in enumerate(task.labels or [])}
    for s in range(0, len(examples), batch_size):
        chunk = examples[s:s + batch_size]
        a = [ex.text_a for ex in chunk]
        has_b = [ex.text_b is not None for ex in chunk]
        if any(has_b) and not all(has_b):
            encs = [_encode_one(tokenizer, ex, max_length) for ex in chunk]
            for ex, (ids, tt) in zip(chunk, encs):
                feats.append({"input_ids": ids, "token_type_ids": tt, "label": _label_value(task, ex, index)})
            continue
        if all(has_b) and chunk:
            enc = tokenizer(a, [ex.text_b for ex in chunk], truncation="longest_first", max_length=max_length,
                            return_token_type_ids=True)
        else:
            enc = tokenizer(a, truncation=True, max_length=max_length, return_token_type_ids=True)
        for i, ex in enumerate(chunk):
            ids = list(enc["input_ids"][i])
            feats.append({"input_ids": ids, "token_type_ids": _type_ids(enc, i, ids, sep_id),
                          "label": _label_value(task, ex, index)})
    return feats


def _encode_one(tokenizer, ex: Example, max_length: int) -> tuple[list[int], list[int]]:
    if ex.text_b is None:
        enc = tokenizer(ex.text_a, truncation=True, max_length=max_length, return_token_type_ids=True)
    else:
        enc = tokenizer(ex.text_a, ex.text_b, truncation="longest_first", max_length=max_length,
                        return_token_type_ids=True)
    ids = list(enc["input_ids"])
    tt = enc.get("token_type_ids")
    if tt is None:
        tt = _type_ids({"token_type_ids": None}, 0, ids, getattr(tokenizer, "sep_token_id", None))
    return ids, list(tt)


def _label_value(task: TaskData, ex: Example, index: dict[str, int]):
    if task.type == "regression":
        if task.label_range is not None:  # official RegressionTask: (label - min) / max
            lo, hi = task.label_range
            return (float(ex.label) - lo) / hi
        return float(ex.label)
    return index[ex.label]
