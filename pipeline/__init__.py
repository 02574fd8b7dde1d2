"""The stages (``pipeline/stages/``, one ``run(lang, root)`` each, ``python -m pipeline STAGE LANG``) and the
libraries they call, one folder per concern (docs/architecture.md has the map)."""
