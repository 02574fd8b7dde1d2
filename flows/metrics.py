"""``foundry metrics [LANG...]``: the numbers that matter per language, in a table a terminal can show.

``dvc metrics show`` shows the publish stage's ``scores/<lang>.json`` (a few numbers per language that ran
to the end). This view also covers a language stopped half-way: it asks DVC for the pre-training and
evaluation metrics files that exist (``repo.metrics.show(targets=...)``, as the DVC docs advise for a subset)
and keeps a few columns: per language the clean and validate numbers (``data/<lang>/clean/stats.json``,
``data/<lang>/validation.json``: stage outputs, read directly), pre-training's final validation AUC,
replaced recall and loss, and the evaluation's average pre-trained vs random-init median; then per task
the two medians and their delta. Read-only.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from flows.summary import task_scores
from pipeline.evaluation.scorecard import pct, signed, span
from pipeline.layout import Layout


def _read(path: Path) -> dict | None:
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return d if isinstance(d, dict) else None


def declared_metrics(root: Path, langs: list[str]) -> dict[str, list[str]]:
    """Per language, its pre-training and evaluation metrics files that exist (project-relative). dvc.yaml
    declares them as plain outs (a declared metrics file that is missing makes `dvc metrics show` warn)."""
    out: dict[str, list[str]] = {}
    for lang in langs:
        lay = Layout(root, lang)
        out[lang] = [os.path.relpath(p, root) for p in (lay.pretrain_metrics, lay.eval_metrics) if p.is_file()]
    return out


def dvc_metrics(root: Path, paths: list[str]) -> dict[str, dict]:
    """DVC's view of ``paths`` in the workspace: {path: metrics dict}."""
    from flows.dvcops import _LOCK, _repo

    if not paths:
        return {}
    with _LOCK, _repo(root) as repo:
        shown = repo.metrics.show(targets=[str(Path(root) / p) for p in paths])
    files = (shown.get("workspace") or shown.get("") or {}).get("data") or {}
    out = {}
    for path, res in files.items():
        rel = os.path.relpath(path, root) if os.path.isabs(path) else path
        if isinstance(res, dict) and isinstance(res.get("data"), dict):
            out[rel] = res["data"]
    return out


def _num(x, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) and not isinstance(x, bool) else "-"


def language_row(root: Path, lang: str, shown: dict[str, dict]) -> dict:
    """The row of one language (strings; '-' where a stage has not produced the number)."""
    lay = Layout(root, lang)
    rel = lambda p: os.path.relpath(p, root)  # noqa: E731
    stats, val = _read(lay.clean_stats), _read(lay.validation)
    pre = shown.get(rel(lay.pretrain_metrics)) or {}
    ev = shown.get(rel(lay.eval_metrics))
    avg = (ev or {}).get("average") or {}
    row = {"language": lang,
           "documents kept": (f"{stats.get('documents_out', 0):,}/{stats.get('documents_in', 0):,}"
                              if stats and "documents_in" in stats else "-"),
           "validation": ("-" if val is None else "passed" if val.get("passed")
                          else f"FAILED {len(val.get('failed') or [])}"),
           "steps": str(pre["steps"]) if "steps" in pre else "-",
           "val AUC": _num(pre.get("val_disc_auc")), "val recall": _num(pre.get("val_replaced_recall")),
           "val loss": _num(pre.get("val_loss")),
           "eval pretrained": pct(avg.get("pretrained")) if ev else "-",
           "eval random init": pct(avg.get("random_init")) if ev else "-",
           "delta": signed(avg.get("delta")) if ev else "-"}
    row["_tasks"] = task_scores(ev) if ev else []
    row["_never_run"] = stats is None and val is None and not pre and ev is None
    return row


def metrics_text(root: Path, langs: list[str]) -> str:
    """The terminal view: one row per language, then each evaluated language's tasks."""
    files = declared_metrics(root, langs)
    shown = dvc_metrics(root, [p for lang in langs for p in files[lang]])
    rows = [language_row(root, lang, shown) for lang in langs]
    cols = [c for c in rows[0] if not c.startswith("_")]
    width = {c: max(len(c), *(len(r[c]) for r in rows)) for c in cols}
    lines = ["  ".join(f"{c:<{width[c]}}" for c in cols).rstrip()]
    for r in rows:
        if r["_never_run"]:
            lines.append(f"{r['language']:<{width['language']}}  never run")
        else:
            lines.append("  ".join(f"{r[c]:<{width[c]}}" for c in cols).rstrip())
    lines.append("(eval: average of the task medians over seeds, x100; val: pre-training's final validation)")
    for r in rows:
        if r["_tasks"]:
            tw = max(len(t["task"]) for t in r["_tasks"])
            lines += ["", f"{r['language']}: {'task':<{tw}}  {'pretrained':>10}  {'random init':>11}  {'delta':>6}  "
                          f"{'95% interval':>14}"]
            lines += [f"{' ' * (len(r['language']) + 2)}{t['task']:<{tw}}  {pct(t['pretrained']):>10}  "
                      f"{pct(t['random_init']):>11}  {signed(t['delta']):>6}  {span(t['interval']):>14}   {t['metric']}"
                      for t in r["_tasks"]]
    return "\n".join(lines)
