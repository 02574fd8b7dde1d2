"""``conllu``: Universal Dependencies CoNLL-U; tokens = FORM, tags = UPOS (or another column)."""
from __future__ import annotations

import re
from pathlib import Path

from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example, read_lines

UPOS_TAGS = ("ADJ", "ADP", "ADV", "AUX", "CCONJ", "DET", "INTJ", "NOUN", "NUM", "PART", "PRON",
             "PROPN", "PUNCT", "SCONJ", "SYM", "VERB", "X")
CONLLU_COLUMNS = {"id": 0, "form": 1, "lemma": 2, "upos": 3, "xpos": 4, "feats": 5, "head": 6,
                  "deprel": 7, "deps": 8, "misc": 9}


def _column(spec, default: int, path: Path) -> int:
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


def read_conllu(path: Path, task: TaskSettings) -> tuple[list[Example], bool]:
    """CoNLL-U sentences; returns (examples, label column is UPOS)."""
    iform = _column(task.text_a, 1, path)
    itag = _column(task.label, 3, path)
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

    for lineno, line in enumerate(read_lines(path, task.encoding), 1):
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
