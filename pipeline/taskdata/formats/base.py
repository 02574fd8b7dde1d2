"""What every format reader shares: the example record, line-numbered reading (UTF-8 or a task's single-byte
``encoding``), label parsing."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.sources import UTF8, legacy_hint
from pipeline.errors import StageError
from pipeline.files import member_at, open_binary


@dataclass
class Example:
    text_a: str
    text_b: str | None = None
    # str (classification), float (regression) or list[str] (tagging: one tag per token)
    label: Any = None
    tokens: list[str] | None = None
    source: str = ""      # file it came from
    line: int = 0         # 1-based line of the row (tagging: of the sentence's first token)


def read_text(path: Path, encoding: str = UTF8) -> str:
    """A UTF-8 file's text (a leading BOM dropped), or a file's in the single-byte ``encoding`` (the task's
    ``encoding``). A byte it does not decode is an error naming the line. ``path`` may name a file inside a
    .zip or tar archive, ``ARCHIVE/MEMBER``."""
    if path.is_file():
        data = path.read_bytes()
    elif (member := member_at(path)) is not None:   # ARCHIVE/MEMBER: read in place (pipeline/files.py)
        with open_binary(member) as f:
            data = f.read()
    else:
        raise StageError(f"{path}: file not found")
    if encoding == UTF8 and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as e:
        i = data.count(b"\n", 0, e.start) + 1
        start = data.rfind(b"\n", 0, e.start) + 1
        end = data.find(b"\n", e.start)
        raw, at = data[start: end if end >= 0 else len(data)], e.start - start
        if encoding != UTF8:
            raise StageError(f"{path}:{i}: not valid {encoding} (byte {at} of the line is no character in it); "
                             f"check the task's encoding") from None
        raise StageError(f"{path}:{i}: not valid UTF-8 (byte {at} of the line); "
                         f"{legacy_hint(raw, 'give the task `encoding: {}`')}") from None


def read_lines(path: Path, encoding: str = UTF8) -> list[str]:
    """``read_text``'s lines without line ends."""
    out = [line.removesuffix("\r") for line in read_text(path, encoding).split("\n")]
    if out and out[-1] == "":
        out.pop()
    return out


def parse_label(raw: str, task_type: str, path: Path, line: int):
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
