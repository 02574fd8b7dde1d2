"""publish: models/<lang>/electra + the evaluation -> models/<lang>/hub (the folder to push to the Hub).

Reads  models/<lang>/electra/ (pretrain's output: weights, tokenizer, its README and lineage.json),
       metrics/<lang>/eval.json, reports/<lang>/scorecard.md (evaluate's), metrics/<lang>/pretrain.json,
       the ``card`` section of corpora/<lang>.yaml
Writes models/<lang>/hub/: the model folder's files (hard links where the file system allows, else copies) and
       README.md, the Hub model card with the scores (``pipeline/hubcard.py``), atomically as a whole; the card
       and lineage.json name raw sources outside the project relative to the data root, never by their place
       on this machine (``hubcard.Places``);
       scores/<lang>.json: the language's headline numbers (``scores_summary``), what `dvc metrics show` shows.

Why a stage of its own: a stage may not write into another stage's output (DVC would see pretrain's folder
changed and re-run it), and the card's settings (the license) should not re-run pre-training or evaluation when
they change: publish takes seconds.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from pipeline.atomic import atomic_dir, write_json
from pipeline.config import data_root
from pipeline.errors import StageError
from pipeline.evaluation.warnings import model_warnings, read_json, task_scores
from pipeline.hubcard import Places, intended_use, limitations, render, scores, training_data
from pipeline.stages import open_language

CARD = "README.md"
SCORES = "scores"         # scores/<lang>.json: dvc.yaml's top-level `metrics` (a folder: only languages that ran)
PRETRAIN_KEYS = ("steps", "vocab_size", "wall_seconds", "val_disc_auc", "val_replaced_recall", "val_disc_loss",
                 "val_gen_loss", "val_loss")
LINEAGE = "lineage.json"  # rewritten without machine paths (Places), not linked


def link_tree(src: Path, dest: Path, skip: tuple[str, ...] = (CARD,)) -> int:
    """The files of ``src`` under ``dest`` as hard links (no second copy of the weights on disk; every writer
    replaces files, none edits one in place), copies where links cannot be made. Returns the file count."""
    n = 0
    for path in sorted(src.rglob("*")):
        rel = path.relative_to(src)
        if rel.as_posix() in skip or not path.is_file():
            continue
        (dest / rel).parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(path, dest / rel)
        except OSError:
            shutil.copy2(path, dest / rel)
        n += 1
    return n


def scores_summary(pre: dict, result: dict | None) -> dict:
    """The numbers `dvc metrics show` / `dvc exp show` show for a language: pre-training's final validation and
    size, the evaluation's average and per-task medians (pretrained, random init, delta). A summary of
    metrics/<lang>/pretrain.json and eval.json, which dvc.yaml declares as plain outputs: DVC warns about every
    declared metrics file that does not exist, i.e. every language that never ran, and shows every key."""
    out = {k: pre[k] for k in PRETRAIN_KEYS if isinstance(pre.get(k), (int, float))}
    avg = (result or {}).get("average") or {}
    out["average"] = {k: avg[k] for k in ("pretrained", "random_init", "delta") if isinstance(avg.get(k), (int, float))}
    out["tasks"] = {t["task"]: {k: t[k] for k in ("pretrained", "random_init", "delta")
                                if isinstance(t.get(k), (int, float))} for t in task_scores(result)}
    return {k: v for k, v in out.items() if v != {}}


def run(lang: str, root: Path) -> dict:
    root, cfg, lay = open_language(lang, root)
    src = lay.electra_dir
    if not (src / "config.json").is_file():
        raise StageError(f"{lay.rel(src)}: no model — run the pretrain stage first")
    params = read_json(src / "pretrain_params.json") or cfg.pretrain_resolved()
    result = read_json(lay.eval_metrics)
    pre = read_json(lay.pretrain_metrics) or {}
    scorecard = lay.scorecard.read_text(encoding="utf-8") if result and lay.scorecard.is_file() else None
    warnings = model_warnings(root, lang)
    places, lineage = Places(root, data_root(root)), read_json(src / LINEAGE) or {}
    sections = [intended_use(cfg, params), limitations(warnings, params, pre.get("max_seq_length"), result),
                training_data(cfg, lineage, places), scores(scorecard)]
    pretrain_card = (src / CARD).read_text(encoding="utf-8") if (src / CARD).is_file() else f"# {lang}\n"
    with atomic_dir(lay.hub_dir) as tmp:
        files = link_tree(src, tmp, skip=(CARD, LINEAGE))
        card = render(pretrain_card, cfg, params, sections, result)
        (tmp / CARD).write_text(places.scrub(card, lineage), encoding="utf-8")
        if (src / LINEAGE).is_file():
            text = (src / LINEAGE).read_text(encoding="utf-8")
            (tmp / LINEAGE).write_text(places.scrub(text, lineage), encoding="utf-8")
            files += 1
    write_json(root / SCORES / f"{lang}.json", scores_summary(pre, result))
    return {"hub_dir": lay.rel(lay.hub_dir), "files": files + 1, "evaluated": result is not None,
            "warnings": len(warnings), "license": cfg.card.license}
