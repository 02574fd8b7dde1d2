"""One joint ELECTRA of sw, tr and ko vs their monolingual models and random init, at equal pre-training compute.

    .venv/bin/python -m benchmarks.joint_vs_monolingual [--steps 1500] [--seeds 3] [--train 500] [--keep DIR]

A temporary git + DVC project (the end-to-end test's: tests/test_joint.py) holds Swahili, Turkish and
Korean on the shared ``small/text`` samples (about 260k characters each), each with one task (sw NER on
MasakhaNER 2 dev -> test, tr UPOS on UD IMST dev -> test, ko XNLI on its dev split), and the joint model
``tri`` of the three from ``foundry new-joint`` (alpha 0.3). Every model is the tiny ConvBERT with batch 16
x 64-token examples, at equal pre-training FLOPs: the joint model runs ``--steps``; each monolingual model
runs the steps whose FLOPs match the joint model's by the project's count (model/flops.py's per-token
estimate for the model with each vocabulary size: the joint vocabulary of 4000 pieces makes a joint step
14-24% dearer than a step of a 1000- or 2000-piece monolingual model). The monolingual models get more
steps rather than the joint model fewer because there are three of them with different vocabularies and
one joint model: only per-member steps can match all three. The FLOPs actually spent (``train_flops`` of
each ``pretrain.json``) are in the scorecard with their ratio, which marks any comparison off by more than
5%. One ``foundry run tri`` builds everything; the scorecard (``metrics/tri/eval.json``) is the result: per
language and task the joint, monolingual and random-init medians over ``--seeds``, the vocabulary's
fertility per language (joint vs monolingual), and the discriminator's validation AUC per language. The
baseline measured in the same run is each member's own monolingual model (and random init). Results go to
``benchmarks/results/joint_vs_monolingual-<date>.{md,json}``, with the machine named.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks._machine import cpu_model, usable_cores
from model.atomic import write_text
from model.electra import build_configs
from model.flops import coefficients
from model.sizes import resolve_params
from tests.conftest import require_shared
from tests.test_flow import _env, foundry
from tests.test_joint import _project

HERE = Path(__file__).parent


SEQ, BATCH = 64, 16


def flops_per_token(vocab_size: int, size: str = "tiny") -> float:
    """Training FLOPs per token of a full-length example by model/flops.py, for this vocabulary size."""
    params = resolve_params({"size": size})
    disc, gen = build_configs(params, vocab_size, SEQ)
    corrective = float(params.get("disc_mlm_weight") or 0.0) > 0
    coeffs = coefficients(disc.to_dict(), gen.to_dict(), vocab_size, corrective)
    return coeffs.per_token_estimate(SEQ, float(params["mask_prob"]), BATCH)


def matched_steps(proj: Path, joint: str, steps: int) -> dict[str, int]:
    """Steps per configuration: ``steps`` for the joint model, for each member the steps of equal FLOPs."""
    cfgs = {f.stem: yaml.safe_load(f.read_text(encoding="utf-8")) for f in (proj / "corpora").glob("*.yaml")}
    joint_cost = flops_per_token(int(cfgs[joint]["vocab"]["size"]))
    return {name: steps if name == joint else round(steps * joint_cost / flops_per_token(int(c["vocab"]["size"])))
            for name, c in cfgs.items()}


def _scale(proj: Path, steps: dict[str, int], seeds: int, train: int) -> None:
    """The test's tiny settings raised to a budget that learns something, ``steps`` per configuration."""
    for f in (proj / "corpora").glob("*.yaml"):
        t = f.read_text(encoding="utf-8")
        n = steps[f.stem]
        t = re.sub(r"(?m)^  steps: \d+", f"  steps: {n}", t)
        t = re.sub(r"batch_size: \d+", f"batch_size: {BATCH}", t)
        t = re.sub(r"warmup_steps: \d+", f"warmup_steps: {max(1, n // 10)}", t)
        t = re.sub(r"log_every: \d+", "log_every: 10", t)
        t = re.sub(r"checkpoint_every: \d+", f"checkpoint_every: {n}", t)
        t = re.sub(r"eval_batches: \d+", "eval_batches: 8", t)
        t = re.sub(r"seeds: \d+", f"seeds: {seeds}", t)
        t = re.sub(r"max_train_examples: (\d+|all)", f"max_train_examples: {train}", t)
        t = re.sub(r"max_eval_examples: (\d+|all)", "max_eval_examples: 300", t)
        t = re.sub(r"epochs: \d+", "epochs: 3", t)
        f.write_text(t, encoding="utf-8")


def run(steps: int, seeds: int, train: int, keep: Path | None) -> dict:
    shared = require_shared("small", "text", "ko").parents[2]
    tmp = Path(tempfile.mkdtemp(prefix="joint-bench-"))
    try:
        proj = _project(tmp, shared)
        r = foundry(proj, "new-joint", "tri", "sw", "tr", "ko")
        assert r.returncode == 0, r.stderr
        steps_by_model = matched_steps(proj, "tri", steps)
        _scale(proj, steps_by_model, seeds, train)
        t0 = time.time()
        r = subprocess.run([sys.executable, "-m", "flows.cli", "run", "tri"], cwd=proj, env=_env(proj),
                           capture_output=True, text=True)   # no time limit: a benchmark may take long
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        c = json.loads((proj / "metrics/tri/eval.json").read_text(encoding="utf-8"))
        c.pop("results", None)
        out = {"machine": {"cpu": cpu_model(), "cores": usable_cores()}, "date": dt.date.today().isoformat(),
               "settings": {"steps": steps_by_model, "equal": "pre-training FLOPs (model/flops.py)",
                            "batch_size": BATCH, "max_seq_length": SEQ, "seeds": seeds,
                            "max_train_examples": train, "alpha": 0.3, "model": "tiny (ConvBERT)"},
               "wall_seconds": round(time.time() - t0, 1), "comparison": c,
               "scorecard_md": (proj / "reports/tri/scorecard.md").read_text(encoding="utf-8")}
        if keep:
            shutil.copytree(proj, keep, dirs_exist_ok=True)
        return out
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=1500, help="the joint model's steps (members: equal FLOPs)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--train", type=int, default=500, help="max training examples per task")
    ap.add_argument("--keep", type=Path, default=None, help="copy the project here")
    a = ap.parse_args(argv)
    res = run(a.steps, a.seeds, a.train, a.keep)
    stem = HERE / "results" / f"joint_vs_monolingual-{res['date']}"
    write_text(stem.with_suffix(".json"), json.dumps(res, indent=1, sort_keys=True) + "\n")
    m = res["machine"]
    write_text(stem.with_suffix(".md"),
        f"# Joint vs monolingual (sw, tr, ko), {res['date']}\n\nMachine: {m['cpu']}, {m['cores']} usable cores "
        f"(shared with other work). Settings: {json.dumps(res['settings'])}. Whole run (4 pre-trainings, "
        f"every fine-tuning): {res['wall_seconds']} s.\n\n" + res["scorecard_md"].split("\n", 1)[1])
    print(stem.with_suffix(".md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
