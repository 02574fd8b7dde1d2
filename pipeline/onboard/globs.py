"""The paths a ``new-language`` source entry names for its files: one recursive glob per suffix that matches
exactly them among the files found, else the files one by one; and the entries (``detect.Found``) of files that
differ only in what each file decided alone merged, where no glob tells them apart."""
from __future__ import annotations

import glob
import json
import os
from pathlib import Path

from pipeline.files import COMPRESSED

MAX_LISTED = 20    # files listed one entry each at most, where only what each decided alone differs


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


def _loose(settings: dict) -> tuple[str, ...]:
    """The settings one file's content decides alone, which may differ between files of one kind: a text file's
    layout; a one-record JSON file's field choice (its text field shorter than its title in one article)."""
    return ("documents",) if settings["format"] == "text" else \
        ("field", "fields") if settings.get("records") == "." else ()


def merge_alike(out: list, files: list[Path]) -> list:
    """Files told apart only by what each decided alone (``_loose``) that no glob separates, more than
    ``MAX_LISTED`` of them (a folder of articles, some without blank lines): one entry with the commonest setting,
    its comment naming the others, rather than an entry per file."""
    def key(fd) -> str:
        return json.dumps({k: v for k, v in fd.settings.items() if k not in _loose(fd.settings)}, sort_keys=True)

    def separable(fd) -> bool:
        return len(fd.files) <= 1 or globs(fd.files, files) is not None
    loose = [fd for fd in out if _loose(fd.settings) and all(isinstance(f, Path) for f in fd.files)]
    for k in dict.fromkeys(key(fd) for fd in loose):
        alike = sorted((fd for fd in loose if key(fd) == k), key=lambda fd: -len(fd.files))
        if len(alike) < 2 or sum(len(fd.files) for fd in alike) <= MAX_LISTED or all(map(separable, alike)):
            continue
        main, rest = alike[0], alike[1:]
        main.alike = len(main.files)
        others = "; ".join(f"{len(fd.files):,} like {fd.files[0].name}: {fd.why}" for fd in rest)
        main.why += (f". {sum(len(fd.files) for fd in rest):,} of the {sum(len(fd.files) for fd in alike):,} files "
                     f"look otherwise and are read this way too, as no glob tells them apart: {others}")
        main.files = main.files + [f for fd in rest for f in fd.files]
        out = [fd for fd in out if fd not in rest]
    return out
