"""Replaced-token detection (ELECTRA) vs masked language modelling at equal compute, at CPU scale.

The ELECTRA paper's central claim (Clark et al. 2020, Table 1 / Fig. 3: ELECTRA-Small 79.9 vs BERT-Small
75.1 GLUE at the same pre-training FLOPs) reproduced small: for each language, pre-train

* ``electra``: generator + discriminator (``pretrain.objective: electra``) for ``--steps`` steps, and
* ``mlm``: a discriminator-sized masked language model (``pretrain.objective: mlm``) for as many steps as
  the same pre-training FLOPs buy (an ELECTRA step also runs the generator, so MLM gets more steps),

with the same architecture, data, batch, sequence length, learning-rate schedule and seed, then fine-tune
both -- and the same architecture from random initialisation -- with the evaluation harness
(``pipeline.evaluation.harness.evaluate_model``) on the language's tasks, several seeds, medians reported.

FLOPs: ``model.flops`` (matmuls only, 2 FLOPs per multiply-add, training = 3 x forward; the ELECTRA step
counts the discriminator, its head, the generator and the generator's MLM head at the masked positions; the
MLM step the discriminator-sized model and its MLM head), for full-length examples.
``mlm steps = round(electra steps * ELECTRA step / MLM step)``. The backbone is the size's (``tiny``: ConvBERT
with local kernels) unless ``--backbone`` says otherwise; MLM and random init use the same backbone and
initialisation.

Run: ``.venv/bin/python -m benchmarks.rtd_vs_mlm --langs tr en`` (see ``--help`` and docs/evaluation.md).
Writes ``benchmarks/results/rtd_vs_mlm-<date>.json`` and ``.md`` naming the machine. The tokenizer and
shards come from the real vocab and shard stages run on the raw text of ``text/<lang>/`` (the clean,
validate and review stages are skipped: this is the curated shared data).
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import platform
import statistics
import sys
import time
import unicodedata
from pathlib import Path
from unittest import mock

import yaml

from model.atomic import write_text
from model.sizes import BACKBONE_NAMES

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


# --- corpus: the real vocab and shard stages on raw text ---------------------------------------------

def read_documents(text_dir: Path, max_chars: int | None = None) -> list[str]:
    """Blank-line separated documents of every ``*.txt.gz``/``*.txt`` file in ``text_dir`` (sorted),
    NFC-normalised, stopping after ``max_chars`` characters (whole lines)."""
    docs: list[str] = []
    total = 0
    for path in sorted(p for p in Path(text_dir).iterdir() if p.name.endswith((".txt", ".txt.gz"))):
        opener = gzip.open if path.name.endswith(".gz") else open
        cur: list[str] = []
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                line = unicodedata.normalize("NFC", line.strip())
                if not line:
                    if cur:
                        docs.append("\n".join(cur))
                        cur = []
                    continue
                cur.append(line)
                total += len(line)
                if max_chars and total >= max_chars:
                    break
        if cur:
            docs.append("\n".join(cur))
        if max_chars and total >= max_chars:
            break
    return docs


def prepare_corpus(lang: str, work: Path, text_dir: Path, *, vocab_size: int = 4000, max_seq_length: int = 64,
                   max_chars: int | None = None, script: str = "Latn", size: str = "tiny") -> Path:
    """A scratch project under ``work`` with the language's tokenizer (``models/<lang>/tokenizer``) and
    shards (``data/<lang>/shards``), built by the real vocab and shard stages from the raw text (clean,
    validate and the review gate are skipped). Returns the project root."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.stages import shard, vocab

    root = Path(work)
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    cfg = {"language": lang, "script": script, "sources": [{"path": str(text_dir)}],
           "vocab": {"size": vocab_size, "sample_documents": 1_000_000},
           "shard": {"max_seq_length": max_seq_length, "validation_fraction": 0.02},
           "model": {"size": size}}
    (root / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg), encoding="utf-8")
    docs = read_documents(text_dir, max_chars)
    if not docs:
        raise SystemExit(f"{text_dir}: no text")
    clean = root / "data" / lang / "clean"
    clean.mkdir(parents=True, exist_ok=True)
    n = len(docs)
    table = pa.table({"id": [hashlib.sha1(d.encode()).hexdigest()[:16] for d in docs], "text": docs,
                      "source": ["raw"] * n, "lid_lang": [lang] * n,
                      "lid_score": pa.array([1.0] * n, pa.float32()),
                      "script_share": pa.array([1.0] * n, pa.float32()),
                      "n_chars": pa.array([len(d) for d in docs], pa.int32())})
    pq.write_table(table, clean / "part-00000.parquet")
    with mock.patch.object(vocab, "check_validation", lambda layout: {"passed": True}):
        vocab.run(lang, root)
    shard.run(lang, root)
    return root


def pretrain_model(root: Path, lang: str, out: Path, params: dict, *, threads: int | None = None) -> dict:
    """Pre-train with ``model.pretrain.pretrain`` (params over the project's resolved config); returns its
    metrics. ``threads`` fixes torch's thread count for the run."""
    import torch

    from model.pretrain import pretrain
    from pipeline.config import load_language

    cfg = load_language(lang, root)
    full = {**cfg.pretrain_resolved(), **params}
    out = Path(out)
    old = torch.get_num_threads()
    if threads:
        torch.set_num_threads(int(threads))
    try:
        return pretrain(shards_dir=root / "data" / lang / "shards", tokenizer_dir=root / "models" / lang / "tokenizer",
                        out_dir=out, checkpoint_dir=out.parent / (out.name + "-checkpoints"), params=full,
                        metrics_path=out.parent / (out.name + "-metrics.json"),
                        curve_path=out.parent / (out.name + "-curve.tsv"))
    finally:
        torch.set_num_threads(old)


# --- compute ----------------------------------------------------------------------------------------

def pretrain_step_flops(arch: dict, objective: str, vocab_size: int, seq_len: int, batch: int,
                        mask_prob: float) -> float:
    """Training FLOPs of one step on full-length examples (``model.flops``, either backbone)."""
    from model.electra import build_configs
    from model.flops import coefficients
    disc, gen = build_configs(arch, vocab_size, seq_len)
    c = coefficients(disc.to_dict(), None if objective == "mlm" else gen.to_dict(), vocab_size,
                     corrective=objective != "mlm" and float(arch.get("disc_mlm_weight") or 0) > 0)
    n, k = int(seq_len), round(mask_prob * seq_len)
    return c.step_flops(batch * n, batch * n * n, batch * k)


# --- one language -----------------------------------------------------------------------------------

def run_language(lang: str, args) -> dict:
    from pipeline.config import EvaluateSettings, load_language, data_root
    from pipeline.evaluation.harness import ModelUnderTest, evaluate_model

    t_lang = time.time()
    work = Path(args.work) / lang
    text_dir = data_root(REPO) / "text" / lang
    lang_cfg = load_language(lang, REPO)
    t0 = time.time()
    root = prepare_corpus(lang, work, text_dir, vocab_size=args.vocab_size, max_seq_length=args.seq_len,
                          max_chars=args.max_chars, script=lang_cfg.script)
    index = json.loads((root / "data" / lang / "shards" / "index.json").read_text())
    corpus = {"seconds": round(time.time() - t0, 1), "vocab_size": index["vocab_size"],
              "train_examples": index["splits"]["train"]["examples"], "train_tokens": index["splits"]["train"]["tokens"],
              "max_seq_length": index["max_seq_length"], "text": f"text/{lang}"}  # under the data root
    print(f"[{lang}] corpus: {corpus}", flush=True)

    from pipeline.config import load_language as _ll
    common = {"batch_size": args.batch_size, "learning_rate": args.lr, "warmup_steps": args.warmup,
              "device": "cpu", "seed": args.seed, "log_every": max(1, args.steps // 10), "checkpoint_every": 10 ** 9,
              "eval_batches": 10, "mask_prob": args.mask_prob, "temperature": args.temperature}
    if args.backbone:
        common["backbone"] = args.backbone
    arch = {**_ll(lang, root).pretrain_resolved(), **common}
    flops = {o: pretrain_step_flops(arch, o, index["vocab_size"], args.seq_len, args.batch_size, args.mask_prob)
             for o in ("electra", "mlm")}
    steps = {"electra": args.steps, "mlm": int(round(args.steps * flops["electra"] / flops["mlm"]))}
    models, pre = {}, {}
    outs = {obj: root / "models" / f"{obj}-{steps[obj]}" for obj in ("electra", "mlm")}
    runs = {obj: (root, lang, outs[obj], {**common, "objective": obj, "steps": steps[obj]}) for obj in outs}
    t0 = time.time()
    if args.pretrain_parallel:   # one process per objective (spawned: no forked torch thread pools)
        import multiprocessing as mp
        from concurrent.futures import ProcessPoolExecutor

        with ProcessPoolExecutor(2, mp_context=mp.get_context("spawn")) as ex:
            futures = {obj: ex.submit(pretrain_model, *r, threads=args.threads) for obj, r in runs.items()}
            done = {obj: f.result() for obj, f in futures.items()}
    for obj in ("electra", "mlm"):
        out = outs[obj]
        if args.pretrain_parallel:
            m = done[obj]
        else:
            t0 = time.time()
            m = pretrain_model(*runs[obj], threads=args.threads)
        keep = ("steps", "seconds", "tokens_seen", "val_gen_loss", "val_gen_acc", "val_disc_loss", "val_disc_acc",
                "val_replaced_recall", "val_replaced_precision", "val_disc_auc", "val_gen_loss_at_mask",
                "val_last_layer_cosine", "disc_params", "gen_params")
        pre[obj] = {k: m.get(k) for k in keep}
        pre[obj].update(wall_seconds=round(time.time() - t0, 1), step_flops=flops[obj],
                        total_flops=flops[obj] * steps[obj])
        models[obj] = out
        print(f"[{lang}] {obj}: {pre[obj]}", flush=True)

    tasks = []
    for t in lang_cfg.evaluate.tasks:
        if args.tasks and t.name not in args.tasks:
            continue
        upd = {"max_train_examples": args.max_train, "max_eval_examples": args.max_eval, "epochs": args.epochs,
               "learning_rate": args.ft_lr, "max_length": min(t.max_length, args.seq_len)}
        tasks.append(t.model_copy(update={k: v for k, v in upd.items() if v is not None}))
    if not tasks:
        raise SystemExit(f"{lang}: no evaluation task selected (corpora/{lang}.yaml has "
                         f"{[t.name for t in lang_cfg.evaluate.tasks]})")
    evals = {}
    for obj in ("electra", "mlm"):
        t0 = time.time()
        settings = EvaluateSettings(tasks=tasks, seeds=args.seeds, random_init_baseline=(obj == "electra"),
                                    workers=args.workers, layerwise_lr_decay=args.lld)
        evals[obj] = evaluate_model(ModelUnderTest(models[obj], device="cpu", language=lang, title=f"{lang} {obj}"),
                                    settings, REPO)
        evals[obj]["wall_seconds"] = round(time.time() - t0, 1)
    out = {"language": lang, "corpus": corpus, "pretrain": pre, "steps": steps,
           "tasks": {}, "seconds": round(time.time() - t_lang, 1)}
    for t in tasks:
        e, m = evals["electra"]["tasks"][t.name], evals["mlm"]["tasks"][t.name]
        out["tasks"][t.name] = {
            "metric": e["metric"], "trained_on": e["trained_on"], "scored_on": e["scored_on"],
            "train_examples": e["train_examples"], "dev_examples": e["dev_examples"], "hparams": e["hparams"],
            "electra": _brief(e["pretrained"]), "mlm": _brief(m["pretrained"]), "random_init": _brief(e["random_init"]),
            "electra_vs_mlm": _paired(e["pretrained"], m["pretrained"]),
            "electra_vs_random": _paired(e["pretrained"], e["random_init"]),
            "mlm_vs_random": _paired(m["pretrained"], e["random_init"]),
        }
    return out


def _brief(s: dict) -> dict:
    return {"median": s["median"], "mean": s["mean"], "seeds": s["seeds"]}


def _paired(a: dict, b: dict) -> dict:
    d = [a["seed_scores"][k] - b["seed_scores"][k] for k in a["seed_scores"]]
    return {"wins": sum(x > 0 for x in d), "seeds": len(d), "mean_difference": statistics.fmean(d)}


# --- report -----------------------------------------------------------------------------------------

def machine() -> dict:
    from benchmarks._machine import cpu_model, usable_cores
    cpu, cores = cpu_model(), usable_cores()
    import torch
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    return {"cpu": cpu, "cores": cores, "platform": platform.platform(), "python": platform.python_version(),
            "torch": torch.__version__, "load_average_1min_at_end": load}


def _pct(x):
    return "–" if x is None else f"{100 * x:.1f}"


def render(report: dict) -> str:
    a = report["args"]
    m = report["machine"]
    lines = [f"# RTD (ELECTRA) vs MLM at equal pre-training compute — {report['date']}", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}, torch {m['torch']} "
             f"(CPU only; the cores were shared with other work, so wall times are indicative).", "",
             f"Command: `{report['command']}`", "",
             f"Setup: ELECTRA-{a['size']} discriminator for both objectives; vocab {a['vocab_size']}, sequence length "
             f"{a['seq_len']}, batch {a['batch_size']}, peak lr {a['lr']:g} (linear warm-up {a['warmup']} steps, "
             f"linear decay), mask probability {a['mask_prob']}, seed {a['seed']}. MLM steps = ELECTRA steps x "
             f"ELECTRA step FLOPs / MLM step FLOPs (formula: `benchmarks/rtd_vs_mlm.py`). Fine-tuning: "
             f"{a['seeds']} seeds, medians; {a['max_train']} training / {a['max_eval']} scored examples, "
             f"{a['epochs']} epochs, lr {a['ft_lr']}, layer-wise decay {a['lld'] if a['lld'] is not None else 'by size'}.",
             ""]
    for r in report["languages"]:
        lines += [f"## {r['language']}", "",
                  f"Corpus: {r['corpus']['train_tokens']:,} training tokens ({r['corpus']['train_examples']:,} "
                  f"examples of <= {r['corpus']['max_seq_length']} tokens), vocab {r['corpus']['vocab_size']}.", "",
                  "| objective | steps | FLOPs/step | total FLOPs | tokens seen | pre-train s | val gen/MLM loss | "
                  "val disc loss | replaced recall |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
        for obj in ("electra", "mlm"):
            p = r["pretrain"][obj]
            f = lambda x, spec=".3f": "–" if x is None else format(x, spec)  # noqa: E731
            lines.append(f"| {obj} | {p['steps']} | {p['step_flops']:.3g} | {p['total_flops']:.3g} | "
                         f"{p.get('tokens_seen') or 0:,} | {f(p.get('seconds'), '.0f')} | {f(p.get('val_gen_loss'))} | "
                         f"{f(p.get('val_disc_loss'))} | {f(p.get('val_replaced_recall'))} |")
        lines += ["", "| task (metric) | trained on -> scored on | ELECTRA | MLM | random init | ELECTRA - MLM "
                      "(wins) | ELECTRA - random (wins) | MLM - random (wins) |",
                  "|---|---|---:|---:|---:|---:|---:|---:|"]
        for name, t in r["tasks"].items():
            cell = lambda s: f"{_pct(s['median'])} ({', '.join(_pct(x) for x in s['seeds'])})"  # noqa: E731
            pair = lambda p: f"{100 * p['mean_difference']:+.1f} ({p['wins']}/{p['seeds']})"  # noqa: E731
            lines.append(f"| {name} ({t['metric']}) | `{t['trained_on']}` -> `{t['scored_on']}` | {cell(t['electra'])} | "
                         f"{cell(t['mlm'])} | {cell(t['random_init'])} | {pair(t['electra_vs_mlm'])} | "
                         f"{pair(t['electra_vs_random'])} | {pair(t['mlm_vs_random'])} |")
        lines += ["", f"Wall time for {r['language']}: {r['seconds']:.0f} s.", ""]
    if report.get("conclusion"):
        lines += ["## Reading", "", report["conclusion"], ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.rtd_vs_mlm", description=__doc__.split("\n\n")[0])
    ap.add_argument("--langs", nargs="+", default=["tr", "en"])
    ap.add_argument("--steps", type=int, default=1500, help="ELECTRA pre-training steps (MLM: same FLOPs)")
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--backbone", choices=list(BACKBONE_NAMES), default=None, help="default: the size's")
    ap.add_argument("--vocab-size", type=int, default=4000)
    ap.add_argument("--seq-len", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--warmup", type=int, default=100)
    ap.add_argument("--mask-prob", type=float, default=0.15)
    ap.add_argument("--temperature", type=float, default=1.0, help="generator sampling temperature (paper: 1)")
    ap.add_argument("--max-chars", type=int, default=None, help="use only the first N characters of text")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=None, help="torch threads for pre-training (default: torch's)")
    ap.add_argument("--tasks", nargs="*", default=["upos"], help="evaluation tasks of corpora/LANG.yaml")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--max-train", type=int, default=200)
    ap.add_argument("--max-eval", type=int, default=500)
    ap.add_argument("--epochs", type=float, default=10)
    ap.add_argument("--ft-lr", type=float, default=1e-3)
    ap.add_argument("--lld", type=float, default=None, help="layer-wise lr decay (default: by size, 0.8)")
    ap.add_argument("--workers", type=int, default=None)
    ap.add_argument("--pretrain-parallel", action="store_true",
                    help="pre-train the two objectives at once, one process each (with --threads 1: two cores)")
    ap.add_argument("--work", default="/tmp/rtd_vs_mlm", help="scratch folder (corpora, models)")
    ap.add_argument("--out", default=str(RESULTS), help="results folder")
    ap.add_argument("--conclusion", default="", help="a paragraph added to the Markdown report")
    args = ap.parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    date = dt.date.today().isoformat()
    report = {"date": date, "command": "python -m benchmarks.rtd_vs_mlm " + " ".join(sys.argv[1:] if argv is None
                                                                                       else argv),
              # scratch and output folders are this machine's: not part of the portable record
              "args": {k: v for k, v in vars(args).items() if k not in ("work", "out")}, "languages": []}
    if args.size != "tiny":
        raise SystemExit("--size other than tiny: edit prepare_corpus's model section (CPU benchmark)")
    for lang in args.langs:
        report["languages"].append(run_language(lang, args))
    report["machine"] = machine()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / f"rtd_vs_mlm-{date}.json", json.dumps(report, indent=2) + "\n")
    write_text(out / f"rtd_vs_mlm-{date}.md", render(report))
    print(render(report))
    print(f"wrote {out / f'rtd_vs_mlm-{date}.md'} and .json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
