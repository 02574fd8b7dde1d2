"""Fine-tune and score one model folder on a list of tasks: :func:`evaluate_model`.

For every task the model is fine-tuned ``seeds`` times (seeds 0..n-1) and scored on the task's dev
data; with ``random_init_baseline`` the same architecture is also fine-tuned from random initialisation
with the same seeds, data and hyper-parameters, so the scorecard shows what pre-training bought; every
``references`` entry (any Hugging Face encoder folder with its own tokenizer) is fine-tuned with the same
harness too, for comparison with a published model. As in the ELECTRA paper, the reported score is the
median over seeds; the suite average is the unweighted mean of the task medians over ``average`` (every
task by default; for English the GLUE tasks without WNLI).

The result is the eval.json dict (scores are fractions, correlations in -1..1; the scorecard shows them
x100)::

    {"language", "title", "model": {"path", "size", "config", "tokenizer", "pretrain"?},
     "settings": {"seeds", "random_init_baseline", "layerwise_lr_decay", "warmup_fraction",
                  "weight_decay", "device", "workers", "workers_note"?, "threads_per_worker", "metric_scale",
                  "summary"},
     "references": {"<name>": {"path", "size", "config", "tokenizer"}},
     "tasks": {"<name>": {"type", "format", "metric", "glue_task", "trained_on", "scored_on",
                          "train_examples", "train_available", "swapped", "dev_examples", "dev_available",
                          "hparams": {...}, "notes": [...], "num_labels", "labels",
                          "pretrained": {"median", "mean", "min", "max", "seed_scores": {"0": x, ...},
                                         "seeds": [x, ...], "all": {metric: median},
                                         "runs": [{"seed", "metrics", "train_loss", "seconds", "steps"}]},
                          "random_init": {... same ...} | null,
                          "references": {"<name>": {... same ...}},
                          "delta": pretrained.median - random_init.median | null,
                          "paired": {"wins", "seeds", "mean_difference"} | null}},
     "average": {"name", "tasks": [...], "pretrained", "random_init", "delta",
                 "references": {"<name>": x}},
     "seconds": total}
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from model.sizes import FINETUNE_LR, LAYERWISE_LR_DECAY
from pipeline.config import EvaluateSettings
from pipeline.errors import StageError
from pipeline.evaluation.encode import encode
from pipeline.evaluation.jobs import WARMUP_FRACTION, WEIGHT_DECAY, build_jobs, default_workers, execute, in_process
from pipeline.evaluation.report import write_reports
from pipeline.evaluation.representations import representations
from pipeline.evaluation.scoring import averages, task_entry
from pipeline.taskdata.tasks import load_task
from pipeline.evaluation.variants import (PRETRAINED, RANDOM, Variant, infer_size, load_tokenizer, max_tokens,
                                          model_info, read_arch, reference_variant, rel, tokenizer_dir,
                                          tokenizer_for)

log = logging.getLogger("pipeline.evaluation")


@dataclass(frozen=True)
class ModelUnderTest:
    """The model folder evaluated (an HF encoder folder: the pipeline's ELECTRA discriminator or any
    ``AutoModel``-loadable one), where it runs and how the report names it."""
    path: Path
    size: str | None = None              # picks the fine-tuning lr and layer-wise decay; None: from config.json
    tokenizer_dir: Path | None = None    # used when the model folder holds no tokenizer
    device: str = "auto"
    language: str | None = None
    title: str | None = None


def _check(settings: EvaluateSettings) -> None:
    # the section is validated when the config is read; these hold for a copy with tasks picked out too
    if settings.seeds < 1:
        raise StageError(f"seeds must be at least 1 (got {settings.seeds})")
    names = [t.name for t in settings.tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise StageError(f"evaluate.tasks: task names must be unique; repeated: {', '.join(dup)}")
    unknown = [n for n in settings.average or [] if n not in names]
    if unknown:
        raise StageError(f"evaluate.average names unknown task(s) {unknown}; tasks: {names}")


def _header(model: ModelUnderTest, settings: EvaluateSettings, root: Path, arch: dict, size: str,
            lld: float, workers: int) -> dict:
    result: dict = {
        "language": model.language,
        "model": model_info(Path(model.path), root, arch, size),
        "settings": {"seeds": settings.seeds, "random_init_baseline": bool(settings.random_init_baseline),
                     "layerwise_lr_decay": lld, "warmup_fraction": WARMUP_FRACTION,
                     "weight_decay": WEIGHT_DECAY, "device": model.device, "workers": workers,
                     "threads_per_worker": settings.threads_per_worker, "metric_scale": "fraction",
                     "summary": "median over seeds 0..n-1 of the main metric on the scored split"},
        "references": {},
        "tasks": {},
        "average": {},
    }
    if model.title:
        result["title"] = model.title
    return result


def _main_tokenizer(model: ModelUnderTest, arch: dict, root: Path, result: dict):
    """The evaluated model's tokenizer, checked against its vocabulary size."""
    model_dir = Path(model.path)
    tok_dir = tokenizer_dir(model_dir, model.tokenizer_dir)
    tokenizer = load_tokenizer(tok_dir)
    result["model"]["tokenizer"] = rel(tok_dir, root)
    vocab = arch.get("vocab_size")
    if vocab is not None and len(tokenizer) > int(vocab):
        raise StageError(f"{tok_dir}: tokenizer has {len(tokenizer)} tokens but {model_dir / 'config.json'} "
                         f"has vocab_size {vocab}; the tokenizer does not belong to this model")
    return tokenizer


def _variants(model: ModelUnderTest, settings: EvaluateSettings, root: Path, arch: dict, size: str, lld: float,
              result: dict) -> list[Variant]:
    tokenizer = _main_tokenizer(model, arch, root, result)
    variants = [Variant(PRETRAINED, str(Path(model.path)), arch, size, lld, "main", tokenizer)]
    if settings.random_init_baseline:
        variants.append(Variant(RANDOM, None, dict(arch), size, lld, "main", tokenizer))
    for r in settings.references:
        v = reference_variant(r, root, settings.layerwise_lr_decay)
        result["references"][r.name] = v.info
        variants.append(v)
    return variants


def _prepare(settings: EvaluateSettings, datas: list, variants: list[Variant], arch: dict) -> list:
    """(task, data, {tokenizer key: (train features, dev features, max length)}) per task: everything is
    encoded first, so a data error surfaces before any training."""
    prepared = []
    for t, data in zip(settings.tasks, datas):
        feats = {}
        for v in variants:
            if v.tokenizer_key in feats:
                continue
            max_len = min(t.max_length, max_tokens(v.arch))
            tok = tokenizer_for(v, data)
            feats[v.tokenizer_key] = (*encode(data, tok, max_len), max_len)
        if feats["main"][2] < t.max_length:
            data.notes.append(f"max_length {t.max_length} capped to the model's max_position_embeddings "
                              f"{max_tokens(arch)}")
        prepared.append((t, data, feats))
        log.info("task %s: %d train / %d dev examples", t.name, len(data.train), len(data.dev))
    return prepared


def evaluate_model(model: ModelUnderTest, settings: EvaluateSettings, root: Path, *,
                   out_dir: str | Path | None = None, finetune_fn: Callable | None = None,
                   predictions: dict | None = None) -> dict:
    """Fine-tune and score ``model`` on ``settings.tasks`` with the random-init baseline and the
    references, as ``settings`` (the ``evaluate`` section) says. Task data paths resolve against ``root``
    (project) or the data root. With ``out_dir``, writes ``eval.json``, ``predictions.json``,
    ``scorecard.md`` and ``scorecard.html`` there. ``finetune_fn`` replaces ``model.finetune.finetune`` and
    runs in this process (tests). ``predictions``, when given, receives each task's predictions.json record
    (``pipeline.evaluation.predictions``). Returns the eval.json dict.
    """
    t0 = time.time()
    root = Path(root)
    _check(settings)
    arch = read_arch(Path(model.path), "pre-trained model")
    size, size_note = (model.size, None) if model.size is not None else infer_size(arch)
    if size not in FINETUNE_LR:
        raise StageError(f"unknown model size {size!r}; known: {', '.join(FINETUNE_LR)}")
    lld = settings.layerwise_lr_decay if settings.layerwise_lr_decay is not None else LAYERWISE_LR_DECAY[size]
    workers = default_workers(settings.threads_per_worker) if settings.workers is None else int(settings.workers)
    result = _header(model, settings, root, arch, size, lld, workers)
    if size_note:
        result["model"]["size_note"] = size_note
    variants: list[Variant] = []
    replicates: dict = {}
    kept = predictions if predictions is not None else {}
    if settings.tasks:
        # Read every task's data first: a bad file is reported before any tokenizer or model is loaded.
        datas = [load_task(t, root) for t in settings.tasks]
        variants = _variants(model, settings, root, arch, size, lld, result)
        prepared = _prepare(settings, datas, variants, arch)
        jobs = build_jobs(prepared, variants, settings.seeds, settings.threads_per_worker, model.device)
        if settings.workers is None and workers > 1 and in_process(jobs):
            workers = result["settings"]["workers"] = 1
            result["settings"]["workers_note"] = ("the runs together are too small to repay starting worker "
                                                  "processes: one after another in this process")
        if finetune_fn is None:
            result["representations"] = representations(prepared, variants, settings.threads_per_worker)
        outputs = execute(jobs, finetune_fn, workers, model.device)
        for ti, (t, data, feats) in enumerate(prepared):
            result["tasks"][t.name], replicates[t.name], kept[t.name] = task_entry(
                t, data, feats, variants, settings.seeds, outputs, ti, model.device)
    result["average"] = averages(result["tasks"], settings.average, settings.average_name,
                                 [v.key for v in variants], replicates)
    result["seconds"] = round(time.time() - t0, 3)
    if out_dir is not None:
        out = Path(out_dir)
        write_reports(result, out / "eval.json", out / "scorecard.md", kept)
    return result
