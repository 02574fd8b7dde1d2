"""What every format reader shares: the example record, line-numbered UTF-8 reading, label parsing."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

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


def read_lines(path: Path) -> list[str]:
    """Lines of a UTF-8 file without line ends; a leading BOM is dropped. Errors name the line."""
    if not path.is_file():
        raise StageError(f"{path}: file not found")
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    out = []
    for i, raw in enumerate(data.split(b"\n"), 1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise StageError(f"{path}:{i}: not valid UTF-8 (byte {e.start} of the line)") from None
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
