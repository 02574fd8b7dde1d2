"""The joint vocabulary's text: an alpha-smoothed sample of the members' cleaned corpora.

The budget is the vocab section's ``sample_documents`` in characters (that many documents of the members'
mean length, at most all their text and ``sample_chars``); member i gets p_i of it
(``sampling.probabilities`` of the members' characters), drawn from its documents in seeded passes, so a small member's documents repeat and its
pieces survive SentencePiece's pruning. Each member's held-out documents are the very ones its
monolingual vocab stage holds out (``choose_documents`` with the member's vocab seed and sample size):
never trained on, and the fertility of both vocabularies is measured on the same text.
"""
from __future__ import annotations

import random
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from pipeline.config import load_language
from pipeline.config.joint import JointConfig
from pipeline.layout import Layout
from pipeline.tokenizer.corpus import choose_documents, document_chars, iter_texts, split_lines, take_chars


@dataclass
class MemberSample:
    lang: str
    files: list[Path]
    rows: list[int]        # training documents, repeated as drawn
    held_out: list[int]    # the monolingual vocab's held-out documents
    chars: int             # characters drawn

    def sentences(self) -> Iterator[str]:
        counts = Counter(self.rows)
        for row, text in iter_texts(self.files, sorted(counts)):
            lines = split_lines(text)
            for _ in range(counts[row]):
                yield from lines


def plan(root: Path, cfg: JointConfig, record: dict) -> dict[str, MemberSample]:
    members = record["members"]
    total_chars = sum(r["characters"] for r in members.values())
    total_docs = sum(r["documents"] for r in members.values())
    budget = min(total_chars, cfg.vocab.sample_documents * total_chars / max(total_docs, 1), cfg.vocab.sample_chars)
    rng = random.Random(cfg.sampling.seed)
    out = {}
    for m in cfg.members:
        lay, mv = Layout(root, m), load_language(m, root).vocab
        files = lay.require_clean_files()
        chars = document_chars(files)
        train, held = choose_documents(len(chars), mv.sample_documents, mv.seed)
        rows = take_chars(train, chars, round(members[m]["share_smoothed"] * budget), rng)
        out[m] = MemberSample(m, files, rows, held, sum(chars[i] for i in rows))
    return out


def sentences(samples: dict[str, MemberSample]) -> Iterator[str]:
    for s in samples.values():
        yield from s.sentences()
