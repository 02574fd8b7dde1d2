"""pretrain: shards + tokenizer -> models/<lang>/electra (model/ trains; this stage checks inputs and lineage)."""
from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

from pipeline import cores
from pipeline.atomic import remove_stale
from pipeline.errors import StageError
from pipeline.lineage import git_commit
from pipeline.locks import pretrain_slot
from pipeline.pretrain import _LiveLogger, lineage_hashes, live_dir, review_lineage
from pipeline.progress import TrainingProgress
from pipeline.stages import open_language


def run(lang: str, root: Path) -> dict:
    root, cfg, lay = open_language(lang, root)
    return train_with_slot(lang, root, cfg, lay, lambda: _card(lang, root, cfg, lay))


def train_with_slot(lang: str, root: Path, cfg, lay, card) -> dict:
    """Check the inputs, take a pre-training slot and train; ``card()`` gives the model card's lineage (a
    language's here, a joint model's in ``joint_pretrain``)."""
    index = lay.shards_dir / "index.json"
    if not index.is_file():
        raise StageError(f"{index}: missing — run the shard stage first")
    if not (lay.tokenizer_dir / "tokenizer.json").is_file():
        raise StageError(f"{lay.tokenizer_dir}: no tokenizer — run the vocab stage first")
    # one of this machine's pre-training slots, whatever else runs (before torch: a slot may pin a GPU)
    with pretrain_slot(root, cfg.pretrain_resolved()["device"], f"pretrain {lang}") as slot:
        summary = _train(lang, cfg, lay, index, card())
        return {**summary, **slot, "slot_until": time.time()}


def _card(lang: str, root: Path, cfg, lay) -> dict:
    card = {
        "language": f"{cfg.name or lang} ({lang})",
        "language_code": cfg.iso_code,
        "git_commit": git_commit(root),
        **lineage_hashes(root, lang, lay),
        "parameters": cfg.pretrain_resolved(),
        "config": f"corpora/{lang}.yaml",
    }
    validation = lay.validation
    if validation.is_file():
        card["validation_passed"] = json.loads(validation.read_text(encoding="utf-8")).get("passed")
    card.update(review_lineage(root, lang, lay, card.get("dvc_hashes") or {}))
    card["scores"] = (f"models/{lang}/hub/README.md (the Hub card of this folder with the evaluation scores, "
                      f"written by the publish stage) and reports/{lang}/scorecard.md")
    return card


def _train(lang: str, cfg, lay, index: Path, card: dict) -> dict:
    from model.checkpoint import CheckpointError  # torch: after the quick checks
    from model.device import cpu_threads
    from model.preemption import PREEMPTED_EXIT
    from model.pretrain import pretrain
    # model/ writes these atomically (model.atomic, the protocol of every stage): drop a killed run's temps
    for out in (lay.electra_dir, lay.pretrain_metrics, lay.pretrain_curve):
        remove_stale(out)
    params = cfg.pretrain_resolved()
    fingerprint = hashlib.sha256(
        json.dumps(params, sort_keys=True).encode() + index.read_bytes()).hexdigest()[:16]
    logger = _LiveLogger(live_dir(lay))
    # steps, tokens/s, ETA and the latest AUC/recall: a bar on a terminal, at most ~100 lines otherwise
    # (model/ prints no line per logging window then; pipeline/progress.py)
    progress = TrainingProgress(f"pretrain {lang}")

    def on_log(step: int, m: dict) -> None:
        logger(step, m)
        progress.on_log(step, m)

    try:
        with cpu_threads(cores.share()):   # this language's share of the cores when several run at once
            metrics = pretrain(
                shards_dir=lay.shards_dir, tokenizer_dir=lay.tokenizer_dir, out_dir=lay.electra_dir,
                checkpoint_dir=lay.checkpoints_dir / fingerprint, params=params,
                metrics_path=lay.pretrain_metrics, curve_path=lay.pretrain_curve, card=card, on_log=on_log,
                on_step=progress.on_step, log_windows=False,
            )
    except CheckpointError as e:   # a damaged or foreign checkpoint: the message names it and what to delete
        raise StageError(str(e)) from None
    finally:
        progress.close()
    if metrics.get("preempted"):
        logger.finish(None)
        print(f"pretrain {lang}: stopped by {metrics.get('signal')} at step {metrics.get('stopped_at')} with a "
              f"checkpoint; run the stage again to resume", flush=True)
        raise SystemExit(PREEMPTED_EXIT)
    logger.finish(metrics)
    return {k: metrics.get(k) for k in ("val_disc_loss", "val_gen_loss", "val_disc_acc", "tokens_per_second", "mfu")}
