"""What the clean stage recorded about the corpus, as the review page reads it.

``stats.json`` (the funnel, drop counts, language-ID calibration, warnings) and ``rejected.jsonl``
(samples of dropped documents). Both are optional here: a missing or partial record degrades to a note
on the page, never an error.
"""
from __future__ import annotations

import json

from pipeline.layout import Layout


def load_stats(layout: Layout) -> dict:
    try:
        return json.loads(layout.clean_stats.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_rejected(layout: Layout, per_reason: int) -> dict[str, list[dict]]:
    """rejected.jsonl (written by the clean stage) grouped by reason, at most ``per_reason`` each."""
    path = layout.clean_dir / "rejected.jsonl"
    out: dict[str, list[dict]] = {}
    if not path.is_file():
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            reason = str(rec.get("reason") or "unknown")
            bucket = out.setdefault(reason, [])
            if len(bucket) < per_reason:
                bucket.append(rec)
    return out


def funnel_rows(stats: dict) -> tuple[list[dict], bool]:
    """The funnel: stats['funnel'] when the clean stage writes it, else one row from the totals.
    Returns (rows, detailed)."""
    funnel = stats.get("funnel")
    if isinstance(funnel, list) and funnel and all(isinstance(s, dict) for s in funnel):
        return funnel, True
    if "documents_in" in stats:
        return [{"step": "clean (all filters)", "documents_in": stats.get("documents_in"),
                 "documents_out": stats.get("documents_out"), "chars_in": stats.get("chars_in"),
                 "chars_out": stats.get("chars_out"), "dropped": stats.get("dropped") or {}}], False
    return [], False


def lid_calibration(stats: dict) -> dict | None:
    cal = (stats.get("lid") or {}).get("calibration")
    return cal if isinstance(cal, dict) else None


def lid_warning(lang: str, stats: dict) -> str | None:
    """The warning text when stats.json says the LID model is unreliable for the language."""
    cal = lid_calibration(stats)
    if not cal or cal.get("model_reliable") is not False:
        return None

    def sentence(t: str) -> str:
        t = str(t).strip()
        return t if t.endswith((".", "!", "?")) else t + "."

    model = f" ({cal['model']})" if cal.get("model") else ""
    label = f", label {cal['label']}" if cal.get("label") and cal.get("label") != lang else ""
    parts = [f"The language-ID model{model} is NOT reliable for {lang}{label}."]
    if cal.get("why"):
        parts.append(sentence(cal["why"]))
    if cal.get("threshold_used") is not None or cal.get("threshold_configured") is not None:
        parts.append(f"Threshold used {cal.get('threshold_used')} (configured {cal.get('threshold_configured')}"
                     + (f"; fallback: {cal['fallback']}" if cal.get("fallback") else "") + ").")
    parts.append("Language scores are a weak quality signal here: read the samples yourself before approving.")
    return " ".join(parts)
