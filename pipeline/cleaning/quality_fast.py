"""datatrove's three quality filters evaluated with the same thresholds and the same decisions, ~5x faster.

``first_failure(filters, text)`` answers what ``f.filter(Document(text))`` answers for each configured
``GopherRepetitionFilter``, ``FineWebQualityFilter`` and ``GopherQualityFilter`` in turn (the first
``(filter, rule)`` a document fails, or None), reading every threshold from the datatrove filter objects
themselves, so the configuration (``quality.build_filters``, ``clean.quality.<filter>.<param>`` overrides) is
unchanged. Why our own code: profiling the clean stage (docs/cleaning.md, Throughput) showed these filters
taking half of its CPU time, most of it in per-position Python loops that build each n-gram string with
``"".join(words[i:i+n])`` (7 million joins for 4 MB of English) and per-character generator expressions
(``any(ch not in PUNCTUATION_SET for ch in w)``, ``any(c.isalpha() for c in w)``) per word. Here:

- the words are segmented once per document and shared by the three filters (datatrove's own
  ``split_into_words`` cache does the same between consecutive calls);
- n-grams are slices of one joined string at precomputed offsets (the same strings datatrove joins), counted
  by ``collections.Counter`` / ``set`` in C; datatrove's greedy left-to-right scan of duplicated n-grams is
  replayed only at positions whose n-gram occurred earlier (every other position adds a new n-gram and moves
  on by one, which is what the scan does there);
- per-word tests run once per distinct word of the document (``str.translate`` deletes the punctuation set,
  ``str.isalpha`` on the word before falling back to per-character), weighted by the word's count.

Any other filter object is called as datatrove's own ``filter``. ``tests/test_clean_speed.py`` checks that the
decisions (and every intermediate statistic) equal datatrove's on the shared text of several languages.
"""
from __future__ import annotations

import math
from collections import Counter
from functools import lru_cache
from itertools import accumulate
from operator import itemgetter

import numpy as np

from datatrove.data import Document
from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter
from datatrove.pipeline.filters.gopher_repetition_filter import find_duplicates
from datatrove.utils.text import PUNCTUATION_SET, split_into_words
from datatrove.utils.word_tokenizers import WordTokenizer

_DROP_PUNCT = {ord(c): None for c in PUNCTUATION_SET if len(c) == 1}


# --- drop-in equivalents of datatrove's n-gram helpers ----------------------------------------------

_BASE = 0x9E3779B97F4A7C15                 # odd, so invertible modulo 2**64
_POW = np.uint64(_BASE)
_INV = np.uint64(pow(_BASE, -1, 1 << 64))


class NGrams:
    """The n-grams of a word list as spans of one joined string (``sep`` between words: datatrove joins the
    n-grams it counts with " " and those it scans for duplicates with ""), with a polynomial hash (mod 2**64)
    of every n-gram, computed for all positions at once by numpy. Equal strings have equal hashes; every equality
    of hashes that a result depends on is confirmed on the strings, so a collision costs time, never a wrong
    answer. Memory is per word, not per character: the prefix sums over the characters are taken in blocks and
    kept only where an n-gram can start or end (a 2-million-character document needed 112 MB of
    per-character arrays before)."""

    BLOCK = 1 << 18   # characters per block of the prefix sums

    def __init__(self, words: list[str], sep: str):
        self.text = sep.join(words)
        self.sep = len(sep)
        self.count = len(words)
        sizes = map(len, words) if not sep else map(len(sep).__add__, map(len, words))
        self.starts = np.fromiter(accumulate(sizes, initial=0), dtype=np.int64, count=len(words) + 1)  # word k's start
        self._qs = self._qe = self._pe = None

    def spans(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """Start and end (in ``text``) of the n-gram at each position."""
        m = self.count - n + 1
        return self.starts[:m], self.starts[n:n + m] - self.sep

    def _prefix(self) -> None:
        """q[x] = sum over j < x of c_j * B**-(j+1) at the word starts (qs) and the n-gram ends (qe), and B**end."""
        ends = np.maximum(self.starts - self.sep, 0)
        want = np.concatenate((self.starts, ends))
        order = want.argsort(kind="stable")
        at = want[order]
        q = np.empty(len(want), dtype=np.uint64)
        carry, done, text = np.uint64(0), 0, self.text
        for lo in range(0, len(text) + 1, self.BLOCK):
            hi = min(lo + self.BLOCK, len(text))
            c = np.frombuffer(text[lo:hi].encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            if len(c):
                ipow = np.full(len(c), _INV)
                ipow[0] = _pow(_INV, lo + 1)
                np.cumprod(ipow, out=ipow)                 # B**-(j+1) for j in [lo, hi)
                c *= ipow
                np.cumsum(c, out=c)
                c += carry                                 # c[i] = q[lo + i + 1]
            upto = int(np.searchsorted(at, hi, side="right"))
            xs = at[done:upto] - lo
            q[order[done:upto]] = np.where(xs == 0, carry, c[np.maximum(xs - 1, 0)] if len(c) else carry)
            done = upto
            if len(c):
                carry = c[-1]
            if hi == len(text):
                break
        k = len(self.starts)
        self._qs, self._qe, self._pe = q[:k], q[k:], _pow_array(_BASE, ends)

    def hashes(self, n: int) -> np.ndarray:
        """The hash of the n-gram at each position: sum over its characters of c_j * B**(end-1-j)."""
        m = self.count - n + 1
        if m <= 0:
            return np.zeros(0, dtype=np.uint64)
        if self._qs is None:
            self._prefix()
        return (self._qe[n:n + m] - self._qs[:m]) * self._pe[n:n + m]


def _pow(base, e: int) -> np.uint64:
    return np.uint64(pow(int(base), int(e), 1 << 64))


def _pow_array(base: int, e: np.ndarray) -> np.ndarray:
    """base**e mod 2**64 for each of the non-decreasing exponents ``e`` (word ends): the running product of
    base**(e[k] - e[k-1]) (uint64 products wrap, i.e. are taken mod 2**64), the steps looked up in a table of
    powers (they are word lengths), a larger step by ``pow``. Square and multiply over the exponents' 64 bits
    cost ~5% of the stage on English."""
    out = np.diff(e, prepend=0).astype(np.uint64)
    if not len(out):
        return out
    small = out < _TABLE
    big = np.nonzero(~small)[0]
    steps = out.copy()
    out[small] = _powers(base)[steps[small].astype(np.intp)]
    for k in big:
        out[k] = pow(int(base), int(steps[k]), 1 << 64)
    return np.cumprod(out, out=out)


_TABLE = 4096


@lru_cache(maxsize=2)
def _powers(base: int) -> np.ndarray:
    """base**j mod 2**64 for j < _TABLE."""
    t = np.full(_TABLE, base, dtype=np.uint64)
    t[0] = 1
    return np.cumprod(t, out=t)


_CHUNK = 1 << 16


def _all_equal(text: str, a: np.ndarray, b: np.ndarray, pos: np.ndarray, ref: np.ndarray) -> bool:
    """Whether the n-gram at each of ``pos`` equals the one at the matching ``ref`` (checked a chunk at a time)."""
    for k in range(0, len(pos), _CHUNK):
        p, r = pos[k:k + _CHUNK], ref[k:k + _CHUNK]
        if not all(text[x:y] == text[u:v] for x, y, u, v in
                   zip(a[p].tolist(), b[p].tolist(), a[r].tolist(), b[r].tolist())):
            return False
    return True


def _classes(h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Positions grouped by equal hash: (order: positions sorted by hash, starts of the groups in ``order``,
    group sizes, first position of each group)."""
    order = h.argsort()
    hs = h[order]
    starts = np.flatnonzero(np.concatenate(([True], hs[1:] != hs[:-1])))
    sizes = np.diff(np.append(starts, len(h)))
    return order, starts, sizes, np.minimum.reduceat(order, starts)


def top_duplicate_chars(words: list[str], n: int, ng: NGrams | None = None) -> int:
    """``find_top_duplicate(get_n_grams(words, n))`` (0 when there is no n-gram): characters of the most
    frequent space-joined n-gram times its count; among equally frequent ones the first seen, as
    ``Counter.most_common(1)`` picks. (A hash class can only merge different strings, never split equal
    ones: the largest class whose members prove equal is the most frequent string.)"""
    if len(words) < n:
        return 0
    ng = ng or NGrams(words, " ")
    a, b = ng.spans(n)
    h = ng.hashes(n)
    _, _, counts, first = _classes(h)
    best = int(counts.max())
    if best == 1:
        return int(b[0] - a[0])
    for p in np.sort(first[counts == best]).tolist():   # the tied classes, in order of first occurrence
        members = np.flatnonzero(h == h[p])
        if _all_equal(ng.text, a, b, members, np.full(len(members), p)):
            return int(b[p] - a[p]) * best
    counted = Counter(ng.text[x:y] for x, y in zip(a.tolist(), b.tolist()))   # a hash collision: count the strings
    gram, k = max(counted.items(), key=itemgetter(1))            # most_common(1): the first of the most frequent
    return len(gram) * k


def all_duplicate_chars(words: list[str], n: int, ng: NGrams | None = None) -> int:
    """``find_all_duplicate(words, n)``: datatrove's greedy scan over the n-grams joined without spaces - a
    position whose n-gram was already added counts its characters and jumps n positions, any other adds its
    n-gram and moves one on. Only positions whose n-gram occurred earlier need the scan's attention: every
    other one adds a new n-gram and moves on by one."""
    if len(words) - n + 1 <= 0:
        return 0
    ng = ng or NGrams(words, "")
    a, b = ng.spans(n)
    m = len(a)
    h = ng.hashes(n)
    hs = np.sort(h)
    if not (hs[1:] == hs[:-1]).any():   # all hashes differ, so all n-grams differ: the scan never counts anything
        return 0
    order, starts, sizes, first = _classes(h)
    ids = np.empty(m, dtype=np.int64)
    ids[order] = np.repeat(first, sizes)      # each position's first position with the same hash
    later = np.flatnonzero(ids != np.arange(m))
    if not _all_equal(ng.text, a, b, later, ids[later]):   # a hash collision: group the strings themselves
        seen_at: dict[str, int] = {}
        ids = np.fromiter((seen_at.setdefault(ng.text[x:y], i) for i, (x, y) in enumerate(zip(a.tolist(), b.tolist()))),
                          dtype=np.int64, count=m)
        later = np.flatnonzero(ids != np.arange(m))
    seen: set[int] = set()
    repeated, idx = 0, 0
    for k in range(0, len(later), _CHUNK):           # Python lists a chunk at a time: memory stays per chunk
        part = later[k:k + _CHUNK]
        for c, first_c, size in zip(part.tolist(), ids[part].tolist(), (b[part] - a[part]).tolist()):
            if c < idx:
                continue
            if c > idx:
                seen.update(ids[idx:c].tolist())   # the scan adds every position before c (their n-grams are new)
            if first_c in seen:
                repeated += size
                idx = c + n
            else:
                seen.add(first_c)
                idx = c + 1
    return repeated


# --- the filters ------------------------------------------------------------------------------------

class _Words:
    """The words of one document per tokenizer, segmented once, and the derived joins."""

    def __init__(self, text: str):
        self.text = text
        self._by_tok: dict[int, list[str]] = {}

    def get(self, language) -> list[str]:
        key = id(language)
        words = self._by_tok.get(key)
        if words is None:
            words = (language.word_tokenize(self.text) if isinstance(language, WordTokenizer)
                     else split_into_words(self.text, language))
            self._by_tok[key] = words
        return words


def _repetition(f: GopherRepetitionFilter, text: str, ws: _Words):
    if not text:
        return False, "empty"
    paragraphs = f.paragraph_exp.split(text.strip())
    paragraphs_duplicates, char_duplicates = find_duplicates(paragraphs)
    if f.dup_para_frac and paragraphs_duplicates / len(paragraphs) > f.dup_para_frac:
        return False, "dup_para_frac"
    if f.dup_para_char_frac and char_duplicates / len(text) > f.dup_para_char_frac:
        return False, "dup_para_char_frac"
    lines = f._line_splitter.split(text)
    line_duplicates, char_duplicates = find_duplicates(lines)
    if f.dup_line_frac and line_duplicates / len(lines) > f.dup_line_frac:
        return False, "dup_line_frac"
    if f.dup_line_char_frac and char_duplicates / len(text) > f.dup_line_char_frac:
        return False, "dup_line_char_frac"
    words = ws.get(f.language)
    if f.top_n_grams:
        spaced = NGrams(words, " ")
        for n, n_frac in f.top_n_grams:
            if len(words) < n:
                continue
            if top_duplicate_chars(words, n, spaced) / len(text) > n_frac:
                return False, f"top_{n}_gram"
    if f.dup_n_grams:
        joined = NGrams(words, "")
        for n, n_frac in f.dup_n_grams:
            if all_duplicate_chars(words, n, joined) / len(text) > n_frac:
                return False, f"duplicated_{n}_n_grams"
    return True


def _fineweb(f: FineWebQualityFilter, text: str, ws: _Words):
    lines = [line for line in text.split("\n") if line.strip() != ""]
    if len(lines) == 0:
        return False, "empty"
    ratio = sum(1 for line in lines if line.endswith(f.stop_chars)) / len(lines)
    if ratio < f.line_punct_thr and not (ratio == 0 and f.line_punct_exclude_zero):
        return False, "line_punct_ratio"
    ratio = sum(1 for line in lines if len(line) <= f.short_line_length) / len(lines)
    if ratio > f.short_line_threshold:
        return False, "short_line_ratio"
    ratio = find_duplicates(lines)[1] / len(text.replace("\n", ""))
    if ratio > f.char_duplicates_ratio:
        return False, "char_dup_ratio"
    words = ws.get(f.language)
    if text.count("\n") / len(words) > f.new_line_ratio:
        return False, "list_ratio"
    return True


def _has_alpha(w: str) -> bool:
    return w.isalpha() or any(c.isalpha() for c in w)


def word_counts(counts: Counter) -> tuple[int, float, int]:
    """From the word counts of a document, GopherQualityFilter's word statistics: (words with a character
    outside datatrove's ``PUNCTUATION_SET``, the mean length of those words - ``np.mean``'s value: an exact
    integer sum divided once, NaN for none - and words with an alphabetic character)."""
    # a character outside the punctuation set (most words start with one)
    non_symbol = [w for w in counts if (w and w[0] not in PUNCTUATION_SET) or w.translate(_DROP_PUNCT)]
    n_non_symbol = sum(counts[w] for w in non_symbol)
    avg = sum(len(w) * counts[w] for w in non_symbol) / n_non_symbol if n_non_symbol else math.nan
    return n_non_symbol, avg, sum(k for w, k in counts.items() if _has_alpha(w))


def _gopher(f: GopherQualityFilter, text: str, ws: _Words):
    words = ws.get(f.language)
    n_words = len(words)
    counts = Counter(words)
    n_non_symbol, avg, n_alpha = word_counts(counts)
    if f.min_doc_words and n_non_symbol < f.min_doc_words:
        return False, "gopher_short_doc"
    if f.max_doc_words and n_non_symbol > f.max_doc_words:
        return False, "gopher_long_doc"
    if f.min_avg_word_length and avg < f.min_avg_word_length:
        return False, "gopher_below_avg_threshold"
    if f.max_avg_word_length and avg > f.max_avg_word_length:
        return False, "gopher_above_avg_threshold"
    if f.max_symbol_word_ratio and text.count("#") / n_words > f.max_symbol_word_ratio:
        return False, "gopher_too_many_hashes"
    if f.max_symbol_word_ratio and (text.count("...") + text.count("…")) / n_words > f.max_symbol_word_ratio:
        return False, "gopher_too_many_ellipsis"
    lines = text.splitlines()
    if (f.max_bullet_lines_ratio
            and sum(s.lstrip().startswith("•") or s.lstrip().startswith("-") for s in lines) / len(lines)
            > f.max_bullet_lines_ratio):
        return False, "gopher_too_many_bullets"
    if (f.max_ellipsis_lines_ratio
            and sum(s.rstrip().endswith("...") or s.rstrip().endswith("…") for s in lines) / len(lines)
            > f.max_ellipsis_lines_ratio):
        return False, "gopher_too_many_end_ellipsis"
    if (f.max_non_alpha_words_ratio
            and n_alpha / n_words < f.max_non_alpha_words_ratio):
        return False, "gopher_below_alpha_threshold"
    if f.min_stop_words and len(f.stop_words.intersection(counts)) < f.min_stop_words:
        return False, "gopher_enough_stop_words"
    return True


_FAST = {GopherRepetitionFilter: _repetition, FineWebQualityFilter: _fineweb, GopherQualityFilter: _gopher}


def first_failure(filters: list[tuple[str, object]], text: str, doc_id: str = "") -> tuple[str, str] | None:
    """``(filter, rule)`` of the first check the document fails, or None when it passes them all."""
    ws = _Words(text)
    doc = None
    for name, f in filters:
        fast = _FAST.get(type(f))
        if fast is not None:
            res = fast(f, text, ws)
        else:
            doc = doc or Document(text=text, id=doc_id)
            res = f.filter(doc)
        ok, rule = (res if isinstance(res, tuple) else (res, None))
        if not ok:
            return name, rule or "failed"
    return None
