"""The joint-vs-monolingual comparison: per member and task, the joint model's score next to the member's
monolingual model and random init, the two vocabularies' fertility, and the pre-training compute of each.

The joint model is fine-tuned by the evaluation harness on each member's suite with the member's own
``evaluate`` settings (tasks, seeds, learning rates; no baseline or references: those are in the member's
``metrics/<m>/eval.json``, made by the member's evaluate stage with the same settings), so the three
numbers in a row differ only in the pre-trained weights. Pre-training FLOPs come from each model's
``pretrain.json`` (``train_flops``, model/flops.py's count): every row carries the monolingual model's
FLOPs over the joint model's, and a row whose FLOPs differ by more than :data:`EQUAL_FLOPS_TOLERANCE` is
marked as not at equal compute (with the factor). Equal steps are not equal compute: the joint vocabulary
is larger, so a joint step costs more (docs/multilingual.md, "Equal compute").
"""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import load_language
from pipeline.config.joint import JointConfig
from pipeline.evaluation.harness import ModelUnderTest, evaluate_model
from pipeline.evaluation.scoring import summary_of
from pipeline.evaluation.variants import PRETRAINED, RANDOM
from pipeline.layout import Layout

FERTILITY_KEYS = ("tokens_per_word", "tokens_per_char", "unk_rate")
PRETRAIN_KEYS = ("train_flops", "steps", "tokens_seen", "val_disc_auc", "val_replaced_recall")
# Relative FLOPs difference up to which a comparison counts as at equal compute (token counts of packed
# batches vary by about 1% between corpora, so exact equality is not reachable by choosing steps).
EQUAL_FLOPS_TOLERANCE = 0.05


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _median(entry: dict | None, key: str):
    s = summary_of(entry or {}, key) if entry else None
    return None if not s else s.get("median")


def score_members(root: Path, cfg: JointConfig, lay: Layout) -> dict[str, dict]:
    """The joint model fine-tuned on every member's suite: {member: eval.json-like result}."""
    out = {}
    for m in cfg.members:
        mcfg = load_language(m, root)
        update = {"random_init_baseline": False, "references": []}
        if cfg.evaluate.workers is not None:
            update["workers"] = cfg.evaluate.workers
        settings = mcfg.evaluate.model_copy(update=update)
        model = ModelUnderTest(lay.electra_dir, size=cfg.model.size, tokenizer_dir=lay.tokenizer_dir,
                               device=cfg.pretrain.device, language=m, title=f"{cfg.joint} on {m}")
        out[m] = evaluate_model(model, settings, root)
    return out


def flops_ratio(mono_flops, joint_flops) -> dict:
    """The monolingual model's pre-training FLOPs over the joint model's, and whether that is equal compute."""
    if not mono_flops or not joint_flops:
        return {"flops_ratio": None, "equal_compute": None}
    ratio = float(mono_flops) / float(joint_flops)
    return {"flops_ratio": ratio, "equal_compute": abs(ratio - 1.0) <= EQUAL_FLOPS_TOLERANCE}


def task_rows(root: Path, lay: Layout, scored: dict[str, dict]) -> list[dict]:
    joint_flops = _read(lay.pretrain_metrics).get("train_flops")
    rows = []
    for m, result in scored.items():
        mono = _read(Layout(root, m).eval_metrics).get("tasks") or {}
        compute = flops_ratio(_read(Layout(root, m).pretrain_metrics).get("train_flops"), joint_flops)
        for task, entry in (result.get("tasks") or {}).items():
            joint, own = _median(entry, PRETRAINED), _median(mono.get(task), PRETRAINED)
            rows.append({"language": m, "task": task, "metric": entry.get("metric", ""), "joint": joint,
                         "monolingual": own, "random_init": _median(mono.get(task), RANDOM),
                         "joint_minus_monolingual": (joint - own) if joint is not None and own is not None else None,
                         "seeds": (summary_of(entry, PRETRAINED) or {}).get("n"), **compute})
    return rows


def vocab_rows(root: Path, lay: Layout, members: list[str]) -> list[dict]:
    joint = (_read(lay.tokenizer_dir / "vocab_stats.json").get("languages") or {})
    rows = []
    for m in members:
        mono = _read(Layout(root, m).tokenizer_dir / "vocab_stats.json")
        j = (joint.get(m) or {}).get("held_out") or {}
        rows.append({"language": m, "monolingual_vocab_size": mono.get("vocab_size"),
                     "share_smoothed": (joint.get(m) or {}).get("share_smoothed"),
                     "share_natural": (joint.get(m) or {}).get("share_natural"),
                     **{f"joint_{k}": j.get(k) for k in FERTILITY_KEYS},
                     **{f"monolingual_{k}": (mono.get("held_out") or {}).get(k) for k in FERTILITY_KEYS}})
    return rows


def pretrain_rows(root: Path, lay: Layout, members: list[str]) -> list[dict]:
    joint = _read(lay.pretrain_metrics)
    subsets = joint.get("val_subsets") or {}
    rows = [{"model": f"joint ({lay.lang})", **{k: joint.get(k) for k in PRETRAIN_KEYS}}]
    for m in members:
        own = _read(Layout(root, m).pretrain_metrics)
        rows.append({"model": f"monolingual ({m})", **{k: own.get(k) for k in PRETRAIN_KEYS},
                     **flops_ratio(own.get("train_flops"), joint.get("train_flops")),
                     "joint_val_disc_auc_on_this_language": (subsets.get(m) or {}).get("disc_auc"),
                     "joint_val_replaced_recall_on_this_language": (subsets.get(m) or {}).get("replaced_recall")})
    return rows


def compare(root: Path, cfg: JointConfig, lay: Layout) -> dict:
    scored = score_members(root, cfg, lay)
    return {"joint": cfg.joint, "members": list(cfg.members), "alpha": cfg.sampling.alpha,
            "equal_flops_tolerance": EQUAL_FLOPS_TOLERANCE,
            "tasks": task_rows(root, lay, scored), "vocab": vocab_rows(root, lay, cfg.members),
            "pretrain": pretrain_rows(root, lay, cfg.members), "results": scored}
