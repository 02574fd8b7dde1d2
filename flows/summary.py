"""The end-of-run summary of one language: the scores that matter and every warning, for the terminal
(``foundry run``) and the run's Prefect markdown artifact (``foundry-run-<lang>``).

Scores: per evaluation task, the pre-trained and random-init medians over seeds, their delta and its 95%
bootstrap interval (``metrics/<lang>/eval.json``, written by the evaluate stage). Warnings: a collapsed representation
(the scorecard's diagnostic), a pre-trained model below (or level with) random init, a discriminator still on the plateau
(``metrics/<lang>/pretrain.json``'s final validation), and a corpus whose approval is missing or void.
Reads files only; no Prefect here (``flows/language.py`` publishes the artifact). The model's warnings come
from ``pipeline/evaluation/warnings.py``, which the published model card's Limitations also use.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import load_language
from pipeline.evaluation.scorecard import pct, signed, span
from pipeline.evaluation.warnings import model_warnings, read_json as _read, task_scores
from pipeline.layout import Layout
from pipeline.review import gate as review
from pipeline.review.headline import gate_state


def warnings(root: Path, lang: str) -> list[str]:
    """Every warning about this language's current artifacts, most serious first (the model's, then the
    review's)."""
    return model_warnings(root, lang) + _approval_warning(root, lang)


def _approval_warning(root: Path, lang: str) -> list[str]:
    lay = Layout(root, lang)
    if not lay.clean_files():
        return []
    st = gate_state(lay, load_language(lang, root))
    if st.open or st.state in ("unvalidated", "rejected-by-validation"):
        return []
    if st.state == "void":
        return [f"review: the {st.decision.get('decision')} decision by {review.who(st.decision)} was for another "
                f"corpus ({review.short(st.decision.get('corpus'))}; now {review.short(st.corpus)}): void — "
                f"`foundry approve {lang}` after reviewing reports/{lang}/quality/review.html"]
    if st.state == "rejected":
        return [f"review: the corpus was rejected by {review.who(st.decision)}: "
                f"{st.decision.get('comment') or '(no reason given)'}"]
    return [f"review: no approval for the current corpus ({review.short(st.corpus)}; review.policy: {st.policy}) "
            f"— review reports/{lang}/quality/review.html, then `foundry approve {lang}`"]


def summary_text(root: Path, lang: str) -> str:
    """The terminal summary: the score table (when evaluate ran) and the warnings."""
    lay = Layout(root, lang)
    result = _read(lay.eval_metrics)
    lines = [f"Summary for {lang}:"]
    rows = task_scores(result)
    if result is None:
        lines.append("  no evaluation yet (metrics/%s/eval.json)" % lang)
    elif not rows:
        lines.append(f"  no evaluation task configured (evaluate.tasks in corpora/{lang}.yaml)")
    else:
        width = max(len(r["task"]) for r in rows)
        lines.append(f"  {'task':<{width}}  {'pretrained':>10}  {'random init':>11}  {'delta':>6}  "
                     f"{'95% interval':>14}   (median over seeds, x100)")
        for r in rows:
            lines.append(f"  {r['task']:<{width}}  {pct(r['pretrained']):>10}  {pct(r['random_init']):>11}  "
                         f"{signed(r['delta']):>6}  {span(r['interval']):>14}   {r['metric']}")
    warn = warnings(root, lang)
    lines += [f"  WARNING: {w}" for w in warn] or ["  no warnings"]
    return "\n".join(lines)


def summary_markdown(lang: str, results: list[dict], root: Path) -> str:
    """The run's Markdown artifact: the stages, the scores and warnings, the review decision, the scorecard."""
    lay = Layout(root, lang)
    rows = ["| stage | ran | seconds | summary |", "|---|---|---|---|"]
    for r in results:
        s = {k: v for k, v in (r.get("summary") or {}).items() if k not in ("stage", "lang")}
        ran = "yes" if r["ran"] else ("no (not requested)" if r.get("excluded") else "no (up to date)")
        rows.append(f"| {r['stage']} | {ran} | {r['seconds']} | {json.dumps(s, default=str)[:200] if s else ''} |")
    parts = [f"# ELECTRA Foundry run: {lang}", "", *rows, ""]
    scores = task_scores(_read(lay.eval_metrics))
    if scores:
        parts += ["## Pre-trained vs random init", "",
                  "| task | metric | pretrained | random init | delta | 95% interval |", "|---|---|---:|---:|---:|---:|"]
        parts += [f"| {r['task']} | {r['metric']} | {pct(r['pretrained'])} | {pct(r['random_init'])} | "
                  f"{signed(r['delta'])} | {span(r['interval'])} |" for r in scores] + [""]
    warn = warnings(root, lang)
    parts += ["## Warnings", ""] + ([f"- ⚠ {w}" for w in warn] or ["None."]) + [""]
    try:
        d = review.read_decision(lay)
    except Exception:
        d = None
    if d:
        parts += [f"Review: **{d['decision']}** by {review.who(d)} (corpus `{review.short(d.get('corpus'))}`)"
                  + (f": {d['comment']}" if d.get("comment") else ""), ""]
    if lay.scorecard.is_file():
        parts += ["## Scorecard", "", lay.scorecard.read_text(encoding="utf-8")]
    return "\n".join(parts)
