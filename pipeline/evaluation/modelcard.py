"""A model card with the scores appended: ``reports/<name>/model_card.md``, written by a joint model's evaluate
stage (``joint_evaluate``). A language's card with the scores is the publish stage's ``models/<lang>/hub/README.md``
(``pipeline/hubcard.py``); what follows explains the separate output, which holds for both.

The pretrain stage writes ``models/<lang>/electra/README.md`` with everything known when the model is
exported: the git commit, the DVC hashes of the raw and cleaned corpus, the review decision, the
tokenizer and the shards, every pre-training parameter and the training metrics. The scores exist only
after the evaluate stage, and that stage must not rewrite the model folder: it is pretrain's DVC
output, so DVC would see pretrain as changed (and ``dvc commit`` would record a model folder that
pretrain never produced). So evaluate writes a separate output, ``reports/<lang>/model_card.md``: the
pretrain card verbatim followed by a Scores section (the scorecard, with its settings and data) and the
commit the evaluation ran at. The model's own card points to it. Written atomically.
"""
from __future__ import annotations

import re
from pathlib import Path

from pipeline.atomic import write_text
from pipeline.lineage import git_commit

SCORES_HEADING = "## Scores"


def card_path(root: Path, lang: str) -> Path:
    return Path(root) / "reports" / lang / "model_card.md"


def _demote(markdown: str) -> str:
    """Headings one level down (the scorecard's '# Scorecard' becomes a subsection of Scores)."""
    out, fence = [], False
    for line in markdown.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        if not fence and re.match(r"#{1,5} ", line):
            line = "#" + line
        out.append(line)
    return "\n".join(out)


def render(pretrain_card: str, scorecard_md: str, *, lang: str, eval_json: str, commit: str | None) -> str:
    base = pretrain_card.rstrip("\n")
    # a card that already has a Scores section (e.g. re-combined) keeps only what came before it
    base = base.split("\n" + SCORES_HEADING + "\n", 1)[0].rstrip("\n")
    parts = [base, "", SCORES_HEADING, "",
             f"Written by the evaluate stage (`python -m pipeline evaluate {lang}`) at git commit "
             f"`{commit or 'unknown'}`; the numbers are in `{eval_json}` (DVC metrics) and "
             f"`reports/{lang}/scorecard.md`.", "",
             _demote(scorecard_md).rstrip("\n"), ""]
    return "\n".join(parts)


def write(root: Path, lang: str, model_dir: Path, scorecard_md: str, eval_json: Path) -> Path:
    """Combine the model folder's README.md with the scorecard into reports/<lang>/model_card.md."""
    root = Path(root)
    readme = Path(model_dir) / "README.md"
    pretrain_card = (readme.read_text(encoding="utf-8") if readme.is_file()
                     else f"# Model card: {lang}\n\n(no model card in {readme})\n")
    try:
        rel = Path(eval_json).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        rel = str(eval_json)
    path = card_path(root, lang)
    write_text(path, render(pretrain_card, scorecard_md, lang=lang, eval_json=rel, commit=git_commit(root)))
    return path
