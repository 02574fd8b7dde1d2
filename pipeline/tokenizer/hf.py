"""The Hugging Face fast tokenizer equivalent to the SentencePiece model, and the files that make
``AutoTokenizer.from_pretrained(dir)`` load it.

A literal "[CLS]"/"[SEP]"/"[MASK]"/"[PAD]"/"[UNK]" typed in text is the special token for the HF
tokenizer (as usual in transformers; fill-mask relies on it), while SentencePiece spells it out as
ordinary pieces (control symbols never come from raw text).
"""
from __future__ import annotations

import json
from pathlib import Path

import sentencepiece as spm

from pipeline.errors import StageError
from pipeline.tokenizer.proto import model_type, normalizer_spec
from pipeline.tokenizer.training import SPECIAL_IDS

SPECIAL_TOKENS = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
                  "sep_token": "[SEP]", "mask_token": "[MASK]"}
MODEL_MAX_LENGTH = 512


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

    # SentencePiece's byte fallback (vocab.byte_fallback): its 256 <0xNN> pieces, used for a character outside
    # the vocabulary. `tokenizers` does the same when told (byte_fallback=True); transformers' generic
    # SpmConverter would not (it warns and maps such characters to [UNK]), one reason this module builds its own.
    byte_fallback = any(sp.is_byte(i) for i in range(n))
    if byte_fallback:
        pieces = _unreachable_bytes(pieces, sp)
    if model_type(model_bytes) == "bpe":
        vocab = {p: i for i, (p, _) in enumerate(pieces)}
        model = BPE(vocab, bpe_merges(pieces, sp), unk_token="[UNK]", fuse_unk=True, byte_fallback=byte_fallback)
    else:
        model = Unigram(pieces, unk_id=SPECIAL_IDS["[UNK]"], byte_fallback=byte_fallback)
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
    metaspace = decoders.Metaspace(replacement="▁", prepend_scheme=scheme, split=True)
    # byte pieces back to the characters they spell, then the usual '▁' -> ' '
    tok.decoder = decoders.Sequence([decoders.ByteFallback(), metaspace]) if byte_fallback else metaspace
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False, single_word=False,
                                       lstrip=False, rstrip=False) for t in SPECIAL_IDS])
    cls, sep = SPECIAL_IDS["[CLS]"], SPECIAL_IDS["[SEP]"]
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls), ("[SEP]", sep)],
    )
    return tok


def _unreachable_bytes(pieces: list[tuple[str, float]], sp) -> list[tuple[str, float]]:
    """Byte pieces scored far below every other piece. SentencePiece never matches a byte piece against text
    (only its fallback emits them); `tokenizers`' Unigram does, so a literal "<0x41>" typed in the text would
    become one byte piece there and ordinary pieces in SentencePiece. With this score the ordinary pieces win;
    only when one of the characters "<0x41>" spells is itself outside the vocabulary does `tokenizers` still
    take the byte piece (its [UNK] costs 10 below the lowest score, whatever that is): the one known difference
    between the two. The fallback looks byte pieces up by name, so their score does not matter to it."""
    floor = min(score for i, (_, score) in enumerate(pieces) if not sp.is_byte(i)) - 1000.0
    return [(p, floor if sp.is_byte(i) else score) for i, (p, score) in enumerate(pieces)]


def _strip_spaces():
    # strip only ' ' (SentencePiece's remove_extra_whitespaces), not every Unicode space
    from tokenizers import Regex, normalizers
    return normalizers.Sequence([normalizers.Replace(Regex("^ +"), ""), normalizers.Replace(Regex(" +$"), "")])


def bpe_merges(pieces: list[tuple[str, float]], sp) -> list[tuple[str, str]]:
    """Merges for a SentencePiece BPE model: every split of a normal piece into two vocabulary
    pieces, ranked by the merged piece's score (SentencePiece merges the best-scoring pair first)."""
    vocab = {p: i for i, (p, _) in enumerate(pieces)}
    merges = []
    for i, (piece, score) in enumerate(pieces):
        if not (sp.is_control(i) or sp.is_unknown(i) or sp.is_byte(i)) and len(piece) > 1:
            for k in range(1, len(piece)):
                left, right = piece[:k], piece[k:]
                if left in vocab and right in vocab:
                    merges.append((-score, i, vocab[left], vocab[right], left, right))
    merges.sort()
    return [(m[4], m[5]) for m in merges]


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
    dump_json(folder / "tokenizer_config.json", tokenizer_config())
    dump_json(folder / "special_tokens_map.json", dict(SPECIAL_TOKENS))


def dump_json(path: Path, obj) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
