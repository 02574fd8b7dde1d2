"""The baseline of ``clean_throughput``: datatrove's own ``LocalPipelineExecutor`` running the clean stage's
filters on the same documents, the way the FineWeb / FineWeb-2 recipes run them (run as a child process:
``python -m benchmarks._clean_datatrove LANG ROOT WORK``; prints one JSON line).

The documents are read by this project's reader and written to JSONL first (not timed: the baseline starts
from datatrove's ``JsonlReader``). Then, one executor per stage (1 task, 1 worker, in this process):

1. ``JsonlReader`` -> normalisation (this project's ``normalize``, as a datatrove formatter) -> the pre-LID
   filters (empty, length, script share) and language ID (the same bundled lid.176 model; the threshold is the
   configured ``lid.min_score``, since a single streaming pass cannot calibrate it corpus-wide) as
   ``LambdaFilter``s -> datatrove's ``GopherRepetitionFilter``, ``FineWebQualityFilter``,
   ``GopherQualityFilter`` (the very objects ``quality.build_filters`` configures: same thresholds, same word
   segmenter, datatrove's own ``filter``) -> ``JsonlWriter``;
2. - 4. datatrove's MinHash stages (signatures, buckets, clusters) with the project's MinHash settings;
5. ``JsonlReader`` -> ``MinhashDedupFilter`` -> ``ParquetWriter``.

Exact-duplicate removal (ours hashes the normalised text) has no counterpart here; it costs ours one SHA-1
per document. Measured: CPU seconds (user + system) of the five executor runs.
"""
from __future__ import annotations

import gzip
import json
import resource
import sys
from pathlib import Path


def _export(cfg, root: Path, out: Path) -> int:
    """The project's raw documents (before normalisation) as JSONL; returns the count."""
    from pipeline.readers import BadInput, iter_file, source_files

    out.mkdir(parents=True, exist_ok=True)
    n = 0
    bad = BadInput("skip")
    with gzip.open(out / "docs.jsonl.gz", "wt", encoding="utf-8") as f:
        for sf in source_files(cfg, root):
            for doc in iter_file(sf, cfg.clean.max_chars, bad=bad):
                f.write(json.dumps({"id": f"{n}", "text": doc.text}, ensure_ascii=False) + "\n")
                n += 1
    return n


def _steps(cfg, segmenter: str):
    from datatrove.pipeline.filters import LambdaFilter
    from datatrove.pipeline.formatters.base import BaseFormatter

    from pipeline.cleaning.lid import accepted_labels, load_model
    from pipeline.cleaning.normalize import normalize, script_share
    from pipeline.cleaning.quality import build_filters

    c = cfg.clean
    lid, accept = load_model(None), accepted_labels(cfg)

    class Normalize(BaseFormatter):
        name = "normalize (this project's)"

        def format(self, text: str) -> str:
            return normalize(text, c.normalize)

    def pre_lid(doc) -> bool:
        n = len(doc.text)
        return bool(doc.text) and c.min_chars <= n <= c.max_chars and \
            script_share(doc.text, cfg.script) >= c.min_script_share

    def language(doc) -> bool:
        label, score = lid.predict(doc.text)
        return not c.lid.enabled or (label in accept and score >= c.lid.min_score)

    quality = [f for _, f in build_filters(cfg, segmenter).filters]
    return [Normalize(), LambdaFilter(pre_lid), LambdaFilter(language), *quality]


def run(lang: str, root: Path, work: Path) -> dict:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.dedup.minhash import (MinhashConfig, MinhashDedupBuckets, MinhashDedupCluster,
                                                  MinhashDedupFilter, MinhashDedupSignature)
    from datatrove.pipeline.readers import JsonlReader
    from datatrove.pipeline.writers import JsonlWriter, ParquetWriter

    from pipeline.cleaning.segment import default_segmenter, tokenizer
    from pipeline.stages import open_language

    root, cfg, _ = open_language(lang, root)
    docs = _export(cfg, root, work / "raw")
    seg = cfg.clean.segmenter if cfg.clean.segmenter != "auto" else default_segmenter(cfg.script)
    d = cfg.clean.dedup
    mh = MinhashConfig(n_grams=d.n_grams, num_buckets=d.num_buckets, hashes_per_bucket=d.hashes_per_bucket,
                       seed=d.seed)

    class Signature(MinhashDedupSignature):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            import xxhash   # datatrove 0.10.1 hands str to xxhash 4.x, which wants bytes (as in pipeline/cleaning/dedup.py)

            self._hash_func = lambda s: xxhash.xxh64_intdigest(s.encode("utf-8"))

    def execute(pipeline, name: str, tasks: int = 1) -> None:
        LocalPipelineExecutor(pipeline=pipeline, tasks=tasks, workers=1, logging_dir=str(work / "logs" / name),
                              skip_completed=False).run()

    r0 = resource.getrusage(resource.RUSAGE_SELF)
    execute([JsonlReader(str(work / "raw")), *_steps(cfg, seg), JsonlWriter(str(work / "filtered"))], "filter")
    execute([JsonlReader(str(work / "filtered")), Signature(str(work / "sigs"), config=mh, language=tokenizer(seg))],
            "signatures")
    execute([MinhashDedupBuckets(str(work / "sigs"), str(work / "buckets"), config=mh)], "buckets",
            tasks=d.num_buckets)
    execute([MinhashDedupCluster(str(work / "buckets"), str(work / "remove"), config=mh)], "cluster")
    execute([JsonlReader(str(work / "filtered")), MinhashDedupFilter(str(work / "remove")),
             ParquetWriter(str(work / "out"))], "dedup")
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    import pyarrow.parquet as pq

    kept = sum(pq.ParquetFile(p).metadata.num_rows for p in (work / "out").glob("*.parquet"))
    return {"documents_in": docs, "documents_out": kept,
            "cpu_s": (r1.ru_utime + r1.ru_stime) - (r0.ru_utime + r0.ru_stime), "rss_mb": r1.ru_maxrss / 1024}


if __name__ == "__main__":
    print(json.dumps(run(sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]))))
