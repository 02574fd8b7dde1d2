"""Word segmentation for the quality filters and MinHash shingles, by script class.

datatrove's filters split text with ``datatrove.utils.text.split_into_words(text, language)``, which accepts
a ``WordTokenizer`` instance in place of a language code. Its defaults would load spaCy blank models
(plus sudachi for Japanese and kiwipiepy for Korean); we pass our own tokenizers instead because

- spaCy is not a dependency here (it brings ~15 packages) and its blank-language tokenizers are rule-based
  punctuation splitters that the regex below reproduces closely at a fraction of the cost;
- languages written without spaces need a segmenter that works offline from what pip installed:

=============  ==========================================================================================
``whitespace``  words = runs of letters/marks/digits (joined by ' ’ -), every other visible character is a
               token of its own (Latin, Cyrillic, Arabic, Devanagari, Hangul eojeol, ...)
``jieba``      Chinese words from jieba's bundled dictionary (what datatrove itself uses for zh, via spaCy)
``japanese``   runs of one character class (kanji, hiragana, katakana, latin/digits): a coarse but stable
               approximation of Japanese words (particles and okurigana form their own runs) that needs no
               dictionary download
``chars``      one token per grapheme cluster of letters (Thai, Lao, Khmer, Myanmar ...), latin words whole
=============  ==========================================================================================
"""
from __future__ import annotations

import logging
import math
from functools import lru_cache

import regex
from datatrove.utils.word_tokenizers import WordTokenizer

_WORD = r"[\p{L}\p{M}\p{N}_\u200c\u200d]+(?:['’\-][\p{L}\p{M}\p{N}_\u200c\u200d]+)*"
_WS_TOKEN = regex.compile(rf"{_WORD}|[^\s\p{{L}}\p{{M}}\p{{N}}_]")
_SENT = regex.compile(r"[^\n.!?。！？؟।]*(?:[.!?。！？؟।]+|\n|$)")

# Japanese character classes (kanji incl. 々〆ヶ, hiragana, katakana incl. ー, latin/digit words)
_JA_TOKEN = regex.compile(
    r"[\p{Han}々〆ヶ]+|[\p{Hiragana}]+|[\p{Katakana}ー・]+|[\p{Latin}\p{N}_]+(?:['’\-][\p{Latin}\p{N}_]+)*"
    r"|[\p{L}\p{M}]+|[^\s\p{L}\p{M}\p{N}]")
_CHARS_TOKEN = regex.compile(r"[\p{Latin}\p{Cyrillic}\p{Greek}\p{N}_]+(?:['’\-][\p{Latin}\p{N}_]+)*|\X")

SEGMENTERS = ("whitespace", "jieba", "japanese", "chars")


class _Base(WordTokenizer):
    kind = "base"

    def __init__(self):
        super().__init__(language=self.kind)

    def sent_tokenize(self, text: str) -> list[str]:
        return [s.strip() for s in _SENT.findall(text) if s.strip()]

    def span_tokenize(self, text: str) -> list[tuple[int, int]]:
        return [(m.start(), m.end()) for m in _SENT.finditer(text) if m.group().strip()]

    def __repr__(self):
        return f"{type(self).__name__}()"


class WhitespaceWords(_Base):
    kind = "whitespace"

    def word_tokenize(self, text: str) -> list[str]:
        return _WS_TOKEN.findall(text)


class JiebaWords(_Base):
    """``jieba.lcut`` (accurate mode with HMM, jieba's bundled dictionary), the same words, ~2x faster.

    Why not ``jieba.lcut`` as it is: it was ~65% of the clean stage on Chinese. Each document is segmented
    twice (the quality filters' words, then the words of datatrove's simplified text for MinHash), and most
    of the two texts' Chinese blocks are the same strings. jieba cuts a text block by block (runs of
    ``jieba.re_han_default``; each block's words depend on that block alone), so here each block's words are
    kept (the last ``MEMO_CHARS`` characters of blocks or so: the reuse is between the two passes over one
    document, and memory stays flat) and a block seen before is not cut again. A new block is cut by
    ``_cut_block``: jieba's ``get_DAG`` + ``calc`` + ``__cut_DAG`` in one pass, without the DAG dict and the
    per-position generator, with the same floating-point operations in the same order and the same
    tie-break, so the same route.
    ``tests/test_clean_speed.py`` checks the words against ``jieba.lcut`` on the shared Chinese text."""

    kind = "jieba"
    MEMO_CHARS = 200_000

    def __init__(self):
        super().__init__()
        self._jieba = None
        self._blocks: dict[str, list[str]] = {}
        self._memo_chars = 0

    @property
    def jieba(self):
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            self._jieba = jieba
        return self._jieba

    def word_tokenize(self, text: str) -> list[str]:
        jb = self.jieba
        re_han, re_skip = jb.re_han_default, jb.re_skip_default
        out: list[str] = []
        for blk in re_han.split(text):      # jieba.Tokenizer.cut's loop
            if not blk:
                continue
            if re_han.match(blk):
                words = self._blocks.get(blk)
                if words is None:
                    words = self._cut_block(blk)
                    if self._memo_chars > self.MEMO_CHARS:
                        self._blocks.clear()
                        self._memo_chars = 0
                    self._blocks[blk] = words
                    self._memo_chars += len(blk)
                out += words
            else:
                for x in re_skip.split(blk):
                    if re_skip.match(x):
                        out.append(x)
                    else:
                        out += x
        return [w for w in (t.strip() for t in out) if w]

    def _route(self, s: str) -> list[int]:
        """jieba's ``calc(s, get_DAG(s), route)``, only the end of each position's first word: ``route[i]`` =
        max over the dictionary words s[i:x+1] of (log(freq) - log(total) + route[x+1]'s value, x), the
        lexicographic max of the tuples, i.e. the largest x among equal values (x grows along the scan, so ``>=``)."""
        dt = self.jieba.dt
        freq, log, logtotal = dt.FREQ, math.log, math.log(dt.total)
        n = len(s)
        value, end = [0.0] * (n + 1), [0] * (n + 1)
        value[n] = 0
        for idx in range(n - 1, -1, -1):
            bv, bx = -math.inf, -1
            i, frag = idx, s[idx]
            while i < n:
                f = freq.get(frag)
                if f is None:         # not a dictionary word nor the prefix of one
                    break
                if f:
                    w = log(f) - logtotal + value[i + 1]
                    if w >= bv:
                        bv, bx = w, i
                i += 1
                frag = s[idx:i + 1]
            if bx < 0:                # get_DAG's [k] for a character not in the dictionary
                bv, bx = math.log(freq.get(s[idx]) or 1) - logtotal + value[idx + 1], idx
            value[idx], end[idx] = bv, bx
        return end

    def _cut_block(self, s: str) -> list[str]:
        """jieba's ``Tokenizer.__cut_DAG(s)`` (single characters gathered and given to the HMM)."""
        freq, hmm = self.jieba.dt.FREQ, self.jieba.finalseg.cut
        route = self._route(s)
        out: list[str] = []
        x, buf, n = 0, "", len(s)
        while x <= n:
            y = route[x] + 1 if x < n else x
            if x < n and y - x == 1:
                buf += s[x:y]
            else:
                if buf:
                    if len(buf) == 1:
                        out.append(buf)
                    elif not freq.get(buf):
                        out += hmm(buf)
                    else:
                        out += buf
                    buf = ""
                if x == n:
                    break
                out.append(s[x:y])
            x = y
        return out

    def __getstate__(self):  # picklable across processes (the module is re-imported there)
        return {"language": self.language, "_jieba": None, "_blocks": {}, "_memo_chars": 0}


class JapaneseWords(_Base):
    kind = "japanese"

    def word_tokenize(self, text: str) -> list[str]:
        return _JA_TOKEN.findall(text)


class CharWords(_Base):
    kind = "chars"

    def word_tokenize(self, text: str) -> list[str]:
        return [t for t in _CHARS_TOKEN.findall(text) if not t.isspace()]


_CLASSES = {"whitespace": WhitespaceWords, "jieba": JiebaWords, "japanese": JapaneseWords, "chars": CharWords}


# scripts written without spaces between words, with no segmenter here: one token per grapheme cluster
CHARS_SCRIPTS = ("Thai", "Laoo", "Khmr", "Mymr", "Tibt")


def default_segmenter(script: str) -> str:
    if script == "Hani":
        return "jieba"
    if script == "Jpan":
        return "japanese"
    if script in CHARS_SCRIPTS:
        return "chars"
    return "whitespace"


@lru_cache(maxsize=None)
def tokenizer(kind: str) -> WordTokenizer:
    """One shared instance per kind (datatrove caches tokenizations per instance)."""
    if kind == "jieba":
        try:
            import jieba  # noqa: F401
        except ImportError:  # pragma: no cover - jieba is a declared dependency
            from pipeline.errors import StageError

            raise StageError("clean.segmenter is 'jieba' but the jieba package is not installed "
                             "(pip install -c constraints.txt jieba)") from None
    return _CLASSES[kind]()
