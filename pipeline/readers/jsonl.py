"""``jsonl`` (.jsonl, .ndjson, .json holding JSON Lines; + .gz/.xz/.zst): one document per non-blank line, the
text in ``source.field`` (dotted paths reach nested keys), or ``source.fields`` joined with a blank line (e.g.
``[title, body]``; an absent or null field is left out, a record with none of them is ``missing_field``).

A line of any length is read (the file streams line by line; one JSON line is parsed whole); a text longer
than ``clean.max_chars`` is cut into kept pieces (``RawDoc.split``). Work-unit segments end at a line end."""
from __future__ import annotations

import json
from typing import Iterator

from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile
from pipeline.readers.lines import iter_lines, plan_at, split_text

FORMAT = "jsonl"
SUFFIXES = (".jsonl", ".ndjson", ".json")
LINE_BASED = True


def _get_field(obj, field: str):
    if field in obj:
        return True, obj[field]
    cur = obj
    for part in field.split("."):
        if isinstance(cur, dict) and part in cur:
            cur = cur[part]
        else:
            return False, None
    return True, cur


def _parse(sf: SourceFile, lineno: int, line: str, bad: BadInput) -> dict | None:
    """The line's JSON object; None (reported) when it is malformed or not an object."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        bad("malformed_json", f"{sf.path} line {lineno}: malformed JSON ({e.msg.removesuffix(' at')} at column "
                              f"{e.colno})", sf.rel, lineno, line)
        return None
    if not isinstance(obj, dict):
        bad("malformed_json", f"{sf.path} line {lineno}: expected a JSON object, got {type(obj).__name__}",
            sf.rel, lineno, line)
        return None
    return obj


def _value(sf: SourceFile, lineno: int, line: str, obj: dict, field: str, bad: BadInput) -> str | None:
    """One field's text ("" when null); None (reported) when absent or not a string."""
    found, val = _get_field(obj, field)
    if not found:
        keys = ", ".join(list(obj)[:10])
        bad("missing_field", f"{sf.path} line {lineno}: no field {field!r} (fields: {keys or 'none'}); "
                             f"set sources[].field in the language's YAML", sf.rel, lineno, line)
        return None
    if val is None:
        val = ""
    if not isinstance(val, str):
        bad("bad_field_type", f"{sf.path} line {lineno}: field {field!r} is {type(val).__name__}, not a string",
            sf.rel, lineno, line)
        return None
    return val


def _text(sf: SourceFile, lineno: int, line: str, obj: dict, bad: BadInput) -> str | None:
    """The document's text from ``source.field`` or the ``source.fields`` present, joined by a blank line."""
    if not sf.source.fields:
        return _value(sf, lineno, line, obj, sf.source.field, bad)
    present = [f for f in sf.source.fields if _get_field(obj, f)[0]]
    if not present:
        return _value(sf, lineno, line, obj, sf.source.fields[0], bad)   # reports the missing field
    vals = [_value(sf, lineno, line, obj, f, bad) for f in present]
    if any(v is None for v in vals):
        return None
    return "\n\n".join(v for v in vals if v.strip())


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    for lineno, line, _ in iter_lines(sf.path, None, start, end, first_line, bad, sf.rel):
        if not line.strip():
            continue
        obj = _parse(sf, lineno, line, bad)
        val = _text(sf, lineno, line, obj, bad) if obj is not None else None
        if val is not None:
            yield from split_text(val, sf.rel, lineno, max_chars)


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    return plan_at(sf, file_index, task_bytes, (b"\n",), fallback=False)   # a JSON line is never cut
