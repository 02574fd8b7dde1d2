"""shard: data/<lang>/clean + the tokenizer -> data/<lang>/shards (packed ELECTRA examples, held-out split)."""
from __future__ import annotations

import json
import os
import random
from pathlib import Path

from pipeline.atomic import atomic_dir
from pipeline.errors import StageError
from pipeline.shard import (SPLITS, ExampleBuilder, ShardWriter, SplitPlan, _rel, build_index, doc_lines,
                            iter_documents, load_spm, split_long)
from pipeline.stages import open_language


def run(lang: str, root: Path) -> dict:
    root, cfg, layout = open_language(lang, root)
    s = cfg.shard
    sp, model_path = load_spm(layout)
    files = layout.clean_files()
    if not files:
        raise StageError(f"{_rel(layout.clean_dir, root)}: no part-*.parquet files; run the clean stage first")
    threads = os.cpu_count() or 1

    # pass 1: document ids only -> validation plan (streaming; nothing per document is kept)
    plan = SplitPlan(s.validation_fraction)
    for (ids,) in iter_documents(files, ("id",)):
        for doc_id in ids:
            plan.observe(str(doc_id))
    plan.finish()

    with atomic_dir(layout.shards_dir) as tmp:
        builders, writers = {}, {}
        for k, split in enumerate(SPLITS):
            rng = random.Random(s.seed * 1_000_003 + k)
            builders[split] = ExampleBuilder(s.max_seq_length, rng, s.single_segment_prob, s.short_seq_prob)
            writers[split] = ShardWriter(tmp, split, s.examples_per_shard, s.seed)

        empty_docs = 0
        for doc_ids, texts in iter_documents(files):
            docs = [doc_lines(t) for t in texts]
            flat = [line for lines in docs for line in lines]
            encoded = sp.encode(flat, num_threads=threads) if flat else []
            pos = 0
            for doc_id, lines in zip(doc_ids, docs):
                split = "validation" if plan.is_validation(str(doc_id)) else "train"
                builder, writer = builders[split], writers[split]
                if not lines:
                    empty_docs += 1
                for sentence in encoded[pos:pos + len(lines)]:
                    for piece in split_long(sentence, s.max_seq_length):
                        ex = builder.add_sentence(piece)
                        if ex is not None:
                            writer.add(ex)
                pos += len(lines)
                ex = builder.end_document()
                if ex is not None:
                    writer.add(ex)

        if builders["train"].stats.examples == 0:
            st = builders["train"].stats
            raise StageError(f"{_rel(layout.clean_dir, root)}: no training example could be built "
                             f"({st.documents} training documents, {st.sentences} non-empty lines); "
                             f"the cleaned corpus has no usable text")
        for w in writers.values():
            w.close()

        index = build_index(cfg, layout, sp, model_path, plan, builders, writers, files, empty_docs)
        with open(tmp / "index.json", "w", encoding="utf-8") as f:
            json.dump(index, f, indent=2, sort_keys=True, ensure_ascii=False)
            f.write("\n")

    tr, va = index["splits"]["train"], index["splits"]["validation"]
    return {"train_examples": tr["examples"], "train_tokens": tr["tokens"],
            "validation_examples": va["examples"], "validation_tokens": va["tokens"],
            "files": len(tr["files"]) + len(va["files"]), "shards_dir": _rel(layout.shards_dir, root),
            **({"note": plan.note} if plan.note else {})}
