"""ftfy's mojibake check (``ftfy.badness.is_bad``), with the same answer on every text, in a fraction of the time.

Why: ``is_bad`` searches the whole document with ``BADNESS_RE``, an alternation of 37 short rules, each tried at
every position; it was ~10-15% of the clean stage on English and Russian, although almost no document holds
mojibake. Each rule is a sequence whose positions mostly take characters from a fixed set ("a currency sign",
"an accented capital", "Ђ"). A rule can match only in a text that holds at least one character of each such
set, so ``is_bad`` here takes the set of the text's characters, keeps the rules that pass that test and
searches with the alternation of those alone (usually none: a Russian document has Cyrillic letters but no
Ђ, so ``вЂ`` cannot match). A match of BADNESS_RE is a match of one of its rules, and that rule is kept, so
the answer is the same. The rules are read from ftfy's own pattern (``re``'s parser), not copied; if the
pattern is not an alternation this code understands, ftfy's ``is_bad`` is used as it is.
``tests/test_clean_speed.py`` compares the two on the shared text of all 11 languages and on mojibake.
"""
from __future__ import annotations

import re
from functools import lru_cache

try:   # re's parser: public as sre_parse before Python 3.11, as re._parser since (sre_parse warns there)
    import re._constants as _c
    import re._parser as _p
except ImportError:  # pragma: no cover - Python < 3.11
    import sre_constants as _c
    import sre_parse as _p


def _required_sets(items) -> list[frozenset[str]]:
    """For a parsed sequence: one character set per position that must match a character of that set (an
    optional part, ``.``, ``\\s``/``\\w`` or a negated class constrains nothing and is left out)."""
    out = []
    for op, av in items:
        if op is _c.LITERAL:
            out.append(frozenset(chr(av)))
        elif op is _c.IN:
            chars: set[str] = set()
            for o, a in av:
                if o is _c.LITERAL:
                    chars.add(chr(a))
                elif o is _c.RANGE:
                    chars.update(map(chr, range(a[0], a[1] + 1)))
                else:          # a category or a negation: any character may match
                    break
            else:
                out.append(frozenset(chars))
        elif op in (_c.MAX_REPEAT, _c.MIN_REPEAT) and av[0] >= 1:
            out.extend(_required_sets(av[2]))
        elif op is _c.SUBPATTERN and not av[1] & re.IGNORECASE:   # (?i:...) would match other cases
            out.extend(_required_sets(av[3]))
    return out


def _top_level_pieces(pattern: str) -> list[str]:
    """The pattern's source split at its top-level ``|`` (outside classes, groups and escapes)."""
    pieces, cur, depth, in_class, escaped = [], [], 0, False, False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            pieces.append("".join(cur))
            cur = []
            continue
        cur.append(ch)
    pieces.append("".join(cur))
    return pieces


def _plain(x):
    if isinstance(x, _p.SubPattern):
        return tuple(_plain(i) for i in x.data)
    if isinstance(x, (list, tuple)):
        return tuple(_plain(i) for i in x)
    return x


@lru_cache(maxsize=1)
def _rules() -> tuple[list[str], list[list[frozenset[str]]], int] | None:
    """(source of each rule, its required character sets, flags), or None when BADNESS_RE is not a plain
    alternation whose source splits into the same rules the parser sees."""
    from ftfy.badness import BADNESS_RE

    flags = BADNESS_RE.flags
    if flags & re.IGNORECASE:
        return None
    tree = _p.parse(BADNESS_RE.pattern, flags)
    if len(tree) != 1 or tree[0][0] is not _c.BRANCH:
        return None
    branches = tree[0][1][1]
    pieces = _top_level_pieces(BADNESS_RE.pattern)
    if len(pieces) != len(branches) or any(_plain(_p.parse(s, flags)) != _plain(b)
                                           for s, b in zip(pieces, branches)):
        return None
    return pieces, [_required_sets(b) for b in branches], flags


@lru_cache(maxsize=256)
def _alternation(kept: tuple[int, ...]) -> re.Pattern:
    pieces, _, flags = _rules()
    return re.compile("|".join(pieces[i] for i in kept), flags)


def is_bad(text: str, chars: set[str] | None = None) -> bool:
    """``ftfy.badness.is_bad(text)``: does the text hold something BADNESS_RE calls mojibake? ``chars``: the
    text's distinct characters, when the caller has them."""
    rules = _rules()
    if rules is None:
        from ftfy.badness import is_bad as ftfy_is_bad

        return ftfy_is_bad(text)
    chars = set(text) if chars is None else chars
    kept = tuple(i for i, sets in enumerate(rules[1]) if all(not chars.isdisjoint(s) for s in sets))
    return bool(kept) and _alternation(kept).search(text) is not None
