"""What an evaluation writes: eval.json (+ predictions.json), scorecard.md and scorecard.html (beside the .md),
atomically."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.atomic import write_json, write_text
from pipeline.evaluation import predictions as kept_predictions
from pipeline.evaluation.scorecard import render_scorecard
from pipeline.evaluation.scorecard_html import render_scorecard_html


def html_path(scorecard: Path) -> Path:
    """reports/<lang>/scorecard.html beside scorecard.md."""
    return Path(scorecard).with_suffix(".html")


def write_reports(result: dict, eval_json: Path, scorecard_md: Path, predictions: dict | None = None) -> None:
    """eval.json, predictions.json beside it (when given: ``evaluate_model``'s records), scorecard.md and
    scorecard.html (beside the .md), each atomically."""
    if predictions is not None:
        kept_predictions.write(kept_predictions.path_beside(eval_json), predictions)
    write_json(eval_json, result)
    write_text(scorecard_md, render_scorecard(result))
    write_text(html_path(scorecard_md), render_scorecard_html(result))


def pretrain_summary(path: Path) -> dict | None:
    """A few headline numbers of metrics/<lang>/pretrain.json for the scorecard, if readable."""
    if not path.is_file():
        return None
    try:
        pm = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(pm, dict):
        return None
    out = {k: pm[k] for k in ("objective", "steps", "seconds") if isinstance(pm.get(k), (int, float, str))}
    return out or None
