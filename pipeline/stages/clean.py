"""clean: raw sources -> ``data/<lang>/clean/part-*.parquet`` + ``stats.json`` + ``rejected.jsonl``.

The FineWeb-2 recipe on HF datatrove, adapted to corpora of any size and to low-resource languages
(docs/cleaning.md has the details, thresholds and measured funnels):

1. **read** every source in order (``pipeline.readers``); bad input stops the stage with file and line, or is
   counted and skipped (``clean.on_bad_input``);
2. **normalise** (FTFY mojibake repair, control/zero-width characters, NFC, whitespace) and drop ``empty``,
   ``too_short``, ``too_long`` and wrong-``script`` documents (``cleaning/filters.py``);
3. **language ID** with fastText lid.176 (+ an optional local GlotLID model): the threshold is calibrated per
   language from the corpus's own score distribution, and when the model is unreliable for the language a
   fallback rule decides instead (recorded in ``stats.json`` ``lid.calibration`` and ``warnings``);
4. **quality**: datatrove's Gopher repetition, FineWeb quality and Gopher quality filters, thresholds by
   script class, overridable per language; words from a segmenter that suits the script;
5. **dedup** within the language: exact (hash of the normalised text) then MinHash near duplicates
   (5-grams, 14 bands x 8 hashes), the first document in source order kept.

Steps 1-4 run as work units (about ``clean.task_bytes`` of input each, ``cleaning/workunits.py``) in parallel
processes (``cleaning/executor.py``); a rerun reuses the finished units of the same config, inputs and code, so
a killed run resumes at unit granularity. Calibration, dedup and writing the output are corpus-wide and stream
unit by unit. The output folder appears whole (``atomic_dir``) and is byte-identical for the same input and
settings, whatever the number of workers or units; the work folder is removed after success.
"""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from model.diskspace import as_disk_full
from pipeline.atomic import atomic_dir, write_json
from pipeline.cleaning import lid as lidmod
from pipeline.cleaning.decide import Verdicts, find_removed
from pipeline.cleaning.executor import run_units, workers_for
from pipeline.cleaning.merge import Merged, merge_units
from pipeline.cleaning.output import CorpusWriter
from pipeline.cleaning.report import corpus_stats, dropped_by_reason, dropped_summary, write_rejected
from pipeline.cleaning.workunits import prepare
from pipeline.config import LanguageConfig
from pipeline.errors import StageError
from pipeline.stages import open_language

log = logging.getLogger(__name__)


def run(lang: str, root: Path) -> dict:
    root, cfg, layout = open_language(lang, root)
    try:
        return clean_corpus(cfg, root, layout.clean_dir)
    except OSError as e:  # a full disk in the work units: pyarrow and numpy name no file, so name their folder
        if (full := as_disk_full(e, layout.clean_dir.parent / ".clean-work")) is None:
            raise
        raise full from e


def _no_documents(cfg: LanguageConfig, ctx, m: Merged) -> StageError:
    files = ctx.files
    return StageError(f"corpora/{cfg.language}.yaml: the sources contain no documents ({len(files)} file(s): "
                      f"{', '.join(s.rel for s in files[:5])}{' ...' if len(files) > 5 else ''}"
                      f"{'; skipped: ' + dropped_summary(dict(m.skipped)) if m.skipped else ''}); "
                      f"check sources[].path and sources[].format")


def clean_corpus(cfg: LanguageConfig, root: Path, out_dir: Path, work: Path | None = None) -> dict:
    work = work or (Path(out_dir).parent / ".clean-work")
    t = [time.perf_counter()]
    ctx, plan, reused = prepare(cfg, Path(root), work)
    units = plan["tasks"]
    t.append(time.perf_counter())
    workers = workers_for(cfg)
    run_units(ctx, units, work, workers)
    t.append(time.perf_counter())

    m = merge_units(plan, work)
    if m.docs_in == 0:
        raise _no_documents(cfg, ctx, m)
    primary = m.lid_summary("lid") or {"n": 0, "labels": {}, "accept": None, "all": None}
    verdicts = Verdicts(cfg, lidmod.calibrate(
        cfg, primary, m.lid_summary("alt"), lidmod.model_labels() if cfg.clean.lid.enabled else None))
    removed = find_removed(cfg, verdicts, units, work)
    t.append(time.perf_counter())

    with atomic_dir(out_dir) as tmp:
        w = CorpusWriter(cfg.clean, verdicts, removed, tmp)
        w.write(units, work)
        if w.docs_out == 0:
            cal = verdicts.cal
            raise StageError(f"corpora/{cfg.language}.yaml: all {m.docs_in} documents were dropped "
                             f"({dropped_summary(dropped_by_reason(m, w))}); relax clean.* thresholds"
                             + (f" ({cal['warning']})" if cal.get("warning") else ""))
        stats = corpus_stats(ctx, plan, m, w, primary)
        write_json(tmp / "stats.json", stats)
        write_rejected(tmp / "rejected.jsonl", m.examples, w.examples, w.rule_examples)

    shutil.rmtree(work, ignore_errors=True)
    t.append(time.perf_counter())
    log.info("clean %s: %d -> %d documents (%s)", cfg.language, m.docs_in, w.docs_out,
             dropped_summary(stats["dropped"]))
    for warning in stats["warnings"]:
        log.warning("clean %s: %s", cfg.language, warning)
    return {"documents_in": m.docs_in, "documents_out": w.docs_out, "chars_out": w.chars_out,
            "kept_fraction": stats["kept_fraction"], "dropped": {k: v for k, v in stats["dropped"].items() if v},
            "skipped": stats["skipped"], "warnings": stats["warnings"], "files": len(stats["files"]),
            "tasks": len(units), "tasks_reused": reused, "workers": min(workers, max(1, len(units) - reused)),
            "worker_rss_mb": m.worker_rss,
            "timings": {"plan": round(t[1] - t[0], 2), "tasks": round(t[2] - t[1], 2),
                        "task_sum": round(m.unit_seconds, 2), "task_cpu": round(m.unit_cpu, 2),
                        "calibrate_dedup": round(t[3] - t[2], 2), "write": round(t[4] - t[3], 2)}, "out": str(out_dir)}
