"""vocab: a seeded sample of data/<lang>/clean -> models/<lang>/tokenizer (SentencePiece + HF fast tokenizer).

Reads  data/<lang>/clean/*.parquet, data/<lang>/validation.json (must say "passed": true) and
       data/<lang>/review.json (the corpus must be approved: ``pipeline.review.gate``)
Writes models/<lang>/tokenizer/ (atomically, as a whole):
    spm.model, spm.vocab                      SentencePiece model (ids [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4)
    tokenizer.json                            `tokenizers` Unigram/BPE model with the same normalizer
    tokenizer_config.json, special_tokens_map.json   so that AutoTokenizer.from_pretrained(dir) loads it
    vocab_stats.json                          size, pieces, fertility and unk rate on held-out documents

The document sample is drawn with ``random.Random(vocab.seed)`` from the row count, at most
``vocab.sample_documents`` documents and ``vocab.sample_chars`` characters (``pipeline.tokenizer.corpus``);
how the bytes stay reproducible and the ids equal between SentencePiece and the fast tokenizer is said in
``pipeline.tokenizer``.
"""
from __future__ import annotations

from pathlib import Path
from typing import Iterator

import sentencepiece as spm

from pipeline.atomic import atomic_dir
from pipeline.config import VocabSettings
from pipeline.errors import StageError
from pipeline.review.gate import check_validation
from pipeline.stages import open_language
from pipeline.tokenizer.corpus import (choose_documents, document_chars, held_out_lines, iter_texts, row_counts,
                                      split_lines, within_chars)
from pipeline.tokenizer.hf import dump_json, write_hf_files
from pipeline.tokenizer.proto import quantize_scores
from pipeline.tokenizer.stats import STATS_MAX_LINES, training_record, vocab_stats
from pipeline.tokenizer.training import SPECIAL_IDS, train_spm, write_spm_vocab


def run(lang: str, root: Path) -> dict:
    root, cfg, layout = open_language(lang, root)
    v = cfg.vocab
    check_validation(layout)
    files = layout.require_clean_files()
    n_docs = sum(row_counts(files))
    if n_docs == 0:
        raise StageError(f"{layout.rel(layout.clean_dir)}: the cleaned corpus has no documents")
    train_rows, held_rows = choose_documents(n_docs, v.sample_documents, v.seed)
    chars = document_chars(files)
    train_rows = within_chars(train_rows, chars, v.sample_chars, v.seed)

    def sentences() -> Iterator[str]:
        for _, text in iter_texts(files, train_rows):
            yield from split_lines(text)

    with atomic_dir(layout.tokenizer_dir) as tmp:
        sp, n_sent = write_tokenizer(tmp, sentences(), v, lang)
        stats = vocab_stats(sp, held_out_lines(files, held_rows, STATS_MAX_LINES))
        stats["training"] = training_record(v, documents_total=n_docs, documents_sampled=len(train_rows),
                                            documents_held_out=len(held_rows), sentences=n_sent)
        stats["special_ids"] = dict(SPECIAL_IDS)
        dump_json(tmp / "vocab_stats.json", stats)
    return {"vocab_size": stats["vocab_size"], "model_type": v.model_type,
            "documents_sampled": len(train_rows), "characters_sampled": sum(chars[r] for r in train_rows),
            "sentences": n_sent,
            "tokens_per_word": stats["held_out"]["tokens_per_word"],
            "unk_rate": stats["held_out"]["unk_rate"],
            "tokenizer_dir": layout.rel(layout.tokenizer_dir)}


def write_tokenizer(folder: Path, sentences: Iterator[str], v: VocabSettings, name: str):
    """Train SentencePiece on ``sentences`` and write every tokenizer file into ``folder``; return the loaded
    processor and the number of sentences fed (also the joint model's vocab stage: ``joint_vocab``)."""
    model_bytes, n_sent = train_spm(sentences, v, name)
    if v.model_type == "unigram":
        model_bytes = quantize_scores(model_bytes)
    (folder / "spm.model").write_bytes(model_bytes)
    write_spm_vocab(folder / "spm.model", folder / "spm.vocab")
    write_hf_files(folder)
    return spm.SentencePieceProcessor(model_file=str(folder / "spm.model")), n_sent
