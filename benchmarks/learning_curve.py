"""Does the discriminator learn on real text? A short CPU pre-training run, plotted against the trivial baseline.

    python -m benchmarks.learning_curve --lang en --steps 3000            # pre-train, then plot
    python -m benchmarks.learning_curve --plot-only RUN-curve.tsv --lang en  # re-plot an existing curve

Runs the real vocab and shard stages on ``text/<lang>`` (``benchmarks.rtd_vs_mlm.prepare_corpus``), pre-trains
the ``tiny`` ELECTRA with the official recipe, and plots the training curve (``model.pretrain``'s
``pretrain_curve.tsv``, one row per ``log_every`` steps, averaged over that window) against what a
discriminator that ignores its input achieves:

* disc loss vs the **base-rate entropy** H(r) = -r ln r - (1-r) ln(1-r), r = the window's replaced fraction:
  the loss of the best constant prediction. Below the line = information from the input.
* ROC AUC of the replaced-token scores vs **0.5** (chance), and replaced-token precision / recall.
* generator MLM loss.

Writes ``docs/img/learning_curve-<lang>.png`` and ``benchmarks/results/learning_curve-<lang>-<date>.{md,json}``.
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from model.atomic import write_text  # noqa: E402


def base_rate_entropy(r: float) -> float:
    if not 0 < r < 1:
        return 0.0
    return -(r * math.log(r) + (1 - r) * math.log(1 - r))


def read_curve(path: Path) -> list[dict]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [{k: float(v) if v not in ("", "nan") else math.nan for k, v in r.items()} for r in rows]


def summarise(rows: list[dict]) -> dict:
    """Gap to the trivial baseline at the first and last logged window."""
    def one(r):
        h = base_rate_entropy(r["replaced_fraction"])
        return {"step": int(r["step"]), "disc_loss": round(r["disc_loss"], 4), "base_rate_entropy": round(h, 4),
                "gap_nats": round(h - r["disc_loss"], 4), "disc_auc": round(r["disc_auc"], 4),
                "replaced_recall": round(r["replaced_recall"], 4), "gen_loss": round(r["gen_loss"], 4),
                "replaced_fraction": round(r["replaced_fraction"], 4)}
    best = max(rows, key=lambda r: r["disc_auc"] if not math.isnan(r["disc_auc"]) else -1)
    return {"first": one(rows[0]), "last": one(rows[-1]), "best_auc": one(best), "windows": len(rows)}


def plot(rows: list[dict], out: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    step = [r["step"] for r in rows]
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    ax[0].plot(step, [r["disc_loss"] for r in rows], label="discriminator loss")
    ax[0].plot(step, [base_rate_entropy(r["replaced_fraction"]) for r in rows], "--",
               label="trivial: base-rate entropy")
    ax[0].set_title("RTD loss (nats/token)")
    ax[0].legend()
    ax[1].plot(step, [r["disc_auc"] for r in rows], label="ROC AUC replaced vs original")
    ax[1].axhline(0.5, ls="--", color="C1", label="trivial: chance 0.5")
    ax[1].plot(step, [r["replaced_recall"] for r in rows], label="replaced recall (p>0.5)")
    ax[1].plot(step, [0 if math.isnan(r["replaced_precision"]) else r["replaced_precision"] for r in rows],
               label="replaced precision", alpha=0.6)
    ax[1].set_ylim(0, 1)
    ax[1].set_title("replaced-token detection")
    ax[1].legend(fontsize=8)
    ax[2].plot(step, [r["gen_loss"] for r in rows], label="generator MLM loss")
    ax[2].set_title("generator loss (nats)")
    for a in ax:
        a.set_xlabel("step")
    save_figure(fig, out, title)


def save_figure(fig, out: Path, title: str) -> None:
    """Title, layout and an atomic PNG write (temp sibling, then rename)."""
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp.png")
    fig.savefig(tmp, dpi=90)
    os.replace(tmp, out)


def render(report: dict) -> str:
    s = report["summary"]
    lines = [f"# Discriminator learning curve: {report['lang']} — {report['date']}", "",
             f"Machine: {report['machine']}", "", f"Command: `{report['command']}`", "",
             f"Setup: {json.dumps(report['params'])}", "",
             "| window | step | disc loss | trivial (H(r)) | gap (nats) | AUC | recall | gen loss |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for k in ("first", "best_auc", "last"):
        r = s[k]
        lines.append(f"| {k} | {r['step']} | {r['disc_loss']} | {r['base_rate_entropy']} | {r['gap_nats']} | "
                     f"{r['disc_auc']} | {r['replaced_recall']} | {r['gen_loss']} |")
    if report.get("validation"):
        lines += ["", "Validation (end of run): " + ", ".join(f"{k} {v}" for k, v in report["validation"].items())]
    lines += ["", f"Plot: `{report['plot']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lang", default="en")
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--seq", type=int, default=64)
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--work", type=Path, default=Path("/tmp/foundry-learning-curve"))
    ap.add_argument("--plot-only", type=Path, help="an existing pretrain curve TSV")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=JSON", help="extra pretrain params")
    a = ap.parse_args(argv)
    from benchmarks.rtd_vs_mlm import machine, prepare_corpus, pretrain_model

    params = {"objective": "electra", "steps": a.steps, "batch_size": 32, "learning_rate": a.lr,
              "warmup_steps": 100, "mask_prob": 0.15, "device": "cpu", "seed": 1, "log_every": 100,
              "checkpoint_every": 500, "eval_batches": 5}
    for kv in a.set:
        k, v = kv.split("=", 1)
        params[k] = json.loads(v)
    validation = {}
    if a.plot_only:
        curve = a.plot_only
        params["note"] = f"re-plotted from {curve.name}; params as given on this command line"
    else:
        data = Path(os.environ.get("FOUNDRY_DATA_ROOT", ROOT.parent / "shared" / "data"))
        work = a.work / f"{a.lang}-{a.seq}"
        if not (work / "data" / a.lang / "shards").exists():
            prepare_corpus(a.lang, work, data / "text" / a.lang, vocab_size=a.vocab, max_seq_length=a.seq)
        t = time.time()
        m = pretrain_model(work, a.lang, a.work / f"run-{a.lang}", params, threads=a.threads)
        params["wall_seconds"] = round(time.time() - t)
        curve = a.work / f"run-{a.lang}-curve.tsv"
        validation = {k: round(v, 4) for k, v in m.items() if k.startswith("val_") and isinstance(v, float)}
    rows = read_curve(curve)
    date = dt.date.today().isoformat()
    png = ROOT / "docs" / "img" / f"learning_curve-{a.lang}.png"
    plot(rows, png, f"tiny ELECTRA on text/{a.lang}: {params['steps']} steps x {params['batch_size']} x {a.seq} "
                    f"tokens, lr {params['learning_rate']}")
    report = {"lang": a.lang, "date": date, "machine": machine(), "params": params,
              "command": "python -m benchmarks.learning_curve " + " ".join(
                  Path(x).name if a.plot_only and x == str(a.plot_only) else x   # no machine paths in the record
                  for x in (argv if argv is not None else sys.argv[1:])),
              "summary": summarise(rows), "validation": validation, "plot": str(png.relative_to(ROOT)),
              "curve": rows}
    res = ROOT / "benchmarks" / "results"
    write_text(res / f"learning_curve-{a.lang}-{date}.json", json.dumps(report, indent=1, default=str))
    write_text(res / f"learning_curve-{a.lang}-{date}.md", render(report))
    print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
