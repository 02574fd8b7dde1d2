"""``jsonl`` (.jsonl, .ndjson, .json; + .gz/.xz/.zst/.bz2): JSON records, one document per record — a JSON Lines
file (one object per non-blank line), a JSON array of objects (``[{...}, {...}]``, as ``json.dump`` or
pandas' ``to_json(orient="records")`` write it, pretty-printed or not; told by its first character), or a JSON
object holding its records in an array (``{"articles": [{...}, ...]}``, as APIs answer) at the dotted path
``source.records`` (``item`` steps into each element of an array: ``data.item.paragraphs`` for SQuAD), or, with
``records: "."``, a JSON object that is itself the one record (an article saved as a file of its own). The text is
in ``source.field`` (dotted paths reach nested keys), or ``source.fields`` joined with a blank line (e.g.
``[title, body]``; an absent or null field is left out, a record with none of them is ``missing_field``).

A line of any length is read (the file streams line by line; one JSON line is parsed whole); an array streams
record by record (``ijson``), so neither needs the file in memory. A text longer than ``clean.max_chars`` is
cut into kept pieces (``RawDoc.split``). Work-unit segments end at a line end; an array is one segment. Bad
input names the line (JSON Lines) or the record's number (array)."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile, open_binary, size_of
from pipeline.readers.lines import iter_lines, plan_at, split_text

BOM = b"\xef\xbb\xbf"

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


def _value(sf: SourceFile, lineno: int, line, obj: dict, field: str, bad: BadInput, unit: str = "line") -> str | None:
    """One field's text ("" when null); None (reported) when absent or not a string. ``line``: the record's text
    for the report, or a function giving it; ``unit``: what ``lineno`` counts (line, record)."""
    found, val = _get_field(obj, field)
    if val is None:
        val = ""
    if found and isinstance(val, str):
        return val
    sample = line() if callable(line) else line
    if not found:
        keys = ", ".join(list(obj)[:10])
        bad("missing_field", f"{sf.path} {unit} {lineno}: no field {field!r} (fields: {keys or 'none'}); "
                             f"set sources[].field in the language's YAML", sf.rel, lineno, sample)
    else:
        bad("bad_field_type", f"{sf.path} {unit} {lineno}: field {field!r} is {type(val).__name__}, not a string",
            sf.rel, lineno, sample)
    return None


def _text(sf: SourceFile, lineno: int, line, obj: dict, bad: BadInput, unit: str = "line") -> str | None:
    """The document's text from ``source.field`` or the ``source.fields`` present, joined by a blank line."""
    if not sf.source.fields:
        return _value(sf, lineno, line, obj, sf.source.field, bad, unit)
    present = [f for f in sf.source.fields if _get_field(obj, f)[0]]
    if not present:
        return _value(sf, lineno, line, obj, sf.source.fields[0], bad, unit)   # reports the missing field
    vals = [_value(sf, lineno, line, obj, f, bad, unit) for f in present]
    if any(v is None for v in vals):
        return None
    return "\n\n".join(v for v in vals if v.strip())


def array_start(path: Path) -> int | None:
    """The byte offset of the ``[`` opening a JSON array file (after a byte-order mark and whitespace); None
    for anything else (JSON Lines)."""
    return _start(path, b"[")


def object_start(path: Path) -> int | None:
    """The byte offset of the ``{`` opening a JSON object (or JSON Lines) file; None for anything else."""
    return _start(path, b"{")


def _start(path: Path, opener: bytes) -> int | None:
    try:
        with open_binary(path) as f:
            head = f.read(4096)
    except Exception:  # noqa: BLE001 - unreadable (damaged .gz, ...): the line reader names the file and why
        return None
    body = head.removeprefix(BOM).lstrip()
    return len(head) - len(body) if body.startswith(opener) else None


def array_records(path: Path, start: int, records: str | None = None) -> Iterator[tuple[int, object]]:
    """(record number from 1, value) of each item of the JSON array at byte ``start`` (``records``: the array at
    that path of a JSON object; ``"."``: the object itself, one record), streamed; a parse error is
    ``ValueError`` naming the record it came after."""
    import ijson

    n = 0
    where = "the file's object" if records == "." else f"the array {records!r}" if records else "the array"
    prefix = "" if records == "." else f"{records}.item" if records else "item"
    with open_binary(path, start) as f:
        try:
            for n, obj in enumerate(ijson.items(f, prefix, use_float=True), 1):
                yield n, obj
        except ijson.JSONError as e:
            raise ValueError(f"{path}: malformed JSON after record {n} of {where} ({e})") from None


class _Capped:
    """A binary file read up to ``limit`` bytes (then it looks ended)."""

    def __init__(self, f, limit: int):
        self.f, self.left = f, limit

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        data = self.f.read(n) if n > 0 else b""
        self.left -= len(data)
        return data


def json_arrays(path: Path, limit: int | None = None) -> tuple[list[str], dict[str, list[int]], bool]:
    """What a JSON object file holds, streamed: its top-level keys, and for each array in it (by dotted path,
    ``item`` for an array's elements) [records (objects), characters of their strings]; the strings of a nested
    array's records count for that array. ``limit``: read at most this many (decompressed) bytes; the
    last value says whether the file was read to its end."""
    import ijson

    keys: list[str] = []
    arrays: dict[str, list[int]] = {}
    with open_binary(path, object_start(path) or 0) as f:
        src = _Capped(f, limit) if limit else f
        try:
            for prefix, event, value in ijson.parse(src, use_float=True):
                if event == "map_key" and not prefix:
                    keys.append(value)
                elif event == "start_array":
                    arrays.setdefault(prefix, [0, 0])
                elif event == "start_map" and (prefix == "item" or prefix.endswith(".item")):
                    if (arr := arrays.get(prefix[:-5])) is not None:       # (not an object's key "item")
                        arr[0] += 1
                elif event == "string" and "item" in (parts := prefix.split(".")):
                    at = len(parts) - 1 - parts[::-1].index("item")      # the innermost array's element
                    if (arr := arrays.get(".".join(parts[:at]))) is not None:
                        arr[1] += len(value)
        except ijson.JSONError:
            if not limit or src.left > 0:
                raise ValueError(f"{path}: malformed JSON") from None
            return keys, arrays, False
    return keys, arrays, True


def _read_array(sf: SourceFile, start: int, max_chars: int, bad: BadInput) -> Iterator[RawDoc]:
    records, n = sf.source.records, 0
    try:
        for n, obj in array_records(sf.path, start, records):
            sample = lambda: json.dumps(obj, ensure_ascii=False)[:2000]  # noqa: E731 - only for a report
            if not isinstance(obj, dict):
                bad("malformed_json", f"{sf.path} record {n}: expected a JSON object, got {type(obj).__name__}",
                    sf.rel, n, sample())
                continue
            val = _text(sf, n, sample, obj, bad, unit="record")
            if val is not None:
                yield from split_text(val, sf.rel, n, max_chars)
    except ValueError as e:       # the rest of the file cannot be parsed: one report, the records before it kept
        bad("malformed_json", str(e), sf.rel, 0, "")
        return
    if records and records != "." and not n:
        _check_records(sf, bad)


def _check_records(sf: SourceFile, bad: BadInput) -> None:
    """Report a ``records`` path the file does not have (an empty array there is an empty file)."""
    try:
        keys, arrays, _ = json_arrays(sf.path)
    except ValueError as e:
        bad("malformed_json", f"{e}; sources[].records is set, so the file must be one JSON object", sf.rel, 0, "")
        return
    if sf.source.records in arrays:
        return
    found = ", ".join(f"{p} ({v[0]:,} records)" for p, v in arrays.items() if v[0]) or "none"
    bad("missing_field", f"{sf.path}: no array of records at {sf.source.records!r} (top-level keys: "
                         f"{', '.join(keys[:10]) or 'none'}; arrays of objects: {found}); set sources[].records in "
                         f"the language's YAML", sf.rel, 0, "")


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    if sf.source.records:
        if start == 0:
            yield from _read_array(sf, object_start(sf.path) or 0, max_chars, bad)
        return
    if start == 0 and (at := array_start(sf.path)) is not None:
        yield from _read_array(sf, at, max_chars, bad)
        return
    for lineno, line, _ in iter_lines(sf.path, None, start, end, first_line, bad, sf.rel):
        if not line.strip():
            continue
        obj = _parse(sf, lineno, line, bad)
        val = _text(sf, lineno, line, obj, bad) if obj is not None else None
        if val is not None:
            yield from split_text(val, sf.rel, lineno, max_chars)


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    if sf.source.records or array_start(sf.path) is not None:   # an array is read in one piece (lines aren't records)
        return [Segment(file_index, 0, -1, 1, size_of(sf.path))]
    return plan_at(sf, file_index, task_bytes, (b"\n",), fallback=False)   # a JSON line is never cut
