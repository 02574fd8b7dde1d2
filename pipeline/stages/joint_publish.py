"""joint_publish: models/<name>/electra + the comparison -> models/<name>/hub (the joint model's folder for the Hub).

Reads  models/<name>/electra/ (joint_pretrain's output, with its README and lineage.json), metrics/<name>/eval.json
       and reports/<name>/scorecard.md (joint_evaluate's), metrics/<name>/pretrain.json, data/<name>/members.json,
       corpora/<name>.yaml (``card``) and each member's corpora/<m>.yaml (names, sources, ISO codes)
Writes models/<name>/hub/: the model folder's files (hard links, as the language publish stage) and README.md,
       the Hub card (``pipeline/joint/card.py`` on ``pipeline/hubcard.py``: languages = every member's ISO code,
       model-index per member and task, the members' lineage), atomically as a whole; the card and lineage.json
       without machine paths (``hubcard.Places``, as the language publish stage).

Its own stage for the language publish stage's reasons: no stage writes into another's output, and a card
edit (the license) re-runs seconds, not the fine-tuning of every member's suite.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.atomic import atomic_dir
from pipeline.config import data_root, load_language
from pipeline.errors import StageError
from pipeline.evaluation.warnings import read_json
from pipeline.hubcard import Places
from pipeline.joint import card as joint_card
from pipeline.joint import members as joint_members
from pipeline.joint import open_joint
from pipeline.stages.publish import CARD, LINEAGE, link_tree


def run(name: str, root: Path) -> dict:
    root, cfg, lay = open_joint(name, root)
    src = lay.electra_dir
    if not (src / "config.json").is_file():
        raise StageError(f"{lay.rel(src)}: no model — run the joint_pretrain stage first")
    members = {m: load_language(m, root) for m in cfg.members}
    comparison = read_json(lay.eval_metrics)
    scorecard = lay.scorecard.read_text(encoding="utf-8") if comparison and lay.scorecard.is_file() else None
    places, lineage = Places(root, data_root(root)), read_json(src / LINEAGE) or {}
    text = joint_card.render(
        root, cfg, members, pretrain_card=(src / CARD).read_text(encoding="utf-8") if (src / CARD).is_file()
        else f"# {name}\n", params=read_json(src / "pretrain_params.json") or cfg.pretrain_resolved(),
        comparison=comparison, scorecard_md=scorecard, record=joint_members.verified(root, lay),
        lineage=lineage, max_seq_length=(read_json(lay.pretrain_metrics) or {}).get("max_seq_length"), places=places)
    with atomic_dir(lay.hub_dir) as tmp:
        files = link_tree(src, tmp, skip=(CARD, LINEAGE))
        (tmp / CARD).write_text(places.scrub(text, lineage), encoding="utf-8")
        if (src / LINEAGE).is_file():
            (tmp / LINEAGE).write_text(places.scrub((src / LINEAGE).read_text(encoding="utf-8"), lineage),
                                       encoding="utf-8")
            files += 1
    return {"hub_dir": lay.rel(lay.hub_dir), "files": files + 1, "evaluated": comparison is not None,
            "languages": joint_card.iso_codes(members), "license": cfg.card.license}
