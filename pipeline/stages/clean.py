"""clean: raw sources -> data/<lang>/clean (normalise, filter, deduplicate, identify the language)."""
from __future__ import annotations

from pathlib import Path

from pipeline.clean import clean_corpus
from pipeline.stages import open_language


def run(lang: str, root: Path) -> dict:
    root, cfg, layout = open_language(lang, root)
    return clean_corpus(cfg, root, layout.clean_dir)
