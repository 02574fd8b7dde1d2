"""Pre-training beside other work: torch threads = every core vs the stage's share, in one run.

    .venv/bin/python -m benchmarks.shared_cores [--threads 2 1] [--rounds 4] [--steps 15]

When ``foundry run`` runs two languages at once on a 2-core machine, one language's pre-training can run beside
the other's clean or evaluate stage. torch's default (one intra-op thread per core) then stalls: its threads
wait on each other at every op while another process holds one of the cores. The flow therefore gives each
stage its share (``FOUNDRY_CORES``, ``pipeline/cores.py``). This benchmark times ``model.pretrain.train_step``
of ``tiny`` (ConvBERT, the demo's shape: 16 x 128, vocabulary 3000) with each thread count, alone and beside a
neighbour: a separate 1-thread process doing fine-tuning-sized matrix products without pause, as one
fine-tuning worker of the evaluate stage does. Arms are interleaved over rounds; it reports pre-training steps per
second, the neighbour's own work rate during each arm, and the ratios.

Results go to benchmarks/results/shared_cores-<date>.{md,json}, naming the machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import multiprocessing as mp
import sys
import time
from pathlib import Path

import torch

from benchmarks.fastpath_speed import ROWS, SEQ, VOCAB, demo_batch
from model.optim import AdamWeightDecay, param_groups
from model.pretrain import train_step


def _neighbour(counter, stop) -> None:
    """A 1-thread process busy with matrix products (a fine-tuning worker's kind of work), counting them."""
    torch.set_num_threads(1)
    a, b = torch.randn(256, 256), torch.randn(256, 256)
    while not stop.is_set():
        for _ in range(10):
            a = torch.tanh(a @ b)
        with counter.get_lock():
            counter.value += 10


class Neighbour:
    def __init__(self):
        ctx = mp.get_context("spawn")
        self.counter, self.stop = ctx.Value("q", 0), ctx.Event()
        self.proc = ctx.Process(target=_neighbour, args=(self.counter, self.stop), daemon=True)

    def __enter__(self):
        self.proc.start()
        while self.counter.value == 0:   # running, imports done
            time.sleep(0.05)
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.proc.join(timeout=30)


def measure(a, item, params) -> list[dict]:
    from model.electra import build_pretrainer
    torch.manual_seed(0)
    m = build_pretrainer(params, VOCAB, SEQ).train()
    opt = AdamWeightDecay(param_groups(m, 0.01), lr=1e-4, eps=1e-6)
    ps = [p for g in opt.param_groups for p in g["params"]]
    arms = {(n, t): {"seconds": 0.0, "steps": 0, "neighbour_products": 0, "neighbour_seconds": 0.0}
            for n in ("alone", "beside a busy process") for t in a.threads}

    def run(threads: int, nb: Neighbour | None, rec: dict) -> None:
        torch.set_num_threads(threads)
        train_step(m, opt, item, torch.device("cpu"), ps)    # warm-up at this thread count, not timed
        c0 = nb.counter.value if nb else 0
        t0 = time.perf_counter()
        for _ in range(a.steps):
            train_step(m, opt, item, torch.device("cpu"), ps)
        dt_ = time.perf_counter() - t0
        rec["seconds"] += dt_
        rec["steps"] += a.steps
        if nb:
            rec["neighbour_products"] += nb.counter.value - c0
            rec["neighbour_seconds"] += dt_

    for t in a.threads:   # first steps allocate and tune kernels: not timed
        torch.set_num_threads(t)
        for _ in range(3):
            train_step(m, opt, item, torch.device("cpu"), ps)
    for r in range(a.rounds):
        order = a.threads if r % 2 == 0 else list(reversed(a.threads))
        for t in order:
            run(t, None, arms[("alone", t)])
        with Neighbour() as nb:
            for t in order:
                run(t, nb, arms[("beside a busy process", t)])
        print(f"round {r + 1}/{a.rounds} done", flush=True)
    rows = []
    for (n, t), rec in arms.items():
        rows.append({"neighbour": n, "threads": t, "steps_per_second": round(rec["steps"] / rec["seconds"], 2),
                     "neighbour_products_per_second": (round(rec["neighbour_products"] / rec["neighbour_seconds"], 1)
                                                       if rec["neighbour_seconds"] else None)})
    return rows


def to_markdown(res: dict) -> str:
    rows = res["rows"]
    lines = [f"# Pre-training beside other work — {res['date']}", "", f"Machine: {res['machine']}", "",
             f"Command: `{res['command']}`", "",
             f"`tiny` pre-training steps (`model.pretrain.train_step`, ConvBERT, {ROWS} x {SEQ}, vocabulary {VOCAB}) "
             f"with each torch thread count, alone and beside a 1-thread process doing 256 x 256 matrix products "
             f"without pause; {res['rounds']} interleaved rounds of {res['steps']} steps per arm.", "",
             "| neighbour | torch threads | pre-training steps/s | neighbour's products/s |", "|---|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['neighbour']} | {r['threads']} | {r['steps_per_second']} | "
                     f"{r['neighbour_products_per_second'] if r['neighbour_products_per_second'] else '-'} |")
    alone = {r["threads"]: r["steps_per_second"] for r in rows if r["neighbour"] == "alone"}
    busy = {r["threads"]: r["steps_per_second"] for r in rows if r["neighbour"] != "alone"}
    ts = sorted(alone, reverse=True)
    lines.append("")
    for t in ts:
        lines.append(f"- {t} thread(s): beside the busy process at **{busy[t] / alone[t]:.2f}x** the rate alone.")
    if len(ts) > 1:
        hi, lo = ts[0], ts[-1]
        lines.append(f"- Beside the busy process, {lo} thread(s) run **{busy[lo] / busy[hi]:.2f}x** the steps of "
                     f"{hi}; alone, {alone[lo] / alone[hi]:.2f}x.")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks._machine import describe, write_results
    ap = argparse.ArgumentParser(prog="python -m benchmarks.shared_cores", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[2, 1])
    ap.add_argument("--steps", type=int, default=15)
    ap.add_argument("--rounds", type=int, default=4)
    ap.add_argument("--suffix", default="")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = ap.parse_args(argv)
    params, item = demo_batch()
    res = {"date": dt.date.today().isoformat(), "machine": describe(),
           "command": "python -m benchmarks.shared_cores " + " ".join(argv if argv is not None else sys.argv[1:]),
           "steps": a.steps, "rounds": a.rounds, "rows": measure(a, item, params)}
    print(json.dumps(res["rows"]), flush=True)
    write_results(a.out, f"shared_cores-{res['date']}{'-' + a.suffix if a.suffix else ''}", res, to_markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
