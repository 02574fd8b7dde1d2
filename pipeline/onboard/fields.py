"""Which field of a record format (JSONL, Parquet, Arrow, CSV, a ``datasets`` dataset) holds the text, decided
from the first records: the string field with the longest values, not a URL or an identifier; a short
``title``-like field beside it is joined in front (``sources[].fields``)."""
from __future__ import annotations

import re
from dataclasses import dataclass

from pipeline.config import ConfigError

SAMPLE_RECORDS = 200
TITLE_NAMES = ("title", "headline", "heading", "subject")
_ID_LIKE = re.compile(r"^(\S{0,64}|https?://\S*)$")   # no whitespace and short, or a URL


@dataclass
class Candidate:
    name: str
    share: float        # records where it is a non-empty string
    mean_chars: float
    id_like: float      # share of its values that look like an identifier or a URL

    def describe(self) -> str:
        kind = " (identifiers/URLs)" if self.is_id else ""
        return f"{self.name} ({self.mean_chars:,.0f} characters on average{kind})"

    @property
    def is_id(self) -> bool:
        return self.id_like >= 0.5


def candidates(records: list[dict], names: list[str]) -> list[Candidate]:
    """String fields of the records (in ``names`` order), with their statistics."""
    out = []
    n = max(1, len(records))
    for name in names:
        vals = [r.get(name) for r in records]
        strs = [v for v in vals if isinstance(v, str) and v.strip()]
        if len(strs) < 0.5 * n:
            continue
        out.append(Candidate(name, len(strs) / n, sum(map(len, strs)) / max(1, len(strs)),
                             sum(bool(_ID_LIKE.match(v.strip())) for v in strs) / max(1, len(strs))))
    return out


def choose(where: str, records: list[dict], names: list[str], types: dict[str, str],
           prefer: str | None = None) -> tuple[dict, str]:
    """(``sources`` settings: field or fields, a comment naming the candidates); a ConfigError naming ``where``
    when no field holds text. ``types`` describes every field for that message. A text field named for the
    language (``prefer``: ``sw``, or ``translation.sw`` in a record of several languages) is chosen over the
    longest."""
    cands = candidates(records, names)
    texts = [c for c in cands if not c.is_id]
    if not texts:
        shown = ", ".join(f"{k} ({v})" for k, v in types.items()) or "none"
        found = "; string fields: " + ", ".join(c.describe() for c in cands) if cands else ""
        raise ConfigError(f"{where}: no field holds text in the first {len(records)} record(s) (fields: {shown}"
                          f"{found}); name the source yourself in corpora/<code>.yaml")
    named = next((c for c in texts if prefer and c.name.rsplit(".", 1)[-1] == prefer), None)
    if named is not None:
        return {"field": named.name}, (f"text fields: {', '.join(c.describe() for c in cands)}; chose {named.name} "
                                       f"(named for the language {prefer!r})")
    body = max(texts, key=lambda c: c.mean_chars)
    title = next((c for c in texts if c.name.lower() in TITLE_NAMES and c is not body
                  and c.mean_chars < body.mean_chars), None)
    settings = {"fields": [title.name, body.name]} if title else {"field": body.name}
    why = (f"text fields: {', '.join(c.describe() for c in cands)}; chose "
           + (f"{title.name} + {body.name} (a title joined to its body)" if title else f"{body.name} (the longest)"))
    return settings, why
