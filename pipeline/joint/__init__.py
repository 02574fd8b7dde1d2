"""One multilingual ELECTRA from several languages' approved corpora (issue 14).

A joint model is ``corpora/<name>.yaml`` with ``members`` (``pipeline.config.joint``); its stages are
``joint/dvc.yaml``'s ``foreach`` over ``joint/params.yaml`` and run as ``python -m pipeline STAGE NAME``:

    joint_members   every member's cleaned corpus approved?  -> data/<name>/members.json (lineage, sizes)
    joint_vocab     one SentencePiece on an alpha-smoothed sample of the members -> models/<name>/tokenizer
    joint_shard     each member packed alone (no example mixes languages), then mixed by alpha
                    -> data/<name>/shards (index.json: per-language tokens used, validation per language)
    joint_pretrain  the language stage's pre-training on those shards -> models/<name>/electra
    joint_evaluate  every member's suite on the joint model, next to the member's monolingual model and
                    random init -> reports/<name>/scorecard.md (+ plot), metrics/<name>/eval.json
    joint_publish   the model folder with the Hub card (every member's ISO code, lineage, scores)
                    -> models/<name>/hub (pipeline/joint/card.py on pipeline/hubcard.py)

The per-language stage code does the work (vocab training, packing, pre-training, fine-tuning); this
package holds only what is joint: the members' record, the sampling, the mixture and the comparison.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.config.joint import JointConfig, load_joint
from pipeline.layout import Layout

JOINT_STAGES = ("joint_members", "joint_vocab", "joint_shard", "joint_pretrain", "joint_evaluate",
                "joint_publish")


def open_joint(name: str, root: Path) -> tuple[Path, JointConfig, Layout]:
    """What every joint stage starts from (as ``pipeline.stages.open_language``): root, config, paths."""
    root = Path(root)
    return root, load_joint(name, root), Layout(root, name)


def members_path(lay: Layout) -> Path:
    return lay.root / "data" / lay.lang / "members.json"
