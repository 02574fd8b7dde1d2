"""``conllu`` (+ .gz/.xz/.zst/.bz2): sentences from ``# text = ...`` (or rebuilt from the token lines); ``# newdoc``
starts a document; a file without ``# newdoc`` markers is grouped into documents of ``CONLLU_SENTENCES_PER_DOC``
sentences. A document longer than ``clean.max_chars`` is cut into kept pieces at sentence ends.

A CoNLL-U file is one work-unit segment (it is not split)."""
from __future__ import annotations

from typing import Iterator

from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile, size_of
from pipeline.readers.lines import Blocker, iter_lines

FORMAT = "conllu"
SUFFIXES = (".conllu",)
LINE_BASED = True
CONLLU_SENTENCES_PER_DOC = 20


def sentence_from_tokens(tokens: list[list[str]]) -> str:
    out = []
    skip_until = 0
    for cols in tokens:
        tid = cols[0]
        if "." in tid:          # empty nodes
            continue
        if "-" in tid:          # multiword token: its form, skip the words it covers
            a, _, b = tid.partition("-")
            try:
                skip_until = int(b)
            except ValueError:
                skip_until = 0
        else:
            try:
                if int(tid) <= skip_until:
                    continue
            except ValueError:
                continue
        form = cols[1] if len(cols) > 1 else ""
        misc = cols[9] if len(cols) > 9 else "_"
        out.append(form)
        if "SpaceAfter=No" not in misc.split("|"):
            out.append(" ")
    return "".join(out).strip()


class _Document:
    """Sentences of the current sentence and document, fed line by line."""

    def __init__(self, rel: str, max_chars: int):
        self.blocker = Blocker(rel, max_chars)
        self.seen_newdoc = False
        self.n_in_doc = 0
        self.sent_text: str | None = None
        self.sent_line = 0
        self.tokens: list[list[str]] = []

    def finish_sentence(self, lineno_end: int) -> Iterator[RawDoc]:
        tokens = self.tokens
        text = self.sent_text if self.sent_text is not None else (sentence_from_tokens(tokens) if tokens else None)
        if text is not None and text.strip():
            if not self.seen_newdoc and self.n_in_doc >= CONLLU_SENTENCES_PER_DOC:
                yield from self.blocker.end()
                self.n_in_doc = 0
            yield from self.blocker.add(self.sent_line or lineno_end, text)
            self.n_in_doc += 1
        self.sent_text = None
        self.tokens = []
        self.sent_line = 0

    def comment(self, lineno: int, body: str) -> Iterator[RawDoc]:
        if body.startswith("newdoc"):
            yield from self.finish_sentence(lineno)
            self.seen_newdoc = True
            yield from self.blocker.end()
            self.n_in_doc = 0
        elif body.startswith("text") and body[4:].lstrip().startswith("="):
            self.sent_text = body[4:].lstrip()[1:].strip()
            self.sent_line = lineno


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    doc = _Document(sf.rel, max_chars)
    lineno = 0
    for lineno, line, _ in iter_lines(sf.path, None, bad=bad, rel=sf.rel):
        s = line.strip()
        if not s:
            yield from doc.finish_sentence(lineno)
            continue
        if s.startswith("#"):
            yield from doc.comment(lineno, s[1:].strip())
            continue
        cols = s.split("\t")
        if len(cols) < 2:
            bad("malformed_conllu", f"{sf.path} line {lineno}: not a CoNLL-U token line (expected 10 "
                                    f"tab-separated columns, got {len(cols)})", sf.rel, lineno, line)
            continue
        if not doc.sent_line:
            doc.sent_line = lineno
        doc.tokens.append(cols)
    yield from doc.finish_sentence(lineno)
    yield from doc.blocker.end()


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    return [Segment(file_index, 0, -1, 1, size_of(sf.path))]
