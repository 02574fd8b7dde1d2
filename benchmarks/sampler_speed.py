"""Sampling the generator: a training step with the inverse-CDF sampler against Gumbel-max noise per entry.

    .venv/bin/python -m benchmarks.sampler_speed [--vocab 3000 8000 30522] [--threads 2] [--rounds 5]

ELECTRA replaces each masked token by a sample from the generator's softmax over the vocabulary. The official
code draws it with Gumbel-max (``argmax(logits - log(-log u))``, one uniform per vocabulary entry); until
2026-12-05 ``model.electra`` did the same with counter-based uniforms (a hash of key and vocabulary id).
``model.electra.sample_from_softmax`` draws the same distribution by inverse CDF: one uniform per masked
position against the cumulative softmax. This benchmark times ``model.pretrain.train_step`` of ``tiny``
(batch 16 x 128 tokens, the CPU recipe) with each sampler in the same process, interleaved (each round runs
``--steps`` steps of both), and reports ms per step and the ratio of summed times, for each vocabulary size;
it also checks that both samplers draw the softmax's distribution (total variation distance of 40,000
draws from one row of the generator's logits, beside ``torch.multinomial``'s on the same row).

Results go to benchmarks/results/sampler_speed-<date>.{md,json}, naming the machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import tempfile
import time
from pathlib import Path

import torch

from model.data import ShardSplit
from model.electra import GOLDEN, as_int32, hash32, hash_uniform, sample_from_softmax
from model.pretrain import train_step
from model.sizes import resolve_params


def gumbel_max(logits: torch.Tensor, generator=None, *, keys=None, temperature: float = 1.0) -> torch.Tensor:
    """The baseline: Gumbel-max with the official noise formula, one counter-based uniform per (key, entry)."""
    logits = logits.detach().float() / temperature
    cols = torch.arange(logits.shape[-1], dtype=torch.int32, device=logits.device) * as_int32(GOLDEN)
    u = hash_uniform(hash32(keys.to(torch.int32)[:, None] + cols[None, :]))
    return (logits - torch.log(-torch.log(u + 1e-9) + 1e-9)).argmax(-1)


def total_variation(sampler, logits_row: torch.Tensor, n: int = 40000) -> float:
    """TV distance between softmax(logits_row) and the frequencies of n draws; ``sampler=None``: torch.multinomial
    (the sampling noise of n draws, the reference)."""
    if sampler is None:
        draws = torch.multinomial(torch.softmax(logits_row.float(), -1), n, replacement=True,
                                  generator=torch.Generator().manual_seed(0))
    else:
        draws = sampler(logits_row.expand(n, -1), keys=hash32(torch.arange(n, dtype=torch.int32) * 7919 + 17))
    freq = torch.bincount(draws, minlength=logits_row.numel()).float() / n
    return 0.5 * (freq - torch.softmax(logits_row.float(), -1)).abs().sum().item()


def measure(vocab: int, a) -> dict:
    import benchmarks.pretrain_throughput as pt
    pt.VOCAB = vocab   # make_shards and Ours read the module's vocabulary size
    params = resolve_params({"size": "tiny", "dropout": 0.1})
    dev = torch.device("cpu")
    with tempfile.TemporaryDirectory(prefix="sampler-speed-") as tmp:
        split = ShardSplit(pt.make_shards(Path(tmp) / "s", 128, n=a.batch * 40), "train")
        r = pt.Ours(params, split, 128, a.batch, dev)
        try:
            item = r.prefetch.get()
            times = {"gumbel_max": [], "inverse_cdf": []}
            for _ in range(a.rounds):
                for name, fn in (("gumbel_max", gumbel_max), ("inverse_cdf", sample_from_softmax)):
                    r.model.sampler = fn
                    train_step(r.model, r.opt, item, dev, r.params)    # warm-up step, not timed
                    t0 = time.perf_counter()
                    for _ in range(a.steps):
                        train_step(r.model, r.opt, item, dev, r.params)
                    times[name].append((time.perf_counter() - t0) / a.steps * 1e3)
            # one row of the generator's logits at a masked position, for the distribution check
            with torch.no_grad():
                b = item.micro[0]
                out = r.model.generator(b["masked_input_ids"], attention_mask=b["attention_mask"],
                                        token_type_ids=b["token_type_ids"]).logits[b["masked"]][0]
        finally:
            r.close()
    old, new = sum(times["gumbel_max"]), sum(times["inverse_cdf"])
    return {"vocab": vocab, "ms_per_step": {k: [round(x, 1) for x in v] for k, v in times.items()},
            "mean_ms_per_step": {"gumbel_max": round(old / a.rounds, 1), "inverse_cdf": round(new / a.rounds, 1)},
            "speedup": round(old / new, 3),
            "total_variation": {"gumbel_max": round(total_variation(gumbel_max, out), 4),
                                "inverse_cdf": round(total_variation(sample_from_softmax, out), 4),
                                "torch_multinomial": round(total_variation(None, out), 4)}}


def to_markdown(res: dict) -> str:
    lines = [f"# Sampler speed — {res['date']}", "", f"Machine: {res['machine']}", "",
             f"Command: `{res['command']}`", "",
             "`tiny` (ConvBERT, batch 16 x 128 tokens, ~263 masked positions a step), one process, "
             f"{res['threads']} torch thread(s); interleaved rounds of {res['steps']} steps per sampler.", "",
             "| vocabulary | Gumbel-max ms/step | inverse CDF ms/step | speed-up (summed) | per round (Gumbel / CDF) "
             "| TV distance, Gumbel / CDF / multinomial |", "|---:|---:|---:|---:|---|---|"]
    for r in res["rows"]:
        rounds = ", ".join(f"{o:.0f}/{n:.0f}" for o, n in zip(r["ms_per_step"]["gumbel_max"],
                                                             r["ms_per_step"]["inverse_cdf"]))
        m = r["mean_ms_per_step"]
        tv = r["total_variation"]
        lines.append(f"| {r['vocab']} | {m['gumbel_max']} | {m['inverse_cdf']} | **{r['speedup']}x** | {rounds} "
                     f"| {tv['gumbel_max']} / {tv['inverse_cdf']} / {tv['torch_multinomial']} |")
    lines += ["", "TV distance: between the softmax of one row of the generator's logits and the frequencies of "
              "40,000 draws; `torch.multinomial` on the same probabilities gives the sampling noise alone (the "
              "untrained generator of this benchmark is near uniform, so the noise is large)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from benchmarks._machine import describe, write_results
    ap = argparse.ArgumentParser(prog="python -m benchmarks.sampler_speed", description=__doc__.splitlines()[0])
    ap.add_argument("--vocab", type=int, nargs="+", default=[3000, 8000, 30522])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--suffix", default="")
    ap.add_argument("--out", default=str(Path(__file__).parent / "results"))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    res = {"date": dt.date.today().isoformat(),
           "machine": describe(),
           "command": "python -m benchmarks.sampler_speed " + " ".join(argv if argv is not None else sys.argv[1:]),
           "threads": a.threads, "steps": a.steps, "rows": []}
    for v in a.vocab:
        res["rows"].append(measure(v, a))
        print(json.dumps(res["rows"][-1]), flush=True)
    write_results(a.out, f"sampler_speed-{res['date']}{'-' + a.suffix if a.suffix else ''}", res, to_markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
