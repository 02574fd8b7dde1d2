"""The joint-vs-monolingual comparison: per member and task, the joint model's score next to the member's
monolingual model and random init, the two vocabularies' fertility, and the pre-training compute of each.

The joint model is fine-tuned by the evaluation harness on each member's suite with the member's own
``evaluate`` settings (tasks, seeds, learning rates; no baseline or references: those are in the member's
``metrics/<m>/eval.json``, made by the member's evaluate stage with the same settings), so the three
numbers in a row differ only in the pre-trained weights, and the joint model's predictions pair with the
member's (``metrics/<m>/predictions.json``: same examples, same seeds) for a 95% interval of each
difference (``pipeline.evaluation.predictions``). Pre-training FLOPs come from each model's
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
from pipeline.evaluation import predictions as kept_predictions
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


def score_members(root: Path, cfg: JointConfig, lay: Layout,
                  predictions: dict[str, dict] | None = None) -> dict[str, dict]:
    """The joint model fine-tuned on every member's suite: {member: eval.json-like result}; ``predictions``,
    when given, receives {member: {task: predictions.json record}}."""
    out = {}
    for m in cfg.members:
        mcfg = load_language(m, root)
        update = {"random_init_baseline": False, "references": []}
        if cfg.evaluate.workers is not None:
            update["workers"] = cfg.evaluate.workers
        settings = mcfg.evaluate.model_copy(update=update)
        model = ModelUnderTest(lay.electra_dir, size=cfg.model.size, tokenizer_dir=lay.tokenizer_dir,
                               device=cfg.pretrain.device, language=m, title=f"{cfg.joint} on {m}")
        kept: dict = {}
        out[m] = evaluate_model(model, settings, root, predictions=kept)
        if predictions is not None:
            predictions[m] = kept
    return out


def flops_ratio(mono_flops, joint_flops) -> dict:
    """The monolingual model's pre-training FLOPs over the joint model's, and whether that is equal compute."""
    if not mono_flops or not joint_flops:
        return {"flops_ratio": None, "equal_compute": None}
    ratio = float(mono_flops) / float(joint_flops)
    return {"flops_ratio": ratio, "equal_compute": abs(ratio - 1.0) <= EQUAL_FLOPS_TOLERANCE}


def _difference(joint, other, joint_record, mono_record, key: str) -> dict:
    """joint - other, with its paired bootstrap interval and verdict when both runs kept their predictions."""
    if joint is None or other is None:
        return {"delta": None, "interval": None, "verdict": None, "unpaired": None, "paired_on": None}
    deltas, note = kept_predictions.compare(joint_record, PRETRAINED, mono_record, key)
    return {"delta": joint - other, **kept_predictions.delta_with_interval(joint - other, deltas),
            "unpaired": note if deltas is None else None, "paired_on": note if deltas is not None else None}


def task_rows(root: Path, lay: Layout, scored: dict[str, dict],
              joint_predictions: dict[str, dict] | None = None) -> list[dict]:
    """A row per member and task: the three medians, joint - monolingual and joint - random init with their
    95% intervals (paired over examples and seeds: the joint model's predictions of this run against those
    the member's evaluate stage kept in metrics/<m>/predictions.json; without them, no interval and the
    verdict is the sign; ``unpaired`` says why, ``paired_on`` notes a tagging task paired on the words both
    runs scored) and the compute ratio."""
    joint_flops = _read(lay.pretrain_metrics).get("train_flops")
    rows = []
    for m, result in scored.items():
        mono = _read(Layout(root, m).eval_metrics).get("tasks") or {}
        mono_records = kept_predictions.read(Layout(root, m).eval_predictions) or {}
        compute = flops_ratio(_read(Layout(root, m).pretrain_metrics).get("train_flops"), joint_flops)
        for task, entry in (result.get("tasks") or {}).items():
            joint, own = _median(entry, PRETRAINED), _median(mono.get(task), PRETRAINED)
            rnd = _median(mono.get(task), RANDOM)
            mine, theirs = ((joint_predictions or {}).get(m) or {}).get(task), mono_records.get(task)
            vs_mono = _difference(joint, own, mine, theirs, PRETRAINED)
            vs_random = _difference(joint, rnd, mine, theirs, RANDOM)
            rows.append({"language": m, "task": task, "metric": entry.get("metric", ""), "joint": joint,
                         "monolingual": own, "random_init": rnd,
                         "joint_minus_monolingual": vs_mono["delta"],
                         "joint_minus_monolingual_interval": vs_mono["interval"],
                         "verdict_vs_monolingual": vs_mono["verdict"],
                         "joint_minus_random_init": vs_random["delta"],
                         "joint_minus_random_init_interval": vs_random["interval"],
                         "verdict_vs_random_init": vs_random["verdict"],
                         "unpaired": vs_mono["unpaired"] or vs_random["unpaired"],
                         "paired_on": vs_mono["paired_on"] or vs_random["paired_on"],
                         "seeds": len((summary_of(entry, PRETRAINED) or {}).get("seeds") or []) or None,
                         **compute})
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
    joint_predictions: dict[str, dict] = {}
    scored = score_members(root, cfg, lay, joint_predictions)
    return {"joint": cfg.joint, "members": list(cfg.members), "alpha": cfg.sampling.alpha,
            "equal_flops_tolerance": EQUAL_FLOPS_TOLERANCE,
            "tasks": task_rows(root, lay, scored, joint_predictions), "vocab": vocab_rows(root, lay, cfg.members),
            "pretrain": pretrain_rows(root, lay, cfg.members), "results": scored}
