"""The stages, one thin module each (``pipeline/stages/<stage>.py``, a ``run(lang, root) -> dict``).

``STAGES`` is the one list of them, in DAG order: ``python -m pipeline`` takes its choices from it and the
flows walk it; dvc.yaml declares the same names. The libraries the stages call live beside this package
(``pipeline/cleaning/``, ...); a stage module only reads the config, calls them and returns its summary.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.config import LanguageConfig, load_language
from pipeline.layout import Layout

STAGES = ("clean", "validate", "vocab", "shard", "pretrain", "evaluate", "publish")


def open_language(lang: str, root: Path) -> tuple[Path, LanguageConfig, Layout]:
    """What every stage starts from: the project root as a Path, the language's config and its paths."""
    root = Path(root)
    return root, load_language(lang, root), Layout(root, lang)
