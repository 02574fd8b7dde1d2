"""The paths a ``new-language`` source entry names for its files: one recursive glob per suffix that matches
exactly them among the files found, else the files one by one."""
from __future__ import annotations

import glob
import os
from pathlib import Path

from pipeline.files import COMPRESSED


def suffix(path: Path) -> str:
    """The format suffix with its compression (``.jsonl.gz``; ``.gz`` alone for ``wiki_01.gz``)."""
    name = path.name
    z = next((c for c in COMPRESSED if name.endswith(c)), "")
    return Path(name.removesuffix(z)).suffix + z


def common_glob(files: list[Path], all_files: list[Path], ext: str) -> str | None:
    """A recursive glob under the files' common folder that matches exactly ``files`` among ``all_files``."""
    base = Path(os.path.commonpath([str(f.parent) for f in files]))
    # files without a format suffix (wiki_00, wiki_01.bz2): their names' common start, not every file
    stem = os.path.commonprefix([f.name for f in files]) if ext in ("", *COMPRESSED) else ""
    pattern = str(base / "**" / f"{stem}*{ext}")
    matched = {Path(m).resolve() for m in glob.glob(pattern, recursive=True) if Path(m).is_file()}
    return pattern if matched == set(files) else None


def globs(files: list[Path], all_files: list[Path]) -> list[str] | None:
    """One glob per suffix that together name exactly ``files`` (several of them), or None."""
    if len(files) < 2:
        return None
    out = [common_glob([f for f in files if suffix(f) == s], all_files, s) for s in sorted(set(map(suffix, files)))]
    return out if all(out) else None
