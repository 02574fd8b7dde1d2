"""vocab: a seeded sample of data/<lang>/clean -> models/<lang>/tokenizer (SentencePiece + HF fast tokenizer)."""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import sentencepiece as spm

from pipeline.atomic import atomic_dir
from pipeline.errors import StageError
from pipeline.stages import open_language
from pipeline.vocab import (NORMALIZATION, SPECIAL_IDS, STATS_MAX_LINES, _dump, _rel, _write_spm_vocab,
                            check_validation, choose_documents, clean_files, iter_texts, quantize_scores,
                            row_counts, split_lines, train_spm, vocab_stats, write_hf_files)


def run(lang: str, root: Path) -> dict:
    root, cfg, layout = open_language(lang, root)
    check_validation(layout)
    files = clean_files(layout)
    counts = row_counts(files)
    n_docs = sum(counts)
    if n_docs == 0:
        raise StageError(f"{_rel(layout.clean_dir, root)}: the cleaned corpus has no documents")
    train_rows, held_rows = choose_documents(n_docs, cfg.vocab.sample_documents, cfg.vocab.seed)

    def sentences() -> Iterator[str]:
        for _, text in iter_texts(files, train_rows):
            for line in split_lines(text):
                yield line

    with atomic_dir(layout.tokenizer_dir) as tmp:
        model_bytes, n_sent = train_spm(sentences(), cfg)
        if cfg.vocab.model_type == "unigram":
            model_bytes = quantize_scores(model_bytes)
        (tmp / "spm.model").write_bytes(model_bytes)
        _write_spm_vocab(tmp / "spm.model", tmp / "spm.vocab")
        write_hf_files(tmp)
        held_lines: list[str] = []
        for _, text in iter_texts(files, held_rows):
            held_lines.extend(split_lines(text))
            if len(held_lines) >= STATS_MAX_LINES:
                held_lines = held_lines[:STATS_MAX_LINES]
                break
        sp = spm.SentencePieceProcessor(model_file=str(tmp / "spm.model"))
        stats = vocab_stats(sp, held_lines)
        stats["training"] = {
            "model_type": cfg.vocab.model_type, "requested_size": cfg.vocab.size,
            "character_coverage": cfg.vocab.character_coverage, "normalization": NORMALIZATION,
            "seed": cfg.vocab.seed, "documents_total": n_docs, "documents_sampled": len(train_rows),
            "documents_held_out": len(held_rows), "sentences": n_sent,
            "max_sentence_length": cfg.vocab.max_sentence_length,
        }
        stats["special_ids"] = dict(SPECIAL_IDS)
        _dump(tmp / "vocab_stats.json", stats)
    return {"vocab_size": stats["vocab_size"], "model_type": cfg.vocab.model_type,
            "documents_sampled": len(train_rows), "sentences": n_sent,
            "tokens_per_word": stats["held_out"]["tokens_per_word"],
            "unk_rate": stats["held_out"]["unk_rate"],
            "tokenizer_dir": _rel(layout.tokenizer_dir, root)}
