"""The first thing to run on a lent GPU: throughput vs the HF reference, 5 minutes of ELECTRA-Small, GLUE.

Two steps, because the device machine has no pipeline/ dependencies (pydantic, Prefect) and no shared data:

    # here, on the CPU: tokenizer + shards (the real vocab and shard stages) and GLUE TSVs into .gpucheck/
    .venv/bin/python -m benchmarks.gpu_check prepare
    # on the device (plain python3; imports model/ and benchmarks/ only; ~8 minutes on one H100/H200)
    python3 -m benchmarks.gpu_check run --data .gpucheck --out $OUT

``run`` does, writing ``gpu_check-<date>.{json,md}`` into ``--out`` after every part (a run cut short
still leaves what it measured) and, unless ``--smoke``, into benchmarks/results/ too:

1. **throughput**: ``benchmarks.pretrain_throughput.bench_config`` for ELECTRA-Small and -Base at seq 128
   (ours eager, ours + torch.compile, the HF-naive reference; bf16 autocast, SDPA, fused AdamW): tokens/s,
   speed-up, MFU, peak memory (ours eager and the reference).
2. **pre-training**: ELECTRA-Small (paper backbone) with ``model.pretrain.pretrain`` on the prepared shards for
   ``--pretrain-seconds`` of wall clock: the step count comes from part 1's measured throughput (so the LR
   schedule still decays to 0), and a watchdog stops the run (SIGTERM: checkpoint, then export) if it
   overruns. Curve, validation AUC / replaced recall, FLOPs, MFU, epochs over the corpus.
3. **fine-tuning**: SST-2 (accuracy) and CoLA (Matthews correlation) with ``model.finetune.finetune`` from
   the pre-trained discriminator and from random initialisation (same architecture and initialisation
   recipe), paired over ``--seeds`` seeds, training sets capped at ``--max-train`` examples.

Goals (issue 11): ours + compile >= 3x the reference, MFU >= 40% for base, validation AUC >= 0.9.
``--smoke`` runs the same code on the CPU with tiny sizes and a handful of steps (about a minute).
"""
from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

from benchmarks._gpu_check_report import TASKS, goals, to_markdown
from model.atomic import write_text

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SHARED = Path(os.environ.get("FOUNDRY_DATA_ROOT", REPO.parent / "shared" / "data"))
COMPILE_ALLOWANCE_S = 60.0  # wall clock the pre-training run spends compiling, not training (estimate)
RESERVE_S = 150.0  # kept for fine-tuning (one seed of both tasks, both arms: ~115 s on an H200), evaluation, export
MIN_PRETRAIN_S = 150.0  # pre-training never gets less (the deadline gives way)
BENCH_SHARE = 0.45  # no further throughput configuration starts after this share of the deadline
FINETUNE = dict(learning_rate=3e-4, layerwise_lr_decay=0.8, weight_decay=0.01, batch_size=32, warmup_fraction=0.1)
EPOCHS = {"SST-2": 2, "CoLA": 3}
PARTS = ("throughput", "profile", "pretraining", "finetuning")


# --------------------------------------------------------------------------------------------- prepare

def prepare(a) -> int:
    """Tokenizer and shards of ``--text`` (vocab + shard stages), GLUE TSVs, manifest.json into ``--out``."""
    from benchmarks.rtd_vs_mlm import prepare_corpus  # pipeline/ (here only, never on the device)
    out, text, glue = Path(a.out), Path(a.text), Path(a.glue)
    tmp_out = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp_out, ignore_errors=True)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="gpucheck-") as work:
        root = prepare_corpus(a.lang, Path(work), text, vocab_size=a.vocab_size, max_seq_length=a.max_seq_length,
                              max_chars=a.max_chars, size="small")
        shutil.copytree(root / "models" / a.lang / "tokenizer", tmp_out / "tokenizer")
        shutil.copytree(root / "data" / a.lang / "shards", tmp_out / "shards")
    for task in TASKS:
        (tmp_out / "glue" / task).mkdir(parents=True)
        for split in ("train", "dev"):
            shutil.copy2(glue / task / f"{split}.tsv", tmp_out / "glue" / task / f"{split}.tsv")
    manifest = build_manifest(tmp_out, a, text, glue, time.perf_counter() - t0)
    (tmp_out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    shutil.rmtree(out, ignore_errors=True)
    tmp_out.rename(out)
    mib = manifest["total_bytes"] / 2**20
    print(f"[gpu_check] prepared {out}: {manifest['shards']['train']['tokens']} training tokens, "
          f"vocabulary {manifest['vocab_size']}, {mib:.1f} MiB (the device tool carries at most 64 MiB)")
    return 0


def build_manifest(out: Path, a, text: Path, glue: Path, seconds: float) -> dict:
    from pipeline.readers.common import file_sha256
    index = json.loads((out / "shards" / "index.json").read_text(encoding="utf-8"))
    files = {str(p.relative_to(out)): {"bytes": p.stat().st_size, "sha256": file_sha256(p)}
             for p in sorted(out.rglob("*")) if p.is_file()}
    glue_rows = {t: {s: len(read_glue(t, out / "glue" / t / f"{s}.tsv")) for s in ("train", "dev")} for t in TASKS}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = None
    return {"created": dt.datetime.now().isoformat(timespec="seconds"), "git_commit": commit or None,
            "language": a.lang, "text": str(text), "text_files": {p.name: p.stat().st_size for p in sorted(text.iterdir())},
            "glue": str(glue), "glue_examples": glue_rows, "vocab_size": int(index["vocab_size"]),
            "max_seq_length": int(index["max_seq_length"]),
            "shards": {k: {"examples": v.get("examples"), "tokens": v.get("tokens")} for k, v in index["splits"].items()},
            "files": files, "total_bytes": sum(f["bytes"] for f in files.values()), "prepare_seconds": round(seconds, 1)}


# --------------------------------------------------------------------------------------------- helpers

def read_glue(task: str, path: Path) -> list[tuple[str, int]]:
    """(sentence, label) rows of a GLUE TSV: SST-2 has a header (sentence, label); CoLA has none
    (source, label, original label, sentence)."""
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    if task == "SST-2":
        return [(r[0], int(r[1])) for r in rows[1:] if len(r) >= 2]
    return [(r[3], int(r[1])) for r in rows if len(r) >= 4]


def matthews(pred: list[int], gold: list[int]) -> float:
    """Matthews correlation of binary predictions (0 when a margin is empty, as scikit-learn)."""
    tp = sum(p == 1 and g == 1 for p, g in zip(pred, gold))
    tn = sum(p == 0 and g == 0 for p, g in zip(pred, gold))
    fp = sum(p == 1 and g == 0 for p, g in zip(pred, gold))
    fn = sum(p == 0 and g == 1 for p, g in zip(pred, gold))
    den = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return (tp * tn - fp * fn) / den if den else 0.0


def score(metric: str, pred: list[int], gold: list[int]) -> float:
    if metric == "matthews":
        return matthews(pred, gold)
    return sum(p == g for p, g in zip(pred, gold)) / max(1, len(gold))


def fresh_compile_caches() -> None:
    """Forget earlier torch.compile work. Dynamo keeps at most 8 compiled entries per code object (HF's
    forward wrappers, ``sample_from_softmax``) whichever module they came from: measured on the CPU, the third
    model compiled in one process falls back to eager. Every compiled model here starts afresh."""
    import torch._dynamo
    torch._dynamo.reset()


def guarded(res: dict, key: str, fn, *args):
    """``res[key] = fn(*args)``; an exception is recorded there (type, message, traceback tail) instead of
    ending the run, so one broken part does not cost the others' device time."""
    t0 = time.perf_counter()
    try:
        res[key] = fn(*args)
    except Exception as e:  # noqa: BLE001 - every failure is a result of the check
        res[key] = {"error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()[-3000:]}
        print(f"[gpu_check] {key} FAILED: {type(e).__name__}: {e}", flush=True)
    res.setdefault("timings", {})[key] = round(time.perf_counter() - t0, 1)
    return res[key]


# --------------------------------------------------------------------------------------------- 1. throughput

def throughput(cfg, stop_by: float) -> list[dict]:
    """``bench_config`` per configuration; on CUDA small and base at seq 128 (the benchmark's own table).
    A configuration that would start after ``stop_by`` is left out (compilation is the slow part)."""
    import torch

    from benchmarks.pretrain_throughput import bench_config
    kinds = ["ours"] + (["ours+compile"] if cfg.compile else []) + ["reference"]
    out = []
    if cfg.device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False  # the reference is plain fp32; ours uses bf16 autocast
    with tempfile.TemporaryDirectory(prefix="gpucheck-bench-") as tmp:
        for name, (size, seq, batch, overrides) in cfg.bench_configs.items():
            if time.perf_counter() > stop_by:
                why = f"left out: past {BENCH_SHARE:.0%} of the deadline"
                print(f"[gpu_check] throughput {name}: {why}", flush=True)
                out.append({"config": name, "size": size, "seq_len": seq, "batch": batch, "variants": {}, "left_out": why})
                continue
            print(f"[gpu_check] throughput {name}: {size}, seq {seq}, batch {batch}, {kinds}", flush=True)
            fresh_compile_caches()
            t0 = time.perf_counter()
            r = bench_config(name, size, seq, batch, cfg.device, kinds, cfg.bench_rounds, cfg.bench_steps,
                             cfg.bench_warmup, Path(tmp), overrides=overrides,
                             memory_kinds=[] if cfg.smoke else ["ours", "reference"])
            r["wall_seconds"] = round(time.perf_counter() - t0, 1)  # builds, warm-ups (compilation), probes
            for k, v in r["variants"].items():
                print(f"[gpu_check]   {k:14s} {v['tokens_per_s']:9.0f} tok/s  x{v.get('speedup_vs_reference') or 1.0:.2f}"
                      + (f"  MFU {v['mfu']:.1%}" if v.get("mfu") is not None else ""), flush=True)
            print(f"[gpu_check]   {r['wall_seconds']:.0f} s in all; warm-up (compilation) s: "
                  f"{ {k: v.get('warmup_seconds') for k, v in r['variants'].items()} }", flush=True)
            out.append(r)
    return out


def estimated_steps(cfg, bench: list | dict | None, manifest: dict, seconds: float) -> tuple[int, str]:
    """Steps that fill ``seconds`` of pre-training at part 1's measured small-model throughput."""
    if cfg.pretrain_steps:
        return cfg.pretrain_steps, "given"
    rows = [r for r in bench if r.get("size") == cfg.pretrain_size] if isinstance(bench, list) else []
    tr = manifest["shards"]["train"]
    mean_len = tr["tokens"] / max(1, tr["examples"])
    for kind in (("ours+compile", "ours") if cfg.compile else ("ours",)):
        if rows and kind in rows[0]["variants"]:
            tps = rows[0]["variants"][kind]["tokens_per_s"]
            budget = max(10.0, seconds - (COMPILE_ALLOWANCE_S if cfg.compile else 0.0))
            return max(10, int(budget * tps / (cfg.batch_size * mean_len))), f"{kind} at {tps:.0f} tokens/s"
    return 1000, "no throughput measured: 1000 steps, the watchdog ends the run"


def step_profile(cfg) -> dict:
    """Where one eager step of ``cfg.pretrain_size`` (benchmark batch) spends its time: wall per step with the
    loader as the training loop runs it (a worker process on CUDA), with a loader thread, and with one batch
    reused (no loader), GPU kernel time per step, kernel launches per step,
    and the top operators by self CPU and self device time (torch.profiler over ``cfg.profile_steps`` steps)."""
    import torch
    from torch.profiler import ProfilerActivity, profile

    from benchmarks.pretrain_throughput import Ours, _sync, make_shards
    from model.data import Prefetcher, ShardSplit
    from model.pretrain import train_step
    from model.sizes import resolve_params
    size = cfg.pretrain_size
    _, seq, batch, _ = next(v for v in cfg.bench_configs.values() if v[0] == size)
    params = resolve_params({"size": size, "dropout": 0.1, "backbone": cfg.backbone})
    with tempfile.TemporaryDirectory(prefix="gpucheck-prof-") as tmp:
        split = ShardSplit(make_shards(Path(tmp) / "s", seq, n=batch * 40), "train")
        r = Ours(params, split, seq, batch, cfg.device)
        try:
            def timed(fn, n):
                fn()
                _sync(cfg.device)
                t0 = time.perf_counter()
                for _ in range(n):
                    fn()
                _sync(cfg.device)
                return (time.perf_counter() - t0) / n * 1e3
            n = cfg.profile_steps
            with_loader = timed(r.step, n)  # the loader as the training loop runs it (a process on CUDA)
            r.prefetch.close()
            r.prefetch = Prefetcher(r.batcher.next_step, depth=2, pin=cfg.device.type == "cuda", process=False)
            with_thread = timed(r.step, n)
            item = r.prefetch.get()
            reused = timed(lambda: train_step(r.model, r.opt, item, cfg.device, r.params), n)
            acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cfg.device.type == "cuda" else [])
            with profile(activities=acts) as prof:
                for _ in range(n):
                    train_step(r.model, r.opt, item, cfg.device, r.params)
                _sync(cfg.device)
        finally:
            r.close()
    ev = prof.key_averages()
    dev_attr = "self_device_time_total" if hasattr(ev[0], "self_device_time_total") else "self_cuda_time_total"
    kernels = [e for e in prof.events() if str(getattr(e, "device_type", "")).endswith("CUDA")]

    def top(key, k=15):
        rows = sorted(ev, key=lambda e: getattr(e, key), reverse=True)[:k]
        return [{"op": e.key, "calls_per_step": e.count / n, "self_cpu_ms_per_step": e.self_cpu_time_total / n / 1e3,
                 "self_device_ms_per_step": getattr(e, dev_attr) / n / 1e3} for e in rows]
    return {"size": size, "batch": batch, "seq_len": seq, "steps": n,
            "wall_ms_per_step_with_loader": round(with_loader, 2), "loader_process": cfg.device.type == "cuda",
            "wall_ms_per_step_with_loader_thread": round(with_thread, 2),
            "wall_ms_per_step_batch_reused": round(reused, 2),
            "device_kernel_ms_per_step": round(sum(getattr(e, dev_attr) for e in ev) / n / 1e3, 2),
            "kernels_per_step": len(kernels) / n,
            "top_self_cpu": top("self_cpu_time_total"), "top_self_device": top(dev_attr)}


# --------------------------------------------------------------------------------------------- 2. pre-training

class Watchdog:
    """SIGTERM to this process after ``seconds``: ``model.pretrain`` then checkpoints and stops."""

    def __init__(self, seconds: float):
        self.fired = False
        self.timer = threading.Timer(seconds, self._fire)
        self.timer.daemon = True

    def _fire(self):
        self.fired = True
        os.kill(os.getpid(), signal.SIGTERM)

    def __enter__(self):
        self.timer.start()
        return self

    def __exit__(self, *exc):
        self.timer.cancel()


def loader_steps_per_second(data: Path, batch_size: int, n: int = 10) -> float:
    """How many steps a second the CPU side (reading, masking, packing; one thread, as the Prefetcher) can
    feed: if the GPU steps faster, the loader bounds the MFU."""
    from model.data import PretrainBatcher, ShardSplit, read_index
    index = read_index(data / "shards")
    b = PretrainBatcher(ShardSplit(data / "shards", "train", index), batch_size, seed=0, mask_prob=0.15,
                        max_seq_length=int(index["max_seq_length"]))
    b.next_step()
    t0 = time.perf_counter()
    for _ in range(n):
        b.next_step()
    return n / (time.perf_counter() - t0)


def pretraining(cfg, data: Path, work: Path, bench, manifest: dict, deadline: float) -> dict:
    """``--pretrain-seconds``, or less when part 1 ran long (``RESERVE_S`` before the deadline is kept)."""
    from model.pretrain import pretrain
    left = deadline - time.perf_counter() - (0 if cfg.smoke else RESERVE_S)
    seconds = min(cfg.pretrain_seconds, max(0 if cfg.smoke else MIN_PRETRAIN_S, left))
    steps, how = estimated_steps(cfg, bench, manifest, seconds)
    params = dict(size=cfg.pretrain_size, backbone=cfg.backbone, steps=steps, batch_size=cfg.batch_size,
                  learning_rate=cfg.learning_rate, warmup_steps=max(1, steps // 10), log_every=max(1, steps // 40),
                  checkpoint_every=steps, eval_batches=cfg.eval_batches, compile=cfg.compile,
                  device=cfg.device.type, seed=1, dropout=0.1, **cfg.pretrain_overrides)
    loader = loader_steps_per_second(data, cfg.batch_size)
    print(f"[gpu_check] pre-training {cfg.pretrain_size}: {steps} steps ({how}), batch {cfg.batch_size}; the loader "
          f"alone makes {loader:.1f} steps/s", flush=True)
    out = work / "electra"
    paths = dict(shards_dir=data / "shards", tokenizer_dir=data / "tokenizer", out_dir=out,
                 checkpoint_dir=work / "checkpoints", metrics_path=work / "metrics.json", curve_path=work / "curve.tsv")
    t0 = time.perf_counter()
    fresh_compile_caches()
    with Watchdog(seconds + cfg.watchdog_grace) as wd:
        m = pretrain(params=params, **paths)
    if not m.get("completed", True):  # the watchdog stopped it: finish at the step reached (evaluate, export)
        params["steps"] = int(m["stopped_at"])
        fresh_compile_caches()
        m = pretrain(params=params, **paths)
    wall = time.perf_counter() - t0
    tr = manifest["shards"]["train"]
    return {"params": params, "planned_steps": steps, "steps_from": how, "watchdog_fired": wd.fired,
            "loader_steps_per_s": round(loader, 2), "steps_per_s": round(m["steps"] / max(1e-9, m["seconds"]), 2),
            "wall_seconds": round(wall, 1), "budget_seconds": round(seconds, 1),
            "epochs": m["tokens_seen"] / max(1, tr["tokens"]),
            "metrics": m, "curve": (work / "curve.tsv").read_text(encoding="utf-8"), "model_dir": str(out)}


# --------------------------------------------------------------------------------------------- 3. fine-tuning

def encode(tok, rows: list[tuple[str, int]], max_length: int) -> list[dict]:
    enc = tok([r[0] for r in rows], truncation=True, max_length=max_length, return_token_type_ids=True)
    return [{"input_ids": ids, "token_type_ids": tt, "label": r[1]}
            for ids, tt, r in zip(enc["input_ids"], enc["token_type_ids"], rows)]


def finetuning(cfg, data: Path, pre: dict, deadline: float) -> dict:
    """Each task: pre-trained vs random init, paired seeds; skipped (and said) past ``deadline``."""
    from transformers import AutoTokenizer

    from model.finetune import LOCAL_INIT_KEY, finetune, read_config
    if "model_dir" not in pre:
        raise RuntimeError("no pre-trained model (pre-training failed)")
    model_dir = Path(pre["model_dir"])
    resolved = json.loads((model_dir / "pretrain_params.json").read_text(encoding="utf-8"))
    arch = {**read_config(model_dir), LOCAL_INIT_KEY: resolved.get("local_init")}  # random init: same recipe
    tok = AutoTokenizer.from_pretrained(str(data / "tokenizer"))
    out = {}
    for task, metric in TASKS.items():
        train = encode(tok, read_glue(task, data / "glue" / task / "train.tsv")[:cfg.max_train], cfg.max_length)
        dev = encode(tok, read_glue(task, data / "glue" / task / "dev.tsv")[:cfg.max_dev], cfg.max_length)
        runs = {"pretrained": [], "random": []}
        for seed in range(cfg.seeds):
            for arm, init in (("pretrained", model_dir), ("random", None)):
                if time.perf_counter() > deadline:
                    out.setdefault("skipped", []).append(f"{task} seed {seed} {arm}: past the deadline")
                    continue
                hp = dict(FINETUNE, epochs=cfg.epochs or EPOCHS[task], seed=seed, device=cfg.device.type)
                r = finetune(init, "classification", 2, train, dev, hp, arch=None if init else arch)
                runs[arm].append(round(score(metric, r["predictions"], r["labels"]), 4))
                print(f"[gpu_check] {task} seed {seed} {arm}: {metric} {runs[arm][-1]:.4f} ({r['seconds']:.0f} s)",
                      flush=True)
        paired = [p - q for p, q in zip(runs["pretrained"], runs["random"])]
        out[task] = {"metric": metric, "train_examples": len(train), "dev_examples": len(dev), **runs,
                     "median_pretrained": statistics.median(runs["pretrained"]) if runs["pretrained"] else None,
                     "median_random": statistics.median(runs["random"]) if runs["random"] else None,
                     "paired_differences": [round(x, 4) for x in paired],
                     "pretrained_wins": sum(x > 0 for x in paired)}
    return out


# --------------------------------------------------------------------------------------------- run

class CheckSettings(argparse.Namespace):
    """What ``run`` does: the device's defaults, or tiny CPU ones for ``--smoke`` (command-line values win)."""

    @classmethod
    def from_args(cls, a) -> "CheckSettings":
        import torch

        from benchmarks.pretrain_throughput import CONFIGS
        cuda = torch.cuda.is_available() and not a.smoke
        s = cls(smoke=a.smoke, device=torch.device("cuda" if cuda else "cpu"), compile=not a.smoke and not a.no_compile)
        if a.smoke:
            s.__dict__.update(bench_configs={"tiny-electra": ("tiny", 64, 8, {"backbone": "electra"})}, bench_rounds=1,
                              bench_steps=1, bench_warmup=1, pretrain_size="tiny", batch_size=8, learning_rate=1e-3,
                              pretrain_steps=6, eval_batches=1, seeds=1, max_train=48, max_dev=48, epochs=1,
                              max_length=64)
        else:
            # the paper's ELECTRA-Small lr 5e-4 at batch 128, scaled by sqrt(2) for batch 256 (fills an H100 better)
            s.__dict__.update(bench_configs={k: (*v, None) for k, v in CONFIGS["cuda"].items()}, bench_rounds=3,
                              bench_steps=10, bench_warmup=5, pretrain_size="small", batch_size=256,
                              learning_rate=7e-4, pretrain_steps=None, eval_batches=20, seeds=2, max_train=10000,
                              max_dev=2000, epochs=None, max_length=128)
        s.pretrain_overrides = {}
        s.backbone = a.backbone
        s.parts = [p.strip() for p in a.parts.split(",") if p.strip()]
        unknown = sorted(set(s.parts) - set(PARTS))
        if unknown:
            raise SystemExit(f"--parts: unknown part(s) {unknown}; choose from {list(PARTS)}")
        s.profile_steps = 3 if a.smoke else 10
        s.pretrain_seconds, s.watchdog_grace, s.deadline = a.pretrain_seconds, a.watchdog_grace, a.deadline_seconds
        for k in ("batch_size", "learning_rate", "pretrain_steps", "seeds", "max_train"):
            if getattr(a, k) is not None:
                setattr(s, k, getattr(a, k))
        return s

    def public(self) -> dict:
        return {k: (str(v) if k == "device" else v) for k, v in vars(self).items()}


def portable(text: str, out: Path) -> str:
    """``text`` without the machine's paths (tracebacks, the model folder, the command's ``--out``): the
    records are committed. site-packages -> ``<site-packages>``, the repository -> relative, ``--out`` ->
    ``$OUT``, the temporary folder -> ``<tmp>``."""
    import sysconfig
    for path, name in ((sysconfig.get_paths()["purelib"], "<site-packages>"), (str(REPO) + os.sep, ""),
                       (str(out.resolve()), "$OUT"), (tempfile.gettempdir(), "<tmp>")):
        text = text.replace(path, name)
    return text


def write(res: dict, folder: Path, stem: str, out: Path) -> None:
    from model.metrics import json_safe
    folder.mkdir(parents=True, exist_ok=True)
    write_text(folder / f"{stem}.json", portable(json.dumps(json_safe(res), indent=2), out) + "\n")
    write_text(folder / f"{stem}.md", portable(to_markdown(res), out))


def run(a) -> int:
    from benchmarks.pretrain_throughput import machine
    t_start = time.perf_counter()
    data, out = Path(a.data), Path(a.out)
    manifest = json.loads((data / "manifest.json").read_text(encoding="utf-8"))
    cfg = CheckSettings.from_args(a)
    stem = f"gpu_check-{dt.date.today().isoformat()}" + ("-smoke" if cfg.smoke else "")
    res = {"date": dt.datetime.now().isoformat(timespec="seconds"), "machine": machine(cfg.device),
           "command": "python -m benchmarks.gpu_check " + " ".join(sys.argv[1:] if a.argv is None else a.argv),
           "smoke": cfg.smoke, "settings": cfg.public(), "timings": {},
           "data": {k: manifest.get(k) for k in ("language", "text_files", "vocab_size", "max_seq_length", "shards",
                                                  "glue_examples", "total_bytes", "git_commit")}}
    for part in PARTS:
        if part not in cfg.parts:
            res[part] = {"skipped": "not in --parts"}
    if "throughput" in cfg.parts:
        guarded(res, "throughput", throughput, cfg, t_start + BENCH_SHARE * cfg.deadline)
        write(res, out, stem, out)
    if "profile" in cfg.parts:
        guarded(res, "profile", step_profile, cfg)
        write(res, out, stem, out)
    with tempfile.TemporaryDirectory(prefix="gpucheck-run-") as work:
        if "pretraining" in cfg.parts:
            guarded(res, "pretraining", pretraining, cfg, data, Path(work), res["throughput"], manifest,
                    t_start + cfg.deadline)
            write(res, out, stem, out)
        if "finetuning" in cfg.parts:
            guarded(res, "finetuning", finetuning, cfg, data, res["pretraining"], t_start + cfg.deadline)
    res["goals"] = goals(res)
    res["timings"]["total"] = round(time.perf_counter() - t_start, 1)
    write(res, out, stem, out)
    if not cfg.smoke:
        write(res, RESULTS, stem, out)
    print(portable(to_markdown(res), out), flush=True)
    print(f"[gpu_check] wrote {out / stem}.{{json,md}}", flush=True)
    return 1 if any(isinstance(res.get(k), dict) and "error" in res[k] for k in PARTS) else 0


def main(argv: list[str] | None = None) -> int:
    from model.sizes import BACKBONE_NAMES
    ap = argparse.ArgumentParser(prog="python -m benchmarks.gpu_check", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("prepare", help="build .gpucheck/ here (uses pipeline/: the vocab and shard stages)")
    p.add_argument("--out", default=str(REPO / ".gpucheck"))
    p.add_argument("--lang", default="en", help="GLUE is English: the pre-training text should be too")
    p.add_argument("--text", default=str(SHARED / "text" / "en"), help="raw text folder (*.txt, *.txt.gz)")
    p.add_argument("--glue", default=str(SHARED / "glue"), help="folder holding SST-2/ and CoLA/ train.tsv, dev.tsv")
    p.add_argument("--vocab-size", type=int, default=16000)
    p.add_argument("--max-seq-length", type=int, default=128)
    p.add_argument("--max-chars", type=int, default=None, help="read at most this much text (for quick tests)")
    r = sub.add_parser("run", help="run the check (on the device; imports model/ and benchmarks/ only)")
    r.add_argument("--data", default=str(REPO / ".gpucheck"))
    r.add_argument("--out", required=True, help="results folder (on the device: $OUT)")
    r.add_argument("--smoke", action="store_true", help="CPU, tiny sizes, a handful of steps (about a minute)")
    r.add_argument("--no-compile", action="store_true")
    r.add_argument("--parts", default="throughput,pretraining,finetuning",
                   help=f"comma-separated, in this order: {','.join(PARTS)} (profile: where an eager step's time goes)")
    r.add_argument("--pretrain-seconds", type=float, default=300.0)
    r.add_argument("--watchdog-grace", type=float, default=60.0, help="stop pre-training this long after its budget")
    r.add_argument("--deadline-seconds", type=float, default=480.0,
                   help="the whole run's target: pre-training shrinks to keep fine-tuning inside it, and fine-tuning "
                        "runs that would start later are skipped")
    r.add_argument("--backbone", default="electra", choices=BACKBONE_NAMES,
                   help="the pre-trained model's backbone (electra: the paper's; convbert leaves the RTD plateau "
                        "on the CPU, docs/pretraining.md 'Backbones')")
    r.add_argument("--pretrain-steps", type=int, default=None, help="instead of steps from the measured throughput")
    r.add_argument("--batch-size", type=int, default=None)
    r.add_argument("--learning-rate", type=float, default=None)
    r.add_argument("--seeds", type=int, default=None)
    r.add_argument("--max-train", type=int, default=None, help="fine-tuning examples per task")
    a = ap.parse_args(argv)
    a.argv = argv
    return prepare(a) if a.cmd == "prepare" else run(a)


if __name__ == "__main__":
    sys.exit(main())
