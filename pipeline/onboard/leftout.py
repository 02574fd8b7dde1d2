"""What ``new-language --source`` finds in a folder (or an archive) but leaves out, and says so in the YAML: hidden
files, a folder's documentation, and files that hold no running text."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# a folder's documentation (a Hub dataset snapshot always has a README.md): left out and named, not an error
DOC_NAMES = ("readme", "license", "licence", "copying", "citation", "changelog", "notice", "authors", "contributing")
_LEIPZIG_TABLE = re.compile(r"-(words|co_n|co_s|inv_so|inv_w|sources|meta)\.txt$|-import\.sql$")


@dataclass
class LeftOut:
    """The files under a --source folder that no entry reads: hidden ones, documentation, and files that hold
    no running text (``not_text``)."""
    hidden: int = 0
    documentation: list[str] = field(default_factory=list)
    not_text: dict[str, list[str]] = field(default_factory=dict)   # kind (``not_text``) -> files

    def sort(self, shown: str, name: str, siblings: list[str]) -> bool:
        """True when the file ``name`` (``shown`` as) is left out, and recorded; ``siblings``: the names of the
        files in its folder."""
        if is_documentation(name):
            self.documentation.append(shown)
        elif kind := not_text(name, siblings):
            self.not_text.setdefault(kind, []).append(shown)
        else:
            return False
        return True


def is_documentation(name: str) -> bool:
    return name.split(".")[0].lower() in DOC_NAMES


def not_text(name: str, siblings: list[str]) -> str | None:
    """Why a file is left out though it is not documentation: a lock file, the metadata beside the Arrow files
    of a ``load_dataset`` cache folder, a table of a Leipzig corpus beside its ``-sentences.txt``; None for any
    other file. ``siblings``: the names of the files in its folder."""
    if name.endswith(".lock"):
        return "lock file"
    if name in ("dataset_info.json", "state.json") and any(s.endswith(".arrow") for s in siblings):
        return "datasets cache metadata file"
    if _LEIPZIG_TABLE.search(name) and any(s.endswith("-sentences.txt") for s in siblings):
        return "Leipzig corpus table"
    return None
