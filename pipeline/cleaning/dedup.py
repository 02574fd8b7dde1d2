"""Exact and MinHash near-duplicate removal within a language, disk-backed and memory-bounded.

Per document (in the units): an exact key (the first 8 bytes of sha1 of the normalised text, also the
document id) and one key per LSH band: datatrove's ``MinhashDedupSignature`` computes the signature
(5-word shingles of datatrove's simplified text, FineWeb-2's 14 bands x 8 hashes, seeded) and each band's 8
hashes are folded into one 64-bit key (xxh3; a chance collision merges two documents at ~N^2/2^65).

Across the corpus (``find_duplicates``), after the LID threshold is calibrated, so that only documents that
passed every other step take part:

1. per unit and per key column, the candidates' keys are sorted and written to ``.npy`` files;
2. per column, the key space is cut into ranges small enough to sort in memory (~``RANGE_RECORDS``
   records); each range gathers its slice of every unit file (``searchsorted`` on memory-mapped arrays),
   sorts by (key, unit, row) and finds runs of equal keys;
3. exact: in each run every document after the first is a ``duplicate`` of the first;
   MinHash: the members of each run are joined in a union-find whose root is always the smallest
   (unit, row) - the first document in source order - and every other member is a ``near_duplicate``.

We do not use datatrove's ``MinhashDedupBuckets``/``MinhashDedupCluster`` because their cluster keeps the
root chosen by union-by-size (not the first document), and their pair output links consecutive equal
signatures only, which breaks when non-candidates are removed from a run afterwards. Memory: one range of
records plus the union-find over documents that have a duplicate.
"""
from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import lru_cache
from pathlib import Path

import numpy as np

RANGE_RECORDS = 2_000_000
_U64 = np.uint64
_MERSENNE = _U64((1 << 61) - 1)
SIG_ROWS = 1024


class MinHasher:
    """Band keys of a document: datatrove's MinHash signature (``MinhashDedupSignature.get_shingles`` and
    ``get_signature``, same configuration, same numbers), computed faster.

    Why not datatrove's methods as they are: they cost ~20% of the clean stage. ``simplify_text`` removes
    combining marks with a per-character generator (here: one ``str.translate`` with the same
    ``unicodedata.category(c) == "Mn"`` test, cached per code point); each shingle is hashed from a new
    ``" ".join`` of its words (here: slices of one UTF-8 encoding, the same bytes); and ``(x * a + b) %
    (2**61 - 1)`` over shingles x hashes uses numpy's slow 64-bit remainder (here: the Mersenne-prime
    reduction ``(x & p) + (x >> 61)``, the same values). ``tests/test_clean_speed.py`` checks the band keys
    against datatrove's own methods on the shared text of several languages.
    """

    def __init__(self, dedup, tokenizer):
        from datatrove.pipeline.dedup.minhash import MinhashConfig, MinhashDedupSignature

        self.num_buckets = dedup.num_buckets
        self.hashes_per_bucket = dedup.hashes_per_bucket
        config = MinhashConfig(n_grams=dedup.n_grams, num_buckets=dedup.num_buckets,
                               hashes_per_bucket=dedup.hashes_per_bucket, seed=dedup.seed)
        # output_folder is never written: we only call get_shingles/get_signature
        self._sig = MinhashDedupSignature(output_folder="/nonexistent-unused", config=config, language=tokenizer)
        # datatrove 0.10.1 hands str to xxhash, which xxhash 4.x refuses: hash the UTF-8 bytes instead
        # (the same 64-bit xxhash datatrove's default HashConfig asks for)
        import xxhash

        self._sig._hash_func = lambda s: xxhash.xxh64_intdigest(s.encode("utf-8"))
        self.n_grams = dedup.n_grams
        self.tokenizer = tokenizer
        self.norm = config.norm_config
        a, b = self._sig.parameters
        self._a, self._b = a.reshape(1, -1), b.reshape(1, -1)
        if config.hash_config.precision != 64:  # pragma: no cover - we configure 64-bit hashes
            raise ValueError("MinHasher expects 64-bit MinHash")

    def shingles(self, text: str) -> np.ndarray:
        """``get_shingles(text)`` as a flat array."""
        import xxhash

        words = self.tokenizer.word_tokenize(simplify_text(text, self.norm))
        n = self.n_grams
        if len(words) < n:
            return np.zeros(0, dtype=_U64)
        spaced = " ".join(words)
        data = spaced.encode("utf-8")
        sizes = map(len, words) if len(data) == len(spaced) else map(len, map(str.encode, words))
        ends = np.fromiter(sizes, dtype=np.int64, count=len(words))
        ends += 1
        np.cumsum(ends, out=ends)                   # byte end of each word + 1 (its following space)
        starts = np.concatenate(([0], ends[:-n])).tolist()   # where each n-gram starts
        stops = (ends[n - 1:] - 1).tolist()                  # and ends (its last word's end)
        grams = map(data.__getitem__, map(slice, starts, stops))   # no Python-level loop per n-gram
        return np.fromiter(map(xxhash.xxh64_intdigest, grams), dtype=_U64, count=len(stops))

    def signature(self, shingles: np.ndarray) -> np.ndarray:
        """``get_signature``: per hash function, min over shingles of ``(x * a + b) mod (2**61 - 1)`` (uint64 products
        wrap, as in datatrove) - flat, ``num_buckets * hashes_per_bucket`` values. Blocks of ``SIG_ROWS`` shingles
        keep the temporaries in cache (a 100,000-character document has ~17,000 shingles x 112 hashes)."""
        out = None
        for i in range(0, len(shingles), SIG_ROWS):
            phv = shingles[i:i + SIG_ROWS].reshape(-1, 1) * self._a
            phv += self._b
            red = phv & _MERSENNE            # x mod p for p = 2**61 - 1: (x & p) + (x >> 61), then at most one - p
            phv >>= _U64(61)
            red += phv
            np.subtract(red, _MERSENNE, out=red, where=red >= _MERSENNE)
            low = red.min(axis=0)
            out = low if out is None else np.minimum(out, low, out=out)
        return out

    def band_keys(self, text: str) -> list[int] | None:
        import xxhash

        shingles = self.shingles(text)
        if shingles.size == 0:
            return None
        sig = self.signature(shingles).reshape(self.num_buckets, self.hashes_per_bucket)
        return [xxhash.xxh3_64_intdigest(band.tobytes()) or 1 for band in sig]   # 0 means "no key"


class _MarkFree(dict):
    """``str.translate`` table deleting combining marks (category Mn), filled per code point on first sight
    (a full table would cost ~0.5 s per process to build)."""

    def __missing__(self, cp: int):
        v = None if unicodedata.category(chr(cp)) == "Mn" else cp
        self[cp] = v
        return v


_NO_MARKS = _MarkFree()


def simplify_text(text: str, config) -> str:
    """datatrove's ``simplify_text`` (the same steps, patterns and order, datatrove's own constants); only the
    punctuation is replaced by a regular expression instead of ``str.translate`` and the removal of combining
    marks is one ``str.translate`` instead of a per-character generator."""
    from datatrove.utils import text as dt

    if config.lowercase:
        text = text.lower()
    if config.norm_numbers:
        text = dt.NUMBERS_PATTERN.sub("0", text)
    if config.norm_weekdays:
        text = dt.WEEKDAYS_PATTERN.sub("WEEKDAY", text)
    if config.norm_monthnames:
        text = dt.MONTHS_PATTERN.sub("MONTH", text)
    if config.remove_punctuation:
        text = _punctuation().sub(" ", text)
    if config.norm_whitespace:
        text = dt.WHITESPACE_PATTERN.sub(" ", text.strip())
    if config.norm_unicode_diacritics and not text.isascii():   # ASCII has neither decompositions nor marks
        text = unicodedata.normalize("NFD", text).translate(_NO_MARKS)
    return text.strip()


@lru_cache(maxsize=1)
def _punctuation() -> re.Pattern:
    """datatrove's ``PUNCTUATION_TRANS`` (each character of ``PUNCTUATION`` to a space) as one character class:
    the same replacement, several times faster than ``str.translate`` with a dict on non-ASCII text."""
    from datatrove.utils.text import PUNCTUATION

    return re.compile("[" + "".join(re.escape(c) for c in sorted(set(PUNCTUATION))) + "]")


def exact_key(digest: bytes) -> int:
    return int.from_bytes(digest[:8], "big") or 1


def text_digest(text: str) -> bytes:
    return hashlib.sha1(text.encode("utf-8")).digest()


# --- corpus-wide ----------------------------------------------------------------------------------

def write_sorted(keys: np.ndarray, candidates: np.ndarray, out: Path, columns: list[int]) -> None:
    """For one unit: per key column, the candidates' (key, row) sorted by key then row."""
    out.mkdir(parents=True, exist_ok=True)
    rows = np.nonzero(candidates)[0].astype(np.uint32)
    for c in columns:
        k = keys[rows, c] if len(rows) else np.zeros(0, dtype=_U64)
        valid = k != 0
        k, r = k[valid], rows[valid]
        order = np.argsort(k, kind="stable")           # rows ascend within equal keys
        np.save(out / f"k{c}.npy", k[order])
        np.save(out / f"r{c}.npy", r[order])


class _UnionFirst:
    """Union-find whose root is the smallest (unit, row)."""

    def __init__(self):
        self.parent: dict[tuple[int, int], tuple[int, int]] = {}

    def find(self, x):
        p = self.parent.get(x, x)
        if p == x:
            return x
        root = self.find(p)
        self.parent[x] = root
        return root

    def union(self, a, b):
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return
        if rb < ra:
            ra, rb = rb, ra
        self.parent[rb] = ra


def _runs(unit_dirs: list[Path], col: int):
    """Yield arrays (units, rows) of each run of >= 2 equal keys in column ``col``, range by range."""
    ks = [np.load(d / f"k{col}.npy", mmap_mode="r") for d in unit_dirs]
    rs = [np.load(d / f"r{col}.npy", mmap_mode="r") for d in unit_dirs]
    total = sum(len(k) for k in ks)
    if total < 2:
        return
    parts = max(1, -(-total // RANGE_RECORDS))
    edges = [0] + [int((1 << 64) * i // parts) for i in range(1, parts)] + [None]
    for lo, hi in zip(edges[:-1], edges[1:]):
        kk, tt, rr = [], [], []
        for t, (k, r) in enumerate(zip(ks, rs)):
            a = int(np.searchsorted(k, _U64(lo), side="left")) if lo else 0
            b = int(np.searchsorted(k, _U64(hi), side="left")) if hi is not None else len(k)
            if b > a:
                kk.append(np.asarray(k[a:b]))
                rr.append(np.asarray(r[a:b]))
                tt.append(np.full(b - a, t, dtype=np.uint32))
        if not kk:
            continue
        k = np.concatenate(kk)
        t = np.concatenate(tt)
        r = np.concatenate(rr)
        order = np.lexsort((r, t, k))
        k, t, r = k[order], t[order], r[order]
        same = k[1:] == k[:-1]
        if not same.any():
            continue
        starts = np.nonzero(np.diff(np.concatenate(([False], same)).astype(np.int8)) == 1)[0]
        for s in starts:
            e = s + 1
            while e < len(k) and k[e] == k[s]:
                e += 1
            yield t[s:e], r[s:e]


def find_duplicates(unit_dirs: list[Path], num_buckets: int, exact: bool, minhash: bool
                    ) -> dict[tuple[int, int], tuple[str, tuple[int, int]]]:
    """{(unit, row): (reason, (keeper unit, keeper row))} for every document to drop."""
    removed: dict[tuple[int, int], tuple[str, tuple[int, int]]] = {}
    if exact:
        for units, rows in _runs(unit_dirs, 0):
            keeper = (int(units[0]), int(rows[0]))
            for t, r in zip(units[1:], rows[1:]):
                removed[(int(t), int(r))] = ("duplicate", keeper)
    if minhash:
        uf = _UnionFirst()
        for col in range(1, num_buckets + 1):
            for units, rows in _runs(unit_dirs, col):
                members = [(int(t), int(r)) for t, r in zip(units, rows) if (int(t), int(r)) not in removed]
                for m in members[1:]:
                    uf.union(members[0], m)
        for node in sorted(uf.parent):
            root = uf.find(node)
            if root != node:
                removed[node] = ("near_duplicate", root)
    return removed
