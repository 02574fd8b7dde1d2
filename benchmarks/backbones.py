"""Which backbone lets replaced-token detection learn at CPU compute? Pre-training curves of the variants.

    python -m benchmarks.backbones --lang ko --steps 600               # every variant, one after another
    python -m benchmarks.backbones --lang en --variants convbert-prevnext

Each variant is the ``tiny`` size pre-trained with the ELECTRA objective on the same shards (the real vocab
and shard stages on ``text/<lang>``, ``benchmarks.rtd_vs_mlm.prepare_corpus``), the same batch, learning rate
and seed; only the backbone and its initialisation differ:

* ``electra``: the paper's backbone (full self-attention, absolute positions), 4 heads.
* ``electra-prevnext``: the same with heads 0 / 1 of each layer started on the previous / next token through
  sinusoidal codes in 16 dimensions of the position embeddings (``model.local_attention``): an ordinary
  ``ElectraForPreTraining``.
* ``convbert-default``: ConvBERT (Jiang et al. 2020) with transformers' initialisation (convolution kernels
  start uniform over 9 positions).
* ``convbert-prevnext``: ConvBERT whose two convolution heads start on the previous / next token
  (``model.backbones.init_local_convolution``) -- the ``tiny`` default.
* ``convbert-prevnext-gdes``: the same with DeBERTa-v3's gradient-disentangled embedding sharing
  (``embedding_sharing: gdes``, ``model.gdes``).
* ``deberta``: DeBERTa-v2/v3's encoder (relative positions only, v3 configuration), transformers' initialisation.
* ``deberta-rel-lr10``: the same with its relative-position embeddings (and their LayerNorm) at 10x the
  learning rate -- the control of issue 11 (a relative bias that could not move fast enough from zero stayed
  on the plateau; with a 10x step size it left it).

From each run's curve (``model.metrics.CURVE_COLUMNS``): the training window's replaced-token ROC AUC and
recall, the generator's loss at [MASK] positions, the discriminator's neighbour attention and last-layer
token cosine (``model.diagnostics``). Writes ``benchmarks/results/backbones-<lang>-<date><suffix>.{json,md}``
and ``docs/img/backbones-<lang>-<date><suffix>.png`` (``--suffix``: e.g. ``-deberta``, so that a second run
on one day keeps the first one's record).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.learning_curve import read_curve, save_figure  # noqa: E402  (the curve TSV and PNG, once)
from model.atomic import write_text  # noqa: E402

VARIANTS = {
    "electra": {"backbone": "electra"},
    "electra-prevnext": {"backbone": "electra", "local_init": "prevnext"},
    "convbert-default": {"backbone": "convbert", "local_init": "none"},
    "convbert-prevnext": {"backbone": "convbert", "local_init": "prevnext"},
    "convbert-prevnext-gdes": {"backbone": "convbert", "local_init": "prevnext", "embedding_sharing": "gdes"},
    "deberta": {"backbone": "deberta", "local_init": "none"},
    "deberta-rel-lr10": {"backbone": "deberta", "local_init": "none", "relative_lr_scale": 10.0},
}
SHOWN = ("disc_auc", "replaced_recall", "gen_loss_at_mask", "neighbour_attention", "last_layer_cosine")


def at_steps(rows: list[dict], steps: list[int]) -> dict:
    """The curve's values at the logged steps nearest to ``steps``."""
    out = {}
    for s in steps:
        r = min(rows, key=lambda r: abs(r["step"] - s))
        out[int(r["step"])] = {k: round(r.get(k, math.nan), 4) for k in SHOWN}
    return out


def plot(curves: dict[str, list[dict]], out: Path, title: str) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(1, 3, figsize=(13, 3.6))
    for name, rows in curves.items():
        step = [r["step"] for r in rows]
        ax[0].plot(step, [r["disc_auc"] for r in rows], label=name)
        ax[1].plot(step, [r.get("neighbour_attention", math.nan) for r in rows], label=name)
        ax[2].plot(step, [r.get("last_layer_cosine", math.nan) for r in rows], label=name)
    ax[0].axhline(0.5, ls="--", color="grey")
    ax[0].set_title("replaced-token ROC AUC (chance 0.5)")
    ax[1].set_title("neighbour attention (strongest head)")
    ax[2].set_title("last-layer token cosine (collapse -> 1)")
    for a in ax:
        a.set_xlabel("step")
        a.legend(fontsize=8)
    save_figure(fig, out, title)


def render(report: dict) -> str:
    lines = [f"# Backbones: replaced-token detection at CPU compute — {report['lang']}, {report['date']}", "",
             f"Machine: {report['machine']['cpu']}, {report['machine']['cores']} cores (shared with other work: "
             "wall times are indicative).", "", f"Command: `{report['command']}`", "",
             f"Setup: {json.dumps(report['params'])}", "",
             "| variant | step | AUC | replaced recall | gen loss at [MASK] | neighbour attention | last-layer cosine |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in report["variants"].items():
        for step, v in r["at"].items():
            lines.append(f"| {name} | {step} | " + " | ".join(str(v[k]) for k in SHOWN) + " |")
    lines += ["", f"Plot: `{report['plot']}`", ""]
    return "\n".join(lines)


def _portable(args: list[str]) -> list[str]:
    out, skip = [], False
    for x in args:
        if skip:
            skip = False
        elif x == "--work":
            skip = True
        elif not x.startswith("--work="):
            out.append(x)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lang", default="en")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--vocab", type=int, default=4000)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--work", type=Path, default=Path("/tmp/foundry-backbones"))
    ap.add_argument("--suffix", default="", help="appended to the record's and the plot's names")
    a = ap.parse_args(argv)
    from benchmarks.rtd_vs_mlm import machine, prepare_corpus, pretrain_model
    from pipeline.config import data_root

    params = {"size": "tiny", "objective": "electra", "steps": a.steps, "batch_size": 32, "learning_rate": 1e-3,
              "warmup_steps": 100, "mask_prob": 0.15, "device": "cpu", "seed": 1, "log_every": 50,
              "checkpoint_every": 10 ** 9, "eval_batches": 5, "pack": False}
    work = a.work / f"{a.lang}-{a.seq}"
    if not (work / "data" / a.lang / "shards").exists():
        prepare_corpus(a.lang, work, data_root(ROOT) / "text" / a.lang, vocab_size=a.vocab, max_seq_length=a.seq)
    curves, variants = {}, {}
    for name in a.variants:
        t = time.time()
        out = a.work / f"run-{a.lang}-{name}"
        m = pretrain_model(work, a.lang, out, {**params, **VARIANTS[name]}, threads=a.threads)
        rows = read_curve(out.parent / (out.name + "-curve.tsv"))
        curves[name] = rows
        marks = sorted({s for s in (a.steps // 4, a.steps // 2, a.steps) if s})
        variants[name] = {"params": VARIANTS[name], "wall_seconds": round(time.time() - t),
                          "at": at_steps(rows, marks),
                          "validation": {k: round(v, 4) for k, v in m.items()
                                         if k.startswith("val_") and isinstance(v, float)},
                          "curve": rows}
        print(f"[backbones] {name}: {variants[name]['at']}", flush=True)
    date = dt.date.today().isoformat()
    png = ROOT / "docs" / "img" / f"backbones-{a.lang}-{date}{a.suffix}.png"
    plot(curves, png, f"tiny, ELECTRA objective, text/{a.lang}: {a.steps} steps x 32 x {a.seq} tokens, lr 1e-3")
    report = {"lang": a.lang, "date": date, "machine": machine(), "params": params,
              # the scratch folder is this machine's: not part of the portable record
              "command": "python -m benchmarks.backbones " + " ".join(_portable(argv if argv is not None else sys.argv[1:])),
              "variants": variants, "plot": str(png.relative_to(ROOT))}
    res = ROOT / "benchmarks" / "results"
    write_text(res / f"backbones-{a.lang}-{date}{a.suffix}.json", json.dumps(report, indent=1, default=str))
    write_text(res / f"backbones-{a.lang}-{date}{a.suffix}.md", render(report))
    print(render(report))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
