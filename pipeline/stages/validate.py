"""validate: data/<lang>/clean -> validation.json, Data Docs and the review page (reports/<lang>/quality).

Reads ``data/<lang>/clean/*.parquet`` into a pandas DataFrame of every column but the text, which it holds as
a hash (``pipeline.review.corpus``: memory grows with documents, not text), runs the Great Expectations suite
(``pipeline.review.expectations``), builds its Data Docs into ``reports/<lang>/quality/`` together with
the review page ``review.html`` / ``review.md`` (``pipeline.review.page``; the folder is swapped in
whole) and writes ``data/<lang>/validation.json`` (with the hash of the corpus it validated). Finally
it brings the review decision ``data/<lang>/review.json`` in line with the result and ``review.policy``
(``pipeline.review.gate.sync_decision``: "auto-approved", "rejected-by-validation" or "pending"; a
person's decision on this corpus is kept). That file is not an output of this stage (a person, the CLI
or the flow writes it) but a dependency of vocab.

The stage returns normally when expectations fail (``passed`` is false); the vocab stage refuses to run
then. ``validation.json`` holds no timestamps, so the same corpus and settings give the same file.
The review page carries the thresholds of the review section too (``review.samples``,
``review.scan_documents``), which is why ``review`` is a DVC param of this stage.
"""
from __future__ import annotations

import logging
import warnings
from pathlib import Path

from pipeline.atomic import atomic_dir, write_json
from pipeline.errors import StageError
from pipeline.review.corpus import load_corpus
from pipeline.review.expectations import corpus_metrics, run_suite
from pipeline.review.gate import corpus_hash, page_path, sync_decision
from pipeline.review.page import build_pages
from pipeline.stages import open_language

log = logging.getLogger(__name__)


def run(lang: str, root: Path) -> dict:
    root, cfg, layout = open_language(lang, root)
    docs = load_corpus(layout)
    corpus = corpus_hash(layout) if layout.clean_files() else None
    with atomic_dir(layout.quality_dir) as site, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expectations = run_suite(cfg, docs.df, site)
        if not (site / "index.html").is_file():
            raise StageError(f"{layout.quality_dir}: Great Expectations built no index.html")
        passed = all(e["passed"] for e in expectations)
        metrics = corpus_metrics(docs.df)
        # the review page a person reads before approving, swapped in with the Data Docs
        page = build_pages(cfg, docs, layout, site, expectations=expectations, passed=passed,
                           corpus=corpus or "unknown", metrics=metrics)

    report = {
        "passed": passed,
        "language": lang,
        "expectations": expectations,
        "failed": [e["name"] for e in expectations if not e["passed"]],
        "metrics": metrics,
        "settings": cfg.validation.model_dump(mode="json"),
        "data_docs": (layout.quality_dir / "index.html").relative_to(layout.root).as_posix(),
        "review_page": page_path(layout).relative_to(layout.root).as_posix(),
        "corpus": corpus,
    }
    write_json(layout.validation, report)
    decision = sync_decision(cfg, layout, report, corpus) if corpus else None
    if passed:
        log.info("validate %s: all %d expectations passed", lang, len(expectations))
    else:
        log.warning("validate %s: failed %s", lang, ", ".join(report["failed"]))
    return {"passed": passed, "failed": report["failed"], "documents": int(len(docs)),
            "validation": str(layout.validation), "data_docs": str(layout.quality_dir / "index.html"),
            "review_page": str(page_path(layout)), "corpus": corpus,
            "decision": (decision or {}).get("decision"), **page}
