"""Delimited formats: ``glue`` and ``tsv`` (no quote handling, as GLUE files are), ``csv`` (quoted cells, as
spreadsheets write them; the same columns as ``tsv``), ``xnli`` (TSV with header names in any of the shared
data's layouts) and ``masakhanews`` (CSV quoting)."""
from __future__ import annotations

import csv
import io
from pathlib import Path
from typing import Iterable

from pipeline.config import TaskSettings
from pipeline.config.sources import delimiter_hint
from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example, parse_label, read_lines, read_text

_TEXT_A_NAMES = ("sentence1", "sentence", "text_a", "text", "premise", "question", "question1")
_TEXT_B_NAMES = ("sentence2", "text_b", "hypothesis", "question2")
_LABEL_NAMES = ("label", "gold_label", "labels", "score", "category", "is_duplicate")
XNLI_LABELS = ("contradiction", "entailment", "neutral")


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


def _column_specs(task: TaskSettings, glue: dict | None, header: list[str] | None, path: Path) -> tuple:
    """(text_a, text_b, label) column specs: the task's, else the GLUE convention's, else the defaults."""
    conv = glue or {}
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
                hint = (delimiter_hint(header, f"evaluate.tasks[{task.name}].delimiter", _csv_sep(path, task))
                        if task.format == "csv" else "")
                raise StageError(f"{path}:1: cannot tell which column is {' / '.join(missing)} from the header "
                                 f"({', '.join(header)}); set evaluate.tasks[{task.name}].{missing[0]} "
                                 f"to a column name{hint}")
        else:
            a_spec = 0 if a_spec is None else a_spec
            if pair and b_spec is None:
                b_spec = 1
            l_spec = l_spec if l_spec is not None else (2 if b_spec is not None else 1)
    if pair and b_spec is None:
        raise StageError(f"{path}: task {task.name!r} is a pair task but has no text_b column")
    return a_spec, b_spec, l_spec


def read_tsv(path: Path, task: TaskSettings, glue: dict | None) -> list[Example]:
    """``glue`` (with the task's GLUE convention) and ``tsv`` files."""
    lines = read_lines(path, task.encoding)
    rows = [(i, line.split("\t")) for i, line in enumerate(lines, 1) if line.strip() != "" or i == 1]
    return _examples(path, task, glue, rows, "tab-separated columns")


def _csv_sep(path: Path, task: TaskSettings) -> str:
    return task.delimiter or ("\t" if path.name.endswith(".tsv") else ",")


def read_csv(path: Path, task: TaskSettings) -> list[Example]:
    """``csv``: comma-separated (a ``.tsv`` name: tab; or the task's ``delimiter``), quoted cells may hold commas
    and line breaks; a
    spreadsheet's byte-order mark is dropped. Columns as for ``tsv``."""
    text = read_text(path, task.encoding)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_csv_sep(path, task))
    rows, start = [], 1
    try:
        for cells in reader:
            if cells or start == 1:
                rows.append((start, cells))
            start = reader.line_num + 1
    except csv.Error as e:
        raise StageError(f"{path}:{start}: malformed CSV ({e})") from None
    return _examples(path, task, None, rows, "columns")


def _examples(path: Path, task: TaskSettings, glue: dict | None, rows: list[tuple[int, list[str]]],
              cells: str) -> list[Example]:
    """Examples from (line number, cells) rows, the first the header when the task has one."""
    if glue is not None and "skip_header" not in task.model_fields_set:
        has_header = glue["header"]
    else:
        has_header = task.skip_header
    header = None
    if has_header:
        if not rows:
            raise StageError(f"{path}: empty file (expected a header line)")
        header = [h.strip() for h in rows[0][1]]
        rows = rows[1:]
    a_spec, b_spec, l_spec = _column_specs(task, glue, header, path)
    ia = _column(a_spec, header, path, "text_a")
    ib = _column(b_spec, header, path, "text_b")
    il = _column(l_spec, header, path, "label")
    ncols = len(header) if header is not None else None
    out = []
    for lineno, cols in rows:
        if all(c.strip() == "" for c in cols):
            continue
        if ncols is None:
            ncols = len(cols)
        if len(cols) != ncols:
            what = "the header has" if header is not None else "the first row has"
            raise StageError(f"{path}:{lineno}: expected {ncols} {cells} ({what} {ncols}), found {len(cols)}")
        need = max(x for x in (ia, ib, il) if x is not None)
        if need >= len(cols) or min(x for x in (ia, ib, il) if x is not None) < -len(cols):
            raise StageError(f"{path}:{lineno}: row has {len(cols)} columns, but column {need} is configured")
        label = parse_label(cols[il], task.type, path, lineno)
        out.append(Example(text_a=cols[ia].strip(), text_b=cols[ib].strip() if ib is not None else None,
                           label=label, source=str(path), line=lineno))
    return out


def read_xnli(path: Path, task: TaskSettings) -> list[Example]:
    """XNLI ``dev.tsv``/``test.tsv`` in any of the layouts of the shared data (``genre label sentence1
    sentence2``, ``sentence1_sw``..., ``text_a text_b label``, KorNLI ``sentence1 sentence2 gold_label``);
    labels must be contradiction/entailment/neutral."""
    if task.type != "pair_classification":
        raise StageError(f"task {task.name!r}: format xnli is sentence-pair classification "
                         f"(type: pair_classification), not {task.type}")
    out = read_tsv(path, task, None)
    for ex in out:
        if ex.label not in XNLI_LABELS:
            raise StageError(f"{path}:{ex.line}: label {ex.label!r} is not an XNLI label "
                             f"({', '.join(XNLI_LABELS)})")
    return out


def read_masakhanews(path: Path, task: TaskSettings) -> list[Example]:
    """MasakhaNEWS ``{train,dev,test}.tsv``: header ``category headline text [url]``, CSV-style quoting
    (articles contain quoted passages). text_a defaults to the headline and the article body joined by
    a space (the MasakhaNEWS "headline + text" setting); ``text_a: headline`` or ``text`` picks one."""
    if task.type != "classification":
        raise StageError(f"task {task.name!r}: format masakhanews is single-text classification "
                         f"(type: classification), not {task.type}")
    data = read_text(path, task.encoding)
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
        out.append(Example(text_a=text, label=parse_label(row[il], task.type, path, lineno), source=str(path),
                           line=lineno))
    return out
