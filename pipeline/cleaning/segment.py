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
    kind = "jieba"

    def __init__(self):
        super().__init__()
        self._jieba = None

    @property
    def jieba(self):
        if self._jieba is None:
            import jieba

            jieba.setLogLevel(logging.WARNING)
            jieba.initialize()
            self._jieba = jieba
        return self._jieba

    def word_tokenize(self, text: str) -> list[str]:
        return [w for w in (t.strip() for t in self.jieba.lcut(text)) if w]

    def __getstate__(self):  # picklable across processes (the module is re-imported there)
        return {"language": self.language, "_jieba": None}


class JapaneseWords(_Base):
    kind = "japanese"

    def word_tokenize(self, text: str) -> list[str]:
        return _JA_TOKEN.findall(text)


class CharWords(_Base):
    kind = "chars"

    def word_tokenize(self, text: str) -> list[str]:
        return [t for t in _CHARS_TOKEN.findall(text) if not t.isspace()]


_CLASSES = {"whitespace": WhitespaceWords, "jieba": JiebaWords, "japanese": JapaneseWords, "chars": CharWords}


def default_segmenter(script: str) -> str:
    if script == "Hani":
        return "jieba"
    if script == "Jpan":
        return "japanese"
    if script in ("Thai",):
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
