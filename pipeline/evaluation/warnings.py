"""What is wrong with a trained model, from its files: a collapsed representation (the scorecard's diagnostic),
a pre-trained model below random initialisation, or level with it (the bootstrap interval of the delta spans 0,
pipeline.evaluation.interval), a discriminator still on the plateau at the end of pre-training. The one source of
these warnings for the end-of-run summary (``flows/summary.py``) and the model card's Limitations
(``pipeline/hubcard.py``)."""
from __future__ import annotations

import json
from pathlib import Path

from model.plateau import on_plateau, plateau_message
from model.sizes import resolve_params
from pipeline.config import load_language
from pipeline.evaluation.interval import verdict
from pipeline.evaluation.representations import collapse_notes
from pipeline.evaluation.scoring import summary_of
from pipeline.evaluation.variants import PRETRAINED, RANDOM
from pipeline.layout import Layout


def read_json(path: Path) -> dict | None:
    """A JSON object from ``path``, or None when it is missing or not one."""
    try:
        d = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def _median(entry: dict, key: str):
    s = summary_of(entry, key)
    return None if not s else s.get("median")


def task_scores(result: dict | None) -> list[dict]:
    """One row per task: metric, pretrained and random-init medians, delta, its interval and verdict
    (pipeline.evaluation.interval; fractions, None when not run)."""
    rows = []
    for name, v in ((result or {}).get("tasks") or {}).items():
        iv = v.get("delta_interval")
        rows.append({"task": name, "metric": v.get("metric", ""), "pretrained": _median(v, PRETRAINED),
                     "random_init": _median(v, RANDOM), "delta": v.get("delta"), "interval": iv,
                     "verdict": v.get("verdict") or verdict(v.get("delta"), iv)})
    return rows


def _delta_text(r: dict) -> str:
    iv = r["interval"]
    if not iv:
        return f"{r['task']} ({100 * r['delta']:+.1f})"
    return (f"{r['task']} ({100 * r['delta']:+.1f}; {100 * iv['level']:.0f}% interval {100 * iv['low']:+.1f} to "
            f"{100 * iv['high']:+.1f})")


def model_warnings(root: Path, lang: str) -> list[str]:
    """Every warning about the language's model (metrics/<lang>/eval.json and pretrain.json), most serious first."""
    lay = Layout(root, lang)
    out = []
    result = read_json(lay.eval_metrics)
    for key, note in collapse_notes(result or {}):
        out.append(f"{key}: {note}")
    scored = [r for r in task_scores(result) if r["delta"] is not None]
    below = [r for r in scored if r["verdict"] == "below"]
    if below:
        out.append("the pre-trained model scores below random initialisation on "
                   + ", ".join(_delta_text(r) for r in below) + f" (reports/{lang}/scorecard.md)")
    level = [r for r in scored if r["verdict"] == "level"]
    if level:   # no measurable gain is no gain either: say so rather than print "no warnings"
        spans = " (the interval of the delta spans 0)" if any(r["interval"] for r in level) else ""
        out.append("pre-training gained nothing measurable over random initialisation on "
                   + ", ".join(_delta_text(r) for r in level) + f"{spans} (reports/{lang}/scorecard.md)")
    pre = read_json(lay.pretrain_metrics)
    if pre and pre.get("objective", "electra") == "electra" and on_plateau(pre.get("val_disc_auc"),
                                                                             pre.get("val_replaced_recall")):
        params = resolve_params(load_language(lang, root).pretrain_resolved())
        steps = int(pre.get("steps") or 0)
        out.append("pre-training: " + plateau_message(pre["val_disc_auc"], pre["val_replaced_recall"], steps, params,
                                                      when=f"at the end of pre-training ({steps} steps, validation)"))
    return out
