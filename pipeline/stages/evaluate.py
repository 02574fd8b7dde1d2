"""evaluate: models/<lang>/electra + the language's tasks -> eval.json, scorecards and the model card."""
from __future__ import annotations

from pathlib import Path

from pipeline.evaluate import PRETRAINED, _pretrain_summary, evaluate_model, html_path, render_scorecard, write_reports
from pipeline.stages import open_language


def run(lang: str, root: Path) -> dict:
    """Evaluate ``models/<lang>/electra`` on the language's tasks; write eval.json and the scorecards."""
    root, cfg, lay = open_language(lang, root)
    ev = cfg.evaluate
    result = evaluate_model(
        lay.electra_dir, ev.tasks, root, seeds=ev.seeds, out_dir=None,
        random_init_baseline=ev.random_init_baseline, size=cfg.model.size,
        layerwise_lr_decay=ev.layerwise_lr_decay, device=cfg.pretrain.device, language=lang,
        tokenizer_dir=lay.tokenizer_dir, title=f"{cfg.name} ({lang})" if cfg.name else lang,
        references=ev.references, average=ev.average, average_name=ev.average_name,
        workers=ev.workers, threads_per_worker=ev.threads_per_worker,
    )
    pre = _pretrain_summary(lay.pretrain_metrics)
    if pre:
        result["model"]["pretrain"] = pre
    write_reports(result, lay.eval_metrics, lay.scorecard)
    from pipeline import modelcard  # the complete card: the model's own README.md + the scores
    card = modelcard.write(root, lang, lay.electra_dir, render_scorecard(result), lay.eval_metrics)
    return {"language": lang, "tasks": len(result["tasks"]), "average": result["average"].get(PRETRAINED),
            "eval": str(lay.eval_metrics), "scorecard": str(lay.scorecard),
            "scorecard_html": str(html_path(lay.scorecard)), "model_card": str(card)}
