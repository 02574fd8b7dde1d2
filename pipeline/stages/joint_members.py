"""joint_members: every member's cleaned corpus approved? -> data/<name>/members.json.

Reads  corpora/<name>.yaml (members, sampling), each member's data/<m>/clean, validation.json, review.json
Writes data/<name>/members.json: per member the corpus hash and DVC md5, the review decision, documents,
       characters and its natural and alpha-smoothed share (``pipeline.joint.members``). A member whose
       corpus is not approved stops here, before the joint vocab, naming the member.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.joint import members, members_path, open_joint


def run(name: str, root: Path) -> dict:
    root, cfg, lay = open_joint(name, root)
    record = members.write(root, cfg, lay)
    return {"members": {m: {"documents": r["documents"], "characters": r["characters"],
                            "share_smoothed": r["share_smoothed"], "decision": r["review"].get("decision")}
                        for m, r in record["members"].items()},
            "record": lay.rel(members_path(lay))}
