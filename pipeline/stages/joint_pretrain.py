"""joint_pretrain: the mixed shards + the joint tokenizer -> models/<name>/electra (the language pretrain stage).

The training is the language stage's (``pipeline.stages.pretrain.train_with_slot``: slot, checkpoints,
DVCLive, export); only the card differs: it names every member corpus's lineage from
``data/<name>/members.json`` (DVC md5 of its cleaned corpus, the corpus hash its review decision was taken
on, the decision itself) and the per-language tokens the mixture used. Per-language discriminator
metrics on validation (``val_languages`` in metrics/<name>/pretrain.json) come from model/ evaluating the
index's ``validation_subsets``.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.joint import members as joint_members
from pipeline.joint import open_joint
from pipeline.lineage import git_commit
from pipeline.pretrain import dvc_md5
from pipeline.stages.pretrain import train_with_slot


def run(name: str, root: Path) -> dict:
    root, cfg, lay = open_joint(name, root)

    def card() -> dict:
        record = joint_members.verified(root, lay)
        index = json.loads((lay.shards_dir / "index.json").read_text(encoding="utf-8"))
        rel = lambda p: p.relative_to(root).as_posix()  # noqa: E731
        return {
            "language": f"{cfg.name or name} (joint model of {', '.join(cfg.members)})",
            "git_commit": git_commit(root),
            "dvc_hashes": {rel(lay.shards_dir): dvc_md5(lay.shards_dir), rel(lay.tokenizer_dir): dvc_md5(lay.tokenizer_dir),
                           **{f"data/{m}/clean": r["clean_md5"] for m, r in record["members"].items()}},
            "members": {m: {"corpus": r["corpus"], "clean_md5": r["clean_md5"], "review_decision": r["review"],
                            "probability": index["languages"][m]["probability"],
                            "tokens_used": index["languages"][m]["tokens_used"]}
                        for m, r in record["members"].items()},
            "sampling_alpha": cfg.sampling.alpha,
            "parameters": cfg.pretrain_resolved(),
            "config": f"corpora/{name}.yaml",
            "scores": f"reports/{name}/scorecard.md (joint_evaluate) and models/{name}/hub/README.md (joint_publish)",
        }

    return train_with_slot(name, root, cfg, lay, card)
