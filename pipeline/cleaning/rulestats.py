"""Every threshold rule of the three datatrove quality filters, and each document's value for it.

datatrove's filters answer keep/drop with the first rule a document fails; calibrating a threshold needs the
value each rule compares instead (``doc_stats``), for every rule. The values are computed with datatrove's own
helpers (``split_into_words``, ``find_duplicates``, ``TERMINAL_PUNCTUATION``) and, for the n-gram and word
statistics, ``quality_fast``'s equivalents of ``find_top_duplicate``, ``find_all_duplicate`` and the
``PUNCTUATION_SET`` / ``isalpha`` word tests (the same values, tests/test_clean_speed.py), exactly as
``GopherRepetitionFilter``, ``FineWebQualityFilter`` and ``GopherQualityFilter`` compute them, and
``first_failure`` reproduces their order and comparisons
(``tests/test_filter_calibration.py`` checks it against the filters on real text). We cannot ask datatrove
for these numbers: its ``filter()`` returns only the verdict.
"""
from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from datatrove.utils.text import TERMINAL_PUNCTUATION, split_into_words

from pipeline.cleaning import quality_fast as qf


@dataclass(frozen=True)
class Rule:
    """One threshold: ``filter.param`` (``n`` for the n-gram dicts), its datatrove rule name(s), and whether a
    document is dropped when its value is below (``min``) or above (``max``) the threshold."""
    filter: str
    param: str
    kind: str                       # "min" | "max"
    names: tuple[str, ...]          # datatrove's rule names (funnel / rejected.jsonl)
    n: int | None = None            # the n of top_n_grams / dup_n_grams
    part: str | None = None         # two checks sharing one threshold (max_symbol_word_ratio)
    calibrated: bool = True         # False: a structural bound (document length), kept as configured
    integer: bool = False

    @property
    def key(self) -> str:
        sub = self.n if self.n is not None else self.part
        return f"{self.filter}.{self.param}" + (f".{sub}" if sub is not None else "")


def _rep(param, name, n=None):
    return Rule("gopher_repetition", param, "max", (name,), n)


RULES: tuple[Rule, ...] = (
    _rep("dup_para_frac", "dup_para_frac"), _rep("dup_para_char_frac", "dup_para_char_frac"),
    _rep("dup_line_frac", "dup_line_frac"), _rep("dup_line_char_frac", "dup_line_char_frac"),
    *(_rep("top_n_grams", f"top_{n}_gram", n) for n in (2, 3, 4)),
    *(_rep("dup_n_grams", f"duplicated_{n}_n_grams", n) for n in range(5, 11)),
    Rule("fineweb_quality", "line_punct_thr", "min", ("line_punct_ratio",)),
    Rule("fineweb_quality", "short_line_thr", "max", ("short_line_ratio",)),
    Rule("fineweb_quality", "char_duplicates_ratio", "max", ("char_dup_ratio",)),
    Rule("fineweb_quality", "new_line_ratio", "max", ("list_ratio",)),
    Rule("gopher_quality", "min_doc_words", "min", ("gopher_short_doc",), calibrated=False, integer=True),
    Rule("gopher_quality", "max_doc_words", "max", ("gopher_long_doc",), calibrated=False, integer=True),
    Rule("gopher_quality", "min_avg_word_length", "min", ("gopher_below_avg_threshold",)),
    Rule("gopher_quality", "max_avg_word_length", "max", ("gopher_above_avg_threshold",)),
    Rule("gopher_quality", "max_symbol_word_ratio", "max", ("gopher_too_many_hashes",), part="hash"),
    Rule("gopher_quality", "max_symbol_word_ratio", "max", ("gopher_too_many_ellipsis",), part="ellipsis"),
    Rule("gopher_quality", "max_bullet_lines_ratio", "max", ("gopher_too_many_bullets",)),
    Rule("gopher_quality", "max_ellipsis_lines_ratio", "max", ("gopher_too_many_end_ellipsis",)),
    Rule("gopher_quality", "max_non_alpha_words_ratio", "min", ("gopher_below_alpha_threshold",)),
    Rule("gopher_quality", "min_stop_words", "min", ("gopher_enough_stop_words",), integer=True),
)
KEYS = tuple(r.key for r in RULES)
_PARA = re.compile(r"\n{2,}")
_LINES = re.compile("\n+")


def threshold(th: dict, rule: Rule):
    """The rule's threshold in resolved thresholds ({filter: {param: value}} or None for a disabled filter);
    None when the check is off."""
    params = th.get(rule.filter)
    if params is None:
        return None
    v = params.get(rule.param)
    if rule.n is not None:
        v = (v or {}).get(rule.n, (v or {}).get(str(rule.n)))
    return v


def _repetition(text: str, words: list[str]) -> list[float]:
    paragraphs = _PARA.split(text.strip())
    p_dup, p_chars = find_duplicates(paragraphs)
    lines = _LINES.split(text)
    l_dup, l_chars = find_duplicates(lines)
    out = [p_dup / len(paragraphs), p_chars / len(text), l_dup / len(lines), l_chars / len(text)]
    # datatrove's find_top_duplicate(get_n_grams(...)) and find_all_duplicate, the same values faster
    spaced, joined = qf.NGrams(words, " "), qf.NGrams(words, "")
    for n in (2, 3, 4):
        out.append(qf.top_duplicate_chars(words, n, spaced) / len(text) if len(words) >= n else 0.0)
    out += [qf.all_duplicate_chars(words, n, joined) / len(text) for n in range(5, 11)]
    return out


def _fineweb(text: str, words: list[str], short_line_length: int, exclude_zero: bool) -> list[float]:
    lines = [ln for ln in text.split("\n") if ln.strip() != ""]
    punct = sum(1 for ln in lines if ln.endswith(tuple(TERMINAL_PUNCTUATION))) / len(lines)
    if punct == 0 and exclude_zero:
        punct = math.inf       # the check exempts documents without any punctuated line
    short = sum(1 for ln in lines if len(ln) <= short_line_length) / len(lines)
    dup = find_duplicates(lines)[1] / len(text.replace("\n", ""))
    newline = text.count("\n") / len(words) if words else math.inf
    return [punct, short, dup, newline]


def _gopher(text: str, words: list[str], stop_words: set[str]) -> list[float]:
    n_non_symbol, avg, n_alpha = qf.word_counts(Counter(words))
    n = len(words)
    hashes = text.count("#") / n if n else math.inf
    ellipses = (text.count("...") + text.count("…")) / n if n else math.inf
    lines = text.splitlines()
    bullets = sum(s.lstrip().startswith("•") or s.lstrip().startswith("-") for s in lines) / len(lines)
    ellipsis = sum(s.rstrip().endswith("...") or s.rstrip().endswith("…") for s in lines) / len(lines)
    alpha = n_alpha / n if n else 0.0
    stops = len(stop_words.intersection(words))
    return [n_non_symbol, n_non_symbol, avg, avg, hashes, ellipses, bullets, ellipsis, alpha, stops]


def doc_stats(text: str, tokenizer, th: dict) -> list[float]:
    """The value of every rule in ``RULES`` for one (non-empty, normalised) document. ``th`` (the resolved
    thresholds) supplies what changes a value itself: FineWeb's short-line length and zero exemption, the
    stop-word list."""
    words = split_into_words(text, tokenizer)
    fw = th.get("fineweb_quality") or {}
    gq = th.get("gopher_quality") or {}
    return (_repetition(text, words)
            + _fineweb(text, words, fw.get("short_line_length", 30), bool(fw.get("line_punct_exclude_zero")))
            + _gopher(text, words, set(gq.get("stop_words") or [])))


def fails(rule: Rule, value: float, t) -> bool:
    """Whether a document with this value fails the rule at threshold ``t``, as datatrove compares: the
    Gopher checks are skipped when their threshold is 0 or None, FineWeb's and the n-gram checks are not."""
    if t is None or (not t and rule.filter != "fineweb_quality" and rule.n is None):
        return False
    if math.isnan(value):
        return False
    return value < t if rule.kind == "min" else value > t


def failed_rules(values, th: dict) -> list[int]:
    """Indices (into ``RULES``) of every rule the document fails at thresholds ``th``."""
    return [i for i, r in enumerate(RULES) if fails(r, values[i], threshold(th, r))]


def first_failure(values, th: dict) -> tuple[str, str] | None:
    """(filter, datatrove rule name) of the first failed check in datatrove's order, or None."""
    failed = failed_rules(values, th)
    return (RULES[failed[0]].filter, RULES[failed[0]].names[0]) if failed else None
