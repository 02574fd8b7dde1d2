"""joint_shard: the members' corpora + the joint tokenizer -> data/<name>/shards (the alpha-smoothed mixture).

Reads  data/<name>/members.json (verified), data/<m>/clean, models/<name>/tokenizer/spm.model
Writes data/<name>/shards/ (atomically): train-*.parquet (the mixture), validation-*.parquet (every member's
       held-out examples), validation_<lang>-*.parquet (each member's), and index.json: the language shard
       stage's keys plus ``languages`` (per member: probability, examples and tokens available and used,
       repeats) and ``validation_subsets`` (``pipeline.joint.mixture``). Seeded: a re-run is byte-identical.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

from pipeline.atomic import atomic_dir
from pipeline.errors import StageError
from pipeline.joint import members as joint_members
from pipeline.joint import open_joint
from pipeline.joint.mixture import mix, pack_member
from pipeline.sharding.builder import CLS_ID, MASK_ID, PAD_ID, SEP_ID, UNK_ID
from pipeline.sharding.packing import FORMAT_VERSION, load_spm


def run(name: str, root: Path) -> dict:
    root, cfg, lay = open_joint(name, root)
    record = joint_members.verified(root, lay)
    sp, model_path = load_spm(lay)
    s = cfg.shard
    with atomic_dir(lay.shards_dir) as tmp:
        work = tmp / ".members"
        folders = {m: work / m for m in cfg.members}
        packers = {m: pack_member(root, m, sp, s, folders[m], os.cpu_count() or 1) for m in cfg.members}
        empty = [m for m, p in packers.items() if p.builders["train"].stats.examples == 0]
        if empty:
            raise StageError(f"no training example could be built from member(s) {', '.join(empty)} "
                             f"(data/{empty[0]}/clean has no usable text)")
        parts = mix(packers, folders, s, cfg.sampling.alpha, s.seed, tmp)
        shutil.rmtree(work)
        index = {"format_version": FORMAT_VERSION, "language": name, "joint": True, "members": list(cfg.members),
                 "alpha": cfg.sampling.alpha, "max_seq_length": s.max_seq_length, "vocab_size": sp.get_piece_size(),
                 "pad_id": PAD_ID, "unk_id": UNK_ID, "cls_id": CLS_ID, "sep_id": SEP_ID, "mask_id": MASK_ID,
                 "padded": False, "columns": {"input_ids": "list<int32>", "token_type_ids": "list<int8>"},
                 **parts, "seed": s.seed, "validation_fraction": s.validation_fraction,
                 "short_seq_prob": s.short_seq_prob, "single_segment_prob": s.single_segment_prob,
                 "examples_per_shard": s.examples_per_shard,
                 "tokenizer": {"path": lay.rel(model_path), "sha256": hashlib.sha256(model_path.read_bytes()).hexdigest()},
                 "member_corpora": {m: r["corpus"] for m, r in record["members"].items()}}
        with open(tmp / "index.json", "w", encoding="utf-8") as f:
            json.dump(index, f, indent=2, sort_keys=True, ensure_ascii=False)
            f.write("\n")
    langs = parts["languages"]
    return {"train_examples": parts["splits"]["train"]["examples"], "train_tokens": parts["splits"]["train"]["tokens"],
            "tokens_used": {m: v["tokens_used"] for m, v in langs.items()},
            "repeats": {m: v["repeats"] for m, v in langs.items()}, "shards_dir": lay.rel(lay.shards_dir)}
