"""Normalisation and script detection.

``normalize(text, settings)``:

1. A line written as a quoted CSV field is unquoted (``clean.normalize.csv_quotes``): a line that starts and ends
   with ``"`` and whose inner quotes all come doubled, at least one pair (``"sagte: ""Ja"" und ging"`` becomes
   ``sagte: "Ja" und ging``), as a CSV writer leaves a one-column text export (24 lines of the shared German
   FLORES file, 58 of the Korean). Only the exact inverse of CSV quoting: a line with a single inner quote or no
   doubled one is left as it is.
2. FTFY (``clean.normalize.ftfy``): repairs mojibake (UTF-8 read as Latin-1/cp1252 and similar), HTML entities
   in plain text, C1 controls, surrogates and terminal escapes. Conservative options: curly quotes are kept
   and full-width forms are not narrowed (that would rewrite CJK punctuation such as U+FF0C).
3. Control characters removed (``\\t`` and other whitespace controls become a space, ``\\r``/U+2028/U+2029 a line
   break); invisible format characters removed (zero-width space, BOM, word joiner, soft hyphen, bidi
   marks ...) except ZWNJ/ZWJ (U+200C/U+200D, needed by Indic and Persian scripts) and visible prepended
   concatenation marks. NUL never survives.
4. Unicode normal form (``clean.normalize.unicode_form``, NFC by default). NFC composes where a precomposed
   character exists and otherwise keeps combining marks in canonical order, so tone marks of tonal
   orthographies (Yoruba, Vietnamese ...) stay on their letters; combining marks are never stripped.
   ``none`` keeps the source's composition exactly.
5. Runs of spaces collapsed, lines stripped, empty lines dropped (``clean.normalize.collapse_whitespace``).
"""
from __future__ import annotations

import bisect
import re
import unicodedata
from collections import Counter
from functools import lru_cache

KEEP_FORMAT = {0x200C, 0x200D,                       # ZWNJ, ZWJ
               0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F, 0x0890, 0x0891,
               0x08E2, 0x110BD, 0x110CD}              # visible prepended concatenation marks


def _control_entry(cp: int, remove_zero_width: bool) -> str | int | None:
    """What ``str.translate`` makes of code point ``cp``: a replacement, None (removed) or ``cp`` itself."""
    ch = chr(cp)
    cat = unicodedata.category(ch)
    if cat == "Cc":
        if ch == "\n":
            return cp
        if ch == "\r":
            return "\n"
        return " " if ch.isspace() else None             # \t \v \f \x1c-\x1f \x85 -> space; others removed
    if cat == "Cf" and cp not in KEEP_FORMAT:
        # ZERO WIDTH SPACE and BOM / ZWNBSP are Cf too
        return None if remove_zero_width else cp
    if cat in ("Zl", "Zp"):
        return "\n"
    return cp


class _ControlTable(dict):
    """The translate table of step 2, filled per code point on first sight: building it for all 1.1 million
    code points up front cost ~0.7 s per process (a third of a small corpus's normalisation time)."""

    def __init__(self, remove_zero_width: bool):
        super().__init__()
        self.remove_zero_width = remove_zero_width
        # the ASCII characters the table changes, as a character class
        self.ascii_changes = re.compile("[" + "".join(re.escape(chr(c)) for c in range(128) if self[c] != c) + "]")

    def __missing__(self, cp: int):
        v = self[cp] = _control_entry(cp, self.remove_zero_width)
        return v


@lru_cache(maxsize=2)
def _translate_table(remove_zero_width: bool = True) -> _ControlTable:
    return _ControlTable(remove_zero_width)


_SPACES = re.compile(r"[^\S\n]+")


@lru_cache(maxsize=8)
def _ftfy_config(fix_character_width: bool, uncurl_quotes: bool):
    import ftfy

    # normalisation, line breaks and control characters are ours (below), so FTFY only repairs encodings
    return ftfy.TextFixerConfig(uncurl_quotes=uncurl_quotes, fix_character_width=fix_character_width,
                                normalization=None, fix_line_breaks=False, remove_control_chars=False,
                                explain=False)


@lru_cache(maxsize=1)
def _ftfy_triggers() -> re.Pattern:
    """A character that one of FTFY's enabled character fixers acts on (``_ftfy_config``, width and quotes
    kept): ESC (terminal escapes), C1 controls, surrogates and the Latin ligatures it splits, from ftfy's
    own table."""
    from ftfy.chardata import LIGATURES

    chars = "".join(re.escape(chr(cp)) for cp in sorted(LIGATURES))
    return re.compile(rf"[\x1b\x80-\x9f\ud800-\udfff{chars}]")


def _ftfy_could_change(text: str, chars: set[str] | None = None) -> bool:
    """False only where ``ftfy.fix_text`` (our config, width and quotes kept) returns ``text`` unchanged.

    Why: FTFY checked every line of every non-ASCII document (~12% of the stage on Russian) although almost
    no document has anything to fix. ``fix_text`` fixes each line (segment) with ``fix_and_explain``, which
    returns at once when no fixer changes the segment: HTML unescaping needs a match of ftfy's
    ``HTML_ENTITY_RE``; terminal escapes, C1 controls, ligatures and surrogates a character of
    ``_ftfy_triggers``; ``fix_encoding`` does nothing unless ``ftfy.badness.is_bad(segment)`` (asked through
    ``mojibake.is_bad``, the same answer faster). Both regular
    expressions are searched in the whole text: a match inside a segment is a match inside the text, except
    for BADNESS_RE's one anchored rule ``^[ÃÂ][ ]`` (a segment start), so the text must also hold no "Ã "
    or "Â ". ``tests/test_clean_speed.py`` checks the result against ``fix_text`` on the shared text of all
    11 languages and on mojibake."""
    from ftfy.chardata import HTML_ENTITY_RE

    from pipeline.cleaning.mojibake import is_bad

    return (bool(_ftfy_triggers().search(text)) or "Ã " in text or "Â " in text
            or ("&" in text and bool(HTML_ENTITY_RE.search(text))) or is_bad(text, chars))


def _translate(text: str, table: _ControlTable, chars: set[str] | None) -> str:
    """``text.translate(table)``, skipped when no character of the text is one the table changes (it looks up
    each character of the text in a dict: ~10% of normalisation; most documents hold no control or format
    character). ``chars``: the text's distinct characters, None for ASCII text."""
    if chars is None:
        if table.ascii_changes.search(text) is None:
            return text
    elif all(table[c] == c for c in map(ord, chars)):
        return text
    return text.translate(table)


def csv_unquote(line: str) -> str | None:
    """The text of a line written as a quoted CSV field (step 1), or None when it is not one."""
    s = line.strip()
    if len(s) >= 4 and s[0] == '"' and s[-1] == '"':
        inner = s[1:-1]
        if '""' in inner and '"' not in inner.replace('""', ""):
            return inner.replace('""', '"').strip()
    return None


def _csv_unquote_lines(text: str, counts: Counter | None) -> str:
    lines = text.split("\n")
    n = 0
    for i, ln in enumerate(lines):
        u = csv_unquote(ln)
        if u is not None:
            lines[i], n = u, n + 1
    if counts is not None and n:
        counts["csv_unquoted_lines"] += n
    return "\n".join(lines) if n else text


def normalize(text: str, settings=None, counts: Counter | None = None) -> str:
    """Normalise one document. ``settings`` is a ``NormalizeSettings`` (None: the defaults); ``counts``, when
    given, counts what a step changed (``csv_unquoted_lines``)."""
    if settings is None:
        use_ftfy, form, width, uncurl, zw, collapse, csv = True, "NFC", False, False, True, True, True
    else:
        use_ftfy, form = settings.ftfy, settings.unicode_form
        width, uncurl = settings.fix_character_width, settings.uncurl_quotes
        zw, collapse, csv = settings.remove_zero_width, settings.collapse_whitespace, settings.csv_quotes
    if csv and '""' in text:
        text = _csv_unquote_lines(text, counts)
    chars = None if text.isascii() else set(text)    # the distinct characters, for two cheap checks below
    if use_ftfy and chars is not None and (width or uncurl or _ftfy_could_change(text, chars)):
        import ftfy

        text = ftfy.fix_text(text, _ftfy_config(width, uncurl))
        chars = None if text.isascii() else set(text)
    text = _translate(text, _translate_table(zw), chars)
    if form != "none":
        text = unicodedata.normalize(form, text)
    if collapse:
        text = _SPACES.sub(" ", text)
        return "\n".join(s for s in (ln.strip() for ln in text.split("\n")) if s)
    return "\n".join(ln for ln in text.split("\n") if ln.strip())


# --- script detection -----------------------------------------------------------------------------

_RANGES = [  # (first, last, script) for letters; anything else is 'Zyyy' (other)
    (0x0041, 0x005A, "Latn"), (0x0061, 0x007A, "Latn"), (0x00AA, 0x00AA, "Latn"), (0x00BA, 0x00BA, "Latn"),
    (0x00C0, 0x024F, "Latn"), (0x0250, 0x02AF, "Latn"), (0x02B0, 0x02B8, "Latn"), (0x02E0, 0x02E4, "Latn"),
    (0x0370, 0x03FF, "Grek"), (0x0400, 0x052F, "Cyrl"), (0x0530, 0x058F, "Armn"), (0x0590, 0x05FF, "Hebr"),
    (0x0600, 0x06FF, "Arab"), (0x0750, 0x077F, "Arab"), (0x0870, 0x08FF, "Arab"), (0x0900, 0x097F, "Deva"),
    (0x0980, 0x09FF, "Beng"), (0x0B80, 0x0BFF, "Taml"), (0x0E00, 0x0E7F, "Thai"), (0x10A0, 0x10FF, "Geor"),
    (0x1100, 0x11FF, "Hang"), (0x1200, 0x139F, "Ethi"), (0x1C80, 0x1C8F, "Cyrl"), (0x1C90, 0x1CBF, "Geor"),
    (0x1D00, 0x1DBF, "Latn"), (0x1E00, 0x1EFF, "Latn"), (0x1F00, 0x1FFF, "Grek"), (0x2071, 0x2071, "Latn"),
    (0x207F, 0x207F, "Latn"), (0x2090, 0x209C, "Latn"), (0x2C60, 0x2C7F, "Latn"), (0x2D00, 0x2D2F, "Geor"),
    (0x2D80, 0x2DDF, "Ethi"), (0x2DE0, 0x2DFF, "Cyrl"), (0x2E80, 0x2FDF, "Hani"), (0x3005, 0x3005, "Hani"),
    (0x3007, 0x3007, "Hani"), (0x3021, 0x3029, "Hani"), (0x3038, 0x303B, "Hani"), (0x3040, 0x309F, "Hira"),
    (0x30A0, 0x30FF, "Kana"), (0x3130, 0x318F, "Hang"), (0x31F0, 0x31FF, "Kana"), (0x3400, 0x4DBF, "Hani"),
    (0x4E00, 0x9FFF, "Hani"), (0xA640, 0xA69F, "Cyrl"), (0xA720, 0xA7FF, "Latn"), (0xA8E0, 0xA8FF, "Deva"),
    (0xA960, 0xA97F, "Hang"), (0xAB00, 0xAB2F, "Ethi"), (0xAB30, 0xAB6F, "Latn"), (0xAC00, 0xD7FF, "Hang"),
    (0xF900, 0xFAFF, "Hani"), (0xFB00, 0xFB06, "Latn"), (0xFB13, 0xFB17, "Armn"), (0xFB1D, 0xFB4F, "Hebr"),
    (0xFB50, 0xFDFF, "Arab"), (0xFE70, 0xFEFF, "Arab"), (0xFF21, 0xFF3A, "Latn"), (0xFF41, 0xFF5A, "Latn"),
    (0xFF66, 0xFF9F, "Kana"), (0xFFA0, 0xFFDC, "Hang"), (0x1B000, 0x1B16F, "Kana"), (0x1E900, 0x1E95F, "Adlm"),
    (0x20000, 0x323AF, "Hani"),
]
_STARTS = [r[0] for r in _RANGES]

# which character scripts count as "the language's script"
SCRIPT_MEMBERS = {
    "Jpan": frozenset({"Hira", "Kana", "Hani"}),
    "Hang": frozenset({"Hang", "Hani"}),
    "Kore": frozenset({"Hang", "Hani"}),
}


@lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """The script of a letter ('Latn', 'Hani', 'Hira', ...), 'Zyyy' for other letters, None for a non-letter."""
    cat = unicodedata.category(ch)
    if not (cat[0] == "L" or ch in "\u3007\u3021\u3022\u3023\u3024\u3025\u3026\u3027\u3028\u3029"):
        return None
    cp = ord(ch)
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and _RANGES[i][0] <= cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    return "Zyyy"


TABLE_SCRIPTS = frozenset(r[2] for r in _RANGES) | frozenset(SCRIPT_MEMBERS)


@lru_cache(maxsize=None)
def _unicode_script(script: str):
    """For a script without a row in the table: its Unicode Script property as a compiled pattern."""
    import regex

    return regex.compile(rf"\p{{Script={script}}}")


def script_share(text: str, script: str) -> float:
    """Share of the letters of ``text`` that belong to ``script`` (0.0 when there are no letters). The scripts
    of the table are measured by it (as every shipped corpus was); any other ISO 15924 script (Telu, Mymr, ...)
    by its Unicode Script property."""
    if script in TABLE_SCRIPTS:
        members = SCRIPT_MEMBERS.get(script, frozenset({script}))
        inside = lambda ch, sc: sc in members  # noqa: E731
    else:
        pattern = _unicode_script(script)
        inside = lambda ch, sc: pattern.match(ch) is not None  # noqa: E731
    letters = hits = 0
    for ch, n in Counter(text).items():
        sc = char_script(ch)
        if sc is None:
            continue
        letters += n
        if inside(ch, sc):
            hits += n
    return hits / letters if letters else 0.0
