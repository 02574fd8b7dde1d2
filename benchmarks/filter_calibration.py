"""Quality-filter drop shares per rule before (starting thresholds) and after per-language calibration.

    .venv/bin/python -m benchmarks.filter_calibration [--langs en sw ...] [--english-table]

For every shared language (``text/<lang>/*.txt.gz`` through the shipped ``corpora/<lang>.yaml``) and for
Swahili news as a user would bring it (MasakhaNEWS train/dev/test articles, headline + body, the shared
classification data written to a JSONL source), the documents that reach the quality filters (normalised,
length and script filters passed) are scored by every rule (``pipeline/cleaning/rulestats.py``) and the
calibration of ``pipeline/cleaning/calibration.py`` is run on all of them. Reported per language and rule:
the share of documents the rule drops (any failure, not only the first) at the starting thresholds (English's
for alphabetic scripts, the script class's otherwise; the config's overrides applied) and at the calibrated
ones, and the overall share the quality filters drop. ``sw`` and ``ar`` are also run without their shipped
``line_punct_exclude_zero`` override (what calibration replaces). ``--english-table`` prints the share each
English threshold drops of the English text (``calibration.ENGLISH_DROP_SHARE``).

Results: ``benchmarks/results/filter_calibration-<date>.md`` and ``.json`` (machine named, no paths).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from model.atomic import write_text

REPO = Path(__file__).resolve().parents[1]
LANGS = ("en", "de", "fi", "tr", "ru", "ar", "hi", "zh", "ja", "ko", "sw")


def _config(lang: str, sources: list[dict] | None = None, drop_override: bool = False):
    from pipeline.config import LanguageConfig

    raw = yaml.safe_load((REPO / "corpora" / f"{lang}.yaml").read_text(encoding="utf-8"))
    if sources is not None:
        raw["sources"] = sources
    if drop_override:
        raw["clean"]["quality"]["fineweb_quality"].pop("line_punct_exclude_zero")
    raw["clean"]["calibration"] = {"sample_documents": 10 ** 6}   # every document: the corpora are small
    return LanguageConfig.model_validate(raw)


def _documents(cfg) -> tuple[list[str], str]:
    from pipeline.cleaning import calibration
    from pipeline.cleaning.workunits import _context
    from pipeline.readers import plan_file, source_files

    files = source_files(cfg, REPO)
    ctx = _context(cfg, REPO, files)
    units = [{"id": i, "segments": [s.as_dict() for s in plan_file(sf, i, 10 ** 12)]} for i, sf in enumerate(files)]
    return calibration._documents(ctx, units, 10 ** 6), ctx.segmenter


def masakhanews_jsonl(tmp: Path) -> Path:
    """MasakhaNEWS Swahili articles (train, dev, test) as JSONL: headline line + body, one document each."""
    out = tmp / "masakhanews_swa.jsonl"
    base = REPO.parent / "shared" / "data" / "classification" / "masakhanews" / "swa"
    with open(out, "w", encoding="utf-8") as f:
        for split in ("train", "dev", "test"):
            with open(base / f"{split}.tsv", encoding="utf-8", newline="") as t:
                for row in csv.DictReader(t, delimiter="\t", quoting=csv.QUOTE_NONE):
                    f.write(json.dumps({"text": f"{row['headline'].strip()}\n{row['text'].strip()}"},
                                       ensure_ascii=False) + "\n")
    return out


def measure(name: str, cfg) -> dict:
    from pipeline.cleaning import calibration

    t = time.perf_counter()
    texts, seg = _documents(cfg)
    rec = calibration.calibrate(cfg, seg, texts, source="corpus (all documents)")
    rules = [{k: r[k] for k in ("rule", "check", "english", "base", "used", "by", "drop_share_base",
                                 "drop_share_used", "alone_drop_share_base", "alone_drop_share")} for r in rec["rules"]]
    return {"name": name, "documents": len(texts), "dropped_share": rec["dropped_share"], "rules": rules,
            "flags": [{k: f[k] for k in ("rule", "alone_drop_share", "documents")} for f in rec["flags"]],
            "seconds": round(time.perf_counter() - t, 1)}


def english_table() -> dict[str, float]:
    """Share of the English text every other rule keeps that each English threshold drops."""
    from pipeline.cleaning import calibration

    cfg = _config("en")
    texts, seg = _documents(cfg)
    rec = calibration.calibrate(cfg, seg, texts, source="en")
    return {r["rule"]: r["alone_drop_share_base"] for r in rec["rules"] if r["alone_drop_share_base"] > 0}


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if x else "·"


def report(results: list[dict], machine: dict) -> str:
    lines = [f"# Quality-filter calibration: drop shares before and after ({machine['date']})", "",
             f"Machine: {machine['cpu']}, {machine['cores']} usable cores. `python -m benchmarks.filter_calibration`.",
             "Share of the documents reaching the quality filters that each rule drops (any failure), at the",
             "starting thresholds (before) and the calibrated ones (after); `·` = none.", "",
             "Flags: rules dropping more than 5% of the documents every other rule keeps (the review page's flag).", "",
             "| corpus | docs | dropped before | dropped after | rules changed (start → used) | flags before | flags after |",
             "|---|---:|---:|---:|---|---|---|"]
    for r in results:
        changed = ", ".join(f"{x['check']} {x['base']}→{x['used']}" for x in r["rules"] if x["by"] == "calibrated")
        flags = ", ".join(f"{f['rule']} {_pct(f['alone_drop_share'])}" for f in r["flags"]) or "—"
        before = ", ".join(f"{x['check']} {_pct(x['alone_drop_share_base'])}" for x in r["rules"]
                           if x["alone_drop_share_base"] > 0.05) or "—"
        lines.append(f"| {r['name']} | {r['documents']} | {_pct(r['dropped_share']['base'])} | "
                     f"{_pct(r['dropped_share']['used'])} | {changed or '—'} | {before} | {flags} |")
    lines += ["", "Per rule (before → after), rules that drop something in some corpus:", ""]
    keys = [x["rule"] for x in results[0]["rules"]]
    active = [k for k in keys if any(x["drop_share_base"] or x["drop_share_used"]
                                     for r in results for x in r["rules"] if x["rule"] == k)]
    lines.append("| rule | " + " | ".join(r["name"] for r in results) + " |")
    lines.append("|---|" + "---:|" * len(results))
    for k in active:
        cells = []
        for r in results:
            x = next(x for x in r["rules"] if x["rule"] == k)
            b, a = x["drop_share_base"], x["drop_share_used"]
            cells.append(_pct(b) if b == a else f"{_pct(b)} → {_pct(a)}")
        lines.append(f"| {k} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.filter_calibration")
    ap.add_argument("--langs", nargs="*", default=list(LANGS))
    ap.add_argument("--english-table", action="store_true")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    if args.english_table:
        print(json.dumps(english_table(), indent=1, sort_keys=True))
        return 0
    from benchmarks._machine import cpu_model, usable_cores

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for lang in args.langs:
            results.append(measure(lang, _config(lang)))
            print(json.dumps({k: results[-1][k] for k in ("name", "documents", "dropped_share", "flags")}), flush=True)
            if lang in ("sw", "ar"):
                results.append(measure(f"{lang} (no line_punct override)", _config(lang, drop_override=True)))
        if "sw" in args.langs:
            src = [{"path": str(masakhanews_jsonl(Path(tmp))), "format": "jsonl"}]
            results.append(measure("sw MasakhaNEWS articles", _config("sw", src, drop_override=True)))
    date = dt.date.today().isoformat()
    machine = {"date": date, "cpu": cpu_model(), "cores": usable_cores()}
    out = REPO / "benchmarks" / "results" / f"filter_calibration-{date}"
    write_text(out.with_suffix(".json"), json.dumps({"machine": machine, "results": results}, indent=1,
                                                   ensure_ascii=False) + "\n")
    write_text(out.with_suffix(".md"), report(results, machine))
    print(out.with_suffix(".md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
