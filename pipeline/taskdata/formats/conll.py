"""``conll``: NER-style ``token<TAB or spaces>tag`` lines, a blank line between sentences, ``-DOCSTART-``
ignored. The tag is the last column; the token the first, or the second when the first column is a
running index (WikiANN files: ``0<TAB>Hu<TAB>B-LOC``)."""
from __future__ import annotations

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
        out.append(Example(text_a=" ".join(c[itok] for _, c in sent), tokens=[c[itok] for _, c in sent],
                           label=[c[itag] for _, c in sent], source=str(path), line=sent[0][0]))
    return out
