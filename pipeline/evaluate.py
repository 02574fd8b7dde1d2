"""Evaluate stage: fine-tune the pre-trained discriminator on each configured task and score it.

For every task in ``evaluate.tasks`` the pre-trained model (``models/<lang>/electra``) is fine-tuned
``evaluate.seeds`` times (seeds 0..n-1) and scored on the task's dev data; with
``random_init_baseline`` the same architecture is also fine-tuned from random initialisation with
the same seeds, data and hyper-parameters, so the scorecard shows what pre-training bought; every
``evaluate.references`` entry (any Hugging Face encoder folder with its own tokenizer) is fine-tuned
with the same harness too, for comparison with a published model. As in the ELECTRA paper, the
reported score is the median over seeds; the suite average is the unweighted mean of the task
medians over ``evaluate.average`` (every task by default; for English the GLUE tasks without WNLI).

Fine-tuning runs (task x model x seed) are independent: on a CPU they run in parallel processes
(``evaluate.workers``, default CPU cores // ``threads_per_worker``), each with a fixed number of
torch threads, so the numbers do not depend on how many run at once. On a GPU they run one after
another in this process (bf16 autocast).

Writes ``metrics/<lang>/eval.json`` (DVC metrics), ``reports/<lang>/scorecard.md``,
``reports/<lang>/scorecard.html`` (self-contained, with a bar chart) and ``reports/<lang>/model_card.md``
(the model's card with the scores, ``pipeline/modelcard.py``), all atomically.
:func:`evaluate_model` does the same for any model folder, :func:`cli_evaluate` is ``foundry
evaluate``, :func:`scorecard_rows` gives the rows of a Prefect table artifact.

eval.json (scores are fractions, correlations in -1..1; the scorecard shows them x100)::

    {"language", "title", "model": {"path", "size", "config", "tokenizer", "pretrain"?},
     "settings": {"seeds", "random_init_baseline", "layerwise_lr_decay", "warmup_fraction",
                  "weight_decay", "device", "workers", "threads_per_worker", "metric_scale", "summary"},
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

import argparse
import base64
import html
import io
import json
import logging
import math
import os
import statistics
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

from model.sizes import FINETUNE_LR, LAYERWISE_LR_DECAY, SIZES
from pipeline.atomic import write_json, write_text
from pipeline.config import ConfigError, ReferenceModel, TaskSettings, load_language, project_root, resolve_path
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.metrics import main_metric, task_metrics
from pipeline.tasks import GLUE_TASKS, TaskData, default_epochs, encode, load_task

log = logging.getLogger(__name__)

WARMUP_FRACTION = 0.1
WEIGHT_DECAY = 0.0   # the paper's fine-tuning table (Appendix); the official code's default is 0.01
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spm.model", "sentencepiece.bpe.model",
                    "vocab.json")
PRETRAINED, RANDOM = "pretrained", "random_init"


def html_path(scorecard: Path) -> Path:
    """reports/<lang>/scorecard.html beside scorecard.md."""
    return Path(scorecard).with_suffix(".html")


def write_reports(result: dict, eval_json: Path, scorecard_md: Path) -> None:
    """eval.json, scorecard.md and scorecard.html (beside the .md), each atomically."""
    write_json(eval_json, result)
    write_text(scorecard_md, render_scorecard(result))
    write_text(html_path(scorecard_md), render_scorecard_html(result))


# --- the models compared -------------------------------------------------------------------------

@dataclass
class _Variant:
    key: str                       # "pretrained", "random_init" or a reference's name
    init: str | None               # model folder, None = random init from arch
    arch: dict
    size: str
    layerwise_lr_decay: float
    tokenizer_key: str             # variants with the same tokenizer share encoded features
    tokenizer: object = None
    info: dict = field(default_factory=dict)


def _read_arch(model_dir: Path, what: str) -> dict:
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise StageError(f"{config_path}: no {what} here (a Hugging Face model folder with config.json"
                         + (" — run the pretrain stage first, or point --model at a model folder)" if what ==
                            "pre-trained model" else ")"))
    try:
        arch = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"{config_path}: not valid JSON ({e})") from None
    if not isinstance(arch, dict):
        raise StageError(f"{config_path}: expected a JSON object")
    return arch


def _max_tokens(arch: dict) -> int:
    n = int(arch.get("max_position_embeddings") or 512)
    if arch.get("model_type") in ("roberta", "xlm-roberta", "camembert", "longformer"):
        n -= 2
    return n


# --- evaluate one model folder ---------------------------------------------------------------------

def evaluate_model(model_dir: str | Path, tasks: Iterable[TaskSettings | dict], root: Path, seeds: int = 3,
                   out_dir: str | Path | None = None, *, random_init_baseline: bool = True,
                   size: str | None = None, layerwise_lr_decay: float | None = None, device: str = "auto",
                   language: str | None = None, tokenizer_dir: str | Path | None = None,
                   title: str | None = None, finetune_fn: Callable | None = None,
                   references: Iterable[ReferenceModel | dict] = (), average: list[str] | None = None,
                   average_name: str | None = None, workers: int | None = None,
                   threads_per_worker: int = 1) -> dict:
    """Fine-tune and score ``model_dir`` (an HF encoder folder: the pipeline's ELECTRA discriminator or
    any ``AutoModel``-loadable one) on ``tasks``, with the random-init baseline and ``references``.

    ``tasks``: TaskSettings or dicts of the same keys; data paths resolve against ``root`` (project)
    or the data root. ``size`` picks the default fine-tuning learning rate and layer-wise decay
    (inferred from config.json when not given). With ``out_dir``, writes ``eval.json``,
    ``scorecard.md`` and ``scorecard.html`` there. ``finetune_fn`` replaces ``model.finetune.finetune``
    and runs in this process (tests). Returns the eval.json dict.
    """
    t0 = time.time()
    root = Path(root)
    model_dir = Path(model_dir)
    if seeds < 1:
        raise StageError(f"seeds must be at least 1 (got {seeds})")
    tasks = [t if isinstance(t, TaskSettings) else TaskSettings.model_validate(t) for t in tasks]
    refs = [r if isinstance(r, ReferenceModel) else ReferenceModel.model_validate(r) for r in references]
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise StageError(f"evaluate.tasks: task names must be unique; repeated: {', '.join(dup)}")
    if average is not None:
        unknown = [n for n in average if n not in names]
        if unknown:
            raise StageError(f"evaluate.average names unknown task(s) {unknown}; tasks: {names}")

    arch = _read_arch(model_dir, "pre-trained model")
    size_note = None
    if size is None:
        size, size_note = _infer_size(arch)
    if size not in FINETUNE_LR:
        raise StageError(f"unknown model size {size!r}; known: {', '.join(FINETUNE_LR)}")
    lld = layerwise_lr_decay if layerwise_lr_decay is not None else LAYERWISE_LR_DECAY[size]
    n_workers = _default_workers(threads_per_worker) if workers is None else int(workers)

    result: dict = {
        "language": language,
        "model": _model_info(model_dir, root, arch, size),
        "settings": {"seeds": seeds, "random_init_baseline": bool(random_init_baseline),
                     "layerwise_lr_decay": lld, "warmup_fraction": WARMUP_FRACTION,
                     "weight_decay": WEIGHT_DECAY, "device": device, "workers": n_workers,
                     "threads_per_worker": threads_per_worker, "metric_scale": "fraction",
                     "summary": "median over seeds 0..n-1 of the main metric on the scored split"},
        "references": {},
        "tasks": {},
        "average": {},
    }
    if title:
        result["title"] = title
    if size_note:
        result["model"]["size_note"] = size_note

    variants: list[_Variant] = []
    if tasks:
        # Read every task's data first: a bad file is reported before any tokenizer or model is loaded.
        datas = [load_task(t, root) for t in tasks]
        tok_dir = _tokenizer_dir(model_dir, tokenizer_dir)
        tokenizer = _load_tokenizer(tok_dir)
        result["model"]["tokenizer"] = _rel(tok_dir, root)
        vocab = arch.get("vocab_size")
        if vocab is not None and len(tokenizer) > int(vocab):
            raise StageError(f"{tok_dir}: tokenizer has {len(tokenizer)} tokens but {model_dir / 'config.json'} "
                             f"has vocab_size {vocab}; the tokenizer does not belong to this model")
        variants.append(_Variant(PRETRAINED, str(model_dir), arch, size, lld, "main", tokenizer))
        if random_init_baseline:
            variants.append(_Variant(RANDOM, None, dict(arch), size, lld, "main", tokenizer))
        for r in refs:
            rdir = resolve_path(r.path, r.root, root)
            rarch = _read_arch(rdir, f"reference model {r.name!r}")
            rsize, rnote = (r.size, None) if r.size else _infer_size(rarch)
            rlld = layerwise_lr_decay if layerwise_lr_decay is not None else LAYERWISE_LR_DECAY[rsize]
            rtok = _load_tokenizer(_tokenizer_dir(rdir, None))
            info = {"path": _rel(rdir, root), "size": rsize, "model_type": rarch.get("model_type"),
                    "config": _model_info(rdir, root, rarch, rsize)["config"], "tokenizer": _rel(rdir, root)}
            if rnote:
                info["size_note"] = rnote
            result["references"][r.name] = info
            variants.append(_Variant(r.name, str(rdir), rarch, rsize, rlld, f"ref:{r.name}", rtok, info))

        # Load and encode every task first, so a data error surfaces before any training.
        prepared = []
        for t, data in zip(tasks, datas):
            feats = {}
            for v in variants:
                if v.tokenizer_key in feats:
                    continue
                max_len = min(t.max_length, _max_tokens(v.arch))
                tok = _tokenizer_for(v, data)
                feats[v.tokenizer_key] = (*encode(data, tok, max_len), max_len)
            if feats["main"][2] < t.max_length:
                data.notes.append(f"max_length {t.max_length} capped to the model's max_position_embeddings "
                                  f"{_max_tokens(arch)}")
            prepared.append((t, data, feats))
            log.info("task %s: %d train / %d dev examples", t.name, len(data.train), len(data.dev))

        jobs = []
        for ti, (t, data, feats) in enumerate(prepared):
            for v in variants:
                train_f, dev_f, max_len = feats[v.tokenizer_key]
                for s in range(seeds):
                    jobs.append(_Job(ti, v.key, s, v.init, None if v.init else dict(v.arch), t.type,
                                     data.num_labels, train_f, dev_f,
                                     {**_hparams(t, data, v, device), "seed": s, "threads": threads_per_worker}))
        if finetune_fn is None:
            result["representations"] = _representations(prepared, variants, threads_per_worker)
        outputs = _execute(jobs, finetune_fn, n_workers, device)
        for ti, (t, data, feats) in enumerate(prepared):
            result["tasks"][t.name] = _task_entry(t, data, feats, variants, seeds, outputs, ti, device)

    result["average"] = _averages(result["tasks"], average, average_name, [v.key for v in variants])
    result["seconds"] = round(time.time() - t0, 3)
    if out_dir is not None:
        out = Path(out_dir)
        write_reports(result, out / "eval.json", out / "scorecard.md")
    return result


COLLAPSED = 0.95  # mean cosine between different tokens' last-layer states above which we warn


def _representations(prepared: list, variants: list[_Variant], threads: int) -> dict:
    """Last-layer token similarity of every model on the first task's scored examples (a diagnostic: a
    collapsed representation explains a pre-trained model that fine-tunes worse than random init)."""
    try:
        import torch

        from model.finetune import representation_stats
    except ImportError:  # pragma: no cover
        return {}
    t, data, feats = prepared[0]
    out = {}
    old = torch.get_num_threads()
    torch.set_num_threads(max(1, int(threads)))
    try:
        for v in variants:
            st = representation_stats(v.init, feats[v.tokenizer_key][1], arch=None if v.init else v.arch)
            out[v.key] = {"final_layer_token_cosine": st["final"], "layer_token_cosine": st["layers"],
                          "examples": st["examples"], "task": t.name}
    except Exception as e:  # noqa: BLE001 - a diagnostic never fails the evaluation
        log.warning("representation diagnostic skipped: %s", e)
    finally:
        torch.set_num_threads(old)
    return out


def _collapse_notes(result: dict) -> list[tuple[str, str]]:
    notes = []
    for key, r in (result.get("representations") or {}).items():
        c = r.get("final_layer_token_cosine")
        if key != RANDOM and c is not None and c >= COLLAPSED:
            base = (result.get("representations") or {}).get(RANDOM, {}).get("final_layer_token_cosine")
            notes.append((key, f"last-layer token representations are collapsed: different tokens' states have "
                               f"mean cosine {c:.3f}" + (f" (random init: {base:.3f})" if base is not None else "")
                          + " — the model maps every token to nearly the same vector (for an ELECTRA "
                            "discriminator: still on the 'everything is original' plateau), so fine-tuning "
                            "starts from a degenerate state and can score below random initialisation"))
    return notes


def _hparams(t: TaskSettings, data: TaskData, v: _Variant, device: str) -> dict:
    return {"learning_rate": t.learning_rate or FINETUNE_LR[v.size], "epochs": default_epochs(t, data.glue_task),
            "batch_size": t.batch_size, "warmup_fraction": WARMUP_FRACTION, "weight_decay": WEIGHT_DECAY,
            "layerwise_lr_decay": v.layerwise_lr_decay, "device": device}


def _tokenizer_for(v: _Variant, data: TaskData):
    """Byte-level BPE tokenizers (RoBERTa) need add_prefix_space=True for pre-split words."""
    tok = v.tokenizer
    if data.type == "tagging":
        try:
            tok([["a", "b"]], is_split_into_words=True)
        except (ValueError, TypeError) as e:
            if "add_prefix_space" not in str(e) or not v.init:
                raise StageError(f"{v.key}: the tokenizer cannot encode pre-split words ({e})") from None
            tok = _load_tokenizer(_tokenizer_dir(Path(v.init), None), add_prefix_space=True)
            v.tokenizer = tok
    return tok


# --- running the fine-tuning jobs ------------------------------------------------------------------

@dataclass
class _Job:
    task_index: int
    variant: str
    seed: int
    init: str | None
    arch: dict | None
    task_type: str
    num_labels: int
    train: list
    dev: list
    hparams: dict

    @property
    def key(self) -> tuple:
        return (self.task_index, self.variant, self.seed)

    def cost(self) -> float:
        n = sum(len(f["input_ids"]) for f in self.train)
        return n * float(self.hparams.get("epochs", 3)) + sum(len(f["input_ids"]) for f in self.dev)


def _default_workers(threads: int) -> int:
    try:
        cores = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, int(threads)))


def _uses_gpu(device: str) -> bool:
    if device == "cpu":
        return False
    try:
        import torch
        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def _run_job(job: _Job, finetune: Callable) -> dict:
    out = finetune(job.init, job.task_type, job.num_labels, list(job.train), list(job.dev), dict(job.hparams),
                   arch=job.arch)
    return {k: out.get(k) for k in ("predictions", "labels", "train_loss", "seconds", "steps")}


def _worker_init(threads: int) -> None:
    import torch
    torch.set_num_threads(max(1, int(threads)))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


def _worker_job(job: _Job) -> dict:
    from model.finetune import finetune
    return _run_job(job, finetune)


def _execute(jobs: list[_Job], finetune_fn: Callable | None, workers: int, device: str) -> dict:
    """Run every job; returns {job.key: output}. Parallel processes on CPU, in-process otherwise."""
    out: dict = {}
    if not jobs:
        return out
    label = lambda j: f"task #{j.task_index} {j.variant} seed {j.seed}"  # noqa: E731
    serial = finetune_fn is not None or workers <= 1 or len(jobs) == 1 or _uses_gpu(device)
    if serial:
        finetune = finetune_fn or _default_finetune()
        for i, job in enumerate(jobs, 1):
            try:
                out[job.key] = _run_job(job, finetune)
            except (ValueError, RuntimeError) as e:
                raise StageError(f"fine-tuning failed ({label(job)}): {e}") from e
            log.info("[%d/%d] %s: %.1f s", i, len(jobs), label(job), out[job.key].get("seconds") or 0.0)
        return out
    import multiprocessing as mp

    order = sorted(jobs, key=lambda j: -j.cost())  # longest first: better packing, same results
    threads = int(jobs[0].hparams.get("threads") or 1)
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=mp.get_context("spawn"),
                             initializer=_worker_init, initargs=(threads,)) as ex:
        futures = {ex.submit(_worker_job, j): j for j in order}
        done = 0
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                out[job.key] = fut.result()
            except BrokenProcessPool as e:
                raise StageError(
                    f"a fine-tuning worker process died ({label(job)}): out of memory, or a script that calls "
                    f"evaluate without `if __name__ == '__main__':` (worker processes are spawned and re-import "
                    f"the main module); evaluate.workers: 1 runs everything in this process ({e})") from e
            except (ValueError, RuntimeError) as e:
                for f in futures:
                    f.cancel()
                raise StageError(f"fine-tuning failed ({label(job)}): {e}") from e
            done += 1
            log.info("[%d/%d] %s: %.1f s", done, len(jobs), label(job), out[job.key].get("seconds") or 0.0)
    return out


def _default_finetune() -> Callable:
    try:
        from model.finetune import finetune
    except ImportError as e:  # pragma: no cover - depends on the model package being installed
        raise StageError(f"model.finetune is not available ({e})") from None
    return finetune


# --- scoring ----------------------------------------------------------------------------------------

def _rel(p: Path, root: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(Path(p).resolve())


def _infer_size(arch: dict) -> tuple[str, str | None]:
    for name, s in SIZES.items():
        if all(arch.get(k) == s[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads")):
            return name, None
    h = arch.get("hidden_size") or arch.get("dim") or 0
    guess = "small" if h <= 256 else "base" if h <= 768 else "large"
    return guess, (f"architecture matches no named size; fine-tuning defaults of '{guess}' used "
                   f"(hidden size {h or 'unknown'})")


def _model_info(model_dir: Path, root: Path, arch: dict, size: str) -> dict:
    keys = ("model_type", "num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
            "embedding_size", "vocab_size", "max_position_embeddings")
    return {"path": _rel(model_dir, root), "size": size, "config": {k: arch[k] for k in keys if k in arch}}


def _pretrain_summary(path: Path) -> dict | None:
    """A few headline numbers of metrics/<lang>/pretrain.json for the scorecard, if readable."""
    if not path.is_file():
        return None
    try:
        pm = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(pm, dict):
        return None
    out = {k: pm[k] for k in ("objective", "steps", "seconds") if isinstance(pm.get(k), (int, float, str))}
    return out or None


def _tokenizer_dir(model_dir: Path, tokenizer_dir: str | Path | None) -> Path:
    if any((model_dir / f).is_file() for f in _TOKENIZER_FILES):
        return model_dir
    if tokenizer_dir is not None and any((Path(tokenizer_dir) / f).is_file() for f in _TOKENIZER_FILES):
        return Path(tokenizer_dir)
    where = f" or {tokenizer_dir}" if tokenizer_dir else ""
    raise StageError(f"{model_dir}: no tokenizer files (tokenizer.json){where}; the model folder should "
                     f"hold the tokenizer it was trained with")


def _load_tokenizer(path: Path, **kw):
    from transformers import AutoTokenizer
    try:
        tok = AutoTokenizer.from_pretrained(str(path), **kw)
    except Exception as e:  # noqa: BLE001 - any load failure is a problem with the folder
        raise StageError(f"{path}: cannot load the tokenizer ({type(e).__name__}: {e})") from None
    return tok


def _as_index(p) -> int:
    if isinstance(p, (list, tuple)):
        return max(range(len(p)), key=lambda i: p[i])
    return int(p)


def _as_float(p) -> float:
    if isinstance(p, (list, tuple)):
        return float(p[0])
    return float(p)


def _gold(data: TaskData, dev_f: list[dict]) -> list:
    if data.type == "regression":
        return [float(ex.label) for ex in data.dev]
    labels = data.labels or []
    if data.type == "tagging":
        return [[labels[x] for x in f["label"] if x != -100] for f in dev_f]
    return [labels[f["label"]] for f in dev_f]


def _decode(data: TaskData, preds: list, n_dev: int, gold: list) -> list:
    if len(preds) != n_dev:
        raise RuntimeError(f"finetune returned {len(preds)} predictions for {n_dev} dev examples")
    labels = data.labels or []
    if data.type == "regression":
        out = [_as_float(p) for p in preds]
        if data.label_range is not None:  # back from the (y - min) / max training scale
            lo, hi = data.label_range
            out = [p * hi + lo for p in out]
        return out
    if data.type == "tagging":
        out = []
        for i, (p, g) in enumerate(zip(preds, gold)):
            p = list(p)
            if len(p) != len(g):
                raise RuntimeError(f"dev example {i}: finetune returned {len(p)} tag predictions for "
                                   f"{len(g)} labelled positions")
            out.append([labels[_as_index(x)] for x in p])
        return out
    return [labels[_as_index(p)] for p in preds]


def _summary(runs: list[dict]) -> dict:
    mains = [r["metrics"]["main"] for r in runs]
    keys = [k for k in runs[0]["metrics"] if k != "main"]
    return {"median": statistics.median(mains), "mean": statistics.fmean(mains), "min": min(mains),
            "max": max(mains), "seed_scores": {str(r["seed"]): r["metrics"]["main"] for r in runs},
            "seeds": mains, "all": {k: statistics.median(r["metrics"][k] for r in runs) for k in keys},
            "runs": runs}


def _num(x):
    """A float for JSON, or None when missing or not finite (eval.json stays strict JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _task_entry(t: TaskSettings, data: TaskData, feats: dict, variants: list[_Variant], seeds: int,
                outputs: dict, ti: int, device: str) -> dict:
    notes = list(data.notes)
    main_gold = _gold(data, feats["main"][1])
    metric = main_metric(data.glue_task or t.name, t.type, t.format, main_gold if t.type == "tagging" else None)
    summaries: dict[str, dict] = {}
    for v in variants:
        train_f, dev_f, max_len = feats[v.tokenizer_key]
        gold = _gold(data, dev_f)
        runs = []
        for s in range(seeds):
            out = outputs[(ti, v.key, s)]
            preds = _decode(data, list(out["predictions"]), len(dev_f), gold)
            ret_labels = out.get("labels")
            if ret_labels is not None and t.type != "regression":
                if _decode(data, list(ret_labels), len(dev_f), gold) != gold:
                    raise StageError(f"task {t.name}: labels returned by finetune do not match the dev labels "
                                     f"(order changed?)")
            if t.type == "regression":
                bad = sum(1 for p in preds if _num(p) is None)
                if bad:
                    notes.append(f"{v.key} seed {s}: {bad} non-finite predictions (training diverged); "
                                 f"correlations scored as 0")
            m = task_metrics(data.glue_task or t.name, t.type, preds, gold, task_format=t.format)
            runs.append({"seed": s, "metrics": m, "train_loss": _num(out.get("train_loss")),
                         "seconds": _num(out.get("seconds")), "steps": out.get("steps")})
        summaries[v.key] = _summary(runs)
        if t.type == "tagging":
            total = sum(len(ex.tokens or []) for ex in data.dev)
            scored = sum(len(g) for g in gold)
            summaries[v.key]["dev_words"] = total
            summaries[v.key]["dev_words_scored"] = scored
            if scored < total and v.key != RANDOM:
                notes.append(f"{v.key}: {total - scored} of {total} dev words fell beyond max_length {max_len} "
                             f"(or produced no sub-token) and were not scored")
    pre, rnd = summaries[PRETRAINED], summaries.get(RANDOM)
    v0 = variants[0]
    entry = {
        "type": t.type, "format": t.format, "metric": metric, "glue_task": data.glue_task,
        "trained_on": data.trained_on, "scored_on": data.scored_on,
        "train_examples": len(data.train), "train_available": data.train_available, "swapped": data.swapped,
        "dev_examples": len(data.dev), "dev_available": data.dev_available, "data_root": t.root,
        "num_labels": data.num_labels, "labels": data.labels,
        "hparams": {**_hparams(t, data, v0, device), "max_length": feats["main"][2]},
        "notes": notes,
        "pretrained": pre, "random_init": rnd,
        "references": {v.key: summaries[v.key] for v in variants if v.key not in (PRETRAINED, RANDOM)},
        "delta": (pre["median"] - rnd["median"]) if rnd else None,
        "paired": _paired(pre, rnd) if rnd else None,
    }
    if t.type == "tagging":
        entry["dev_words"] = pre["dev_words"]
        entry["dev_words_scored"] = pre["dev_words_scored"]
    if data.train_available > len(data.train) - data.swapped:
        notes.append(f"trained on the first {len(data.train) - data.swapped} of {data.train_available} examples")
    if data.dev_available > len(data.dev):
        notes.append(f"scored on the first {len(data.dev)} of {data.dev_available} examples")
    return entry


def _paired(a: dict, b: dict) -> dict:
    """Seed-by-seed comparison (same seed = same head init, data order and dropout masks)."""
    diffs = [a["seed_scores"][s] - b["seed_scores"][s] for s in a["seed_scores"] if s in b["seed_scores"]]
    return {"seeds": len(diffs), "wins": sum(1 for d in diffs if d > 0),
            "mean_difference": statistics.fmean(diffs) if diffs else None,
            "min_difference": min(diffs) if diffs else None}


def _averages(tasks: dict, average: list[str] | None, name: str | None, variants: list[str]) -> dict:
    names = [n for n in (average if average is not None else list(tasks)) if n in tasks]
    out: dict = {"name": name or ("mean over every task" if average is None else "mean over " + ", ".join(names)),
                 "tasks": names, PRETRAINED: None, RANDOM: None, "delta": None, "references": {}}
    if not names:
        return out

    def mean_of(key):
        vals = []
        for n in names:
            v = tasks[n]
            s = v.get(key) if key in (PRETRAINED, RANDOM) else (v.get("references") or {}).get(key)
            if not s:
                return None
            vals.append(s["median"])
        return statistics.fmean(vals)

    out[PRETRAINED] = mean_of(PRETRAINED)
    out[RANDOM] = mean_of(RANDOM)
    if out[PRETRAINED] is not None and out[RANDOM] is not None:
        out["delta"] = out[PRETRAINED] - out[RANDOM]
    for k in variants:
        if k not in (PRETRAINED, RANDOM):
            out["references"][k] = mean_of(k)
    return out


# --- scorecard ------------------------------------------------------------------------------------

def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _signed(x) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def _seeds(s: dict | None) -> str:
    if not s:
        return "–"
    return f"{_pct(s['median'])} ({', '.join(_pct(v) for v in s['seeds'])})"


def _columns(result: dict) -> list[tuple[str, str]]:
    """(key, heading) of every model compared, in order."""
    cols = [(PRETRAINED, "pretrained")]
    if result["settings"].get("random_init_baseline"):
        cols.append((RANDOM, "random init"))
    cols += [(name, name) for name in result.get("references") or {}]
    return cols


def _summary_of(entry: dict, key: str) -> dict | None:
    if key in (PRETRAINED, RANDOM):
        return entry.get(key)
    return (entry.get("references") or {}).get(key)


def _avg_of(avg: dict, key: str):
    if key in (PRETRAINED, RANDOM):
        return avg.get(key)
    return (avg.get("references") or {}).get(key)


def scorecard_rows(result: dict) -> list[dict]:
    """Rows for a Prefect table artifact (``create_table_artifact(table=rows)``): one per task and the
    average; scores x100 rounded to 0.1 (None where not run), plus the per-seed scores as text."""
    cols = _columns(result)
    rows = []
    for name, v in result["tasks"].items():
        row = {"task": name, "metric": v["metric"]}
        for key, head in cols:
            s = _summary_of(v, key)
            row[head] = None if not s else round(100 * s["median"], 1)
        row["delta"] = None if v.get("delta") is None else round(100 * v["delta"], 1)
        row["seeds (pretrained)"] = ", ".join(_pct(x) for x in v["pretrained"]["seeds"])
        row["trained on"] = v.get("trained_on", "")
        row["scored on"] = v.get("scored_on", "")
        rows.append(row)
    avg = result.get("average") or {}
    if result["tasks"]:
        row = {"task": "average", "metric": avg.get("name", "")}
        for key, head in cols:
            x = _avg_of(avg, key)
            row[head] = None if x is None else round(100 * x, 1)
        row["delta"] = None if avg.get("delta") is None else round(100 * avg["delta"], 1)
        row["seeds (pretrained)"] = ""
        row["trained on"] = ""
        row["scored on"] = ""
        rows.append(row)
    return rows


def _intro(result: dict) -> list[str]:
    m = result["model"]
    st = result["settings"]
    cfg = m.get("config", {})
    arch = ", ".join(f"{k}={cfg[k]}" for k in ("num_hidden_layers", "hidden_size", "vocab_size") if k in cfg)
    kind = "ELECTRA" if cfg.get("model_type", "electra") == "electra" else cfg.get("model_type")
    lines = [f"Model: `{m['path']}` ({kind}-{m['size']}{'; ' + arch if arch else ''})."]
    if m.get("pretrain"):
        lines.append("Pre-training: " + ", ".join(f"{k} {v}" for k, v in m["pretrain"].items()) + ".")
    others = []
    if st["random_init_baseline"]:
        others.append("the same architecture from random initialisation")
    refs = result.get("references") or {}
    if refs:
        others.append("the reference model(s) " + ", ".join(f"{n} (`{r['path']}`)" for n, r in refs.items()))
    base = ("and, for comparison, " + " and ".join(others) + " ") if others else ""
    lines += [
        "",
        f"Each task fine-tunes the pre-trained model {base}with seeds 0..{st['seeds'] - 1} and identical data "
        f"and hyper-parameters. Scores are on each task's scored split (see below), x100; each cell is the "
        f"median over seeds (the ELECTRA paper's convention) with every seed in brackets. Delta = pretrained "
        f"median - random-init median; 'wins' counts the seeds where the pre-trained model beat the random "
        f"init with the same seed.",
    ]
    return lines


def render_scorecard(result: dict) -> str:
    """Markdown scorecard from an eval.json dict."""
    st = result["settings"]
    head = result.get("title") or result.get("language") or result["model"]["path"]
    lines = [f"# Scorecard: {head}", ""] + _intro(result) + [""]
    tasks = result["tasks"]
    if not tasks:
        lines += ["No evaluation tasks are configured (`evaluate.tasks` in the language's YAML), so nothing "
                  "was fine-tuned or scored.", ""]
        return "\n".join(lines)
    cols = _columns(result)
    lines += ["| task | metric | " + " | ".join(f"{h} median (seeds)" for _, h in cols) + " | delta | wins |",
              "|---|---|" + "---:|" * len(cols) + "---:|---:|"]
    for name, v in tasks.items():
        p = v.get("paired")
        wins = f"{p['wins']}/{p['seeds']}" if p else "–"
        lines.append(f"| {name} | {v['metric']} | " + " | ".join(_seeds(_summary_of(v, k)) for k, _ in cols)
                     + f" | {_signed(v['delta'])} | {wins} |")
    avg = result["average"]
    lines.append(f"| **average** | {avg.get('name', '')} | " + " | ".join(_pct(_avg_of(avg, k)) for k, _ in cols)
                 + f" | {_signed(avg.get('delta'))} | |")
    lines += ["", f"Average: {avg.get('name', '')} (unweighted mean of the task medians over "
                  f"{', '.join(avg.get('tasks') or []) or 'no task'}).", ""]
    lines += ["## What was trained and scored", "",
              "| task | type | trained on | train examples | scored on | scored examples | lr | epochs | batch | max length |",
              "|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for name, v in tasks.items():
        hp = v["hparams"]
        root = " (project)" if v.get("data_root") == "project" else ""
        n_orig = v["train_examples"] - v.get("swapped", 0)
        tr = f"{n_orig}" + (f" of {v['train_available']}" if v["train_available"] > n_orig else "")
        if v.get("swapped"):
            tr += f" (x2 swapped = {v['train_examples']})"
        dv = f"{v['dev_examples']}" + (f" of {v['dev_available']}" if v["dev_available"] > v["dev_examples"] else "")
        lines.append(f"| {name} | {v['type']} | `{v['trained_on']}`{root} | {tr} | `{v['scored_on']}`{root} | {dv} | "
                     f"{hp['learning_rate']:g} | {hp['epochs']:g} | {hp['batch_size']} | {hp['max_length']} |")
    lines += ["", f"Layer-wise learning-rate decay {st['layerwise_lr_decay']:g} (official code's depths), warm-up "
                  f"{st['warmup_fraction']:g} of the steps, weight decay {st['weight_decay']:g}, device "
                  f"`{st['device']}`. Reference models use the learning rate and decay of their own size.", ""]
    notes = [(n, note) for n, v in tasks.items() for note in v.get("notes", [])]
    m = result["model"]
    if m.get("size_note"):
        notes.insert(0, ("model", m["size_note"]))
    for rn, r in (result.get("references") or {}).items():
        if r.get("size_note"):
            notes.insert(0, (rn, r["size_note"]))
    notes = _collapse_notes(result) + notes
    if notes:
        lines += ["Notes:", ""] + [f"- {n}: {note}" for n, note in notes] + [""]
    lines += ["## All metrics (medians over seeds, x100)", "",
              "| task | model | metrics |", "|---|---|---|"]
    for name, v in tasks.items():
        for key, head in cols:
            s = _summary_of(v, key)
            if s:
                lines.append(f"| {name} | {head} | " + ", ".join(f"{k} {_pct(x)}" for k, x in s["all"].items()) + " |")
    lines.append("")
    return "\n".join(lines)


def _chart_png(result: dict) -> bytes | None:
    """Grouped bars: task medians per model (x100), with each seed as a dot."""
    tasks = result["tasks"]
    if not tasks:
        return None
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    cols = _columns(result)
    names = list(tasks) + ["average"]
    width = 0.8 / len(cols)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names) * max(1, len(cols)) ** 0.5 + 2), 4.0), dpi=100)
    for ci, (key, head) in enumerate(cols):
        xs, ys = [], []
        for i, n in enumerate(names):
            if n == "average":
                val = _avg_of(result["average"], key)
                seeds = []
            else:
                s = _summary_of(tasks[n], key)
                val = s["median"] if s else None
                seeds = s["seeds"] if s else []
            x = i - 0.4 + width * (ci + 0.5)
            if val is not None:
                xs.append(x)
                ys.append(100 * val)
            if seeds:
                ax.scatter([x] * len(seeds), [100 * v for v in seeds], s=9, color="black", zorder=3, alpha=0.6)
        ax.bar(xs, ys, width=width * 0.95, label=head)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([f"{n}\n({tasks[n]['metric']})" if n in tasks else n for n in names], fontsize=8)
    ax.set_ylabel("score x100 (median over seeds; dots: seeds)")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.legend(fontsize=8)
    ax.set_title(f"Scorecard: {result.get('title') or result.get('language') or result['model']['path']}")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


def render_scorecard_html(result: dict) -> str:
    """A self-contained HTML scorecard: the Markdown tables as HTML and an embedded PNG bar chart."""
    esc = html.escape
    head = result.get("title") or result.get("language") or result["model"]["path"]
    parts = ["<!doctype html>", "<html><head><meta charset='utf-8'>", f"<title>Scorecard: {esc(str(head))}</title>",
             "<style>body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
             "table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;"
             "padding:4px 8px}th{background:#f3f3f3}td.n{text-align:right}code{font-size:13px}</style>",
             "</head><body>", f"<h1>Scorecard: {esc(str(head))}</h1>"]
    for para in "\n".join(_intro(result)).split("\n\n"):
        parts.append(f"<p>{_inline(para)}</p>")
    png = _chart_png(result)
    if png:
        parts.append("<img alt='bar chart of the task scores' style='max-width:100%' "
                     f"src='data:image/png;base64,{base64.b64encode(png).decode()}'>")
    tasks = result["tasks"]
    if not tasks:
        parts.append("<p>No evaluation tasks are configured (<code>evaluate.tasks</code>), so nothing was "
                     "fine-tuned or scored.</p></body></html>")
        return "\n".join(parts)
    cols = _columns(result)
    rows = [["task", "metric"] + [f"{h} median (seeds)" for _, h in cols] + ["delta", "wins"]]
    for name, v in tasks.items():
        p = v.get("paired")
        rows.append([name, v["metric"]] + [_seeds(_summary_of(v, k)) for k, _ in cols]
                    + [_signed(v["delta"]), f"{p['wins']}/{p['seeds']}" if p else "–"])
    avg = result["average"]
    rows.append(["average", avg.get("name", "")] + [_pct(_avg_of(avg, k)) for k, _ in cols]
                + [_signed(avg.get("delta")), ""])
    parts.append(_html_table(rows, numeric_from=2))
    parts.append("<h2>What was trained and scored</h2>")
    rows = [["task", "type", "trained on", "train examples", "scored on", "scored examples", "lr", "epochs",
             "batch", "max length"]]
    for name, v in tasks.items():
        hp = v["hparams"]
        n_orig = v["train_examples"] - v.get("swapped", 0)
        tr = f"{n_orig} of {v['train_available']}" + (" (x2 swapped)" if v.get("swapped") else "")
        rows.append([name, v["type"], v["trained_on"], tr, v["scored_on"],
                     f"{v['dev_examples']} of {v['dev_available']}", f"{hp['learning_rate']:g}",
                     f"{hp['epochs']:g}", str(hp["batch_size"]), str(hp["max_length"])])
    parts.append(_html_table(rows, numeric_from=None))
    notes = _collapse_notes(result) + [(n, note) for n, v in tasks.items() for note in v.get("notes", [])]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li><b>{esc(n)}</b>: {esc(note)}</li>" for n, note in notes)
                     + "</ul>")
    parts.append("<h2>All metrics (medians over seeds, x100)</h2>")
    rows = [["task", "model", "metrics"]]
    for name, v in tasks.items():
        for key, h in cols:
            s = _summary_of(v, key)
            if s:
                rows.append([name, h, ", ".join(f"{k} {_pct(x)}" for k, x in s["all"].items())])
    parts.append(_html_table(rows, numeric_from=None))
    parts.append("</body></html>")
    return "\n".join(parts)


def _inline(text: str) -> str:
    """Markdown `code` spans to <code>, everything else escaped."""
    out = []
    for i, piece in enumerate(text.split("`")):
        out.append(f"<code>{html.escape(piece)}</code>" if i % 2 else html.escape(piece))
    return "".join(out)


def _html_table(rows: list[list[str]], numeric_from: int | None) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in rows[0])
    body = []
    for r in rows[1:]:
        cells = []
        for i, c in enumerate(r):
            cls = " class='n'" if numeric_from is not None and i >= numeric_from else ""
            cells.append(f"<td{cls}>{html.escape(str(c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


# --- `foundry evaluate` ------------------------------------------------------------------------------

def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(
        prog="foundry evaluate",
        description="Fine-tune and score a model folder on a language's evaluation tasks "
                    "(corpora/LANG.yaml: evaluate) without the rest of the pipeline; prints the scorecard and "
                    "writes eval.json, scorecard.md and scorecard.html.")
    ap.add_argument("lang", help="language code: its evaluate.tasks are used")
    ap.add_argument("--model", help="Hugging Face model folder with its tokenizer (default: models/LANG/electra)")
    ap.add_argument("--task", action="append", default=[], metavar="NAME",
                    help="only this task (repeatable; default: every task)")
    ap.add_argument("--seeds", type=int, help="fine-tuning seeds per task and model (default: evaluate.seeds)")
    ap.add_argument("--out", help="output folder (default: reports/LANG/evaluate/<model folder name>)")
    ap.add_argument("--no-baseline", action="store_true", help="skip the random-init baseline")
    ap.add_argument("--no-references", action="store_true", help="skip evaluate.references")
    ap.add_argument("--workers", type=int, help="parallel fine-tuning processes on CPU (default: evaluate.workers)")
    ap.add_argument("--device", choices=("auto", "cpu", "cuda"), help="default: pretrain.device")
    return ap


def cli_evaluate(argv: list[str] | None = None) -> int:
    """``foundry evaluate LANG --model PATH [--task NAME ...] [--seeds N] [--out DIR]``; returns the exit
    status (2 for a bad config, model or data)."""
    args = _parser().parse_args(argv)
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    log.setLevel(logging.INFO)
    try:
        root = project_root()
        cfg = load_language(args.lang, root)
        ev = cfg.evaluate
        tasks = list(ev.tasks)
        if args.task:
            known = [t.name for t in tasks]
            unknown = [n for n in args.task if n not in known]
            if unknown:
                raise ConfigError(f"corpora/{args.lang}.yaml: no evaluation task(s) {', '.join(unknown)}; "
                                  f"tasks: {', '.join(known) or 'none'}")
            tasks = [t for t in tasks if t.name in args.task]
        if args.seeds is not None and args.seeds < 1:
            raise ConfigError(f"--seeds must be at least 1 (got {args.seeds})")
        lay = Layout(root, args.lang)
        model_dir = Path(args.model).expanduser() if args.model else lay.electra_dir
        if not model_dir.is_absolute():
            model_dir = (Path.cwd() / model_dir).resolve()
        own = model_dir.resolve() == lay.electra_dir.resolve()
        out = Path(args.out) if args.out else root / "reports" / args.lang / "evaluate" / (model_dir.name or "model")
        average = [n for n in ev.average if n in {t.name for t in tasks}] if ev.average is not None else None
        result = evaluate_model(
            model_dir, tasks, root, seeds=args.seeds or ev.seeds, out_dir=None,
            random_init_baseline=ev.random_init_baseline and not args.no_baseline,
            size=cfg.model.size if own else None, layerwise_lr_decay=ev.layerwise_lr_decay,
            device=args.device or cfg.pretrain.device, language=args.lang,
            tokenizer_dir=lay.tokenizer_dir if own else None,
            title=f"{cfg.name or args.lang} ({args.lang}): {model_dir.name}",
            references=[] if args.no_references else ev.references, average=average,
            average_name=ev.average_name if average == ev.average else None,
            workers=args.workers if args.workers is not None else ev.workers,
            threads_per_worker=ev.threads_per_worker)
        if own:
            pre = _pretrain_summary(lay.pretrain_metrics)
            if pre:
                result["model"]["pretrain"] = pre
        write_reports(result, out / "eval.json", out / "scorecard.md")
    except (StageError, ConfigError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    print(render_scorecard(result))
    shown = os.path.relpath(out) if not os.path.relpath(out).startswith("..") else str(out)
    print(f"Wrote {shown}/eval.json, {shown}/scorecard.md and {shown}/scorecard.html")
    return 0


__all__ = ["run", "evaluate_model", "render_scorecard", "render_scorecard_html", "scorecard_rows", "cli_evaluate",
           "write_reports", "html_path", "GLUE_TASKS"]
