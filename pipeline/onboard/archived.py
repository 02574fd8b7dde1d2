"""Archives under ``new-language --source``: their member files are classified as a folder's files are, and an
entry that reads some names the archive as its path and the members it reads with a glob
(``pipeline/files.py`` reads them in place)."""
from __future__ import annotations

import glob
import os
from pathlib import Path, PurePosixPath

from pipeline.config import ConfigError
from pipeline.errors import StageError
from pipeline.onboard.leftout import LeftOut
from pipeline.files import Member, is_archive, members, selected


def expand(files: list[Path], left: LeftOut) -> list:
    """``files`` with each archive replaced by its member files (documentation and tables left out, named in
    ``left``, which counts the hidden members too)."""
    out = []
    for f in files:
        if not is_archive(f):
            out.append(f)
            continue
        try:
            every = members(f)
            left.hidden += len(members(f, hidden_too=True)) - len(every)
        except StageError as e:
            raise ConfigError(str(e)) from None
        folders: dict[str, list[str]] = {}
        for m in every:
            folders.setdefault(str(PurePosixPath(m.member).parent), []).append(m.name)
        kept = [m for m in every
                if not left.sort(f"{f.name}/{m.member}", m.name, folders[str(PurePosixPath(m.member).parent)])]
        if not kept:
            raise ConfigError(f"{f}: an archive with no file to read in it")
        out += kept
    return out


def entries(chosen: list[Member]) -> list[tuple[str, str]]:
    """(archive, members glob) entries that read exactly ``chosen`` (members of one or more archives, classified
    alike): one glob per archive where one matches exactly them among all its members, else one per member."""
    out = []
    for archive in dict.fromkeys(m.archive for m in chosen):
        mine = [m for m in chosen if m.archive == archive]
        pattern = _glob(mine, members(archive))
        out += [(str(archive), pattern)] if pattern else [(str(archive), glob.escape(m.member)) for m in mine]
    return out


def _glob(mine: list[Member], every: list[Member]) -> str | None:
    """``*`` or ``*SUFFIX`` where that matches exactly ``mine``; one member's own name; for several, their
    folder's ``*SUFFIX`` or the glob of their names' common start; None when none fits."""
    want = {m.member for m in mine}
    if len(want) == len(every):
        return "*"
    suffixes = {"".join(PurePosixPath(m.member).suffixes[-2:]) for m in mine}
    suffix = glob.escape(suffixes.pop()) if len(suffixes) == 1 else None
    if suffix and _matches(f"*{suffix}", every) == want:
        return f"*{suffix}"
    if len(want) == 1:
        return glob.escape(mine[0].member)
    if not suffix:
        return None
    folder = os.path.commonpath([str(PurePosixPath(m.member).parent) for m in mine])
    stem = glob.escape(os.path.commonprefix([m.name for m in mine]))
    for pattern in (f"{glob.escape(folder)}/*{suffix}" if folder not in ("", ".") else "", f"*{stem}*{suffix}"):
        if pattern and _matches(pattern, every) == want:
            return pattern
    return None


def _matches(pattern: str, every: list[Member]) -> set[str]:
    return {m.member for m in every if selected(m, pattern)}
