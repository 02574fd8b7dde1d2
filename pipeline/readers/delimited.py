"""``csv`` (.csv, .tsv; + .gz/.xz/.zst/.bz2): a table with a header row; one document per row of column
``source.field`` (or ``source.fields`` joined with a blank line). The delimiter is ``source.delimiter``, else
a tab for .tsv and a comma otherwise; quoted cells may span lines (Python's ``csv`` module). UTF-8 (a
spreadsheet's byte-order mark left out), or ``source.encoding``. A text longer than ``clean.max_chars`` is cut
into kept pieces (``RawDoc.split``).

A file is one work-unit segment: a byte offset is not a record boundary when quoted cells hold line breaks."""
from __future__ import annotations

import csv
import io
import sys
from typing import Iterator

from pipeline.config.sources import UTF8, delimiter_hint, legacy_hint
from pipeline.errors import StageError
from pipeline.readers.common import (COMPRESSED, RAISE, BadInput, RawDoc, Segment, SourceFile, open_binary,
                                     size_of)
from pipeline.readers.lines import _READ_ERRORS, split_text

FORMAT = "csv"
SUFFIXES = (".csv", ".tsv")
LINE_BASED = True

csv.field_size_limit(sys.maxsize)   # a cell may hold a whole article (the default limit is 128 KiB)


def delimiter(name: str) -> str:
    for z in COMPRESSED:
        name = name.removesuffix(z)
    return "\t" if name.endswith(".tsv") else ","


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    fields = sf.source.text_fields
    f = open_binary(sf.path)
    # utf-8-sig: a spreadsheet's byte-order mark is not part of the first column's name
    enc = sf.source.encoding
    sep = sf.source.delimiter or delimiter(sf.path.name)
    rows = csv.reader(io.TextIOWrapper(f, encoding="utf-8-sig" if enc == UTF8 else enc, newline=""), delimiter=sep)
    line = 1
    try:
        with f:
            header = next(rows, None) or []
            missing = [x for x in fields if x not in header]
            if missing:
                raise StageError(f"{sf.path} line 1: no column {missing[0]!r} (header: {', '.join(header) or 'empty'}); "
                                 f"set sources[].field in the language's YAML"
                                 f"{delimiter_hint(header, 'sources[].delimiter', sep)}")
            idx = [header.index(x) for x in fields]
            line = rows.line_num + 1
            for cells in rows:
                if len(cells) != len(header):
                    bad("malformed_csv", f"{sf.path} line {line}: {len(cells)} cells, the header has {len(header)}",
                        sf.rel, line, "\t".join(cells))
                else:
                    vals = [cells[i] for i in idx]
                    text = "\n\n".join(v for v in vals if v.strip()) if len(vals) > 1 else vals[0]
                    yield from split_text(text, sf.rel, line, max_chars)
                line = rows.line_num + 1
    except csv.Error as e:
        bad("malformed_csv", f"{sf.path} line {line}: malformed CSV ({e})", sf.rel, line)
    except UnicodeDecodeError as e:
        if enc == UTF8:
            near = bytes(e.object[max(0, e.start - 4000): e.start + 4000])   # the bytes around the bad one
            bad("invalid_utf8", f"{sf.path} near line {line}: not valid UTF-8 ({e.reason}); {legacy_hint(near)}",
                sf.rel, line)
        else:
            bad("invalid_encoding", f"{sf.path} near line {line}: not valid {enc} ({e.reason}); check the file's "
                                    f"encoding (sources[].encoding)", sf.rel, line)
    except _READ_ERRORS as e:
        bad("corrupt_gzip", f"{sf.path} line {line}: cannot read ({e}); is the file truncated?", sf.rel, line)


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    return [Segment(file_index, 0, -1, 1, size_of(sf.path))]
