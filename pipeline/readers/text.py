"""``text`` (.txt, .txt.gz by suffix): one document per blank-line-separated block of lines.

Work-unit segments end at a blank line, so a block never straddles two segments."""
from __future__ import annotations

from typing import Iterator

from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile
from pipeline.readers.lines import Blocker, iter_lines, plan_at

FORMAT = "text"
SUFFIXES: tuple[str, ...] = ()   # the default for a file no other reader claims
LINE_BASED = True                # a NUL byte near the start marks a binary file


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    b = Blocker(sf.rel, max_chars)
    for lineno, text, n in iter_lines(sf.path, max_chars, start, end, first_line, bad, sf.rel):
        if n < 0 and not text.strip():
            yield from b.end()
            continue
        yield from b.add(lineno, text, n)
    yield from b.end()


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    return plan_at(sf, file_index, task_bytes, (b"\n\n", b"\n\r\n"))
