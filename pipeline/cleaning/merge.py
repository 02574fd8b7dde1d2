"""The units' statistics merged into the corpus's, streamed unit by unit: counters, LID score histograms
(what the calibration needs) and the first ``EXAMPLES`` rejected examples per reason."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from pipeline.cleaning import lid as lidmod
from pipeline.cleaning.filters import EXAMPLES, PRE_LID
from pipeline.cleaning.workunits import unit_dir


@dataclass
class _LidAcc:
    n: int = 0
    labels: Counter = field(default_factory=Counter)
    accept: lidmod.Histogram = field(default_factory=lidmod.Histogram)
    all: lidmod.Histogram = field(default_factory=lidmod.Histogram)

    def add(self, part: dict) -> None:
        self.n += part["n"]
        self.labels.update(part["labels"])
        self.accept.merge(lidmod.Histogram(part["accept"]))
        if part.get("all"):
            self.all.merge(lidmod.Histogram(part["all"]))

    def to_dict(self) -> dict:
        return {"n": self.n, "labels": dict(self.labels), "accept": self.accept.to_dict(), "all": self.all.to_dict()}


@dataclass
class Merged:
    """The corpus before the corpus-wide steps (calibration, language and quality decisions, dedup)."""
    docs_in: int = 0
    chars_in: int = 0
    chars_norm: int = 0
    split_docs: int = 0
    pre: dict = field(default_factory=lambda: {r: [0, 0] for r in PRE_LID})   # reason -> [documents, chars]
    per_source: Counter = field(default_factory=Counter)
    source_lines: Counter = field(default_factory=Counter)
    source_chars: Counter = field(default_factory=Counter)
    normalized: Counter = field(default_factory=Counter)       # what normalisation changed, e.g. csv_unquoted_lines
    skipped: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)       # reason -> the first EXAMPLES examples
    unit_seconds: float = 0.0
    unit_cpu: float = 0.0
    worker_rss: float = 0.0
    lid: dict = field(default_factory=dict)            # "lid" / "alt" -> _LidAcc

    def add(self, s: dict) -> None:
        self.docs_in += s["documents_in"]
        self.chars_in += s["chars_in"]
        self.chars_norm += s["chars_norm"]
        self.split_docs += s["split_long_document"]
        for r in PRE_LID:
            self.pre[r][0] += s["pre_lid"][r][0]
            self.pre[r][1] += s["pre_lid"][r][1]
        self.per_source.update(s["per_source"])
        self.source_lines.update(s.get("source_lines", {}))
        self.source_chars.update(s.get("source_chars", {}))
        self.normalized.update(s.get("normalized", {}))
        self.skipped.update(s["skipped"])
        self.unit_seconds += s.get("seconds", 0)
        self.unit_cpu += s.get("cpu_s", 0)
        self.worker_rss = max(self.worker_rss, s.get("rss_mb", 0))
        for ex in s["examples"]:
            lst = self.examples.setdefault(ex["reason"], [])
            if len(lst) < EXAMPLES:
                lst.append(ex)
        for key in ("lid", "alt"):
            if s.get(key):
                self.lid.setdefault(key, _LidAcc()).add(s[key])

    def lid_summary(self, key: str) -> dict | None:
        acc = self.lid.get(key)
        return acc.to_dict() if acc else None


def merge_units(plan: dict, work: Path) -> Merged:
    """The plan's bad-input counts and examples, then every unit's statistics, in unit order."""
    m = Merged(skipped=Counter(plan.get("skipped") or {}))
    for ex in plan.get("examples") or []:
        m.examples.setdefault(ex["reason"], []).append(ex)
    for u in plan["tasks"]:
        m.add(json.loads((unit_dir(work, u["id"]) / "stats.json").read_text(encoding="utf-8")))
    return m
