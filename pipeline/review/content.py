"""What the review page and its summary show about one corpus, gathered in one place."""
from __future__ import annotations

from dataclasses import dataclass

from pipeline.config import LanguageConfig
from pipeline.layout import Layout
from pipeline.review.analysis import analyse
from pipeline.review.clean_record import funnel_rows, load_rejected, load_stats
from pipeline.review.corpus import Corpus
from pipeline.review.plots import plots

SNIPPET = 600


@dataclass(frozen=True)
class ReviewContent:
    expectations: list[dict]          # the validate stage's entries (name, expectation, observed, threshold, passed)
    passed: bool
    corpus: str                       # corpus_hash of data/<lang>/clean
    metrics: dict                     # the validate stage's corpus metrics
    stats: dict                       # the clean stage's stats.json ({} when absent)
    facts: dict                       # analysis.analyse of the kept documents
    images: dict[str, bytes]          # plots.plots: PNGs by name
    rejected: dict[str, list[dict]]   # rejected.jsonl samples by drop reason


def gather(cfg: LanguageConfig, docs: Corpus, layout: Layout, *, expectations: list[dict], passed: bool,
           corpus: str, metrics: dict) -> ReviewContent:
    stats = load_stats(layout)
    funnel, _ = funnel_rows(stats)
    return ReviewContent(expectations=expectations, passed=passed, corpus=corpus, metrics=metrics, stats=stats,
                         facts=analyse(docs, cfg.review), images=plots(docs.df, cfg, stats, funnel),
                         rejected=load_rejected(layout, cfg.review.samples))


def snippet(text: str | None, n: int = SNIPPET) -> str:
    t = text or ""
    return t if len(t) <= n else t[:n] + " …"
