"""Which of ELECTRA's knobs makes the discriminator fine-tune better at CPU compute?

For each variant (a set of pre-training params over the size's defaults) this pre-trains on a language's raw
text (the real vocab and shard stages, as ``benchmarks.rtd_vs_mlm``), records what the discriminator learnt
(validation AUC, replaced recall, the generator's loss at [MASK], last-layer token cosine, and the most
saturated attention head's entropy as a fraction of uniform, ``model.diagnostics.attention_entropy``), then
fine-tunes it on the language's evaluation tasks beside random initialisation (same seeds, same data) at
each ``--epochs`` value. Models are kept in ``--work`` and reused, so variants can be added to a finished run.

    python -m benchmarks.electra_knobs --lang demo --steps 600 --epochs 5 20
    python -m benchmarks.electra_knobs --lang demo --variants electra corrective-5 --seeds 3
    python -m benchmarks.electra_knobs --lang demo --variants tiny-1200-steps --epochs 5 --finetune 5:lld=1 10

``--finetune`` adds fine-tuning settings (epochs, and optionally lr and layer-wise decay) applied to both arms.

Results: ``benchmarks/results/electra_knobs-<lang>-<date>.{json,md}`` (machine named; no machine paths).
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from benchmarks._machine import write_results

REPO = Path(__file__).resolve().parents[1]

# name -> the knobs changed from the paper's values (generator 1/4 of the discriminator's width, disc weight 50,
# temperature 1, mask 15%, no corrective MLM); lr and steps are the command line's unless a variant sets them
PAPER = {"generator_fraction": 0.25, "disc_weight": 50.0, "temperature": 1.0, "mask_prob": 0.15, "disc_mlm_weight": 0.0}
CHANGES: dict[str, dict] = {
    "electra": {},
    "mlm": {"objective": "mlm"},
    "generator-1/8": {"generator_fraction": 0.125},
    "generator-1/2": {"generator_fraction": 0.5},
    "generator-1/1": {"generator_fraction": 1.0},
    "disc-weight-10": {"disc_weight": 10.0},
    "disc-weight-1": {"disc_weight": 1.0},
    "temperature-0.5": {"temperature": 0.5},
    "temperature-2": {"temperature": 2.0},
    "mask-25%": {"mask_prob": 0.25},
    "corrective-1": {"disc_mlm_weight": 1.0},
    "corrective-5": {"disc_mlm_weight": 5.0},
    "lr-3e-4": {"learning_rate": 3e-4},
    "lr-5e-4": {"learning_rate": 5e-4},
    "lr-5e-4+corrective-5": {"learning_rate": 5e-4, "disc_mlm_weight": 5.0},
    # the demo's shipped recipe (tiny's lr and corrective MLM, 600 steps) trained longer or masked more
    "tiny-1200-steps": {"learning_rate": 5e-4, "disc_mlm_weight": 5.0, "steps": 1200, "warmup_steps": 120},
    "tiny-mask-25%": {"learning_rate": 5e-4, "disc_mlm_weight": 5.0, "mask_prob": 0.25},
}
VARIANTS: dict[str, dict] = {k: {**PAPER, **v} for k, v in CHANGES.items()}
KEEP = ("val_disc_auc", "val_replaced_recall", "val_gen_loss_at_mask", "val_last_layer_cosine",
        "val_attention_entropy", "seconds", "tokens_seen")


def text_dir(lang: str) -> Path:
    from pipeline.config import data_root
    return REPO / "corpora" / "demo" / "text" if lang == "demo" else data_root(REPO) / "text" / lang


def attention_entropy(model_dir: Path, root: Path, lang: str) -> float | None:
    """The exported discriminator's most saturated attention head on the fixed validation probe batch (for
    models pre-trained before ``val_attention_entropy`` was logged)."""
    import torch
    from transformers import AutoModel

    from model.data import ShardSplit
    from model.diagnostics import representation_signals
    from model.metrics import probe_batch
    batch = probe_batch(ShardSplit(root / "data" / lang / "shards", "validation"), torch.device("cpu"))
    if batch is None:
        return None
    enc = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager").eval()
    return representation_signals(enc, batch["input_ids"], batch["attention_mask"],
                                  batch["token_type_ids"])["attention_entropy"]


def finetune_specs(args) -> list[tuple[str, float, dict]]:
    """``--epochs`` values and ``--finetune`` specs ("EPOCHS[:lr=X][:lld=Y]", applied to both arms) as
    (label, epochs, {"lr", "lld"} overrides of the size's fine-tuning defaults)."""
    out = [(f"{e:g}", float(e), {}) for e in args.epochs]
    for spec in args.finetune or []:
        ep, *kv = spec.split(":")
        ft = {k: float(v) for k, v in (x.split("=", 1) for x in kv)}
        if set(ft) - {"lr", "lld"}:
            raise SystemExit(f"--finetune {spec}: only lr= and lld= can be set")
        out.append((spec.replace(":", " "), float(ep), ft))
    return out


def run_variant(name: str, params: dict, root: Path, lang: str, args) -> dict:
    from benchmarks.rtd_vs_mlm import pretrain_model
    from pipeline.config import EvaluateSettings, load_language
    from pipeline.evaluation.harness import ModelUnderTest, evaluate_model

    safe = name.replace("/", "_").replace("%", "pct")
    out = root / "models" / safe
    metrics = out.parent / (safe + "-metrics.json")
    full = {"device": "cpu", "steps": args.steps, "batch_size": args.batch_size, "learning_rate": args.lr,
            "warmup_steps": args.warmup, "log_every": max(1, args.steps // 12), "checkpoint_every": 10 ** 9,
            "eval_batches": 10, "seed": args.seed, **params}
    t0 = time.time()
    if not (out / "config.json").is_file():
        pretrain_model(root, lang, out, full, threads=args.threads)
    m = json.loads(metrics.read_text())
    pre = {k: m.get(k) for k in KEEP}
    if pre.get("val_attention_entropy") is None:
        pre["val_attention_entropy"] = attention_entropy(out, root, lang)
    cfg = load_language(lang, REPO)
    fine = {}
    for label, ep, ft in finetune_specs(args):
        tasks = [t.model_copy(update={"epochs": ep, **({"learning_rate": ft["lr"]} if "lr" in ft else {})})
                 for t in cfg.evaluate.tasks if not args.tasks or t.name in args.tasks]
        s = EvaluateSettings(tasks=tasks, seeds=args.seeds, random_init_baseline=True, workers=args.workers,
                             layerwise_lr_decay=ft.get("lld"))
        r = evaluate_model(ModelUnderTest(out, device="cpu", language=lang, title=name), s, REPO)
        for tn, t in r["tasks"].items():
            fine[f"{tn}@{label}"] = {"metric": t["metric"], "pretrained": t["pretrained"]["median"],
                                  "pretrained_seeds": t["pretrained"]["seeds"],
                                  "random_init": t["random_init"]["median"],
                                  "random_init_seeds": t["random_init"]["seeds"],
                                  "wins": sum(a > b for a, b in zip(t["pretrained"]["seeds"],
                                                                    t["random_init"]["seeds"]))}
    res = {"params": CHANGES.get(name, params), "pretrain": pre, "finetune": fine, "wall_seconds": round(time.time() - t0, 1)}
    print(f"[{name}] {json.dumps(res)}", flush=True)
    return res


def command(rep: dict) -> str:
    """The command line of the run: every argument that differs from its default."""
    a, defaults = rep["args"], vars(parser().parse_args([]))
    parts = ["python -m benchmarks.electra_knobs"]
    for k, v in a.items():
        if k == "variants" and v == list(VARIANTS) or v == defaults.get(k) or v is None:
            continue
        vals = v if isinstance(v, list) else [v]
        parts.append(f"--{k.replace('_', '-')} " + " ".join(f"{x:g}" if isinstance(x, float) else str(x) for x in vals))
    return " ".join(parts)


def render(rep: dict) -> str:
    a = rep["args"]
    lines = [f"# ELECTRA knobs on `{rep['lang']}` — {rep['date']}", "", f"Machine: {rep['machine']}", "",
             f"Command: `{command(rep)}`", "",
             f"Setup: size `{a['size']}`, {a['steps']} steps of {a['batch_size']} x {a['seq_len']}-token rows unless "
             f"the variant sets its own, lr {a['lr']} unless the variant sets it (the `lr-*` and `tiny-*` variants "
             f"do), {a['warmup']} warm-up steps, linear decay, seed {a['seed']}; fine-tuning: the language's "
             "evaluation tasks, each model beside random initialisation with the same seeds; medians x100, "
             "wins = seeds where the pre-trained model beat random init.", ""]
    keys = sorted({k for v in rep["variants"].values() for k in v["finetune"]},
                  key=lambda k: (k.rsplit("@", 1)[0], float(k.rsplit("@", 1)[1].split()[0]), k))
    head = ("| variant | AUC | recall | gen loss @[MASK] | last-layer cos | attention entropy | "
            + " | ".join(f"{k} (pre / random, wins)" for k in keys) + " |")
    lines += [head, "|" + "---|" * (6 + len(keys))]
    f = lambda x, d=3: "–" if x is None else f"{x:.{d}f}"  # noqa: E731
    for name, v in rep["variants"].items():
        p = v["pretrain"]
        cells = [f"{100 * v['finetune'][k]['pretrained']:.1f} / {100 * v['finetune'][k]['random_init']:.1f}, "
                 f"{v['finetune'][k]['wins']}/{len(v['finetune'][k]['pretrained_seeds'])}"
                 if k in v["finetune"] else "–" for k in keys]
        lines.append(f"| {name} | {f(p['val_disc_auc'])} | {f(p['val_replaced_recall'], 2)} | "
                     f"{f(p['val_gen_loss_at_mask'], 2)} | {f(p['val_last_layer_cosine'], 2)} | "
                     f"{f(p['val_attention_entropy'], 2)} | " + " | ".join(cells) + " |")
    if rep.get("conclusion"):
        lines += ["", rep["conclusion"]]
    return "\n".join(lines) + "\n"


def parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lang", default="demo")
    ap.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    ap.add_argument("--size", default="tiny")
    ap.add_argument("--steps", type=int, default=600)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--seq-len", type=int, default=128)
    ap.add_argument("--vocab-size", type=int, default=3000)
    ap.add_argument("--lr", type=float, default=1e-3, help="pre-training lr of every variant that sets none "
                    "(1e-3: what tiny used before 2026-12-03)")
    ap.add_argument("--warmup", type=int, default=60)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", nargs="*", type=float, default=[5.0, 20.0])
    ap.add_argument("--finetune", nargs="*", metavar="EPOCHS[:lr=X][:lld=Y]",
                    help="further fine-tuning settings, each for both arms, e.g. 10:lr=1e-3 5:lld=1")
    ap.add_argument("--tasks", nargs="*", help="evaluation tasks of corpora/LANG.yaml (default: all)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--workers", type=int, default=1)
    ap.add_argument("--work", default="/tmp/electra_knobs")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    ap.add_argument("--conclusion", default="")
    return ap


def main(argv: list[str] | None = None) -> int:
    a = parser().parse_args(argv)

    from benchmarks.rtd_vs_mlm import machine, prepare_corpus
    from pipeline.config import load_language
    root = Path(a.work) / a.lang
    if not (root / "data" / a.lang / "shards" / "index.json").is_file():
        prepare_corpus(a.lang, root, text_dir(a.lang), vocab_size=a.vocab_size, max_seq_length=a.seq_len,
                       script=load_language(a.lang, REPO).script, size=a.size)
    m = machine()
    desc = (f"{m['cpu']}, {m['cores']} cores, {m['platform']}, Python {m['python']}, torch {m['torch']} (CPU only; "
            "cores shared with other work, so wall times are indicative)")
    rep = {"lang": a.lang, "date": dt.date.today().isoformat(), "machine": desc,
           "args": {k: v for k, v in vars(a).items() if k not in ("work", "out", "conclusion")},
           "variants": {}, "conclusion": a.conclusion}
    for name in a.variants:
        rep["variants"][name] = run_variant(name, VARIANTS[name], root, a.lang, a)
    write_results(a.out, f"electra_knobs-{a.lang}-{rep['date']}", rep, render(rep))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
