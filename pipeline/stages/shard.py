"""shard: data/<lang>/clean + the tokenizer -> data/<lang>/shards (packed ELECTRA examples, held-out split).

Reads  data/<lang>/clean/*.parquet, models/<lang>/tokenizer/spm.model
Writes data/<lang>/shards/ (atomically, as a whole):
    train-00000.parquet ...       columns input_ids list<int32>, token_type_ids list<int8>
    validation-00000.parquet ...  (same; whole documents, chosen by a hash of the document id)
    index.json                    see docs/contracts.md and ``pipeline.sharding.packing.build_index``

Examples are built exactly like the official ELECTRA data builder (``pipeline/sharding/builder.py``); no
padding is stored. Everything is seeded by ``shard.seed``: a re-run gives byte-identical files.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline.atomic import atomic_dir
from pipeline.errors import StageError
from pipeline.sharding.packing import Packer, build_index, load_spm, plan_split
from pipeline.stages import open_language


def run(lang: str, root: Path) -> dict:
    _, cfg, layout = open_language(lang, root)
    sp, model_path = load_spm(layout)
    files = layout.require_clean_files()
    plan = plan_split(files, cfg.shard.validation_fraction)

    with atomic_dir(layout.shards_dir) as tmp:
        packer = Packer(cfg.shard, plan, tmp)
        packer.pack(files, sp, threads=os.cpu_count() or 1)
        st = packer.builders["train"].stats
        if st.examples == 0:
            raise StageError(f"{layout.rel(layout.clean_dir)}: no training example could be built "
                             f"({st.documents} training documents, {st.sentences} non-empty lines); "
                             f"the cleaned corpus has no usable text")
        packer.close()
        index = build_index(cfg, layout, sp, model_path, packer, files)
        with open(tmp / "index.json", "w", encoding="utf-8") as f:
            json.dump(index, f, indent=2, sort_keys=True, ensure_ascii=False)
            f.write("\n")

    tr, va = index["splits"]["train"], index["splits"]["validation"]
    return {"train_examples": tr["examples"], "train_tokens": tr["tokens"],
            "train_tokens_dropped_fraction": tr["tokens_dropped_fraction"],
            "validation_examples": va["examples"], "validation_tokens": va["tokens"],
            "files": len(tr["files"]) + len(va["files"]), "shards_dir": layout.rel(layout.shards_dir),
            **({"note": plan.note} if plan.note else {})}
