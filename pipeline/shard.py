"""Shard stage: cut the cleaned corpus into ELECTRA pre-training examples.

Reads  data/<lang>/clean/*.parquet, models/<lang>/tokenizer/spm.model
Writes data/<lang>/shards/ (atomically, as a whole):
    train-00000.parquet ...       columns input_ids list<int32>, token_type_ids list<int8>
    validation-00000.parquet ...  (same; whole documents, chosen by a hash of the document id)
    index.json                    see docs/contracts.md and ``build_index`` below

Examples are built exactly like the official ELECTRA ``build_pretraining_dataset.py``
(``ExampleBuilder``): the lines of a document (its sentences/paragraphs) are accumulated until the
target length is reached or the document ends (examples never span two documents), then split into
segment A and B: ``[CLS] A [SEP] B [SEP]`` with token_type_ids 0 for ``[CLS] A [SEP]`` and 1 for
``B [SEP]``. With probability ``single_segment_prob`` the example has one segment only; with
probability ``short_seq_prob`` the *next* example gets a random target length in [5, max]. Overlong
lines (one paragraph per line is common: Wikipedia, news) are cut into pieces of half an example
instead of being truncated as ELECTRA's builder does — truncation dropped about a quarter of the tokens
of paragraph-per-line corpora. index.json still counts anything dropped.
No padding is stored. Everything is seeded by ``shard.seed``: a re-run gives byte-identical files.
"""
from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import sentencepiece as spm

from pipeline.errors import StageError
from pipeline.layout import Layout

PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 1, 2, 3, 4
SPLITS = ("train", "validation")
FORMAT_VERSION = 1
_READ_BATCH = 256
_SINGLE_SEGMENT_TARGET = 1 << 30      # ELECTRA uses 100000: "everything goes to segment A"

SCHEMA = pa.schema([("input_ids", pa.list_(pa.int32())), ("token_type_ids", pa.list_(pa.int8()))])


def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------------------------
# example building (port of ELECTRA's ExampleBuilder)
# --------------------------------------------------------------------------------------------

def split_long(ids, max_seq_length: int):
    """A line longer than fits an example, as pieces of (max_seq_length - 3) // 2 tokens; else the line."""
    if len(ids) <= max_seq_length - 3:
        return [ids]
    step = max(1, (max_seq_length - 3) // 2)
    return [ids[i:i + step] for i in range(0, len(ids), step)]


@dataclass
class BuilderStats:
    examples: int = 0
    tokens: int = 0                # len(input_ids) summed, [CLS]/[SEP] included
    single_segment: int = 0        # examples with no segment B (drawn or because of one sentence)
    single_segment_draws: int = 0  # times the single_segment_prob draw fired
    short_target_draws: int = 0    # times the short_seq_prob draw fired
    sentences: int = 0
    sentences_truncated: int = 0
    content_tokens_in: int = 0     # sentence tokens fed (before any truncation)
    content_tokens_out: int = 0    # sentence tokens that made it into examples
    documents: int = 0


class ExampleBuilder:
    """Accumulates the sentences of one document at a time into examples of <= max_length ids.

    ``add_sentence`` / ``end_document`` return a finished example ``(input_ids, token_type_ids)``
    or None. Same decisions, same order of random draws as ELECTRA's builder.
    """

    def __init__(self, max_length: int, rng: random.Random, single_segment_prob: float = 0.1,
                 short_seq_prob: float = 0.05, cls_id: int = CLS_ID, sep_id: int = SEP_ID):
        if max_length < 5:
            raise ValueError("max_length must be at least 5")
        self.max_length = max_length
        self.rng = rng
        self.single_segment_prob = single_segment_prob
        self.short_seq_prob = short_seq_prob
        self.cls_id, self.sep_id = cls_id, sep_id
        self.target_length = max_length
        self._current: list[list[int]] = []
        self._current_length = 0
        self.stats = BuilderStats()

    def add_sentence(self, ids) -> tuple[list[int], list[int]] | None:
        n = len(ids)
        if n == 0:
            return None
        self.stats.sentences += 1
        self.stats.content_tokens_in += n
        if n > self.max_length:
            # anything past max_length could never reach an example; ELECTRA truncates later
            # ([:max_length - 2]) with the same result
            ids = ids[:self.max_length]
            self.stats.sentences_truncated += 1
        self._current.append(list(ids))
        self._current_length += len(ids)
        if self._current_length >= self.target_length:
            return self._create_example()
        return None

    def end_document(self) -> tuple[list[int], list[int]] | None:
        self.stats.documents += 1
        if self._current_length:
            return self._create_example()
        return None

    def _create_example(self) -> tuple[list[int], list[int]]:
        rng = self.rng
        if rng.random() < self.single_segment_prob:
            first_target = _SINGLE_SEGMENT_TARGET
            self.stats.single_segment_draws += 1
        else:
            first_target = (self.target_length - 3) // 2     # -3: [CLS] and two [SEP] to come

        first: list[int] = []
        second: list[int] = []
        for sentence in self._current:
            # segment A takes the sentence if (1) A is empty, (2) it keeps A under its target, or
            # (3) 50% of the time when it would take A over its target (and B is still empty)
            if (len(first) == 0
                    or len(first) + len(sentence) < first_target
                    or (len(second) == 0 and len(first) < first_target and rng.random() < 0.5)):
                first += sentence
            else:
                second += sentence

        first = first[:self.max_length - 2]
        second = second[:max(0, self.max_length - len(first) - 3)]

        self._current = []
        self._current_length = 0
        if rng.random() < self.short_seq_prob:
            self.target_length = rng.randint(5, self.max_length)
            self.stats.short_target_draws += 1
        else:
            self.target_length = self.max_length

        input_ids = [self.cls_id] + first + [self.sep_id]
        type_ids = [0] * len(input_ids)
        if second:
            input_ids += second + [self.sep_id]
            type_ids += [1] * (len(second) + 1)
        else:
            self.stats.single_segment += 1
        self.stats.examples += 1
        self.stats.tokens += len(input_ids)
        self.stats.content_tokens_out += len(first) + len(second)
        return input_ids, type_ids


# --------------------------------------------------------------------------------------------
# validation split
# --------------------------------------------------------------------------------------------

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


# --------------------------------------------------------------------------------------------
# output
# --------------------------------------------------------------------------------------------

class ShardWriter:
    """Buffers examples of one split and writes ``<split>-NNNNN.parquet`` every ``per_shard`` rows.
    Each shard's rows are shuffled with their own seeded RNG before writing (the builder's random
    stream is left untouched); readers should still shuffle across shards."""

    def __init__(self, folder: Path, split: str, per_shard: int, seed: int):
        self.folder, self.split, self.per_shard, self.seed = folder, split, per_shard, seed
        self.files: list[str] = []
        self._ids: list[list[int]] = []
        self._types: list[list[int]] = []

    def add(self, example) -> None:
        self._ids.append(example[0])
        self._types.append(example[1])
        if len(self._ids) >= self.per_shard:
            self.flush()

    def flush(self, force: bool = False) -> None:
        if not self._ids and not (force and not self.files):
            return
        order = list(range(len(self._ids)))
        random.Random(f"{self.seed}/{self.split}/{len(self.files)}").shuffle(order)
        ids = [self._ids[i] for i in order]
        types = [self._types[i] for i in order]
        name = f"{self.split}-{len(self.files):05d}.parquet"
        pq.write_table(_to_table(ids, types), self.folder / name, compression="zstd")
        self.files.append(name)
        self._ids, self._types = [], []

    def close(self) -> None:
        # an empty split still gets one (empty) file so readers see the schema
        self.flush(force=True)


def _to_table(ids: list[list[int]], types: list[list[int]]) -> pa.Table:
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat_ids = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(offsets[-1]))
    flat_types = np.fromiter((t for x in types for t in x), dtype=np.int8, count=int(offsets[-1]))
    off = pa.array(offsets, type=pa.int32())
    return pa.table({
        "input_ids": pa.ListArray.from_arrays(off, pa.array(flat_ids, type=pa.int32())),
        "token_type_ids": pa.ListArray.from_arrays(off, pa.array(flat_types, type=pa.int8())),
    }, schema=SCHEMA)


# --------------------------------------------------------------------------------------------
# stage
# --------------------------------------------------------------------------------------------

def load_spm(layout: Layout):
    path = layout.tokenizer_dir / "spm.model"
    rel = _rel(path, layout.root)
    if not path.is_file():
        raise StageError(f"{rel}: not found; run the vocab stage first (`python -m pipeline vocab {layout.lang}`)")
    sp = spm.SentencePieceProcessor(model_file=str(path))
    want = {"[PAD]": PAD_ID, "[UNK]": UNK_ID, "[CLS]": CLS_ID, "[SEP]": SEP_ID, "[MASK]": MASK_ID}
    got = {tok: sp.piece_to_id(tok) for tok in want}
    if got != want or sp.unk_id() != UNK_ID:
        raise StageError(f"{rel}: special ids are {got}, expected {want}; re-run the vocab stage")
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


def build_index(cfg, layout, sp, model_path, plan, builders, writers, files, empty_docs) -> dict:
    s = cfg.shard
    splits = {}
    for split in SPLITS:
        st: BuilderStats = builders[split].stats
        splits[split] = {
            "files": list(writers[split].files),
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
    return {
        "format_version": FORMAT_VERSION,
        "language": cfg.language,
        "max_seq_length": s.max_seq_length,
        "vocab_size": sp.get_piece_size(),
        "pad_id": PAD_ID, "unk_id": UNK_ID, "cls_id": CLS_ID, "sep_id": SEP_ID, "mask_id": MASK_ID,
        "padded": False,
        "columns": {"input_ids": "list<int32>", "token_type_ids": "list<int8>"},
        "splits": splits,
        "seed": s.seed,
        "validation_fraction": s.validation_fraction,
        "validation_note": plan.note,
        "short_seq_prob": s.short_seq_prob,
        "single_segment_prob": s.single_segment_prob,
        "examples_per_shard": s.examples_per_shard,
        "documents": plan.documents,
        "empty_documents": empty_docs,
        "tokenizer": {"path": _rel(model_path, layout.root),
                      "sha256": hashlib.sha256(Path(model_path).read_bytes()).hexdigest()},
        "source_files": [_rel(f, layout.root) for f in files],
    }
