"""What the CUDA path uses, run for real on the CPU with tiny configs, and the GPU check's CPU smoke run.

Each piece of the GPU path and its CPU analogue here:

* bf16 autocast: on CUDA ``model.device.autocast`` is ``torch.autocast("cuda", bfloat16)`` around every
  forward (the backward and the optimizer outside it); here ``model.device.bf16_everywhere`` makes it
  ``torch.autocast("cpu", bfloat16)`` (the same matmul / linear / SDPA / convolution ops in bf16) for the
  whole pre-training loop: steps, logging, checkpoint, resume, evaluation, export.
* ``torch.compile``: inductor's C++/OpenMP backend instead of Triton kernels, same graphs and guards.
* the fused AdamW kernel: torch's CPU implementation of ``torch._fused_adamw_``.
* FSDP2: ``fully_shard`` over gloo instead of NCCL (ConvBERT here; ELECTRA in tests/test_distributed.py).
* bf16 checkpoints: the safetensors/``state.pt`` round trip of bf16 tensors.

Untested without a GPU: the CUDA kernels themselves (flash / memory-efficient SDPA with the packed
block-diagonal bool mask, Triton code generation, cuBLAS bf16 and TF32 matmuls), pinned-memory prefetch with
``non_blocking`` copies (``pin_memory`` needs CUDA), NCCL, ``torch.cuda.max_memory_allocated`` and the
MFU peak table; ``benchmarks/gpu_check.py`` measures those on the first device (docs/pretraining.md, "GPU check").
"""
from __future__ import annotations

import contextlib
import json
import math
import os
import shutil
import subprocess
import sys
import warnings

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from model.checkpoint import CHECKPOINT_FORMAT, arch_signature, latest_checkpoint, load_checkpoint, save_checkpoint
from model.data import PretrainBatcher, ShardSplit
from model.device import autocast, bf16_everywhere, use_tf32
from model.electra import build_pretrainer
from model.optim import AdamWeightDecay, param_groups
from model.pretrain import pretrain, train_step
from model.sizes import resolve_params
from tests.conftest import REPO, require_shared
from tests.test_model import MAX_LEN, VOCAB, tiny_params, write_shards

torch.set_num_threads(1)
BACKBONES = ["electra", "convbert"]


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    return write_shards(tmp_path_factory.mktemp("gshards") / "shards", n_train=160, n_val=16)


def _run(shards, d, **kw):
    stop_after = kw.pop("stop_after", None)
    p = tiny_params(**{"steps": 6, "log_every": 1, "checkpoint_every": 3, "eval_batches": 1, "dropout": 0.0, **kw})
    return pretrain(shards, None, d / "out", d / "ck", p, d / "m.json", d / "c.tsv", stop_after=stop_after)


def _curve(d) -> list[dict]:
    lines = (d / "c.tsv").read_text().splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, map(float, ln.split("\t")))) for ln in lines[1:]]


def _export_dtypes(out) -> set:
    dtypes = set()
    for f in [out / "model.safetensors", out / "generator" / "model.safetensors", *out.glob("rtd_head.safetensors")]:
        with safe_open(str(f), "pt") as st:
            dtypes |= {st.get_slice(k).get_dtype() for k in st.keys()}
    return dtypes


# ---------------------------------------------------------------------------------------------- bf16 autocast

def test_autocast_is_bf16_on_cuda_and_off_elsewhere():
    assert isinstance(autocast(torch.device("cpu")), contextlib.nullcontext)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "CUDA is not available ... Disabling autocast" on a CPU-only torch
        ac = autocast(torch.device("cuda", 0))
    assert isinstance(ac, torch.autocast) and ac.device == "cuda" and ac.fast_dtype == torch.bfloat16
    with bf16_everywhere():
        ac = autocast(torch.device("cpu"))
        assert isinstance(ac, torch.autocast) and ac.device == "cpu" and ac.fast_dtype == torch.bfloat16
    assert isinstance(autocast(torch.device("cpu")), contextlib.nullcontext)
    before = torch.backends.cuda.matmul.allow_tf32
    use_tf32(torch.device("cpu"))  # TF32 is a CUDA setting: nothing changes on the CPU
    assert torch.backends.cuda.matmul.allow_tf32 == before


@pytest.mark.parametrize("backbone", BACKBONES)
def test_bf16_autocast_train_steps_run_matmuls_in_bf16(shards, backbone):
    """``train_step`` under autocast: the encoders' linear layers compute in bf16, the losses, logits and
    weights stay fp32, and the losses follow the fp32 ones."""
    p = resolve_params(tiny_params(backbone=backbone, dropout=0.0))
    split = ShardSplit(shards, "train")
    losses, seen = {}, []
    for mode in ("fp32", "bf16"):
        torch.manual_seed(0)
        m = build_pretrainer(p, VOCAB, MAX_LEN)
        lin = next(mod for mod in m.discriminator.modules() if isinstance(mod, torch.nn.Linear))
        hook = lin.register_forward_hook(lambda mod, i, o: seen.append((mode, o.dtype)))
        opt = AdamWeightDecay(param_groups(m, 0.01), lr=2e-3, eps=1e-6)
        params = [q for g in opt.param_groups for q in g["params"]]
        batcher = PretrainBatcher(split, 16, seed=1, mask_prob=0.15, max_seq_length=MAX_LEN, pack=p["pack"])
        outs = []
        with bf16_everywhere() if mode == "bf16" else contextlib.nullcontext():
            for _ in range(4):
                train_step(m, opt, batcher.next_step(), torch.device("cpu"), params, outs.append)
        hook.remove()
        assert all(o["loss"].dtype == torch.float32 and o["disc_logits"].dtype == torch.float32 for o in outs)
        assert all(q.dtype == torch.float32 and torch.isfinite(q).all() for q in m.parameters())
        losses[mode] = [float(o["loss"].detach()) for o in outs]
    assert {d for mode, d in seen if mode == "bf16"} == {torch.bfloat16}
    assert {d for mode, d in seen if mode == "fp32"} == {torch.float32}
    assert all(math.isfinite(x) for x in losses["bf16"])
    assert losses["bf16"] == pytest.approx(losses["fp32"], rel=2e-2)


@pytest.mark.parametrize("backbone", BACKBONES)
def test_bf16_autocast_pretraining_close_to_fp32_resumes_exactly_exports_fp32(shards, tmp_path, backbone):
    """The whole loop under autocast: the curve stays finite and near fp32's, an interrupted run resumed from
    its step-3 checkpoint ends with bitwise the weights of the straight run, and the export is fp32 (autocast
    never changes the parameters' dtype)."""
    kw = dict(backbone=backbone)
    _run(shards, tmp_path / "fp32", **kw)
    with bf16_everywhere():
        _run(shards, tmp_path / "bf16", **kw)
        _run(shards, tmp_path / "resumed", stop_after=3, **kw)
        m = _run(shards, tmp_path / "resumed", **kw)
    assert m["resumed_from_step"] == 3
    for a, b in zip(_curve(tmp_path / "fp32"), _curve(tmp_path / "bf16")):
        for k in ("loss", "gen_loss", "disc_loss", "disc_auc"):
            assert math.isfinite(b[k]), (b["step"], k)
        for k in ("loss", "gen_loss", "disc_loss"):
            assert b[k] == pytest.approx(a[k], rel=2e-2), (b["step"], k)
    straight = load_file(str(tmp_path / "bf16/out/model.safetensors"))
    resumed = load_file(str(tmp_path / "resumed/out/model.safetensors"))
    assert straight.keys() == resumed.keys() and all(torch.equal(straight[k], resumed[k]) for k in straight)
    assert _export_dtypes(tmp_path / "bf16/out") == {"F32"}
    assert json.loads((tmp_path / "bf16/out/config.json").read_text()).get("dtype", "float32") == "float32"


def test_bf16_weights_and_moments_checkpoint_round_trip(tmp_path):
    """A model cast to bf16 is checkpointed in bf16 and reloads bit for bit (into fp32: the exact upcast)."""
    p = resolve_params(tiny_params(backbone="convbert"))
    torch.manual_seed(0)
    m = build_pretrainer(p, VOCAB, MAX_LEN).to(torch.bfloat16)
    opt = AdamWeightDecay(param_groups(m, 0.01), lr=1e-3)
    for q in m.parameters():
        opt.state[q] = {"exp_avg": torch.randn_like(q), "exp_avg_sq": torch.rand_like(q)}
    sig = arch_signature(p, VOCAB, MAX_LEN)
    ck = save_checkpoint(tmp_path, 5, m, {"optimizer": opt.state_dict()},
                         {"step": 5, "arch": sig, "params": p, "format": CHECKPOINT_FORMAT})
    assert latest_checkpoint(tmp_path) == ck
    with safe_open(str(ck / "model.safetensors"), "pt") as st:
        assert {st.get_slice(k).get_dtype() for k in st.keys()} == {"BF16"}
    for dtype in (torch.bfloat16, torch.float32):
        m2 = build_pretrainer(p, VOCAB, MAX_LEN).to(dtype)
        saved = load_checkpoint(ck, m2, sig, p, print)
        for (n, a), (_, b) in zip(m.named_parameters(), m2.named_parameters()):
            assert b.dtype == dtype and torch.equal(a.float(), b.float()), n
        opt2 = AdamWeightDecay(param_groups(m2, 0.01), lr=1e-3)
        opt2.load_state_dict(saved["optimizer"])
        for a, b in zip(m.parameters(), m2.parameters()):
            for k in ("exp_avg", "exp_avg_sq"):
                assert opt2.state[b][k].dtype == dtype and torch.equal(opt.state[a][k].float(), opt2.state[b][k].float())


# ---------------------------------------------------------------------------------------------- fused AdamW

def test_fused_adamw_cpu_kernel_matches_foreach_on_the_pretrainer(shards):
    """AdamWeightDecay(fused=True) -- ``torch._fused_adamw_``, the CUDA default -- on the real pre-trainer
    and its parameter groups (weight decay on / off) follows the multi-tensor path; bf16 parameters share
    the fp32 step tensor and stay within one bf16 rounding of it."""
    p = resolve_params(tiny_params(backbone="electra", dropout=0.0))
    split = ShardSplit(shards, "train")
    models, opts = [], []
    for fused in (True, False):
        torch.manual_seed(0)
        m = build_pretrainer(p, VOCAB, MAX_LEN)
        models.append(m)
        opts.append(AdamWeightDecay(param_groups(m, 0.01), lr=2e-3, eps=1e-6, fused=fused))
    assert opts[0]._use_fused([q for g in opts[0].param_groups for q in g["params"]])
    items = [b.next_step() for b in [PretrainBatcher(split, 16, seed=1, mask_prob=0.15, max_seq_length=MAX_LEN)]
             for _ in range(3)]
    try:
        for m, opt in zip(models, opts):
            params = [q for g in opt.param_groups for q in g["params"]]
            for item in items:
                train_step(m, opt, item, torch.device("cpu"), params)
    except (RuntimeError, NotImplementedError) as e:  # a torch without the CPU kernel
        pytest.skip(f"fused AdamW has no CPU kernel in torch {torch.__version__}: {e}")
    for (n, a), (_, b) in zip(models[0].named_parameters(), models[1].named_parameters()):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), n
    ps = [torch.nn.Parameter(torch.randn(6, 4).bfloat16()), torch.nn.Parameter(torch.randn(4))]
    qs = [torch.nn.Parameter(x.detach().clone()) for x in ps]
    fo = AdamWeightDecay([{"params": ps, "weight_decay": 0.01}], lr=0.05, fused=True)
    ref = AdamWeightDecay([{"params": qs, "weight_decay": 0.01}], lr=0.05, fused=False)
    for _ in range(3):
        for a, b in zip(ps, qs):
            a.grad = torch.randn_like(a)
            b.grad = a.grad.clone()
        fo.step()
        ref.step()
    assert ps[0].dtype == torch.bfloat16 and torch.allclose(ps[0].float(), qs[0].float(), rtol=1e-2, atol=1e-2)
    assert torch.allclose(ps[1], qs[1], rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- torch.compile

def _cxx() -> str | None:
    return next((c for c in (os.environ.get("CXX"), "g++", "c++", "clang++") if c and shutil.which(c)), None)


@pytest.mark.parametrize("backbone,layers", [("electra", 1), ("convbert", 2)])
def test_inductor_compile_matches_eager_and_keeps_parameter_names(shards, tmp_path, backbone, layers):
    """``compile: true`` with inductor (the GPU's backend; C++ kernels here): the loss follows eager mode
    while the batch shape changes (batches of 4: step 2 has another length, so torch recompiles), and
    the export has the eager run's tensor names. ConvBERT compiles with static shapes: with a symbolic
    length inductor fails to lower its second layer's convolution heads (hence 2 layers here)."""
    if _cxx() is None:
        pytest.skip("inductor's CPU backend needs a C++ compiler (g++, c++ or clang++ on PATH, or $CXX)")
    from torch._dynamo.utils import counters
    # no validation pass: eval mode would compile every graph once more
    kw = dict(backbone=backbone, num_hidden_layers=layers, batch_size=4, steps=2, checkpoint_every=100, eval_batches=0)
    graphs = counters["stats"]["unique_graphs"]
    comp = _run(shards, tmp_path / "compiled", compile=True, compile_backend="inductor", **kw)
    assert comp["compiled"] is True and counters["stats"]["unique_graphs"] > graphs
    _run(shards, tmp_path / "eager", **kw)
    for a, b in zip(_curve(tmp_path / "eager"), _curve(tmp_path / "compiled")):
        for k in ("loss", "gen_loss", "disc_loss"):
            assert b[k] == pytest.approx(a[k], rel=1e-4, abs=1e-5), (b["step"], k)
    for f in ("model.safetensors", "generator/model.safetensors"):
        assert load_file(str(tmp_path / "compiled/out" / f)).keys() == load_file(str(tmp_path / "eager/out" / f)).keys()


# ---------------------------------------------------------------------------------------------- FSDP2

def test_fsdp2_convbert_two_processes_match_one(shards, tmp_path):
    """``distributed: fsdp`` with the ConvBERT backbone (``fully_shard`` per ConvBertLayer, the shared
    embeddings in the root unit) on 2 gloo processes: the curve and the gathered export of one process.
    No MixedPrecisionPolicy is used: on CUDA FSDP2 gathers fp32 weights and autocast casts per op."""
    # the paper's objective (no corrective head): its 3000-way softmax adds enough summation-order noise through
    # Adam that a quarter of the convolution biases drift by ~1e-5 -- within a step, but not a tight comparison
    p = tiny_params(backbone="convbert", steps=4, batch_size=16, log_every=1, checkpoint_every=4, eval_batches=1,
                    disc_mlm_weight=0.0, dropout=0.0, warmup_steps=1)
    one = pretrain(shards, None, tmp_path / "one/out", tmp_path / "one/ck", p, tmp_path / "one/m.json",
                   tmp_path / "one/c.tsv")
    (tmp_path / "p.json").write_text(json.dumps(dict(p, distributed="fsdp")))
    d = tmp_path / "fsdp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "model.pretrain",
           "--shards", str(shards), "--out", str(d / "out"), "--checkpoints", str(d / "ck"), "--params",
           str(tmp_path / "p.json"), "--metrics", str(d / "m.json"), "--curve", str(d / "c.tsv")]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    two = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert two.returncode == 0, two.stdout[-3000:] + two.stderr[-3000:]
    assert "(gloo, fsdp)" in two.stdout + two.stderr
    m = json.loads((d / "m.json").read_text())
    assert m["processes"] == 2 and m["steps"] == one["steps"] == 4
    for a, b in zip(_curve(tmp_path / "one"), _curve(d)):
        for k in ("loss", "gen_loss", "disc_loss"):
            assert b[k] == pytest.approx(a[k], rel=1e-4, abs=1e-5), (a["step"], k)
    # summation order differs between 1 and 2 processes: where a gradient is near 0, Adam's normalised update
    # (up to lr = 2e-3 per step) can differ by a few percent of a step
    for f in ("model.safetensors", "rtd_head.safetensors", "generator/model.safetensors"):
        wa, wb = load_file(str(tmp_path / "one/out" / f)), load_file(str(d / "out" / f))
        assert wa.keys() == wb.keys()
        for k in wa:
            diff = (wa[k] - wb[k]).abs()
            # such near-zero-gradient stragglers stay within a quarter of a step (e.g. 2e-4 on 3 of the 18
            # convolution-kernel biases, whose off-neighbour offsets start at -6), while the typical weight agrees
            # to float precision: a wrong reduction would move most weights by whole steps
            assert float(diff.max()) < 5e-4 and float(diff.median()) < 1e-5, \
                (f, k, float(diff.max()), float(diff.median()))


# ---------------------------------------------------------------------------------------------- the GPU check

def test_gpu_check_steps_fill_the_pretraining_budget():
    import argparse

    from benchmarks.gpu_check import COMPILE_ALLOWANCE_S, estimated_steps
    cfg = argparse.Namespace(pretrain_steps=None, pretrain_size="small", compile=True, batch_size=256)
    bench = [{"size": "base", "variants": {"ours": {"tokens_per_s": 9e9}}},
             {"size": "small", "variants": {"ours": {"tokens_per_s": 1e6}, "ours+compile": {"tokens_per_s": 2e6}}}]
    manifest = {"shards": {"train": {"tokens": 100_000, "examples": 1000}}}  # 100 tokens per example
    steps, how = estimated_steps(cfg, bench, manifest, 300.0)
    assert steps == int((300 - COMPILE_ALLOWANCE_S) * 2e6 / (256 * 100)) and how.startswith("ours+compile")
    cfg.compile = False
    assert estimated_steps(cfg, bench, manifest, 200.0)[0] == int(200 * 1e6 / (256 * 100))
    assert estimated_steps(cfg, {"error": "no GPU"}, manifest, 300.0)[0] == 1000  # then the watchdog ends the run
    cfg.pretrain_steps = 7
    assert estimated_steps(cfg, bench, manifest, 300.0) == (7, "given")


def test_gpu_check_prepare_then_smoke_run_without_pipeline(tmp_path):
    """``prepare`` (the real vocab and shard stages) on the small English text, then ``run --smoke`` with
    pipeline/, pydantic and Prefect made unimportable, as on the device. The watchdog is made to fire: the
    pre-training is stopped by SIGTERM, checkpointed, then evaluated and exported at the step it reached."""
    text, glue = require_shared("small", "text", "en"), require_shared("small", "glue")
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    data, out = tmp_path / "gc", tmp_path / "out"
    prep = subprocess.run([sys.executable, "-m", "benchmarks.gpu_check", "prepare", "--out", str(data), "--text",
                           str(text), "--glue", str(glue), "--vocab-size", "1000", "--max-seq-length", "64"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert prep.returncode == 0, prep.stdout[-3000:] + prep.stderr[-3000:]
    man = json.loads((data / "manifest.json").read_text())
    assert man["vocab_size"] == 1000 and man["max_seq_length"] == 64 and man["shards"]["train"]["tokens"] > 10_000
    assert {"tokenizer/tokenizer.json", "shards/index.json", "glue/SST-2/train.tsv", "glue/CoLA/dev.tsv"} <= set(man["files"])
    assert all(len(f["sha256"]) == 64 for f in man["files"].values()) and man["total_bytes"] < 64 * 2**20
    before = set((REPO / "benchmarks" / "results").glob("gpu_check-*"))
    block = "import sys; sys.modules.update(dict.fromkeys(('pipeline', 'pydantic', 'prefect', 'flows')))"
    run = subprocess.run([sys.executable, "-c", block + "; from benchmarks.gpu_check import main; sys.exit(main())",
                          "run", "--smoke", "--data", str(data), "--out", str(out), "--pretrain-steps", "100000",
                          "--pretrain-seconds", "1", "--watchdog-grace", "4",
                          "--parts", "throughput,profile,pretraining,finetuning"],
                         cwd=REPO, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-5000:] + run.stderr[-5000:]
    text = next(out.glob("gpu_check-*-smoke.json")).read_text()
    assert str(REPO) not in text and str(tmp_path) not in text  # committed records name no machine paths
    res = json.loads(text)
    assert res["smoke"] is True and res["machine"]["device"] == "cpu"
    assert {"ours", "reference"} <= set(res["throughput"][0]["variants"])
    prof = res["profile"]
    assert prof["steps"] == 3 and prof["wall_ms_per_step_batch_reused"] > 0 and prof["top_self_cpu"]
    assert prof["loader_process"] is False and prof["wall_ms_per_step_with_loader_thread"] > 0
    pre = res["pretraining"]
    assert pre["watchdog_fired"] is True and 0 < pre["metrics"]["steps"] < pre["planned_steps"] == 100000
    assert pre["metrics"]["val_disc_auc"] is not None and pre["epochs"] > 0
    for task in ("SST-2", "CoLA"):
        ft = res["finetuning"][task]
        assert len(ft["pretrained"]) == len(ft["random"]) == 1 and ft["train_examples"] == 48
    assert [g["met"] for g in res["goals"]][0] is not None
    md = next(out.glob("gpu_check-*-smoke.md")).read_text()
    assert "Smoke run" in md and "## 3. Fine-tuning" in md and "epochs" in md and "Where an eager step goes" in md
    assert set((REPO / "benchmarks" / "results").glob("gpu_check-*")) == before  # a smoke run is not a result
