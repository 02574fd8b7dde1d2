"""The document filters before language ID: ``empty`` (after normalisation), ``too_short``/``too_long`` and
``script``, applied in that order.

Each filter is a step in datatrove's manner: ``filter(doc)`` returns True to keep the document or
``(False, reason, details)`` to drop it, and the step counts its own drops (documents and characters per
reason) and keeps the first ``EXAMPLES`` dropped documents of each reason for ``rejected.jsonl``.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from pipeline.cleaning.normalize import script_share
from pipeline.config import CleanSettings
from pipeline.readers import RawDoc

EXAMPLES = 20


@dataclass
class Doc:
    """A normalised document on its way through the filters; filters may note values in ``meta``."""
    raw: RawDoc
    text: str
    meta: dict = field(default_factory=dict)


class DocumentFilter:
    name = ""                         # the funnel step
    reasons: tuple[str, ...] = ()     # the drop reasons it reports

    def __init__(self, c: CleanSettings, script: str):
        self.c, self.script = c, script
        self.dropped = {r: [0, 0] for r in self.reasons}   # reason -> [documents, characters]
        self.examples: list[dict] = []
        self._shown: dict[str, int] = {}

    def filter(self, doc: Doc) -> bool | tuple[bool, str, dict]:
        raise NotImplementedError

    def shown_text(self, doc: Doc) -> str:
        """The text an example shows (the normalised text; ``empty`` shows what normalisation emptied)."""
        return doc.text

    def __call__(self, doc: Doc) -> bool:
        verdict = self.filter(doc)
        if verdict is True:
            return True
        _, reason, details = verdict
        self.count(reason, doc.raw, self.shown_text(doc), len(doc.text), details)
        return False

    def count(self, reason: str, raw: RawDoc, text: str, chars: int, details: dict) -> None:
        self.dropped[reason][0] += 1
        self.dropped[reason][1] += chars
        if self._shown.get(reason, 0) < EXAMPLES:
            self._shown[reason] = self._shown.get(reason, 0) + 1
            self.examples.append({"reason": reason, "source": raw.source, "line": raw.line, "text": text[:2000],
                                  "details": details})


class EmptyFilter(DocumentFilter):
    name, reasons = "normalize", ("empty",)

    def filter(self, doc):
        return True if doc.text else (False, "empty", {})

    def shown_text(self, doc):
        return doc.raw.text


class LengthFilter(DocumentFilter):
    name, reasons = "length", ("too_short", "too_long")

    def filter(self, doc):
        n, c = len(doc.text), self.c
        if n < c.min_chars:
            return False, "too_short", {"n_chars": n, "min_chars": c.min_chars}
        if n > c.max_chars:
            return False, "too_long", {"n_chars": n, "max_chars": c.max_chars}
        return True


class ScriptFilter(DocumentFilter):
    name, reasons = "script", ("script",)

    def filter(self, doc):
        share = doc.meta["script_share"] = script_share(doc.text, self.script)
        if share < self.c.min_script_share:
            return False, "script", {"script_share": round(share, 4), "min_script_share": self.c.min_script_share}
        return True


FILTERS = (EmptyFilter, LengthFilter, ScriptFilter)
PRE_LID = tuple(r for f in FILTERS for r in f.reasons)   # ("empty", "too_short", "too_long", "script")


class PreLidFilters:
    """The filters above as one chain (one instance per work unit: the counts are the unit's)."""

    def __init__(self, c: CleanSettings, script: str):
        self.empty, self.length, self.script = (f(c, script) for f in FILTERS)
        self.steps = (self.empty, self.length, self.script)

    def __call__(self, doc: Doc) -> bool:
        return all(step(doc) for step in self.steps)

    def dropped(self) -> dict[str, list[int]]:
        return {r: step.dropped[r] for step in self.steps for r in step.reasons}

    def examples(self) -> list[dict]:
        return [ex for step in self.steps for ex in step.examples]
