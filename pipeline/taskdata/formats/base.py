"""What every format reader shares: the example record, line-numbered reading (UTF-8 or a task's single-byte
``encoding``), label parsing."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pipeline.config.sources import UTF8, legacy_hint
from pipeline.errors import StageError


@dataclass
class Example:
    text_a: str
    text_b: str | None = None
    # str (classification), float (regression) or list[str] (tagging: one tag per token)
    label: Any = None
    tokens: list[str] | None = None
    source: str = ""      # file it came from
    line: int = 0         # 1-based line of the row (tagging: of the sentence's first token)


def read_lines(path: Path, encoding: str = UTF8) -> list[str]:
    """Lines of a UTF-8 file (a leading BOM dropped), or of one in the single-byte ``encoding`` (the task's
    ``encoding``), without line ends. Errors name the line."""
    if not path.is_file():
        raise StageError(f"{path}: file not found")
    data = path.read_bytes()
    if encoding == UTF8 and data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out = []
    for i, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode(encoding)
        except UnicodeDecodeError as e:
            if encoding != UTF8:
                raise StageError(f"{path}:{i}: not valid {encoding} (byte {e.start} of the line is no character in "
                                 f"it); check the task's encoding") from None
            raise StageError(f"{path}:{i}: not valid UTF-8 (byte {e.start} of the line); "
                             f"{legacy_hint(raw, 'give the task `encoding: {}`')}") from None
        out.append(line[:-1] if line.endswith("\r") else line)
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
