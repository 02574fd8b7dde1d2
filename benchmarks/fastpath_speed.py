"""A CPU training step with model.fastpath's modules against transformers' own, in one process.

    .venv/bin/python -m benchmarks.fastpath_speed [--threads 1 2] [--rounds 5] [--steps 10]

``model.fastpath`` swaps two faster equivalents into every model pre-training and fine-tuning build: ConvBERT's
dynamic convolution as shifted sums (no unfold / im2col) and dropout masks drawn by numpy's PCG64 instead of
torch's mt19937. This benchmark times ``model.pretrain.train_step`` of ``tiny`` in the demo's shape (ConvBERT,
vocabulary 3000, 16 rows x 128 tokens, the shipped CPU recipe) and a fine-tuning step (the discriminator + a
[CLS] head, 32 x 128) with each set of modules: the same weights, the same batch, interleaved rounds (each
round runs ``--steps`` steps of both), ratio of summed times, for each thread count. It also reports the
largest difference of the pre-training loss between the two on one batch with dropout off (they compute the
same function).

Results go to benchmarks/results/fastpath_speed-<date>.{md,json}, naming the machine.
"""
from __future__ import annotations

import argparse
import copy
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from model import fastpath
from model.data import ShardSplit
from model.finetune import ElectraFinetuner
from model.optim import AdamWeightDecay, param_groups
from model.pretrain import train_step
from model.sizes import resolve_params

VOCAB, ROWS, SEQ = 3000, 16, 128


def _timed(fn, steps: int) -> float:
    t0 = time.perf_counter()
    for _ in range(steps):
        fn()
    return (time.perf_counter() - t0) / steps * 1e3


def measure(threads: int, a, item, params) -> dict:
    from model.electra import build_pretrainer
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    fast = build_pretrainer(params, VOCAB, SEQ).train()
    arms = {"transformers": fastpath.restore(copy.deepcopy(fast)), "fastpath": fast}
    runs = {}
    for name, m in arms.items():
        opt = AdamWeightDecay(param_groups(m, 0.01), lr=1e-4, eps=1e-6)
        ps = [p for g in opt.param_groups for p in g["params"]]
        runs[name] = (m, opt, ps)
    # fine-tuning: the discriminator's encoder + a [CLS] head, 32 x 128, a classification loss
    ids = torch.randint(5, VOCAB, (32, SEQ), generator=torch.Generator().manual_seed(0))
    labels = torch.randint(0, 3, (32,), generator=torch.Generator().manual_seed(1))
    ft = {}
    for name, m in arms.items():
        net = ElectraFinetuner(copy.deepcopy(m.discriminator.base_model), 3, per_token=False)
        if name == "fastpath":
            fastpath.speed_up(net)
        else:
            fastpath.restore(net)
        ft[name] = (net.train(), torch.optim.SGD(net.parameters(), lr=1e-3))

    def pre_step(name):
        m, opt, ps = runs[name]
        train_step(m, opt, item, torch.device("cpu"), ps)

    def ft_step(name):
        net, opt = ft[name]
        loss = torch.nn.functional.cross_entropy(net(ids, torch.ones_like(ids), torch.zeros_like(ids)), labels)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)

    times = {k: {n: [] for n in arms} for k in ("pretrain", "finetune")}
    for fn, key in ((pre_step, "pretrain"), (ft_step, "finetune")):
        for n in arms:
            fn(n)  # warm-up, not timed
        for _ in range(a.rounds):
            for n in arms:
                times[key][n].append(_timed(lambda: fn(n), a.steps))
    out = {"threads": threads}
    for key, t in times.items():
        old, new = sum(t["transformers"]), sum(t["fastpath"])
        out[key] = {"ms_per_step": {n: round(sum(v) / len(v), 1) for n, v in t.items()},
                    "rounds": {n: [round(x, 1) for x in v] for n, v in t.items()}, "speedup": round(old / new, 3)}
    return out


def loss_difference(item, params) -> float:
    """|loss(fastpath) - loss(transformers)| on one batch, dropout off, the same weights and sampling seed."""
    from model.electra import build_pretrainer
    torch.manual_seed(0)
    fast = build_pretrainer(dict(params, dropout=0.0), VOCAB, SEQ).train()
    slow = fastpath.restore(copy.deepcopy(fast))
    mb = dict(item.micro[0])
    losses = []
    for m in (fast, slow):
        b = dict(mb)
        torch.manual_seed(5)
        out = m(b.pop("input_ids"), b.pop("attention_mask"), b.pop("token_type_ids"),
                gen_denom=item.gen_denom, disc_denom=item.disc_denom, **b)
        losses.append(float(out["loss"].detach()))
    return abs(losses[0] - losses[1])


def to_markdown(res: dict) -> str:
    lines = [f"# model.fastpath speed — {res['date']}", "", f"Machine: {res['machine']}", "",
             f"Command: `{res['command']}`", "",
             f"`tiny` (ConvBERT, the shipped CPU recipe), vocabulary {VOCAB}; pre-training step: {ROWS} x {SEQ} "
             f"tokens (`model.pretrain.train_step`); fine-tuning step: the discriminator + [CLS] head, 32 x {SEQ}. "
             f"Interleaved rounds of {res['steps']} steps per arm; the same weights and batch for both.", "",
             "| step | torch threads | transformers' modules, ms/step | model.fastpath, ms/step | speed-up (summed) "
             "| per round (transformers / fastpath) |", "|---|---:|---:|---:|---:|---|"]
    for r in res["rows"]:
        for key in ("pretrain", "finetune"):
            m = r[key]["ms_per_step"]
            rounds = ", ".join(f"{o:.0f}/{n:.0f}" for o, n in zip(r[key]["rounds"]["transformers"],
                                                                 r[key]["rounds"]["fastpath"]))
            lines.append(f"| {key} | {r['threads']} | {m['transformers']} | {m['fastpath']} | "
                         f"**{r[key]['speedup']}x** | {rounds} |")
    lines += ["", f"Pre-training loss on one batch, dropout off, both arms: differ by {res['loss_difference']:.2e} "
              "(float rounding: the same function)."]
    return "\n".join(lines) + "\n"


def demo_batch() -> tuple[dict, object]:
    """``tiny``'s parameters (dropout 0.1) and one pre-training step's batch in the demo's shape."""
    import benchmarks.pretrain_throughput as pt
    from model.data import PretrainBatcher
    params = resolve_params({"size": "tiny", "dropout": 0.1})
    pt.VOCAB = VOCAB
    with tempfile.TemporaryDirectory(prefix="demo-batch-") as tmp:
        split = ShardSplit(pt.make_shards(Path(tmp) / "s", SEQ, n=ROWS * 40), "train")
        item = PretrainBatcher(split, ROWS, seed=0, mask_prob=0.15, max_seq_length=SEQ,
                               pack=params["pack"]).next_step()
    return params, item


def main(argv: list[str] | None = None) -> int:
    from benchmarks._machine import describe, write_results
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fastpath_speed", description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--suffix", default="")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = ap.parse_args(argv)
    params, item = demo_batch()
    res = {"date": dt.date.today().isoformat(),
           "machine": describe(),
           "command": "python -m benchmarks.fastpath_speed " + " ".join(argv if argv is not None else sys.argv[1:]),
           "steps": a.steps, "rows": [], "loss_difference": loss_difference(item, params)}
    for t in a.threads:
        res["rows"].append(measure(t, a, item, params))
        print(json.dumps(res["rows"][-1]), flush=True)
    write_results(a.out, f"fastpath_speed-{res['date']}{'-' + a.suffix if a.suffix else ''}", res, to_markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
