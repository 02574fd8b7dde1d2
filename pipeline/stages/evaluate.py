"""evaluate: models/<lang>/electra + the language's tasks -> eval.json, predictions.json and the scorecards.

The library is ``pipeline/evaluation/``: the evaluate section (``cfg.evaluate``) says which tasks, seeds,
baseline and references; :func:`~pipeline.evaluation.harness.evaluate_model` fine-tunes and scores. The model
card with the scores is the publish stage's (``models/<lang>/hub/``): rewriting the model folder (pretrain's
output) would make DVC see pretrain as changed.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.errors import StageError
from pipeline.evaluation.harness import ModelUnderTest, evaluate_model
from pipeline.evaluation.report import html_path, pretrain_summary, write_reports
from pipeline.evaluation.variants import PRETRAINED
from pipeline.readers.tasks import stale
from pipeline.stages import open_language


def run(lang: str, root: Path) -> dict:
    """Evaluate ``models/<lang>/electra`` on the language's tasks; write eval.json, predictions.json (every
    scored prediction, for paired comparisons across runs) and the scorecards."""
    root, cfg, lay = open_language(lang, root)
    task_text = [s.path for s in cfg.sources if s.format == "tasks"]   # the corpus holds the tasks' training text
    if task_text and lay.clean_stats.is_file():
        why = stale(cfg, root, json.loads(lay.clean_stats.read_text(encoding="utf-8")))
        if why:
            raise StageError(why)
    model = ModelUnderTest(lay.electra_dir, size=cfg.model.size, tokenizer_dir=lay.tokenizer_dir,
                           device=cfg.pretrain.device, language=lang,
                           title=f"{cfg.name} ({lang})" if cfg.name else lang)
    predictions: dict = {}
    result = evaluate_model(model, cfg.evaluate, root, predictions=predictions)
    pre = pretrain_summary(lay.pretrain_metrics)
    if pre:
        result["model"]["pretrain"] = pre
    if task_text:    # the scorecard says so (pipeline/readers/tasks.py)
        result["model"]["corpus_task_text"] = task_text
    write_reports(result, lay.eval_metrics, lay.scorecard, predictions)
    return {"language": lang, "tasks": len(result["tasks"]), "average": result["average"].get(PRETRAINED),
            "eval": str(lay.eval_metrics), "scorecard": str(lay.scorecard),
            "scorecard_html": str(html_path(lay.scorecard))}
