"""Tasks: the unit of parallel work and of resumption.

``make_plan`` cuts the sources into tasks of about ``clean.task_bytes`` input bytes (``readers.plan_file``;
consecutive small files share a task). ``run_task`` turns one task into ``<work>/tasks/NNNNN/``:

- ``docs.parquet``  every document that reached language ID, normalised, with its LID label/score (and the
                    configured model's), script share and the first quality rule it fails (null: passes);
- ``keys.npy``      per document: the exact key and the MinHash band keys (0 where the document failed a
                    quality filter or is too short to shingle);
- ``stats.json``    counts of documents dropped before language ID, bad input skipped, per-source counts,
                    LID score summaries and the first rejected examples.

The folder is written under a temporary name and renamed when complete, so a task folder that exists is
complete; a killed run leaves at most a temporary folder, removed on the next run. ``run_tasks`` runs the
missing tasks in a process pool (``forkserver``; ``workers`` processes) or inline, and ``CleanTaskStep`` wraps a
task as a datatrove ``PipelineStep`` (rank = task) so datatrove's Slurm/Ray executors can run the same work
(docs/cleaning.md).
"""
from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.readers import BadInput, SourceFile, iter_file, plan_file, sniff_binary

DOCS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("text", pa.string()),
    ("source", pa.string()),
    ("line", pa.int64()),
    ("raw_chars", pa.int64()),
    ("lid_lang", pa.string()),
    ("lid_score", pa.float32()),
    ("alt_lang", pa.string()),
    ("alt_score", pa.float32()),
    ("script_share", pa.float32()),
    ("n_chars", pa.int32()),
    ("quality", pa.string()),        # "filter:rule" of the first failed check, null when all pass
])
PRE_LID = ("empty", "too_short", "too_long", "script")
EXAMPLES = 20


@dataclass
class Context:
    """Everything a worker needs (pickled once per worker process)."""
    cfg: object                  # LanguageConfig
    root: str
    files: list[SourceFile]
    segmenter: str
    model_path: str | None = None


def make_plan(files: list[SourceFile], task_bytes: int, bad: BadInput) -> tuple[list[dict], list[int]]:
    """(tasks, skipped file indices). A task is {"id", "segments": [Segment dicts], "bytes"}."""
    tasks: list[dict] = []
    current: list[dict] = []
    size = 0
    skipped: list[int] = []
    for i, sf in enumerate(files):
        if sniff_binary(sf, bad):
            skipped.append(i)
            continue
        for seg in plan_file(sf, i, task_bytes):
            if current and size + seg.size > task_bytes:
                tasks.append({"id": len(tasks), "segments": current, "bytes": size})
                current, size = [], 0
            current.append(seg.as_dict())
            size += seg.size
    if current:
        tasks.append({"id": len(tasks), "segments": current, "bytes": size})
    return tasks, skipped


def resplit(text: str, max_chars: int) -> list[str]:
    """Cut a normalised document at line ends into pieces of at most ``max_chars`` (a longer line stays whole)."""
    parts: list[str] = []
    cur: list[str] = []
    size = 0
    for ln in text.split("\n"):
        if cur and size + 1 + len(ln) > max_chars:
            parts.append("\n".join(cur))
            cur, size = [], 0
        size = len(ln) if not cur else size + 1 + len(ln)
        cur.append(ln)
    if cur:
        parts.append("\n".join(cur))
    return parts


def task_dir(work: Path, task_id: int) -> Path:
    return work / "tasks" / f"{task_id:05d}"


# --- the worker -----------------------------------------------------------------------------------

class _Worker:
    """Per-process state: models and filters are loaded once."""

    def __init__(self, ctx: Context):
        from pipeline.cleaning.dedup import MinHasher
        from pipeline.cleaning.lid import accepted_labels, load_model
        from pipeline.cleaning.quality import build_filters
        from pipeline.cleaning.segment import tokenizer

        self.ctx = ctx
        c = ctx.cfg.clean
        self.lid = load_model(None)   # scores are recorded even when lid.enabled is false
        self.alt = load_model(ctx.model_path) if ctx.model_path else None
        self.accept = accepted_labels(ctx.cfg)
        self.filters = build_filters(ctx.cfg, ctx.segmenter)
        self.minhash = MinHasher(c.dedup, tokenizer(ctx.segmenter)) if c.dedup.minhash else None

    def run(self, task: dict, out: Path) -> None:
        from pipeline.cleaning.dedup import exact_key, text_digest
        from pipeline.cleaning.lid import Histogram
        from pipeline.cleaning.normalize import normalize, script_share

        import resource
        import time

        t_start = time.perf_counter()
        ru0 = resource.getrusage(resource.RUSAGE_SELF)
        cfg = self.ctx.cfg
        c = cfg.clean
        bad = BadInput(c.on_bad_input)
        cols: dict[str, list] = {n: [] for n in DOCS_SCHEMA.names}
        keys: list[list[int]] = []
        nb = c.dedup.num_buckets
        pre = {r: [0, 0] for r in PRE_LID}      # reason -> [documents, characters]
        docs_in = chars_in = chars_norm = split = overlong = 0
        per_source: Counter[str] = Counter()
        examples: list[dict] = []
        ex_count: Counter[str] = Counter()
        lid_n = 0
        labels: Counter[str] = Counter()
        h_accept, h_all = Histogram(), Histogram()
        alt_labels: Counter[str] = Counter()
        a_accept = Histogram()

        def reject(reason: str, doc, text: str, n: int, **details):
            pre[reason][0] += 1
            pre[reason][1] += n
            if ex_count[reason] < EXAMPLES:
                ex_count[reason] += 1
                examples.append({"reason": reason, "source": doc.source, "line": doc.line, "text": text[:2000],
                                 "details": details})

        def units():
            """(document, normalised text or None for an overlong line, raw characters) in source order."""
            for seg in task["segments"]:
                sf = self.ctx.files[seg["file"]]
                end = seg["end"] if seg["end"] >= 0 else None
                for doc in iter_file(sf, c.max_chars, seg["start"], end, seg["line"], bad):
                    if doc.overlong:
                        yield doc, None, doc.raw_chars
                        continue
                    text = normalize(doc.text, c.normalize)
                    if len(text) <= c.max_chars:
                        yield doc, text, doc.raw_chars
                        continue
                    # normalisation can lengthen a piece the reader cut at max_chars (NFC decomposes the
                    # Devanagari nukta letters, for one): cut it again at line ends instead of dropping it
                    for k, part in enumerate(resplit(text, c.max_chars)):
                        yield replace(doc, split=True), part, (doc.raw_chars if k == 0 else 0)

        for doc, text, raw in units():
            docs_in += 1
            chars_in += raw
            per_source[doc.source] += 1
            split += doc.split
            if text is None:
                overlong += 1
                chars_norm += doc.raw_chars
                reject("too_long", doc, doc.text, doc.raw_chars, n_chars=doc.raw_chars, single_line=True)
                continue
            n = len(text)
            chars_norm += n
            if n == 0:
                reject("empty", doc, doc.text, 0)
                continue
            if n < c.min_chars:
                reject("too_short", doc, text, n, n_chars=n, min_chars=c.min_chars)
                continue
            if n > c.max_chars:
                reject("too_long", doc, text, n, n_chars=n, max_chars=c.max_chars)
                continue
            share = script_share(text, cfg.script)
            if share < c.min_script_share:
                reject("script", doc, text, n, script_share=round(share, 4), min_script_share=c.min_script_share)
                continue
            label, score = self.lid.predict(text)
            lid_n += 1
            labels[label] += 1
            h_all.add(score)
            if label in self.accept:
                h_accept.add(score)
            alt_label, alt_score = None, None
            if self.alt is not None:
                alt_label, alt_score = self.alt.predict(text)
                alt_labels[alt_label] += 1
                if alt_label == c.lid.model_label:
                    a_accept.add(alt_score)
            fail = self.filters.first_failure(text)
            digest = text_digest(text)
            row_keys = [exact_key(digest)] + [0] * nb
            if fail is None and self.minhash is not None:
                bk = self.minhash.band_keys(text)
                if bk:
                    row_keys[1:] = bk
            keys.append(row_keys)
            for k, v in (("id", digest.hex()[:16]), ("text", text), ("source", doc.source), ("line", doc.line),
                         ("raw_chars", raw), ("lid_lang", label), ("lid_score", score),
                         ("alt_lang", alt_label), ("alt_score", alt_score), ("script_share", share),
                         ("n_chars", n), ("quality", f"{fail[0]}:{fail[1]}" if fail else None)):
                cols[k].append(v)

        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".tmp-{task['id']:05d}-", dir=out.parent))
        try:
            pq.write_table(pa.Table.from_pydict(cols, schema=DOCS_SCHEMA), tmp / "docs.parquet",
                           compression="zstd", compression_level=1)
            arr = np.array(keys, dtype=np.uint64) if keys else np.zeros((0, nb + 1), dtype=np.uint64)
            np.save(tmp / "keys.npy", arr)
            stats = {
                "task": task["id"], "seconds": round(time.perf_counter() - t_start, 3), "pid": os.getpid(),
                "cpu_s": round(_cpu(resource.getrusage(resource.RUSAGE_SELF)) - _cpu(ru0), 3),
                "rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
                "documents_in": docs_in, "chars_in": chars_in, "chars_norm": chars_norm,
                "pre_lid": pre, "split_long_document": split, "overlong_lines": overlong,
                "per_source": dict(per_source), "rows": len(keys),
                "skipped": dict(bad.counts), "examples": examples + bad.examples,
                "lid": {"n": lid_n, "labels": dict(labels), "accept": h_accept.to_dict(), "all": h_all.to_dict()},
                "alt": ({"n": lid_n, "labels": dict(alt_labels), "accept": a_accept.to_dict()}
                        if self.alt is not None else None),
            }
            (tmp / "stats.json").write_text(json.dumps(stats, ensure_ascii=False), encoding="utf-8")
            os.replace(tmp, out)   # the task is complete when its folder exists
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


def _cpu(ru) -> float:
    return ru.ru_utime + ru.ru_stime


_STATE: dict = {}


def _init(ctx: Context) -> None:
    _STATE["worker"] = _Worker(ctx)
    _STATE["work"] = None


def _run_one(args) -> int:
    task, out = args
    _STATE["worker"].run(task, Path(out))
    return task["id"]


def run_tasks(ctx: Context, tasks: list[dict], work: Path, workers: int) -> None:
    """Run the tasks whose folder does not exist yet, in order of id (inline or in a process pool)."""
    (work / "tasks").mkdir(parents=True, exist_ok=True)
    todo = [(t, str(task_dir(work, t["id"]))) for t in tasks if not task_dir(work, t["id"]).is_dir()]
    if not todo:
        return
    if workers <= 1 or len(todo) == 1:
        w = _Worker(ctx)
        for t, out in todo:
            w.run(t, Path(out))
        return
    import multiprocessing as mp

    # forkserver: workers fork from a clean server process that has imported this module once (no inherited
    # threads or open files of the caller, and no per-worker import cost as with spawn)
    ctx_mp = mp.get_context("forkserver")
    ctx_mp.set_forkserver_preload(["pipeline.cleaning.tasks", "pipeline.cleaning.quality",
                                   "pipeline.cleaning.dedup", "pipeline.cleaning.lid"])
    pool = ctx_mp.Pool(min(workers, len(todo)), initializer=_init, initargs=(ctx,))
    try:
        for _ in pool.imap_unordered(_run_one, todo, chunksize=1):
            pass
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


# --- datatrove executors (Slurm, Ray) ---------------------------------------------------------------

try:
    from datatrove.pipeline.base import PipelineStep as _PipelineStep
except Exception:  # pragma: no cover - datatrove is a declared dependency
    _PipelineStep = object


class CleanTaskStep(_PipelineStep):
    """Task ``rank`` of a planned clean as a datatrove pipeline step.

    ``python -m pipeline.clean plan LANG`` writes the plan; any datatrove executor with ``tasks=len(plan)``
    then runs ``[CleanTaskStep(LANG, ROOT)]``; ``python -m pipeline clean LANG`` afterwards finds every task
    folder complete and only merges (see docs/cleaning.md).
    """

    name = "ELECTRA Foundry clean task"
    type = "FOUNDRY"

    def __init__(self, lang: str, root: str):
        super().__init__()
        self.lang = lang
        self.root = str(root)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        from pipeline.clean import load_plan

        key = (self.lang, self.root)
        if key not in _PLANS:   # once per process: the plan as written by `python -m pipeline.clean plan`
            ctx, tasks, work = load_plan(self.lang, Path(self.root), existing=True)
            _PLANS[key] = (ctx, tasks, work, _Worker(ctx))
        ctx, tasks, work, worker = _PLANS[key]
        if world_size != len(tasks):
            raise ValueError(f"the plan has {len(tasks)} tasks but the executor runs {world_size}")
        out = task_dir(work, rank)
        if not out.is_dir():
            worker.run(tasks[rank], out)
        return iter(())


_PLANS: dict = {}
