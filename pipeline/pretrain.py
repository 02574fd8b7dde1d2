"""pretrain stage: ELECTRA generator + discriminator on the language's shards (model/ does the work).

Checkpoints live in checkpoints/<lang>/<fingerprint>/ — the fingerprint covers the resolved
parameters and the shards, so a changed knob never resumes from a stale run, while an interrupted
run with the same inputs resumes where it stopped.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

from pipeline.config import load_language
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.lineage import dvc_hashes, git_commit


def run(lang: str, root: Path) -> dict:
    from model.pretrain import pretrain  # torch import only when the stage runs

    cfg = load_language(lang, root)
    lay = Layout(root, lang)
    index = lay.shards_dir / "index.json"
    if not index.is_file():
        raise StageError(f"{index}: missing — run the shard stage first")
    if not (lay.tokenizer_dir / "tokenizer.json").is_file():
        raise StageError(f"{lay.tokenizer_dir}: no tokenizer — run the vocab stage first")
    params = cfg.pretrain_resolved()
    fingerprint = hashlib.sha256(
        json.dumps(params, sort_keys=True).encode() + index.read_bytes()).hexdigest()[:16]
    card = {
        "language": f"{cfg.name or lang} ({lang})",
        "git_commit": git_commit(root),
        "dvc_hashes": dvc_hashes(root, lang),
        "parameters": params,
        "config": f"corpora/{lang}.yaml",
    }
    validation = lay.validation
    if validation.is_file():
        card["validation_passed"] = json.loads(validation.read_text(encoding="utf-8")).get("passed")
    metrics = pretrain(
        shards_dir=lay.shards_dir, tokenizer_dir=lay.tokenizer_dir, out_dir=lay.electra_dir,
        checkpoint_dir=lay.checkpoints_dir / fingerprint, params=params,
        metrics_path=lay.pretrain_metrics, curve_path=lay.pretrain_curve, card=card,
    )
    return {k: metrics.get(k) for k in ("val_disc_loss", "val_gen_loss", "val_disc_acc", "tokens_per_second")}
