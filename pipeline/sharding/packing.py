"""The corpus packed into examples: the cleaned documents read and encoded batch by batch, each document's
sentences fed to the builder of its split, and ``index.json`` (docs/contracts.md) describing the result."""
from __future__ import annotations

import hashlib
import random
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq
import sentencepiece as spm

from pipeline.config import LanguageConfig, ShardSettings
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.sharding.builder import (CLS_ID, MASK_ID, PAD_ID, SEP_ID, UNK_ID, BuilderStats, ExampleBuilder,
                                       split_long)
from pipeline.sharding.split import SplitPlan
from pipeline.sharding.writer import ShardWriter

SPLITS = ("train", "validation")
FORMAT_VERSION = 1
_READ_BATCH = 256


def load_spm(layout: Layout):
    path = layout.tokenizer_dir / "spm.model"
    shown = layout.rel(path)
    if not path.is_file():
        raise StageError(f"{shown}: not found; run the vocab stage first (`python -m pipeline vocab {layout.lang}`)")
    sp = spm.SentencePieceProcessor(model_file=str(path))
    want = {"[PAD]": PAD_ID, "[UNK]": UNK_ID, "[CLS]": CLS_ID, "[SEP]": SEP_ID, "[MASK]": MASK_ID}
    got = {tok: sp.piece_to_id(tok) for tok in want}
    if got != want or sp.unk_id() != UNK_ID:
        raise StageError(f"{shown}: special ids are {got}, expected {want}; re-run the vocab stage")
    return sp, path


def iter_documents(files: list[Path], columns=("id", "text")) -> Iterator[list]:
    """Batches of rows (lists of column values) from the clean parquet files, in corpus order."""
    for f in files:
        pf = pq.ParquetFile(f)
        missing = [c for c in columns if c not in pf.schema_arrow.names]
        if missing:
            raise StageError(f"{f}: missing column(s) {missing}; re-run the clean stage")
        for batch in pf.iter_batches(batch_size=_READ_BATCH, columns=list(columns)):
            yield [batch.column(i).to_pylist() for i in range(len(columns))]


def doc_lines(text: str | None) -> list[str]:
    if not text:
        return []
    return [s for s in (line.strip() for line in text.split("\n")) if s]


def plan_split(files: list[Path], fraction: float) -> SplitPlan:
    """Pass 1, document ids only (streaming; nothing per document is kept): which go to validation."""
    plan = SplitPlan(fraction)
    for (ids,) in iter_documents(files, ("id",)):
        for doc_id in ids:
            plan.observe(str(doc_id))
    plan.finish()
    return plan


class Packer:
    """One ExampleBuilder and one ShardWriter per split; each document goes to the split the plan gives it."""

    def __init__(self, s: ShardSettings, plan: SplitPlan, out: Path):
        self.s, self.plan = s, plan
        self.builders: dict[str, ExampleBuilder] = {}
        self.writers: dict[str, ShardWriter] = {}
        for k, split in enumerate(SPLITS):
            rng = random.Random(s.seed * 1_000_003 + k)
            self.builders[split] = ExampleBuilder(s.max_seq_length, rng, s.single_segment_prob, s.short_seq_prob,
                                                  carry=s.overflow == "carry")
            self.writers[split] = ShardWriter(out, split, s.examples_per_shard, s.seed)
        self.empty_docs = 0

    def pack(self, files: list[Path], sp, threads: int) -> None:
        for doc_ids, texts in iter_documents(files):
            docs = [doc_lines(t) for t in texts]
            flat = [line for lines in docs for line in lines]
            encoded = sp.encode(flat, num_threads=threads) if flat else []
            pos = 0
            for doc_id, lines in zip(doc_ids, docs):
                self._document(str(doc_id), encoded[pos:pos + len(lines)])
                pos += len(lines)

    def _document(self, doc_id: str, sentences: list) -> None:
        split = "validation" if self.plan.is_validation(doc_id) else "train"
        builder, writer = self.builders[split], self.writers[split]
        if not sentences:
            self.empty_docs += 1
        for sentence in sentences:
            for piece in split_long(sentence, self.s.max_seq_length):
                ex = builder.add_sentence(piece)
                if ex is not None:
                    writer.add(ex)
        ex = builder.end_document()
        if ex is not None:
            writer.add(ex)

    def close(self) -> None:
        for w in self.writers.values():
            w.close()


def _split_index(s: ShardSettings, st: BuilderStats, files: list[str]) -> dict:
    return {
        "files": files,
        "examples": st.examples,
        "tokens": st.tokens,
        "documents": st.documents,
        "sentences": st.sentences,
        "mean_length": round(st.tokens / st.examples, 3) if st.examples else 0.0,
        "padding_fraction": (round(1 - st.tokens / (st.examples * s.max_seq_length), 6)
                             if st.examples else 0.0),
        "single_segment_examples": st.single_segment,
        "single_segment_draws": st.single_segment_draws,
        "short_target_draws": st.short_target_draws,
        "sentences_truncated": st.sentences_truncated,
        "tokens_dropped": st.content_tokens_in - st.content_tokens_out,
        "tokens_dropped_fraction": (round(1 - st.content_tokens_out / st.content_tokens_in, 6)
                                    if st.content_tokens_in else 0.0),
    }


def build_index(cfg: LanguageConfig, layout: Layout, sp, model_path: Path, packer: Packer,
                files: list[Path]) -> dict:
    s, plan = cfg.shard, packer.plan
    return {
        "format_version": FORMAT_VERSION,
        "language": cfg.language,
        "max_seq_length": s.max_seq_length,
        "vocab_size": sp.get_piece_size(),
        "pad_id": PAD_ID, "unk_id": UNK_ID, "cls_id": CLS_ID, "sep_id": SEP_ID, "mask_id": MASK_ID,
        "padded": False,
        "columns": {"input_ids": "list<int32>", "token_type_ids": "list<int8>"},
        "splits": {split: _split_index(s, packer.builders[split].stats, list(packer.writers[split].files))
                   for split in SPLITS},
        "seed": s.seed,
        "validation_fraction": s.validation_fraction,
        "validation_note": plan.note,
        "short_seq_prob": s.short_seq_prob,
        "single_segment_prob": s.single_segment_prob,
        "examples_per_shard": s.examples_per_shard,
        "documents": plan.documents,
        "empty_documents": packer.empty_docs,
        "tokenizer": {"path": layout.rel(model_path),
                      "sha256": hashlib.sha256(Path(model_path).read_bytes()).hexdigest()},
        "source_files": [layout.rel(f) for f in files],
        # only when not ELECTRA's default, so that an index written before the knob existed stays byte-identical
        # (pre-training's checkpoints are keyed by it)
        **({"overflow": s.overflow} if s.overflow != "truncate" else {}),
    }
