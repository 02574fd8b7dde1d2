"""The validation split: whole documents, chosen by a hash of the document id (independent of seeds)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

def doc_hash(doc_id: str) -> float:
    """Deterministic uniform number in [0, 1) for a document id (independent of seeds)."""
    h = hashlib.sha1(b"electra-foundry/validation/" + doc_id.encode("utf-8")).digest()
    return int.from_bytes(h[:8], "big") / 2.0 ** 64


@dataclass
class SplitPlan:
    """Which documents go to validation: hash < fraction, plus the fallbacks below."""
    fraction: float
    documents: int = 0
    below: int = 0                           # documents with hash < fraction
    min_doc: tuple[float, str] | None = None
    max_doc: tuple[float, str] | None = None
    note: str = ""
    _force_val: str | None = None
    _force_train: str | None = None

    def observe(self, doc_id: str) -> None:
        u = doc_hash(doc_id)
        self.documents += 1
        self.below += u < self.fraction
        if self.min_doc is None or (u, doc_id) < self.min_doc:
            self.min_doc = (u, doc_id)
        if self.max_doc is None or (u, doc_id) > self.max_doc:
            self.max_doc = (u, doc_id)

    def finish(self) -> None:
        self._force_val = self._force_train = None
        if self.fraction <= 0:
            self.note = "validation_fraction is 0: no validation split"
        elif self.documents < 2:
            self.note = (f"only {self.documents} document(s): too little data for a validation split; "
                         f"validation is empty")
        elif self.below == 0:
            self._force_val = self.min_doc[1]
            self.note = (f"no document fell under validation_fraction {self.fraction}: the single document "
                         f"with the smallest hash was held out for validation (small corpus)")
        elif self.below == self.documents:
            self._force_train = self.max_doc[1]
            self.note = "every document fell under validation_fraction: one was kept for training"

    def is_validation(self, doc_id: str) -> bool:
        if self.fraction <= 0 or self.documents < 2:
            return False
        if doc_id == self._force_val:
            return True
        if doc_id == self._force_train:
            return False
        return doc_hash(doc_id) < self.fraction
