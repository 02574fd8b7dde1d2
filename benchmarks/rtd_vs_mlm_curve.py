"""RTD vs MLM over pre-training compute: several ``benchmarks.rtd_vs_mlm`` runs of one language, one table and
one plot (where does ELECTRA overtake MLM, and random initialisation, on this machine?).

    .venv/bin/python -m benchmarks.rtd_vs_mlm_curve RUN.json [RUN.json ...] --lang tr --task upos \\
        [--out benchmarks/results] [--img docs/img]

Each RUN.json is a results file of ``python -m benchmarks.rtd_vs_mlm`` (one ``--steps`` value each, everything
else the same: the runs are checked to differ in their step count and warm-up only). The x axis is pre-training
FLOPs (``model/flops.py``, equal for both objectives at each point); the y axis the task's median over seeds for
ELECTRA, MLM and random initialisation, with each seed's score drawn small. Writes
``rtd_vs_mlm_curve-<lang>-<date>.md`` and ``.json`` under ``--out`` and ``rtd_vs_mlm_curve-<lang>.png``
under ``--img``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path

from model.atomic import atomic_file, write_json, write_text

REPO = Path(__file__).resolve().parents[1]
VARYING = {"steps", "warmup"}   # what may differ between the runs of one curve
HOW_RUN = {"langs", "tasks", "conclusion", "workers", "pretrain_parallel"}   # not what is measured


def _portable(command: str) -> str:
    """The run's command without its scratch and output folders (machine paths)."""
    words, out, skip = command.split(), [], False
    for w in words:
        if skip:
            skip = False
        elif w in ("--work", "--out"):
            skip = True
        else:
            out.append(w)
    return " ".join(out)


def load_points(paths: list[Path], lang: str, task: str) -> list[dict]:
    """One point per run: compute, pre-training signals and the task's scores, sorted by FLOPs."""
    points, fixed = [], None
    for path in paths:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
        same = {k: v for k, v in report["args"].items() if k not in VARYING | HOW_RUN}
        if fixed is None:
            fixed = same
        elif same != fixed:
            diff = sorted(k for k in same if same[k] != fixed.get(k))
            raise SystemExit(f"{path}: differs from the first run in {diff}, not only in {sorted(VARYING)}")
        runs = [r for r in report["languages"] if r["language"] == lang]
        if not runs or task not in runs[0]["tasks"]:
            raise SystemExit(f"{path}: no '{task}' results for language '{lang}'")
        r, t = runs[0], runs[0]["tasks"][task]
        e, m = r["pretrain"]["electra"], r["pretrain"]["mlm"]
        points.append({
            "command": _portable(report["command"]), "date": report["date"],
            "electra_steps": e["steps"], "mlm_steps": m["steps"], "warmup": report["args"]["warmup"],
            "flops": e["total_flops"], "mlm_flops": m["total_flops"], "tokens_seen": e.get("tokens_seen"),
            "epochs": (e.get("tokens_seen") or 0) / r["corpus"]["train_tokens"],
            "val_disc_auc": e.get("val_disc_auc"), "val_replaced_recall": e.get("val_replaced_recall"),
            "val_last_layer_cosine": e.get("val_last_layer_cosine"),
            "val_gen_loss_at_mask": e.get("val_gen_loss_at_mask"), "val_mlm_loss": m.get("val_gen_loss"),
            "metric": t["metric"], "electra": t["electra"], "mlm": t["mlm"], "random_init": t["random_init"],
            "electra_vs_mlm": t["electra_vs_mlm"], "electra_vs_random": t["electra_vs_random"],
            "mlm_vs_random": t["mlm_vs_random"], "corpus": r["corpus"], "machine": report["machine"]})
    return sorted(points, key=lambda p: p["flops"])


def render(points: list[dict], lang: str, task: str, date: str) -> str:
    p0 = points[0]
    c = p0["corpus"]
    lines = [f"# RTD vs MLM over pre-training compute: {lang} {task} — {date}", "",
             f"Machine: {p0['machine']['cpu']}, {p0['machine']['cores']} cores, torch {p0['machine']['torch']} "
             f"(CPU only, shared with other work). Corpus: text/{lang}, {c['train_tokens']:,} training tokens, "
             f"vocab {c['vocab_size']}. One `benchmarks.rtd_vs_mlm` run per point (commands below); each point is its "
             f"own pre-training (linear warm-up, then linear decay to the end of its steps), MLM given the same FLOPs. "
             f"Fine-tuning: median over the seeds, each arm with the same seeds; wins = seeds where the first arm "
             f"beat the second.", "",
             f"| ELECTRA steps (warm-up) | FLOPs | epochs of text | val AUC | replaced recall | last-layer cos | ELECTRA | MLM "
             f"| random init | ELECTRA - MLM (wins) | ELECTRA - random (wins) | MLM - random (wins) |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    f = lambda x, spec=".3f": "–" if x is None else format(x, spec)  # noqa: E731
    pair = lambda d: f"{100 * d['mean_difference']:+.1f} ({d['wins']}/{d['seeds']})"  # noqa: E731
    for p in points:
        lines.append(f"| {p['electra_steps']} ({p['warmup']}) | {p['flops']:.2e} | {p['epochs']:.1f} | {f(p['val_disc_auc'])} | "
                     f"{f(p['val_replaced_recall'], '.2f')} | {f(p['val_last_layer_cosine'])} | "
                     f"{100 * p['electra']['median']:.1f} | {100 * p['mlm']['median']:.1f} | "
                     f"{100 * p['random_init']['median']:.1f} | {pair(p['electra_vs_mlm'])} | "
                     f"{pair(p['electra_vs_random'])} | {pair(p['mlm_vs_random'])} |")
    lines += ["", "Commands:", ""] + [f"- `{p['command']}` ({p['date']})" for p in points] + [""]
    return "\n".join(lines)


def plot(points: list[dict], lang: str, task: str, path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax, gap) = plt.subplots(1, 2, figsize=(11, 4.2))
    x = [p["flops"] for p in points]
    for arm, label, colour in (("electra", "ELECTRA (RTD)", "tab:blue"), ("mlm", "MLM, same FLOPs", "tab:orange"),
                               ("random_init", "random init", "tab:gray")):
        ax.plot(x, [100 * p[arm]["median"] for p in points], "o-", color=colour, label=label)
        for xi, p in zip(x, points):
            ax.scatter([xi] * len(p[arm]["seeds"]), [100 * s for s in p[arm]["seeds"]], s=8, color=colour, alpha=0.4)
    ax.set_ylabel(f"{task} {points[0]['metric']} (median of seeds, %)")
    ax.set_title(f"{lang}: ELECTRA-tiny vs MLM at equal compute (CPU)")
    ax.legend()
    # the paired differences, seed by seed (the same fine-tuning seeds in every arm)
    for other, label, colour in (("mlm", "ELECTRA - MLM", "tab:orange"), ("random_init", "ELECTRA - random init",
                                                                         "tab:gray")):
        diffs = [[100 * (e - o) for e, o in zip(p["electra"]["seeds"], p[other]["seeds"])] for p in points]
        gap.plot(x, [sorted(d)[len(d) // 2] for d in diffs], "o-", color=colour, label=label + " (median)")
        for xi, d in zip(x, diffs):
            gap.scatter([xi] * len(d), d, s=8, color=colour, alpha=0.4)
    gap.axhline(0, color="black", lw=0.8)
    gap.set_ylabel("paired difference, points")
    gap.set_title("ELECTRA's margin, seed by seed")
    gap.legend()
    from matplotlib.ticker import NullFormatter

    for a in (ax, gap):
        a.set_xscale("log")
        a.xaxis.set_minor_formatter(NullFormatter())   # minor labels of a short log axis overlap
        a.set_xlabel("pre-training FLOPs")
        a.grid(alpha=0.3)
    fig.tight_layout()
    with atomic_file(path, "wb") as f:
        fig.savefig(f, format="png", dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.rtd_vs_mlm_curve", description=__doc__.splitlines()[0])
    ap.add_argument("runs", nargs="+", type=Path, help="results .json files of benchmarks.rtd_vs_mlm")
    ap.add_argument("--lang", required=True)
    ap.add_argument("--task", required=True)
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results")
    ap.add_argument("--img", type=Path, default=REPO / "docs" / "img")
    args = ap.parse_args(argv)
    points = load_points(args.runs, args.lang, args.task)
    date = dt.date.today().isoformat()
    stem = args.out / f"rtd_vs_mlm_curve-{args.lang}-{date}"
    write_json(stem.with_suffix(".json"), {"date": date, "lang": args.lang, "task": args.task, "points": points})
    write_text(stem.with_suffix(".md"), render(points, args.lang, args.task, date))
    plot(points, args.lang, args.task, args.img / f"rtd_vs_mlm_curve-{args.lang}.png")
    print(f"wrote {stem}.md and .json, {args.img / f'rtd_vs_mlm_curve-{args.lang}.png'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
