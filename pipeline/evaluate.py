"""Evaluate stage: fine-tune the pre-trained discriminator on each configured task and score it.

For every task in ``evaluate.tasks`` the pre-trained model (``models/<lang>/electra``) is fine-tuned
``evaluate.seeds`` times (seeds 0..n-1) and scored on the task's dev file; with
``random_init_baseline`` the same architecture is also fine-tuned from random initialisation with
the same seeds, data and hyper-parameters, so the scorecard shows what pre-training bought. As in
the ELECTRA paper, the reported score is the median over seeds.

Writes ``metrics/<lang>/eval.json`` and ``reports/<lang>/scorecard.md`` (both atomically).
``evaluate_model`` does the same for any model folder, without a language config.

eval.json (scores are fractions, correlations in -1..1; the scorecard shows them x100)::

    {"language": "tr", "model": {"path", "size", "config": {...}, "vocab_size", "tokenizer"},
     "settings": {"seeds", "random_init_baseline", "layerwise_lr_decay", "warmup_fraction",
                  "weight_decay", "device", "metric_scale": "fraction"},
     "tasks": {"<name>": {"type", "format", "metric", "glue_task",
                          "train_examples", "train_available", "dev_examples", "dev_available",
                          "trained_on", "scored_on": "dev", "dev_file", "hparams": {...},
                          "notes": [...],
                          "pretrained": {"median", "seeds": [main per seed], "all": {metric: median},
                                         "runs": [{"seed", "metrics", "train_loss", "seconds", "steps"}]},
                          "random_init": {... same ...} | null,
                          "delta": pretrained.median - random_init.median | null}},
     "average": {"pretrained": mean of task medians, "random_init": ..., "delta": ...},
     "seconds": total}
"""
from __future__ import annotations

import json
import logging
import statistics
import time
from pathlib import Path
from typing import Callable, Iterable

from model.sizes import FINETUNE_LR, LAYERWISE_LR_DECAY, SIZES
from pipeline.atomic import write_json, write_text
from pipeline.config import TaskSettings, load_language
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.metrics import main_metric, task_metrics
from pipeline.tasks import GLUE_TASKS, TaskData, encode, load_task

log = logging.getLogger(__name__)

WARMUP_FRACTION = 0.1
WEIGHT_DECAY = 0.0
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json")


def run(lang: str, root: Path) -> dict:
    """Evaluate ``models/<lang>/electra`` on the language's tasks; write eval.json and the scorecard."""
    root = Path(root)
    cfg = load_language(lang, root)
    lay = Layout(root, lang)
    ev = cfg.evaluate
    result = evaluate_model(
        lay.electra_dir, ev.tasks, root, seeds=ev.seeds, out_dir=None,
        random_init_baseline=ev.random_init_baseline, size=cfg.model.size,
        layerwise_lr_decay=ev.layerwise_lr_decay, device=cfg.pretrain.device, language=lang,
        tokenizer_dir=lay.tokenizer_dir, title=f"{cfg.name} ({lang})" if cfg.name else lang,
    )
    pre = _pretrain_summary(lay.pretrain_metrics)
    if pre:
        result["model"]["pretrain"] = pre
    write_json(lay.eval_metrics, result)
    write_text(lay.scorecard, render_scorecard(result))
    return {"language": lang, "tasks": len(result["tasks"]), "average": result["average"],
            "eval": str(lay.eval_metrics), "scorecard": str(lay.scorecard)}


def evaluate_model(model_dir: str | Path, tasks: Iterable[TaskSettings | dict], root: Path, seeds: int = 3,
                   out_dir: str | Path | None = None, *, random_init_baseline: bool = True,
                   size: str | None = None, layerwise_lr_decay: float | None = None, device: str = "auto",
                   language: str | None = None, tokenizer_dir: str | Path | None = None,
                   title: str | None = None, finetune_fn: Callable | None = None) -> dict:
    """Fine-tune and score ``model_dir`` (an HF ELECTRA discriminator folder) on ``tasks``.

    ``tasks``: TaskSettings or dicts of the same keys; data paths resolve against ``root`` (project)
    or the data root. ``size`` picks the default fine-tuning learning rate and layer-wise decay
    (inferred from config.json when not given). With ``out_dir``, writes ``eval.json`` and
    ``scorecard.md`` there. ``finetune_fn`` replaces ``model.finetune.finetune`` (tests).
    Returns the eval.json dict.
    """
    t0 = time.time()
    root = Path(root)
    model_dir = Path(model_dir)
    if seeds < 1:
        raise StageError(f"seeds must be at least 1 (got {seeds})")
    tasks = [t if isinstance(t, TaskSettings) else TaskSettings.model_validate(t) for t in tasks]
    names = [t.name for t in tasks]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise StageError(f"evaluate.tasks: task names must be unique; repeated: {', '.join(dup)}")

    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise StageError(f"{config_path}: no pre-trained model here (run the pretrain stage first, "
                         f"or point --model at a Hugging Face ELECTRA folder)")
    try:
        arch = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"{config_path}: not valid JSON ({e})") from None
    size_note = None
    if size is None:
        size, size_note = _infer_size(arch)
    if size not in FINETUNE_LR:
        raise StageError(f"unknown model size {size!r}; known: {', '.join(FINETUNE_LR)}")
    lld = layerwise_lr_decay if layerwise_lr_decay is not None else LAYERWISE_LR_DECAY[size]

    result: dict = {
        "language": language,
        "model": _model_info(model_dir, root, arch, size),
        "settings": {"seeds": seeds, "random_init_baseline": bool(random_init_baseline),
                     "layerwise_lr_decay": lld, "warmup_fraction": WARMUP_FRACTION,
                     "weight_decay": WEIGHT_DECAY, "device": device, "metric_scale": "fraction",
                     "summary": "median over seeds 0..n-1 of the main metric on the dev file"},
        "tasks": {},
        "average": {"pretrained": None, "random_init": None, "delta": None},
    }
    if title:
        result["title"] = title
    if size_note:
        result["model"]["size_note"] = size_note

    if tasks:
        tok_dir = _tokenizer_dir(model_dir, tokenizer_dir)
        tokenizer = _load_tokenizer(tok_dir)
        result["model"]["tokenizer"] = _rel(tok_dir, root)
        vocab = arch.get("vocab_size")
        if vocab is not None and len(tokenizer) > int(vocab):
            raise StageError(f"{tok_dir}: tokenizer has {len(tokenizer)} tokens but {config_path} has "
                             f"vocab_size {vocab}; the tokenizer does not belong to this model")
        max_pos = int(arch.get("max_position_embeddings") or 512)

        # Load and encode every task first, so a data error surfaces before any training.
        prepared = []
        for t in tasks:
            data = load_task(t, root)
            max_len = min(t.max_length, max_pos)
            if max_len < t.max_length:
                data.notes.append(f"max_length {t.max_length} capped to the model's "
                                  f"max_position_embeddings {max_pos}")
            train_f, dev_f = encode(data, tokenizer, max_len)
            prepared.append((t, data, train_f, dev_f, max_len))
            log.info("task %s: %d train / %d dev examples", t.name, len(train_f), len(dev_f))

        finetune = finetune_fn or _default_finetune()
        for t, data, train_f, dev_f, max_len in prepared:
            result["tasks"][t.name] = _run_task(t, data, train_f, dev_f, max_len, model_dir, arch, size, lld,
                                                seeds, random_init_baseline, device, finetune)

    result["average"] = _averages(result["tasks"])
    result["seconds"] = round(time.time() - t0, 3)
    if out_dir is not None:
        out = Path(out_dir)
        write_json(out / "eval.json", result)
        write_text(out / "scorecard.md", render_scorecard(result))
    return result


# --- helpers -------------------------------------------------------------------------------------

def _default_finetune() -> Callable:
    try:
        from model.finetune import finetune
    except ImportError as e:  # pragma: no cover - depends on the model package being installed
        raise StageError(f"model.finetune is not available ({e})") from None
    return finetune


def _rel(p: Path, root: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(Path(p).resolve())


def _infer_size(arch: dict) -> tuple[str, str | None]:
    for name, s in SIZES.items():
        if all(arch.get(k) == s[k] for k in ("num_hidden_layers", "hidden_size", "num_attention_heads")):
            return name, None
    return "small", ("architecture matches no named size; fine-tuning defaults of 'small' used")


def _model_info(model_dir: Path, root: Path, arch: dict, size: str) -> dict:
    keys = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size", "embedding_size",
            "vocab_size", "max_position_embeddings")
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


def _load_tokenizer(path: Path):
    from transformers import AutoTokenizer
    try:
        return AutoTokenizer.from_pretrained(str(path))
    except Exception as e:  # noqa: BLE001 - any load failure is a problem with the folder
        raise StageError(f"{path}: cannot load the tokenizer ({type(e).__name__}: {e})") from None


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
        return [float(f["label"]) for f in dev_f]
    labels = data.labels or []
    if data.type == "tagging":
        return [[labels[x] for x in f["label"] if x != -100] for f in dev_f]
    return [labels[f["label"]] for f in dev_f]


def _decode(data: TaskData, preds: list, n_dev: int, gold: list) -> list:
    if len(preds) != n_dev:
        raise RuntimeError(f"finetune returned {len(preds)} predictions for {n_dev} dev examples")
    labels = data.labels or []
    if data.type == "regression":
        return [_as_float(p) for p in preds]
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
    return {"median": statistics.median(mains), "seeds": mains,
            "all": {k: statistics.median(r["metrics"][k] for r in runs) for k in keys}, "runs": runs}


def _run_task(t: TaskSettings, data: TaskData, train_f, dev_f, max_len, model_dir: Path, arch: dict, size: str,
              lld: float, seeds: int, baseline: bool, device: str, finetune: Callable) -> dict:
    gold = _gold(data, dev_f)
    metric = main_metric(data.glue_task or t.name, t.type, t.format, gold if t.type == "tagging" else None)
    hp_common = {"learning_rate": t.learning_rate or FINETUNE_LR[size], "epochs": t.epochs,
                 "batch_size": t.batch_size, "warmup_fraction": WARMUP_FRACTION, "weight_decay": WEIGHT_DECAY,
                 "layerwise_lr_decay": lld, "device": device}

    notes = list(data.notes)

    def one(init, arch_kw, seed):
        hp = {**hp_common, "seed": seed}
        out = finetune(init, t.type, data.num_labels, list(train_f), list(dev_f), hp, arch=arch_kw)
        preds = _decode(data, list(out["predictions"]), len(dev_f), gold)
        ret_labels = out.get("labels")
        if ret_labels is not None and t.type != "regression":
            got = _decode(data, list(ret_labels), len(dev_f), gold)
            if got != gold:
                raise RuntimeError(f"task {t.name}: labels returned by finetune do not match the dev labels "
                                   f"(order changed?)")
        if t.type == "regression":
            bad = sum(1 for p in preds if _num(p) is None)
            if bad:
                notes.append(f"{'pre-trained' if init else 'random init'} seed {seed}: {bad} non-finite "
                             f"predictions (training diverged); correlations scored as 0")
        m = task_metrics(data.glue_task or t.name, t.type, preds, gold, task_format=t.format)
        return {"seed": seed, "metrics": m, "train_loss": _num(out.get("train_loss")),
                "seconds": _num(out.get("seconds")), "steps": out.get("steps")}

    log.info("task %s: fine-tuning the pre-trained model, %d seed(s)", t.name, seeds)
    pre = [one(str(model_dir), None, s) for s in range(seeds)]
    rnd = None
    if baseline:
        log.info("task %s: fine-tuning from random init, %d seed(s)", t.name, seeds)
        rnd = [one(None, dict(arch), s) for s in range(seeds)]
    pre_s = _summary(pre)
    rnd_s = _summary(rnd) if rnd else None
    entry = {
        "type": t.type, "format": t.format, "metric": metric, "glue_task": data.glue_task,
        "train_examples": len(data.train), "train_available": data.train_available,
        "dev_examples": len(data.dev), "dev_available": data.dev_available,
        "trained_on": t.train, "scored_on": "dev", "dev_file": t.dev, "data_root": t.root,
        "num_labels": data.num_labels, "labels": data.labels,
        "hparams": {**hp_common, "max_length": max_len},
        "notes": notes,
        "pretrained": pre_s, "random_init": rnd_s,
        "delta": (pre_s["median"] - rnd_s["median"]) if rnd_s else None,
    }
    if t.type == "tagging":
        total = sum(len(ex.tokens or []) for ex in data.dev)
        scored = sum(len(g) for g in gold)
        entry["dev_words"] = total
        entry["dev_words_scored"] = scored
        if scored < total:
            entry["notes"].append(f"{total - scored} of {total} dev words fell beyond max_length {max_len} "
                                  f"(or produced no sub-token) and were not scored")
    if data.train_available > len(data.train):
        entry["notes"].append(f"trained on the first {len(data.train)} of {data.train_available} examples")
    if data.dev_available > len(data.dev):
        entry["notes"].append(f"scored on the first {len(data.dev)} of {data.dev_available} dev examples")
    return entry


def _num(x):
    """A float for JSON, or None when missing or not finite (eval.json stays strict JSON)."""
    if x is None:
        return None
    x = float(x)
    return x if x == x and abs(x) != float("inf") else None


def _averages(tasks: dict) -> dict:
    if not tasks:
        return {"pretrained": None, "random_init": None, "delta": None}
    pre = statistics.fmean(v["pretrained"]["median"] for v in tasks.values())
    rnd = None
    if all(v["random_init"] for v in tasks.values()):
        rnd = statistics.fmean(v["random_init"]["median"] for v in tasks.values())
    return {"pretrained": pre, "random_init": rnd, "delta": (pre - rnd) if rnd is not None else None}


# --- scorecard ------------------------------------------------------------------------------------

def _pct(x) -> str:
    return "–" if x is None else f"{100 * x:.1f}"


def _signed(x) -> str:
    return "–" if x is None else f"{100 * x:+.1f}"


def _seeds(s: dict | None) -> str:
    if not s:
        return "–"
    return f"{_pct(s['median'])} ({', '.join(_pct(v) for v in s['seeds'])})"


def render_scorecard(result: dict) -> str:
    """Markdown scorecard from an eval.json dict."""
    m = result["model"]
    st = result["settings"]
    cfg = m.get("config", {})
    head = result.get("title") or result.get("language") or m["path"]
    lines = [f"# Scorecard: {head}", ""]
    arch = ", ".join(f"{k}={cfg[k]}" for k in ("num_hidden_layers", "hidden_size", "vocab_size") if k in cfg)
    lines.append(f"Model: `{m['path']}` (ELECTRA-{m['size']}{'; ' + arch if arch else ''}).")
    if m.get("pretrain"):
        lines.append("Pre-training: " + ", ".join(f"{k} {v}" for k, v in m["pretrain"].items()) + ".")
    base = "and, as a baseline, the same architecture from random initialisation " \
        if st["random_init_baseline"] else ""
    lines += [
        "",
        f"Each task fine-tunes the pre-trained discriminator {base}with seeds 0..{st['seeds'] - 1} and "
        f"identical data and hyper-parameters. Scores are on each task's **dev** file, x100; the cell shows "
        f"the median over seeds (the ELECTRA paper's convention) and, in brackets, every seed. "
        f"Delta = pretrained median - random-init median.",
        "",
    ]
    tasks = result["tasks"]
    if not tasks:
        lines += ["No evaluation tasks are configured (`evaluate.tasks` in the language's YAML), so nothing "
                  "was fine-tuned or scored.", ""]
        return "\n".join(lines)
    lines += ["| task | metric | pretrained median (seeds) | random init median (seeds) | delta |",
              "|---|---|---:|---:|---:|"]
    for name, v in tasks.items():
        lines.append(f"| {name} | {v['metric']} | {_seeds(v['pretrained'])} | {_seeds(v['random_init'])} | "
                     f"{_signed(v['delta'])} |")
    avg = result["average"]
    lines.append(f"| **average** | main metrics | {_pct(avg['pretrained'])} | {_pct(avg['random_init'])} | "
                 f"{_signed(avg['delta'])} |")
    lines += ["", "## What was trained and scored", "",
              "| task | type | trained on | train examples | scored on | dev examples | lr | epochs | batch | max length |",
              "|---|---|---|---:|---|---:|---:|---:|---:|---:|"]
    for name, v in tasks.items():
        hp = v["hparams"]
        root = " (project)" if v.get("data_root") == "project" else ""
        tr = f"{v['train_examples']}" + (f" of {v['train_available']}" if v["train_available"] > v["train_examples"] else "")
        dv = f"{v['dev_examples']}" + (f" of {v['dev_available']}" if v["dev_available"] > v["dev_examples"] else "")
        lines.append(f"| {name} | {v['type']} | `{v['trained_on']}`{root} | {tr} | `{v['dev_file']}`{root} | {dv} | "
                     f"{hp['learning_rate']:g} | {hp['epochs']:g} | {hp['batch_size']} | {hp['max_length']} |")
    lines += ["", f"Layer-wise learning-rate decay {st['layerwise_lr_decay']:g}, warm-up {st['warmup_fraction']:g} "
                  f"of the steps, weight decay {st['weight_decay']:g}, device `{st['device']}`.", ""]
    notes = [(n, note) for n, v in tasks.items() for note in v.get("notes", [])]
    if m.get("size_note"):
        notes.insert(0, ("model", m["size_note"]))
    if notes:
        lines += ["Notes:", ""] + [f"- {n}: {note}" for n, note in notes] + [""]
    lines += ["## All metrics (medians over seeds, x100)", "",
              "| task | model | " + "metrics |", "|---|---|---|"]
    for name, v in tasks.items():
        for kind in ("pretrained", "random_init"):
            s = v.get(kind)
            if s:
                lines.append(f"| {name} | {kind.replace('_', ' ')} | "
                             + ", ".join(f"{k} {_pct(x)}" for k, x in s["all"].items()) + " |")
    lines.append("")
    return "\n".join(lines)


__all__ = ["run", "evaluate_model", "render_scorecard", "GLUE_TASKS"]
