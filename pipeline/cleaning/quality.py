"""Quality and repetition filters: datatrove's own blocks, thresholds by script class.

The three filters are datatrove's ``GopherRepetitionFilter``, ``FineWebQualityFilter`` and
``GopherQualityFilter`` (their decisions computed by ``quality_fast``, ``first_failure``). Only
their thresholds and word segmentation are ours:

- thresholds start from the values of the Gopher paper / FineWeb (datatrove's defaults) and are adjusted
  by script class where those defaults measure something else than intended (CJK words are 1-3
  characters, Hangul eojeol carry particles, our corpora are one sentence per line rather than web pages);
  ``docs/cleaning.md`` has the table and the measured effect on every shipped language;
- every threshold can be overridden in ``corpora/<lang>.yaml`` under ``clean.quality.<filter>``; ``0``
  disables a single check (datatrove's convention) and ``enabled: false`` a whole filter;
- stop words: a short list of the most frequent function words for the languages we ship (Gopher requires
  two of them in a document), none elsewhere unless configured.
"""
from __future__ import annotations

from dataclasses import dataclass

from datatrove.pipeline.filters import FineWebQualityFilter, GopherQualityFilter, GopherRepetitionFilter

from pipeline.cleaning import quality_fast
from pipeline.cleaning.segment import CHARS_SCRIPTS, tokenizer

FILTERS = ("gopher_repetition", "fineweb_quality", "gopher_quality")

SCRIPT_CLASS = {
    "Hani": "cjk", "Jpan": "cjk",
    "Hang": "hangul", "Kore": "hangul",
    **dict.fromkeys(CHARS_SCRIPTS, "thai"),   # no spaces between words: grapheme clusters as words
}


def script_class(script: str) -> str:
    return SCRIPT_CLASS.get(script, "alphabetic")


# datatrove's defaults (Gopher paper Table A1; FineWeb) ...
_GOPHER_REP = dict(dup_line_frac=0.3, dup_para_frac=0.3, dup_line_char_frac=0.2, dup_para_char_frac=0.2,
                   top_n_grams={2: 0.2, 3: 0.18, 4: 0.16},
                   dup_n_grams={5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10})
_FINEWEB = dict(line_punct_thr=0.12, line_punct_exclude_zero=False, short_line_thr=0.67, short_line_length=30,
                char_duplicates_ratio=0.01, new_line_ratio=0.3)
_GOPHER_Q = dict(min_doc_words=50, max_doc_words=100_000, min_avg_word_length=3, max_avg_word_length=10,
                 max_symbol_word_ratio=0.1, max_bullet_lines_ratio=0.9, max_ellipsis_lines_ratio=0.3,
                 max_non_alpha_words_ratio=0.8, min_stop_words=2)

# ... and what we change, measured on the shipped corpora (docs/cleaning.md): each value sits at or below
# the 1st percentile of clean text of every language of its class, so a filter removes ~1% of clean
# documents at most, while boilerplate, lists and repeated spam stay far outside.
# - documents are 1-20 sentences, not web pages: min_doc_words 50 -> 20 (clean.min_chars bounds length);
# - punctuation tokens count as words (as with spaCy): the alphabetic-word ratio of clean news text is
#   0.70-0.80, so 0.8 -> 0.65; Finnish/German compounds need max_avg_word_length 10 -> 12;
# - FineWeb's char_duplicates_ratio 0.01 drops e-mails that repeat a greeting line: -> 0.1 (Gopher's line
#   repetition rules still apply);
# - top n-gram fractions of 4-sentence documents in agglutinative languages reach 0.18: 3/4-grams -> 0.2;
# - CJK: words are 1-3 characters (avg 1.6 zh / 2.0 ja), lines are short in characters;
# - Hangul: eojeol average 2.6-4 characters; no stop-word list (particles are attached to words).
_COMMON_REP = {**_GOPHER_REP, "top_n_grams": {2: 0.2, 3: 0.2, 4: 0.2}}
_COMMON_FW = {**_FINEWEB, "char_duplicates_ratio": 0.1}
_COMMON_GQ = {**_GOPHER_Q, "min_doc_words": 20, "max_avg_word_length": 12, "max_non_alpha_words_ratio": 0.65}

DEFAULTS: dict[str, dict[str, dict]] = {
    "alphabetic": {"gopher_repetition": dict(_COMMON_REP), "fineweb_quality": dict(_COMMON_FW),
                   "gopher_quality": dict(_COMMON_GQ)},
    "hangul": {"gopher_repetition": dict(_COMMON_REP), "fineweb_quality": dict(_COMMON_FW),
               "gopher_quality": {**_COMMON_GQ, "min_avg_word_length": 1.5, "max_avg_word_length": 8,
                                  "max_non_alpha_words_ratio": 0.6}},
    "cjk": {"gopher_repetition": {**_COMMON_REP, "top_n_grams": {2: 0.2, 3: 0.22, 4: 0.24}},
            "fineweb_quality": {**_COMMON_FW, "short_line_length": 10},
            "gopher_quality": {**_COMMON_GQ, "min_avg_word_length": 1, "max_avg_word_length": 4}},
    "thai": {"gopher_repetition": {**_COMMON_REP, "top_n_grams": {2: 0.2, 3: 0.22, 4: 0.24}},
             "fineweb_quality": {**_COMMON_FW, "short_line_length": 10},
             "gopher_quality": {**_COMMON_GQ, "min_doc_words": 60, "min_avg_word_length": 0.5,
                                "max_avg_word_length": 3}},
}

# The most frequent function words (Gopher's rule: a document must contain at least min_stop_words of them).
STOP_WORDS: dict[str, list[str]] = {
    "en": ["the", "be", "to", "of", "and", "that", "have", "with"],  # datatrove's (Gopher's) list
    "de": ["der", "die", "das", "und", "in", "zu", "den", "von", "ist", "nicht", "mit", "sich", "ein", "eine"],
    "fi": ["ja", "on", "ei", "se", "että", "oli", "hän", "mutta", "kun", "ovat", "joka", "myös", "ole", "sekä",
           "tai", "jo", "vain", "kuin", "niin", "nyt", "jos", "mukaan", "ollut", "olla", "hänen", "sen", "tämä",
           "jotka", "mitä"],
    "tr": ["ve", "bir", "bu", "da", "de", "için", "ile", "çok", "ne", "olarak", "daha", "gibi", "olan", "en",
           "ama", "kadar", "sonra", "her", "o", "ki", "değil", "var", "ise", "göre", "mi"],
    "ru": ["и", "в", "не", "на", "что", "с", "по", "это", "как", "к", "из", "а", "для", "о"],
    "ar": ["في", "من", "على", "إلى", "أن", "عن", "مع", "التي", "الذي", "هذا", "ما", "لا", "و"],
    "hi": ["के", "का", "की", "है", "में", "और", "को", "से", "एक", "पर", "यह", "हैं", "ने"],
    "sw": ["na", "ya", "wa", "kwa", "za", "la", "katika", "ni", "kuwa", "cha", "hii", "kama", "hiyo"],
    "zh": ["的", "是", "在", "了", "和", "有", "也", "不", "这", "我", "他", "与", "就", "都"],
    "ja": ["の", "は", "に", "を", "が", "で", "と", "た", "も", "から", "です", "ます"],
}


def resolved_thresholds(cfg) -> dict[str, dict]:
    """{filter: {param: value}} for a LanguageConfig: script-class defaults, then the YAML's overrides.
    A filter that is disabled maps to None."""
    cls = script_class(cfg.script)
    q = cfg.clean.quality
    out: dict[str, dict | None] = {}
    for name in FILTERS:
        user = getattr(q, name)
        if not user.enabled:
            out[name] = None
            continue
        params = dict(DEFAULTS[cls][name])
        for k, v in user.model_dump(exclude={"enabled"}).items():
            if v is not None:
                params[k] = v
        if name == "gopher_quality":
            base = cfg.language.split("-")[0]
            words = params.pop("stop_words", None)
            if words is None:
                words = STOP_WORDS.get(cfg.language, STOP_WORDS.get(base))
            if not words:
                params["min_stop_words"] = 0
            params["stop_words"] = sorted(words or [])
        out[name] = params
    return out


@dataclass
class QualityFilters:
    """The configured datatrove filters for one language, in the order they are applied."""
    filters: list[tuple[str, object]]

    def first_failure(self, text: str, doc_id: str = "") -> tuple[str, str] | None:
        """``(filter, rule)`` of the first check the document fails, or None when it passes them all (datatrove's
        decisions at the same thresholds, computed by ``quality_fast`` with a fraction of the CPU)."""
        return quality_fast.first_failure(self.filters, text, doc_id)


def build_filters(cfg, segmenter: str, thresholds: dict | None = None) -> QualityFilters:
    """The filters at ``thresholds`` (the calibrated ones, ``calibration.py``), else at the configured ones."""
    tok = tokenizer(segmenter)
    th = thresholds if thresholds is not None else resolved_thresholds(cfg)
    filters: list[tuple[str, object]] = []
    if th["gopher_repetition"] is not None:
        p = dict(th["gopher_repetition"])
        top = tuple(sorted((int(n), float(v)) for n, v in (p.pop("top_n_grams") or {}).items()))
        dup = tuple(sorted((int(n), float(v)) for n, v in (p.pop("dup_n_grams") or {}).items()))
        filters.append(("gopher_repetition", GopherRepetitionFilter(top_n_grams=top, dup_n_grams=dup,
                                                                    language=tok, **p)))
    if th["fineweb_quality"] is not None:
        filters.append(("fineweb_quality", FineWebQualityFilter(language=tok, **th["fineweb_quality"])))
    if th["gopher_quality"] is not None:
        filters.append(("gopher_quality", GopherQualityFilter(language=tok, **th["gopher_quality"])))
    return QualityFilters(filters)
