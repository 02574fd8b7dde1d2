"""``conll``: NER-style ``token<TAB or spaces>tag`` lines, a blank line between sentences, ``-DOCSTART-``
ignored. The tag is the last column; the token the first, or the second when the first column is a
running index (WikiANN files: ``0<TAB>Hu<TAB>B-LOC``). WikiANN as Pan et al. distribute it (XTREME's PAN-X:
``panx_dataset/sw.tar.gz`` holding ``train``, ``dev``, ``test``) writes the language before every token
(``sw:Jina<TAB>O``); when every token of the file's first sentences carries the same ``xx:`` prefix, it is
left out (``language_prefix``), as XTREME's own preprocessing does."""
from __future__ import annotations

import re
from pathlib import Path

from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example, read_lines

Row = tuple[int, list[str]]   # (line number, columns)


def _sentences(path: Path, encoding: str) -> tuple[list[list[Row]], int | None]:
    """The file's sentences as rows, and the column count every token line shares."""
    rows: list[Row | None] = []   # None = sentence break
    ncols = None
    for lineno, line in enumerate(read_lines(path, encoding), 1):
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
    sents: list[list[Row]] = []
    cur: list[Row] = []
    for r in rows:
        if r is None:
            if cur:
                sents.append(cur)
            cur = []
        else:
            cur.append(r)
    return sents, ncols


def _numbered(sent: list[Row]) -> bool:
    ids = [c[0] for _, c in sent]
    if not all(x.isdigit() for x in ids):
        return False
    start = int(ids[0])
    return start in (0, 1) and [int(x) for x in ids] == list(range(start, start + len(ids)))


def _index(spec, what: str, default: int, path: Path) -> int:
    if spec is None:
        return default
    try:
        return int(spec)
    except (TypeError, ValueError):
        raise StageError(f"{path}: format conll has no column names; give {what} as a 0-based column "
                         f"index (got {spec!r})") from None


_PREFIX = re.compile(r"[a-z]{2,3}(?:-[a-z]+)*:(?=.)")
PREFIX_SENTENCES = 200


def language_prefix(tokens: list[str]) -> str | None:
    """The ``xx:`` every one of ``tokens`` starts with (PAN-X's ``sw:Jina``), or None."""
    m = _PREFIX.match(tokens[0]) if tokens else None
    return m.group(0) if m and all(t.startswith(m.group(0)) for t in tokens) else None


def read_conll(path: Path, task: TaskSettings) -> list[Example]:
    sents, ncols = _sentences(path, task.encoding)
    # a running index in column 0 (WikiANN): every sentence numbered 0..n-1 or 1..n
    indexed = False
    if ncols is not None and ncols >= 3 and task.text_a is None:
        indexed = all(_numbered(s) for s in sents)
    itok = _index(task.text_a, "text_a (the token column)", 1 if indexed else 0, path)
    itag = _index(task.label, "label (the tag column)", -1, path)
    out = []
    for sent in sents:
        for lineno, cols in sent:
            if not -len(cols) <= itag < len(cols) or not 0 <= itok < len(cols):
                raise StageError(f"{path}:{lineno}: column index out of range for a {len(cols)}-column line")
    prefix = language_prefix([c[itok] for s in sents[:PREFIX_SENTENCES] for _, c in s])
    for sent in sents:
        tokens = [c[itok] for _, c in sent]
        if prefix:
            tokens = [t[len(prefix):] if t.startswith(prefix) and len(t) > len(prefix) else t for t in tokens]
        out.append(Example(text_a=" ".join(tokens), tokens=tokens, label=[c[itag] for _, c in sent],
                           source=str(path), line=sent[0][0]))
    return out
