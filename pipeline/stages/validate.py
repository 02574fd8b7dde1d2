"""validate: data/<lang>/clean -> validation.json, Data Docs and the review page (reports/<lang>/quality)."""
from __future__ import annotations

from pathlib import Path

from pipeline.stages import open_language
from pipeline.validate import load_corpus, validate_frame


def run(lang: str, root: Path) -> dict:
    root, cfg, layout = open_language(lang, root)
    df = load_corpus(layout)
    return validate_frame(cfg, df, layout)
