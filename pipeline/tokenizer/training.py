"""SentencePiece training on a stream of sentences, with the special ids the model and the HF export rely on.

Determinism: the sentences are fed in corpus order with SentencePiece's own sampling/shuffling off and
the model is serialized from memory (no temp path recorded in it), so the same input gives a
byte-identical ``spm.model`` on the same machine. Training uses os.cpu_count() threads and SentencePiece
records num_threads in the model, so machines with another core count can produce other bytes.
"""
from __future__ import annotations

import io
import os
import re
from pathlib import Path
from typing import Iterator

import sentencepiece as spm

from pipeline.config import VocabSettings
from pipeline.errors import StageError

# [PAD] [UNK] are SentencePiece's pad/unk pieces, [CLS] [SEP] [MASK] its first control symbols
SPECIAL_IDS = {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "[MASK]": 4}
NORMALIZATION = "nmt_nfkc"


def trainer_options(v: VocabSettings) -> dict:
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
        # a character the vocabulary lacks (rare script characters, emoji, unseen symbols) is spelled in
        # <0xNN> byte pieces instead of [UNK]: nothing of the text is lost to the model
        byte_fallback=v.byte_fallback,
        input_sentence_size=0,           # use every sentence we feed: our own seeded sample
        shuffle_input_sentence=False,
        num_threads=os.cpu_count() or 1,
        minloglevel=2,
    )


def _vocab_error(e: Exception, v: VocabSettings, lang: str, n_sentences: int) -> StageError:
    msg = str(e)
    key = f"corpora/{lang}.yaml"
    m = re.search(r"Vocabulary size (?:is )?too high \((\d+)\).*?<=\s*(\d+)", msg)
    if m:
        return StageError(f"{key}: vocab.size is {m.group(1)} but the sampled corpus "
                          f"({n_sentences} sentences) only supports at most {m.group(2)}; set vocab.size "
                          f"<= {m.group(2)} (or add text / raise vocab.sample_documents)")
    m = re.search(r"Vocabulary size is smaller than required_chars\. (\d+) vs (\d+)", msg)
    if m:
        return StageError(f"{key}: vocab.size is {m.group(1)} but the corpus needs {m.group(2)} characters "
                          f"at vocab.character_coverage {v.character_coverage}; raise vocab.size above "
                          f"{m.group(2)} or lower vocab.character_coverage")
    return StageError(f"{key}: SentencePiece could not train a vocabulary with the settings in section "
                      f"'vocab': {msg.strip()}")


def train_spm(sentences: Iterator[str], v: VocabSettings, lang: str) -> tuple[bytes, int]:
    """Train on ``sentences``; return (serialized ModelProto, number of sentences fed).

    The model is written to memory (``model_writer``), not under a model_prefix: the prefix would
    be recorded in the proto and make the bytes depend on the (temporary) output path."""
    count = [0]

    def counted():
        for s in sentences:
            count[0] += 1
            yield s

    out = io.BytesIO()
    spm.set_random_generator_seed(v.seed)
    try:
        spm.SentencePieceTrainer.train(sentence_iterator=counted(), model_writer=out, **trainer_options(v))
    except (RuntimeError, OSError) as e:
        if count[0] == 0:
            raise StageError(f"data/{lang}/clean: no text to train a vocabulary on") from None
        raise _vocab_error(e, v, lang, count[0]) from None
    if count[0] == 0:
        raise StageError(f"data/{lang}/clean: no text to train a vocabulary on")
    return out.getvalue(), count[0]


def write_spm_vocab(model_file: Path, path: Path) -> None:
    """spm.vocab as SentencePiece writes it (piece TAB score), from the (patched) model."""
    sp = spm.SentencePieceProcessor(model_file=str(model_file))
    with open(path, "w", encoding="utf-8") as f:
        for i in range(sp.get_piece_size()):
            f.write(f"{sp.id_to_piece(i)}\t{sp.get_score(i):g}\n")
