"""The joint pre-training data: each member packed alone, then mixed by alpha.

Each member's cleaned corpus is packed with the joint tokenizer by the language shard stage's own
``Packer`` (same example builder, same held-out split by document), so an example never holds two
languages. The train split is then resampled: member i contributes p_i of the tokens (``probabilities`` of
the members' packed training tokens), its examples repeated in whole passes when p_i asks for more than
it has, or a seeded subset when less; the chosen examples of all members are shuffled together and
written as the usual ``train-*.parquet``. Validation is not resampled: ``validation-*`` holds every
member's held-out examples (shuffled together), and ``validation_<lang>-*`` each member's alone, listed in
``index.json``'s ``validation_subsets`` so pre-training reports the discriminator per language.

The members' examples are held in memory while mixing (a few bytes per token): fine for CPU-sized
corpora; a corpus of billions of tokens would need the mixture streamed shard by shard instead.
"""
from __future__ import annotations

import random
from pathlib import Path

import pyarrow.parquet as pq

from pipeline.config import ShardSettings
from pipeline.joint.sampling import probabilities, repeat_sample
from pipeline.layout import Layout
from pipeline.sharding.packing import Packer, _split_index, plan_split
from pipeline.sharding.writer import ShardWriter

Example = tuple[list[int], list[int]]


def pack_member(root: Path, lang: str, sp, s: ShardSettings, folder: Path, threads: int) -> Packer:
    """The member's corpus packed into ``folder`` (train-*/validation-* files), as the shard stage does."""
    files = Layout(root, lang).require_clean_files()
    folder.mkdir(parents=True, exist_ok=True)
    packer = Packer(s, plan_split(files, s.validation_fraction), folder)
    packer.pack(files, sp, threads=threads)
    packer.close()
    return packer


def read_examples(folder: Path, names: list[str]) -> list[Example]:
    out: list[Example] = []
    for n in names:
        t = pq.read_table(folder / n, columns=["input_ids", "token_type_ids"])
        out.extend(zip(t.column(0).to_pylist(), t.column(1).to_pylist()))
    return out


def _write(out: Path, split: str, examples: list[Example], s: ShardSettings) -> list[str]:
    w = ShardWriter(out, split, s.examples_per_shard, s.seed)
    for ex in examples:
        w.add(ex)
    w.close()
    return list(w.files)


def mix(packers: dict[str, Packer], folders: dict[str, Path], s: ShardSettings, alpha: float, seed: int,
        out: Path) -> dict:
    """Write the mixed train split, the validation splits, and return the index's split and language parts."""
    rng = random.Random(f"{seed}/joint-mixture")
    train = {m: read_examples(folders[m], list(p.writers["train"].files)) for m, p in packers.items()}
    tokens = {m: sum(len(e[0]) for e in ex) for m, ex in train.items()}
    p = probabilities(tokens, alpha)
    total = sum(tokens.values())
    chosen: list[Example] = []
    languages: dict[str, dict] = {}
    for m, ex in train.items():
        mean = tokens[m] / len(ex) if ex else 1.0
        picks = repeat_sample(list(range(len(ex))), round(p[m] * total / mean), rng)
        used = [ex[i] for i in picks]
        chosen.extend(used)
        languages[m] = {"probability": round(p[m], 6), "examples_available": len(ex),
                        "tokens_available": tokens[m], "examples_used": len(used),
                        "tokens_used": sum(len(e[0]) for e in used),
                        "repeats": round(len(used) / len(ex), 4) if ex else 0.0,
                        "packed": {sp: _split_index(s, packers[m].builders[sp].stats, []) for sp in ("train", "validation")}}
    rng.shuffle(chosen)
    used_total = sum(v["tokens_used"] for v in languages.values())
    for v in languages.values():
        v["share_of_tokens_used"] = round(v["tokens_used"] / used_total, 6) if used_total else 0.0
    val = {m: read_examples(folders[m], list(p.writers["validation"].files)) for m, p in packers.items()}
    mixed_val = [e for ex in val.values() for e in ex]
    rng.shuffle(mixed_val)
    subsets = {m: _write(out, f"validation_{m}", ex, s) for m, ex in val.items()}
    splits = {"train": _summary(s, chosen, _write(out, "train", chosen, s)),
              "validation": _summary(s, mixed_val, _write(out, "validation", mixed_val, s))}
    for m, v in languages.items():
        v["validation_examples"] = len(val[m])
        v["validation_tokens"] = sum(len(e[0]) for e in val[m])
    return {"splits": splits, "languages": languages, "validation_subsets": subsets}


def _summary(s: ShardSettings, examples: list[Example], files: list[str]) -> dict:
    n, tok = len(examples), sum(len(e[0]) for e in examples)
    return {"files": files, "examples": n, "tokens": tok, "mean_length": round(tok / n, 3) if n else 0.0,
            "padding_fraction": round(1 - tok / (n * s.max_seq_length), 6) if n else 0.0}
