"""Quality-filter thresholds calibrated per language from the language's own text (FineWeb-2's idea).

FineWeb-2 did not reuse FineWeb's English thresholds for other languages: it measured each filter's statistic
on reference text of every language and set the language's threshold from that distribution (its
``configs/<lang>_<script>.yml``, e.g. Swahili ``line_punct_thr`` 0.143, ``max_avg_word_length`` 9). We do the
same per corpus, at plan time, with one rule for every threshold (``rulestats.RULES``):

1. **the distribution**: each rule's statistic over a sample of the corpus (``clean.calibration.
   sample_documents``, spread over the whole input, after normalisation and the length/script filters) or over
   ``clean.calibration.reference`` when configured (e.g. Wikipedia-like text of the language), restricted to
   the documents that **every other rule keeps** at the starting thresholds. Junk nearly always fails several
   rules at once (a repeated menu fails the duplicate-line, n-gram, short-line and stop-word rules), so it
   does not pull a rule's threshold towards itself; clean text that only one rule dislikes (news without
   final punctuation) does.
2. **the English position, transferred**: the English threshold drops a share ``q_en`` of clean English
   text (measured on the shared English corpus, ``ENGLISH_DROP_SHARE``); the language's candidate threshold
   is the quantile of its distribution that drops the same share, never less than ``clean.calibration.tail``
   (1%), so that a rule English text never trips still keeps its tail.
3. **only relax**: the value used is the looser of the starting threshold and the candidate. Where the English
   threshold fits the language (drops no more of it than of English) nothing changes; where it cuts into the
   body of the language's text, it moves just enough to drop ``q`` of it. FineWeb-2 also tightened some
   thresholds, but it cleaned web text against a clean reference; here the sample is the user's corpus,
   where tightening could only drop more of it.

The starting thresholds are the script class's (``quality.DEFAULTS``: English's for alphabetic scripts);
``clean.quality.<filter>.<param>`` overrides win and are reported as such; document-length bounds
(``min_doc_words``/``max_doc_words``) are not calibrated (``clean.min_chars``/``max_chars`` decide length).
``clean.calibration: off`` uses the starting thresholds as they are (byte-identical to before calibration).
The result (thresholds, a row per rule with its English, starting and used values and drop shares, and the
rules that drop more than ``flag_share`` of the documents every other rule keeps, with samples) goes into
``plan.json`` (the units use it) and ``stats.json`` ``quality_calibration`` (the review page shows it).
"""
from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterable, Iterator
from types import SimpleNamespace

import numpy as np

from pipeline.cleaning import rulestats as rs
from pipeline.cleaning.filters import Doc, PreLidFilters
from pipeline.cleaning.quality import DEFAULTS, STOP_WORDS, resolved_thresholds, script_class
from pipeline.cleaning.segment import tokenizer
from pipeline.readers import BadInput, source_files

RULE_TEXT = ("per rule: the quantile of the language's statistic (over documents every other rule keeps) at "
             "the share q the English threshold drops of clean English text (at least the tail share), used "
             "only where it is looser than the starting threshold; overrides win")
SAMPLE_CHARS = 600

# Share of clean English text (../shared/data/text/en: WMT news, EWT, NTREX, FLORES; documents every other
# rule keeps) each English threshold drops; measured by `benchmarks/filter_calibration.py --english-table`
# (2026-12-03, 938 documents). Rules not listed drop none of it. Every share is below the 1% tail, so today
# q = tail for every rule; the table keeps the rule honest if the English thresholds or text change.
ENGLISH_DROP_SHARE: dict[str, float] = {
    "fineweb_quality.char_duplicates_ratio": 0.0011, "fineweb_quality.line_punct_thr": 0.0021,
    "fineweb_quality.short_line_thr": 0.0011, "gopher_quality.max_ellipsis_lines_ratio": 0.0043,
    "gopher_quality.min_stop_words": 0.0095, "gopher_repetition.dup_n_grams.10": 0.0011,
    "gopher_repetition.dup_n_grams.9": 0.0011, "gopher_repetition.top_n_grams.4": 0.0021,
}


def english_value(rule: rs.Rule):
    """The threshold English runs with (the alphabetic defaults, English stop words)."""
    th = copy.deepcopy(DEFAULTS["alphabetic"])
    th["gopher_quality"]["stop_words"] = STOP_WORDS["en"]
    return rs.threshold(th, rule)


def _overridden(cfg) -> set[str]:
    """Keys of the rules whose threshold the YAML sets (``clean.quality.<filter>.<param>``)."""
    out = set()
    for r in rs.RULES:
        user = getattr(cfg.clean.quality, r.filter)
        if getattr(user, r.param, None) is not None:
            out.add(r.key)
    return out


def _quantile(values: np.ndarray, q: float, kind: str) -> float:
    """The threshold that drops at most a share ``q`` of ``values`` (drop below a min rule's, above a max
    rule's threshold)."""
    finite = values[np.isfinite(values)]
    if not len(finite):
        return math.nan
    if kind == "min":
        return float(np.quantile(values, q, method="inverted_cdf"))
    return float(np.quantile(values, 1 - q, method="inverted_cdf"))


def _round(v: float, rule: rs.Rule) -> float | int:
    """Rounded towards looser (3 decimals, integers for counts), so rounding never drops a document."""
    if rule.integer:
        return int(math.floor(v) if rule.kind == "min" else math.ceil(v))
    return (math.floor(v * 1000) if rule.kind == "min" else math.ceil(v * 1000)) / 1000


def _looser(rule: rs.Rule, a, b):
    return min(a, b) if rule.kind == "min" else max(a, b)


def _set(th: dict, rule: rs.Rule, value) -> None:
    params = th[rule.filter]
    if rule.n is not None:
        params[rule.param] = {**params[rule.param], rule.n: value}
    elif rule.part is not None and params.get(rule.param) is not None:
        params[rule.param] = _looser(rule, params[rule.param], value)   # the two symbol checks share it
    else:
        params[rule.param] = value


class _Matrix:
    """Every rule's value (columns, ``rs.RULES`` order) for every sampled document (rows)."""

    def __init__(self, texts: Iterable[str], tok, th: dict):
        self.texts, rows = [], []
        for t in texts:      # streamed: a sample of 2-million-character documents is never held whole
            rows.append(rs.doc_stats(t, tok, th))
            self.texts.append(t[:SAMPLE_CHARS])   # what a flag's samples show
        self.values = np.array(rows, dtype=float).reshape(len(rows), len(rs.RULES))

    def failing(self, th: dict) -> np.ndarray:
        """Boolean (documents x rules): the document fails the rule at thresholds ``th``."""
        out = np.zeros(self.values.shape, dtype=bool)
        for j, r in enumerate(rs.RULES):
            t = rs.threshold(th, r)
            col = self.values[:, j]
            out[:, j] = [rs.fails(r, v, t) for v in col]
        return out


def _others_keep(fail: np.ndarray, j: int) -> np.ndarray:
    return ~np.delete(fail, j, axis=1).any(axis=1)


def _share(x: np.ndarray) -> float:
    return round(float(x.mean()), 4) if len(x) else 0.0


def calibrate(cfg, segmenter: str, texts: Iterable[str], *, source: str) -> dict:
    """The calibration record: ``thresholds`` (what the filters use) and the per-rule report."""
    c = cfg.clean.calibration
    base = resolved_thresholds(cfg)
    rec = {"enabled": c.enabled, "rule": RULE_TEXT, "source": source, "documents": 0, "tail": c.tail,
           "flag_share": c.flag_share, "script_class": script_class(cfg.script), "note": None}
    if not c.enabled:
        rec.update(thresholds=base, rules=[], flags=[], note="calibration off: the starting thresholds are used")
        return rec
    m = _Matrix(texts, tokenizer(segmenter), base)
    rec["documents"] = n = len(m.texts)
    if n < c.min_documents:
        rec["note"] = f"{n} documents (< min_documents {c.min_documents}): starting thresholds used"
    fail_base = m.failing(base)
    used = copy.deepcopy(base)
    rows, overrides = [], _overridden(cfg)
    for j, r in enumerate(rs.RULES):
        t0 = rs.threshold(base, r)
        row = {"rule": r.key, "check": r.names[0], "kind": r.kind, "english": english_value(r), "base": t0,
               "calibrated": None, "used": t0, "by": "script_class" if t0 != english_value(r) else "english",
               "english_drop_share": ENGLISH_DROP_SHARE.get(r.key, 0.0)}
        if t0 is None or base.get(r.filter) is None:
            row["by"] = "disabled"
        elif r.key in overrides:
            row["by"] = "override"
        elif not r.calibrated:
            row["by"] = "fixed"
        elif rec["note"] is None:
            dist = m.values[_others_keep(fail_base, j), j]
            if len(dist) >= c.min_documents:
                q = max(row["english_drop_share"], c.tail)
                cand = _quantile(dist, q, r.kind)
                if math.isfinite(cand):
                    row["calibrated"] = _round(cand, r)
                    if _looser(r, t0, row["calibrated"]) != t0:
                        row["used"], row["by"] = row["calibrated"], "calibrated"
                        _set(used, r, row["used"])
        rows.append(row)
    rec.update(thresholds=used, rules=rows)
    _drop_shares(rec, m, fail_base, m.failing(used))
    return rec


def _drop_shares(rec: dict, m: _Matrix, fail_base: np.ndarray, fail_used: np.ndarray) -> None:
    """Per rule: the share of the sample it drops (any failure, not only the first) at the starting and the
    used thresholds, and the share of the documents every other rule keeps that it alone drops; flags."""
    flags = []
    for j, row in enumerate(rec["rules"]):
        row["drop_share_base"] = _share(fail_base[:, j])
        row["drop_share_used"] = _share(fail_used[:, j])
        row["alone_drop_share_base"] = _alone(fail_base, j)[0]
        row["alone_drop_share"], alone = _alone(fail_used, j)
        if row["alone_drop_share"] > rec["flag_share"]:
            idx = np.flatnonzero(alone)[:3]
            flags.append({"rule": row["rule"], "check": row["check"], "used": row["used"],
                          "alone_drop_share": row["alone_drop_share"], "documents": int(alone.sum()),
                          "samples": [{"value": _num(m.values[i, j]), "text": m.texts[i][:SAMPLE_CHARS]}
                                      for i in idx]})
    rec["flags"] = flags
    rec["dropped_share"] = {"base": _share(fail_base.any(axis=1)), "used": _share(fail_used.any(axis=1))}


def _alone(fail: np.ndarray, j: int) -> tuple[float, np.ndarray]:
    """The share of the documents every other rule keeps that rule ``j`` drops, and which they are."""
    keep = _others_keep(fail, j)
    alone = fail[:, j] & keep
    return (round(float(alone.sum() / keep.sum()), 4) if keep.any() else 0.0), alone


def _num(v: float):
    return None if not math.isfinite(v) else round(float(v), 4)


# --- the sample --------------------------------------------------------------------------------------

def _documents(ctx, units: list[dict], limit: int) -> Iterator[str]:
    """Up to ``limit`` normalised documents that pass the length and script filters, the first
    ``limit / units`` of every unit (spread over the whole input, deterministic)."""
    from pipeline.cleaning.worker import UnitWorker

    per_unit = max(1, math.ceil(limit / max(1, len(units))))
    count = 0
    bad = BadInput("skip")   # bad input is reported (or stops the stage) by the units themselves
    pre = PreLidFilters(ctx.cfg.clean, ctx.cfg.script)
    # the units' own reading and normalisation (UnitWorker._documents needs nothing of the worker but ctx)
    reader = SimpleNamespace(ctx=ctx)
    for u in units:
        taken = 0
        for raw, text, _ in UnitWorker._documents(reader, u, bad):
            if text is not None and pre(Doc(raw, text)):
                yield text
                taken += 1
                count += 1
                if taken >= per_unit or count >= limit:
                    break
        if count >= limit:
            break


def _reference_context(ctx, root):
    """A context whose sources are ``clean.calibration.reference`` (every format a source may have)."""
    cfg = ctx.cfg.model_copy(update={"sources": ctx.cfg.clean.calibration.reference})
    return SimpleNamespace(cfg=cfg, files=source_files(cfg, root), segmenter=ctx.segmenter)


def for_plan(ctx, root, units: list[dict]) -> dict:
    """The calibration record for a planned clean (``workunits.prepare`` stores it in plan.json), in its JSON
    form (n-gram sizes as strings), so a run that reads plan.json back behaves byte for byte like this one."""
    return json.loads(json.dumps(_record(ctx, root, units)))


def thresholds_of(record: dict | None) -> dict | None:
    """The thresholds of a plan's record, n-gram sizes back to integers (as ``resolved_thresholds`` has them,
    so stats.json lists them in the same order with calibration off as before calibration existed)."""
    th = copy.deepcopy((record or {}).get("thresholds"))
    for params in (th or {}).values():
        for k in ("top_n_grams", "dup_n_grams"):
            if isinstance((params or {}).get(k), dict):
                params[k] = {int(n): v for n, v in params[k].items()}
    return th


def _record(ctx, root, units: list[dict]) -> dict:
    c = ctx.cfg.clean.calibration
    if not c.enabled:
        return calibrate(ctx.cfg, ctx.segmenter, [], source="none")
    if c.reference:
        from pipeline.readers import plan_file

        ref = _reference_context(ctx, root)
        ref_units = [{"id": i, "segments": [s.as_dict() for s in plan_file(sf, i, 10 ** 12)]}
                     for i, sf in enumerate(ref.files)]
        texts = _documents(ref, ref_units, c.sample_documents)
        return calibrate(ctx.cfg, ctx.segmenter, texts, source="reference: " + ", ".join(f.rel for f in ref.files))
    return calibrate(ctx.cfg, ctx.segmenter, _documents(ctx, units, c.sample_documents), source="corpus sample")
