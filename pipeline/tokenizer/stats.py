"""vocab_stats.json: what the vocabulary holds and how it cuts held-out text (fertility, unknown rate)."""
from __future__ import annotations

import os

from pipeline.config import VocabSettings
from pipeline.tokenizer.training import NORMALIZATION, SPECIAL_IDS

STATS_MAX_LINES = 20_000


def vocab_stats(sp, lines: list[str]) -> dict:
    n = sp.get_piece_size()
    kinds = {"normal": 0, "control": 0, "unknown": 0, "byte": 0, "unused": 0}
    single_char = 0
    for i in range(n):
        if sp.is_control(i):
            kinds["control"] += 1
        elif sp.is_unknown(i):
            kinds["unknown"] += 1
        elif sp.is_byte(i):
            kinds["byte"] += 1
        elif sp.is_unused(i):
            kinds["unused"] += 1
        else:
            kinds["normal"] += 1
            if len(sp.id_to_piece(i).lstrip("▁")) == 1:
                single_char += 1
    normal = [sp.id_to_piece(i) for i in range(n) if not (sp.is_control(i) or sp.is_unknown(i))]
    tokens = words = chars = unks = byte_tokens = 0
    if lines:
        for ids, line in zip(sp.encode(lines, num_threads=os.cpu_count() or 1), lines):
            tokens += len(ids)
            unks += sum(1 for t in ids if t == SPECIAL_IDS["[UNK]"])
            byte_tokens += sum(1 for t in ids if sp.is_byte(t))
            words += len(line.split())
            chars += sum(1 for c in line if not c.isspace())
    return {
        "vocab_size": n,
        "pieces": {**kinds, "single_character": single_char, "first": normal[:50],
                   "longest": sorted(normal, key=lambda p: (-len(p), p))[:20]},
        "held_out": {
            "lines": len(lines), "words": words, "chars": chars, "tokens": tokens,
            "tokens_per_word": round(tokens / words, 4) if words else None,
            "tokens_per_char": round(tokens / chars, 4) if chars else None,
            "chars_per_token": round(chars / tokens, 4) if tokens else None,
            "unk_rate": round(unks / tokens, 6) if tokens else None,
            "unk_tokens": unks,
            # pieces of characters outside the vocabulary spelled as UTF-8 bytes (vocab.byte_fallback)
            "byte_tokens": byte_tokens,
        },
    }


def training_record(v: VocabSettings, *, documents_total: int, documents_sampled: int, documents_held_out: int,
                    sentences: int) -> dict:
    """How the vocabulary was trained (vocab_stats.json's "training")."""
    return {
        "model_type": v.model_type, "requested_size": v.size,
        "character_coverage": v.character_coverage, "byte_fallback": v.byte_fallback, "normalization": NORMALIZATION,
        "seed": v.seed, "documents_total": documents_total, "documents_sampled": documents_sampled,
        "documents_held_out": documents_held_out, "sentences": sentences,
        "max_sentence_length": v.max_sentence_length,
    }
