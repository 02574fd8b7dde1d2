"""Vocab stage: train a SentencePiece model on a seeded sample of the cleaned corpus and export it
as a Hugging Face fast tokenizer whose ids equal SentencePiece's.

Reads  data/<lang>/clean/*.parquet, data/<lang>/validation.json (must say "passed": true)
Writes models/<lang>/tokenizer/ (atomically, as a whole):
    spm.model, spm.vocab                      SentencePiece model (ids [PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4)
    tokenizer.json                            `tokenizers` Unigram/BPE model with the same normalizer
    tokenizer_config.json, special_tokens_map.json   so that AutoTokenizer.from_pretrained(dir) loads it
    vocab_stats.json                          size, pieces, fertility and unk rate on held-out documents

Determinism: the document sample is drawn with ``random.Random(vocab.seed)`` from the row count, the
sentences are fed in corpus order with SentencePiece's own sampling/shuffling off and the model is
serialized from memory (no temp path recorded in it), so the same input gives a byte-identical
``spm.model`` on the same machine. Training uses os.cpu_count() threads and SentencePiece records
num_threads in the model, so machines with another core count can produce other bytes.

Exact id equality with the fast tokenizer: the Unigram scores are rounded to multiples of 2**-8
(``quantize_scores``) so that SentencePiece's float32 and `tokenizers`' float64 Viterbi sums agree
exactly and ties break identically. A literal "[CLS]"/"[SEP]"/"[MASK]"/"[PAD]"/"[UNK]" typed in
text is the special token for the HF tokenizer (as usual in transformers; fill-mask relies on it),
while SentencePiece spells it out as ordinary pieces (control symbols never come from raw text).
"""
from __future__ import annotations

import bisect
import io
import json
import os
import random
import re
import struct
from pathlib import Path
from typing import Iterator

import pyarrow.parquet as pq
import sentencepiece as spm

from pipeline.config import LanguageConfig, load_language
from pipeline.errors import StageError
from pipeline.layout import Layout

SPECIAL_TOKENS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
                  "sep_token": "[SEP]", "mask_token": "[MASK]"}
SPECIAL_IDS = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
NORMALIZATION = "nmt_nfkc"
MODEL_MAX_LENGTH = 512
HELD_OUT_MAX_DOCS = 1000
STATS_MAX_LINES = 20_000
_READ_BATCH = 512


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------

def _rel(path: Path, root: Path) -> str:
    try:
        return str(Path(path).relative_to(root))
    except ValueError:
        return str(path)


def check_validation(layout: Layout) -> dict:
    """Return validation.json's content; StageError unless it exists and says passed: true, and the
    current corpus has a valid review decision (``data/<lang>/review.json``: approved, or
    auto-approved under ``review.policy: auto``, for this very corpus; see ``pipeline.review``)."""
    path = layout.validation
    rel = _rel(path, layout.root)
    if not path.is_file():
        raise StageError(f"{rel}: not found; run the validate stage first "
                         f"(`python -m pipeline validate {layout.lang}`)")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"{rel}: not valid JSON ({e}); re-run the validate stage") from None
    if not isinstance(report, dict) or "passed" not in report:
        raise StageError(f"{rel}: has no 'passed' field; re-run the validate stage")
    if report.get("passed") is not True:
        failed = [str(e.get("name")) for e in report.get("expectations") or []
                  if isinstance(e, dict) and not e.get("passed", True)]
        detail = f" (failed: {', '.join(failed)})" if failed else ""
        raise StageError(f"{rel}: the corpus did not pass validation{detail}; the vocab stage refuses "
                         f"to train on it. Fix the data or corpora/{layout.lang}.yaml and re-run clean "
                         f"and validate (see {report.get('data_docs', 'the quality report')})")
    from pipeline import review
    from pipeline.config import load_language

    review.require_approval(layout, load_language(layout.lang, layout.root), report)
    return report


def clean_files(layout: Layout) -> list[Path]:
    files = layout.clean_files()
    if not files:
        raise StageError(f"{_rel(layout.clean_dir, layout.root)}: no part-*.parquet files; "
                         f"run the clean stage first")
    return files


def row_counts(files: list[Path]) -> list[int]:
    return [pq.ParquetFile(f).metadata.num_rows for f in files]


def iter_texts(files: list[Path], wanted: list[int] | None = None) -> Iterator[tuple[int, str]]:
    """Stream (global row index, text) in corpus order; only the rows in sorted ``wanted`` if given.
    Files holding none of the wanted rows are not read."""
    wanted_set = set(wanted) if wanted is not None else None
    base = 0
    for f in files:
        pf = pq.ParquetFile(f)
        if "text" not in pf.schema_arrow.names:
            raise StageError(f"{f}: no 'text' column; re-run the clean stage")
        n = pf.metadata.num_rows
        if wanted is not None:
            k = bisect.bisect_left(wanted, base)
            if k == len(wanted) or wanted[k] >= base + n:
                base += n
                continue
        row = base
        for batch in pf.iter_batches(batch_size=_READ_BATCH, columns=["text"]):
            for t in batch.column(0).to_pylist():
                if (wanted_set is None or row in wanted_set) and t:
                    yield row, t
                row += 1
        base += n


def split_lines(text: str) -> list[str]:
    return [s for s in (line.strip() for line in text.split("\n")) if s]


def choose_documents(n_docs: int, sample: int, seed: int) -> tuple[list[int], list[int]]:
    """Deterministic (training rows, held-out rows), both sorted (corpus order).

    Held-out documents (2%, at most 1000, none when there are fewer than 2 documents) are set aside
    for vocab_stats.json; training is a uniform sample of at most ``sample`` of the others. Memory
    is O(sample), not O(documents): ``random.sample`` draws from a ``range``."""
    rng = random.Random(seed)
    n_held = 0 if n_docs < 2 else min(HELD_OUT_MAX_DOCS, max(1, round(0.02 * n_docs)))
    held = rng.sample(range(n_docs), n_held)
    held_set = set(held)
    if n_docs - n_held <= sample:
        train = [r for r in range(n_docs) if r not in held_set]
    else:
        pool = rng.sample(range(n_docs), sample + n_held)
        train = [r for r in pool if r not in held_set][:sample]
    return sorted(train), sorted(held)


# --------------------------------------------------------------------------------------------
# SentencePiece training
# --------------------------------------------------------------------------------------------

def trainer_options(cfg: LanguageConfig) -> dict:
    v = cfg.vocab
    return dict(
        model_type=v.model_type,
        vocab_size=v.size,
        character_coverage=v.character_coverage,
        max_sentence_length=v.max_sentence_length,
        normalization_rule_name=NORMALIZATION,
        remove_extra_whitespaces=True,
        add_dummy_prefix=True,
        pad_id=0, pad_piece="[PAD]",
        unk_id=1, unk_piece="[UNK]",
        bos_id=-1, eos_id=-1,
        control_symbols=["[CLS]", "[SEP]", "[MASK]"],
        byte_fallback=False,
        input_sentence_size=0,           # use every sentence we feed: our own seeded sample
        shuffle_input_sentence=False,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )


def _vocab_error(e: Exception, cfg: LanguageConfig, n_sentences: int) -> StageError:
    msg = str(e)
    key = f"corpora/{cfg.language}.yaml"
    m = re.search(r"Vocabulary size (?:is )?too high \((\d+)\).*?<=\s*(\d+)", msg)
    if m:
        return StageError(f"{key}: vocab.size is {m.group(1)} but the sampled corpus "
                          f"({n_sentences} sentences) only supports at most {m.group(2)}; set vocab.size "
                          f"<= {m.group(2)} (or add text / raise vocab.sample_documents)")
    m = re.search(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)", msg)
    if m:
        return StageError(f"{key}: vocab.size is {m.group(1)} but the corpus needs {m.group(2)} characters "
                          f"at vocab.character_coverage {cfg.vocab.character_coverage}; raise vocab.size above "
                          f"{m.group(2)} or lower vocab.character_coverage")
    return StageError(f"{key}: SentencePiece could not train a vocabulary with the settings in section "
                      f"'vocab': {msg.strip()}")


def train_spm(sentences: Iterator[str], cfg: LanguageConfig) -> tuple[bytes, int]:
    """Train on ``sentences``; return (serialized ModelProto, number of sentences fed).

    The model is written to memory (``model_writer``), not under a model_prefix: the prefix would
    be recorded in the proto and make the bytes depend on the (temporary) output path."""
    count = [0]

    def counted():
        for s in sentences:
            count[0] += 1
            yield s

    out = io.BytesIO()
    spm.set_random_generator_seed(cfg.vocab.seed)
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=counted(), model_writer=out, **trainer_options(cfg))
    except (RuntimeError, OSError) as e:
        if count[0] == 0:
            raise StageError(f"data/{cfg.language}/clean: no text to train a vocabulary on") from None
        raise _vocab_error(e, cfg, count[0]) from None
    if count[0] == 0:
        raise StageError(f"data/{cfg.language}/clean: no text to train a vocabulary on")
    return out.getvalue(), count[0]


# --------------------------------------------------------------------------------------------
# Hugging Face export
# --------------------------------------------------------------------------------------------

def normalizer_spec(model_bytes: bytes) -> dict:
    """NormalizerSpec of a SentencePiece ModelProto (field 3): name, precompiled_charsmap,
    add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces."""
    spec = {"name": "", "precompiled_charsmap": b"", "add_dummy_prefix": True,
            "remove_extra_whitespaces": True, "escape_whitespaces": True}
    for field, wt, value in _proto_fields(model_bytes):
        if field == 3 and wt == 2:
            for f2, w2, v2 in _proto_fields(value):
                if f2 == 1 and w2 == 2:
                    spec["name"] = v2.decode("utf-8")
                elif f2 == 2 and w2 == 2:
                    spec["precompiled_charsmap"] = bytes(v2)
                elif f2 == 3 and w2 == 0:
                    spec["add_dummy_prefix"] = bool(v2)
                elif f2 == 4 and w2 == 0:
                    spec["remove_extra_whitespaces"] = bool(v2)
                elif f2 == 5 and w2 == 0:
                    spec["escape_whitespaces"] = bool(v2)
    return spec


SCORE_QUANTUM = 1 / 256


def quantize_scores(model_bytes: bytes, quantum: float = SCORE_QUANTUM) -> bytes:
    """Round every piece score of a Unigram ModelProto to a multiple of ``quantum`` (2**-8).

    SentencePiece sums scores in float32, `tokenizers` in float64. With scores on a coarse binary
    grid every partial sum is exact in both (up to |sum| < 2**16, i.e. thousands of pieces per
    line), so the two Viterbi searches see the same numbers, break ties the same way (earliest
    start wins) and return the same ids. The change to each score is < 0.002 (log-probabilities).
    Floats are 4-byte fields, so the proto is patched in place without a protobuf dependency.
    """
    buf = bytearray(model_bytes)
    for field, wt, start, end in _proto_spans(model_bytes, 0, len(model_bytes)):
        if field == 1 and wt == 2:                                  # ModelProto.pieces
            for f2, w2, s2, e2 in _proto_spans(model_bytes, start, end):
                if f2 == 2 and w2 == 5:                             # SentencePiece.score (float)
                    (score,) = struct.unpack("<f", model_bytes[s2:e2])
                    buf[s2:e2] = struct.pack("<f", round(score / quantum) * quantum)
    return bytes(buf)


def _proto_spans(buf: bytes, i: int, n: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) of the fields in buf[i:n]."""
    def varint():
        nonlocal i
        shift = result = 0
        while True:
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7

    while i < n:
        key = varint()
        field, wt = key >> 3, key & 7
        if wt == 0:
            s = i
            varint()
            yield field, wt, s, i
        elif wt == 1:
            yield field, wt, i, i + 8
            i += 8
        elif wt == 2:
            ln = varint()
            yield field, wt, i, i + ln
            i += ln
        elif wt == 5:
            yield field, wt, i, i + 4
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")


def _proto_fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value): ints for varints, bytes otherwise."""
    for field, wt, s, e in _proto_spans(buf, 0, len(buf)):
        if wt == 0:
            result = shift = 0
            for b in buf[s:e]:
                result |= (b & 0x7F) << shift
                shift += 7
            yield field, wt, result
        else:
            yield field, wt, bytes(buf[s:e])


def build_fast_tokenizer(model_path: Path):
    """A `tokenizers.Tokenizer` equivalent to the SentencePiece model at ``model_path``."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, normalizers, pre_tokenizers, processors
    from tokenizers.models import BPE, Unigram

    sp = spm.SentencePieceProcessor(model_file=str(model_path))
    model_bytes = Path(model_path).read_bytes()
    spec = normalizer_spec(model_bytes)
    n = sp.get_piece_size()
    pieces = [(sp.id_to_piece(i), sp.get_score(i)) for i in range(n)]
    for tok, i in SPECIAL_IDS.items():
        if pieces[i][0] != tok:
            raise StageError(f"{model_path}: id {i} is {pieces[i][0]!r}, expected {tok!r}")

    if _model_type(model_bytes) == "bpe":
        vocab = {p: i for i, (p, _) in enumerate(pieces)}
        model = BPE(vocab, bpe_merges(pieces, sp), unk_token="[UNK]", fuse_unk=True, byte_fallback=False)
    else:
        model = Unigram(pieces, unk_id=SPECIAL_IDS["[UNK]"], byte_fallback=False)
    tok = Tokenizer(model)

    # SentencePiece: charsmap normalisation (NFKC etc.), then remove_extra_whitespaces (strip and
    # collapse runs of ' '), add_dummy_prefix, ' ' -> '▁'. Metaspace does the last two.
    norm = []
    if spec["precompiled_charsmap"]:
        norm.append(normalizers.Precompiled(spec["precompiled_charsmap"]))
    if spec["remove_extra_whitespaces"]:
        norm += [normalizers.Replace(Regex(" {2,}"), " "), _strip_spaces()]
    if norm:
        tok.normalizer = normalizers.Sequence(norm)
    scheme = "always" if spec["add_dummy_prefix"] else "never"
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme=scheme, split=True)
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme=scheme, split=True)
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False, single_word=False,
                                       lstrip=False, rstrip=False) for t in SPECIAL_IDS])
    cls, sep = SPECIAL_IDS["[CLS]"], SPECIAL_IDS["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return tok


def _strip_spaces():
    # strip only ' ' (SentencePiece's remove_extra_whitespaces), not every Unicode space
    from tokenizers import Regex, normalizers
    return normalizers.Sequence([normalizers.Replace(Regex("^ +"), ""), normalizers.Replace(Regex(" +$"), "")])


def _model_type(model_bytes: bytes) -> str:
    # TrainerSpec (field 2) . model_type (field 3): 1 unigram, 2 bpe, 3 word, 4 char
    for field, wt, value in _proto_fields(model_bytes):
        if field == 2 and wt == 2:
            for f2, w2, v2 in _proto_fields(value):
                if f2 == 3 and w2 == 0:
                    return {1: "unigram", 2: "bpe", 3: "word", 4: "char"}.get(v2, "unigram")
    return "unigram"


def bpe_merges(pieces: list[tuple[str, float]], sp) -> list[tuple[str, str]]:
    """Merges for a SentencePiece BPE model: every split of a normal piece into two vocabulary
    pieces, ranked by the merged piece's score (SentencePiece merges the best-scoring pair first)."""
    vocab = {p: i for i, (p, _) in enumerate(pieces)}
    merges = []
    for i, (piece, score) in enumerate(pieces):
        if not sp.is_control(i) and not sp.is_unknown(i) and len(piece) > 1:
            for k in range(1, len(piece)):
                left, right = piece[:k], piece[k:]
                if left in vocab and right in vocab:
                    merges.append((-score, i, vocab[left], vocab[right], left, right))
    merges.sort()
    return [(m[4], m[5]) for m in merges]


def _write_spm_vocab(model_file: Path, path: Path) -> None:
    """spm.vocab as SentencePiece writes it (piece TAB score), from the (patched) model."""
    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    with open(path, "w", encoding="utf-8") as f:
        for i in range(sp.get_piece_size()):
            f.write(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n")


def tokenizer_config() -> dict:
    added = {str(i): {"content": t, "lstrip": False, "normalized": False, "rstrip": False,
                      "single_word": False, "special": True} for t, i in SPECIAL_IDS.items()}
    return {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": MODEL_MAX_LENGTH,
        "model_input_names": ["input_ids", "token_type_ids", "attention_mask"],
        "padding_side": "right",
        "truncation_side": "right",
        "clean_up_tokenization_spaces": False,
        "added_tokens_decoder": added,
        **SPECIAL_TOKENS,
    }


def write_hf_files(folder: Path) -> None:
    tok = build_fast_tokenizer(folder / "spm.model")
    tok.save(str(folder / "tokenizer.json"), pretty=True)
    _dump(folder / "tokenizer_config.json", tokenizer_config())
    _dump(folder / "special_tokens_map.json", dict(SPECIAL_TOKENS))


def _dump(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


# --------------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------------

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
    tokens = words = chars = unks = 0
    if lines:
        for ids, line in zip(sp.encode(lines, num_threads=os.cpu_count() or 1), lines):
            tokens += len(ids)
            unks += sum(1 for t in ids if t == SPECIAL_IDS["[UNK]"])
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
        },
    }


# --------------------------------------------------------------------------------------------
# stage
# --------------------------------------------------------------------------------------------
