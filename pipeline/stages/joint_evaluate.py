"""joint_evaluate: models/<name>/electra on every member's suite -> the joint-vs-monolingual scorecard.

Reads  models/<name>/electra and tokenizer, each member's tasks (its corpora/<m>.yaml), metrics/<m>/eval.json
       and pretrain.json (the monolingual model and random init), models/<m>/tokenizer/vocab_stats.json
Writes metrics/<name>/eval.json (the comparison and the joint model's results per member),
       reports/<name>/scorecard.md and scorecard.png — ``pipeline.joint.compare``/``report``. The joint model's
       card with the scores is the joint_publish stage's models/<name>/hub/README.md.
"""
from __future__ import annotations

from pathlib import Path

from pipeline.atomic import write_json, write_text
from pipeline.joint import open_joint
from pipeline.joint.compare import compare
from pipeline.joint.report import plot, render


def run(name: str, root: Path) -> dict:
    root, cfg, lay = open_joint(name, root)
    c = compare(root, cfg, lay)
    write_json(lay.eval_metrics, c)
    md = render(c)
    write_text(lay.scorecard, md)
    plot(c, lay.scorecard.with_suffix(".png"))
    return {"joint": name, "tasks": len(c["tasks"]),
            "joint_minus_monolingual": {f"{r['language']}/{r['task']}": r["joint_minus_monolingual"] for r in c["tasks"]},
            "scorecard": lay.rel(lay.scorecard)}
