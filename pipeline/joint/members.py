"""The members' record, ``data/<name>/members.json``: each member's cleaned corpus, its approval and size.

Written by the ``joint_members`` stage, whose deps in ``joint/dvc.yaml`` are every member's
``data/<lang>/clean`` and ``data/<lang>/review.json``: a member whose corpus is not approved (the same
check the language's vocab stage makes, ``pipeline.review.gate.check_validation``) stops the joint model
there, before its vocab, with a message naming the member. The later joint stages depend on this file
rather than on the members' folders again; they read the members' corpora through it and refuse when a
corpus no longer has the hash recorded here (``verified``), so a changed member can never slip in
unrecorded. The record is also the model card's lineage: DVC md5 of each corpus, the review decision.
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.config import load_language
from pipeline.config.joint import JointConfig
from pipeline.errors import StageError
from pipeline.joint import members_path
from pipeline.joint.sampling import probabilities
from pipeline.layout import Layout
from pipeline.pretrain import dvc_md5
from pipeline.review.gate import check_validation, corpus_hash, read_decision
from pipeline.tokenizer.corpus import document_chars

REVIEW_KEYS = ("decision", "reviewer", "comment", "decided_at", "policy", "corpus")


def member_record(root: Path, lang: str) -> dict:
    lay = Layout(root, lang)
    try:
        check_validation(lay)           # validation passed and the current corpus approved
    except StageError as e:
        raise StageError(f"member {lang} is not approved: {e}") from None
    cfg = load_language(lang, root)
    decision = read_decision(lay) or {"decision": "auto-approved (policy auto, no review.json)"}
    chars = document_chars(lay.require_clean_files())
    return {"name": cfg.name, "script": cfg.script, "corpus": corpus_hash(lay),
            "clean_md5": dvc_md5(lay.clean_dir), "review": {k: decision.get(k) for k in REVIEW_KEYS if k in decision},
            "documents": len(chars), "characters": int(sum(chars))}


def build(root: Path, cfg: JointConfig) -> dict:
    members = {m: member_record(root, m) for m in cfg.members}
    p = probabilities({m: r["characters"] for m, r in members.items()}, cfg.sampling.alpha)
    natural = sum(r["characters"] for r in members.values())
    for m, r in members.items():
        r["share_natural"] = round(r["characters"] / natural, 6)
        r["share_smoothed"] = round(p[m], 6)
    return {"joint": cfg.joint, "alpha": cfg.sampling.alpha, "members": members}


def write(root: Path, cfg: JointConfig, lay: Layout) -> dict:
    record = build(root, cfg)
    write_json(members_path(lay), record)
    return record


def verified(root: Path, lay: Layout) -> dict:
    """members.json, after checking every member's corpus still has the recorded hash."""
    path = members_path(lay)
    if not path.is_file():
        raise StageError(f"{lay.rel(path)}: not found; run the joint_members stage first "
                         f"(`python -m pipeline joint_members {lay.lang}`)")
    record = json.loads(path.read_text(encoding="utf-8"))
    for m, r in record["members"].items():
        now = corpus_hash(Layout(root, m))
        if now != r["corpus"]:
            raise StageError(f"data/{m}/clean changed since {lay.rel(path)} was written; re-run the joint_members "
                             f"stage (`python -m pipeline joint_members {lay.lang}`), which checks its approval")
    return record
