"""Statistics of the kept documents that the review page shows (all JSON-friendly).

Repeated lines, suspected boilerplate and mojibake and the script mix are computed over at most
``review.scan_documents`` documents (a seeded sample beyond that), so the page costs the same on a large
corpus; label and source counts and the kept samples use every document. Only the scanned and shown documents'
texts are read (``Corpus.texts``).
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter

from pipeline.config import ReviewSettings
from pipeline.review.corpus import Corpus
from pipeline.review.expectations import plain_value

TOP_LINES = 20
SCRIPT_MIX_CHARS = 2_000_000

BOILERPLATE_RE = re.compile(
    r"(?:we|this (?:site|website)) uses? cookies|cookie (?:policy|settings|consent)|accept (?:all )?cookies|"
    r"copyright|©|all rights reserved|privacy policy|terms (?:of (?:use|service)|and conditions)|"
    r"click here|subscribe to|newsletter|sign (?:in|up)\b|log ?in\b|javascript|read more|share (?:this|on)\b|"
    r"follow us|powered by|skip to (?:main )?content|https?://|www\.",
    re.I)
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
MOJIBAKE_RE = re.compile(
    "\ufffd|[\u0080-\u009f]|Â[\u00a0-\u00bf]|"
    f"[ÃÄÅÐÑØÙàâ][\u00a1-\u00bf{_CP1252_HIGH}]")
# two words in a row made only of the letters À-ÿ: a single-byte code page (Windows-1251 or KOI8-R Cyrillic,
# Windows-1253 Greek, ...) decoded as Latin-1 ("Ñïåêòàêëü ïîñâÿùåí" for "Спектакль посвящён"), which the
# pattern above does not see. No word of the shared text of 11 languages matches (Finnish "yöää", Turkish
# "üçü" are single words with ASCII around them).
_LATIN1_LETTERS = "À-ÖØ-öø-ÿ"
CODEPAGE_RE = re.compile(f"(?<![^\\W\\d_])[{_LATIN1_LETTERS}]{{3,}}[ \t]+"
                         f"[{_LATIN1_LETTERS}]{{3,}}(?![^\\W\\d_])")
CODEPAGE_MARKER = "[À-ÿ]+ [À-ÿ]+"

_SCRIPT_NAMES = {"CJK": "Han", "HANGUL": "Hangul", "HIRAGANA": "Hiragana", "KATAKANA": "Katakana",
                 "LATIN": "Latin", "CYRILLIC": "Cyrillic", "ARABIC": "Arabic", "DEVANAGARI": "Devanagari",
                 "GREEK": "Greek", "HEBREW": "Hebrew", "THAI": "Thai", "GEORGIAN": "Georgian",
                 "TAMIL": "Tamil", "ETHIOPIC": "Ethiopic", "BENGALI": "Bengali", "ARMENIAN": "Armenian"}


def _script_of(ch: str, cache: dict) -> str:
    s = cache.get(ch)
    if s is None:
        if not ch.isalpha():
            s = ""
        else:
            name = unicodedata.name(ch, "")
            first = name.split(" ", 1)[0] if name else "UNKNOWN"
            s = _SCRIPT_NAMES.get(first, first.title())
        cache[ch] = s
    return s


def _scan_frame(df, n: int):
    """The documents scanned for lines, boilerplate, mojibake and script mix: all, or a seeded sample."""
    if len(df) <= n:
        return df
    return df.sample(n=n, random_state=0).sort_index()


def analyse(corpus: Corpus, settings: ReviewSettings) -> dict:
    """Statistics of the kept documents that the page shows (all JSON-friendly)."""
    df = corpus.df
    scan = _scan_frame(df, settings.scan_documents)
    texts = [t for t in corpus.texts(scan.index) if isinstance(t, str)]
    n_scan = len(texts)
    out: dict = {"documents": int(len(df)), "scanned": n_scan}

    # lines: in how many documents each appears
    line_docs: Counter = Counter()
    doc_lines: list[list[str]] = []
    for t in texts:
        lines = [ln.strip() for ln in t.split("\n") if ln.strip()]
        doc_lines.append(lines)
        line_docs.update(set(lines))
    repeated = [(ln, c) for ln, c in line_docs.most_common(TOP_LINES) if c >= 2]
    out["repeated_lines"] = [{"line": ln, "documents": c, "share": round(c / n_scan, 4)} for ln, c in repeated]
    out["boilerplate"] = _boilerplate(line_docs, doc_lines, n_scan)
    ids = scan["id"].tolist() if "id" in scan else [""] * n_scan
    out["mojibake"] = _mojibake(texts, ids, settings.samples)
    out["script_mix"] = _script_mix(texts)
    if "lid_lang" in df and len(df):
        vc = df["lid_lang"].value_counts()
        out["lid_labels"] = [{"label": str(k), "documents": int(v)} for k, v in vc.head(10).items()]
    if "source" in df and len(df):
        vc = df["source"].value_counts()
        out["sources"] = [{"source": str(k), "documents": int(v)} for k, v in sorted(vc.items())]
    out["kept_samples"] = _kept_samples(corpus, settings.samples)
    return out


def _boilerplate(line_docs: Counter, doc_lines: list[list[str]], n_scan: int) -> dict:
    """Short lines shared by many documents, and lines with boilerplate words."""
    min_docs = max(3, int(0.01 * n_scan + 0.999))
    common = {ln for ln, c in line_docs.items() if c >= min_docs and len(ln) <= 300}
    suspects: dict[str, dict] = {}
    for ln in common:
        suspects[ln] = {"line": ln, "documents": line_docs[ln], "why": f"in >= {min_docs} documents"}
    kw: Counter = Counter()
    for ln, c in line_docs.items():
        if len(ln) <= 300 and BOILERPLATE_RE.search(ln):
            kw[ln] = c
    for ln, c in kw.most_common(TOP_LINES):
        word = BOILERPLATE_RE.search(ln).group(0).lower()
        if ln in suspects:
            suspects[ln]["why"] += f"; contains “{word}”"
        else:
            suspects[ln] = {"line": ln, "documents": c, "why": f"contains “{word}”"}
    mostly_common = sum(1 for lines in doc_lines if lines and sum(ln in common for ln in lines) * 2 >= len(lines))
    return {
        "min_documents": min_docs,
        "lines": sorted(suspects.values(), key=lambda s: (-s["documents"], s["line"]))[:TOP_LINES],
        "keyword_documents": sum(1 for lines in doc_lines if any(BOILERPLATE_RE.search(ln) for ln in lines)),
        "documents_mostly_repeated": mostly_common,
    }


def _mojibake(texts: list[str], ids: list, samples: int) -> dict:
    markers: Counter = Counter()
    examples = []
    bad_docs = 0
    for i, t in enumerate(texts):
        hits = MOJIBAKE_RE.findall(t) + [CODEPAGE_MARKER] * len(CODEPAGE_RE.findall(t))
        if hits:
            bad_docs += 1
            markers.update(hits)
            if len(examples) < samples:
                m = MOJIBAKE_RE.search(t) or CODEPAGE_RE.search(t)
                a, b = max(0, m.start() - 60), min(len(t), m.end() + 60)
                examples.append({"id": str(ids[i]), "context": t[a:b], "marker": m.group(0)})
    n_scan = len(texts)
    return {"documents": bad_docs, "share": round(bad_docs / n_scan, 4) if n_scan else 0.0,
            "markers": [{"marker": k, "count": v} for k, v in markers.most_common(15)],
            "examples": examples}


def _script_mix(texts: list[str]) -> dict:
    """Letters by Unicode script over (up to) SCRIPT_MIX_CHARS characters of the scan."""
    cache: dict = {}
    letters: Counter = Counter()
    other = seen = 0
    for t in texts:
        for ch in t:
            s = _script_of(ch, cache)
            if s:
                letters[s] += 1
            elif not ch.isspace():
                other += 1
        seen += len(t)
        if seen >= SCRIPT_MIX_CHARS:
            break
    n_letters = sum(letters.values())
    return {
        "characters": seen, "letters": n_letters, "other_non_space": other,
        "scripts": [{"script": s, "letters": c, "share": round(c / n_letters, 4)}
                    for s, c in letters.most_common(12)],
    }


def _kept_samples(corpus: Corpus, samples: int) -> list[dict]:
    """A seeded sample of kept documents with their cleaning facts."""
    df = corpus.df
    keep = df.sample(n=min(samples, len(df)), random_state=1).sort_index() if len(df) and samples else df.iloc[:0]
    return [{**{k: (plain_value(row[k], 4) if k in row else None)
                for k in ("id", "source", "lid_lang", "lid_score", "script_share", "n_chars")}, "text": text}
            for (_, row), text in zip(keep.iterrows(), corpus.texts(keep.index))]

