"""ELECTRA (or MLM-baseline) pre-training loop: shards in, HF model folder out.

``pretrain(shards_dir, tokenizer_dir, out_dir, checkpoint_dir, params, metrics_path, curve_path, card)``
trains with the official ELECTRA recipe (:mod:`model.optim`: Adam without bias correction, eps 1e-6,
decoupled weight decay except LayerNorm/bias, global grad-norm clip 1.0, LR = peak x linear warmup x linear
decay to 0), checkpoints and resumes exactly (:mod:`model.checkpoint`), evaluates on the validation split
and exports the discriminator, generator, tokenizer files and a model card (:mod:`model.export`).

The run reads like nanoGPT's ``train.py``: :class:`Settings` (the resolved params, typed) and :class:`Paths`
go in; :func:`setup` builds the model, :func:`resume` restores a checkpoint into one :class:`TrainState`,
:func:`loop` advances it (logging into the curve, checkpointing), :func:`finish` evaluates and exports.

Speed: the loader (:class:`model.data.PretrainBatcher`) masks on the CPU in a background thread, packs
examples into full rows (no padding FLOPs), pins memory and the loop copies with ``non_blocking``; bf16
autocast and TF32 on CUDA; SDPA attention; generator logits only at masked positions; a fused
(``torch._fused_adamw_``) or ``_foreach`` optimizer step; optional ``torch.compile`` (``compile: true``);
gradient accumulation (``grad_accum``). Model FLOPs (:mod:`model.flops`), FLOP/s and MFU are logged.

Scale: run under ``torchrun`` for DDP over several GPUs / nodes (``distributed: fsdp`` for FSDP2); each
process takes a disjoint slice of every global batch, the loss is normalised by the *global* masked and
token counts, so N processes compute the same update as one process with the same global batch. Only rank
0 writes checkpoints, exports, metrics and calls ``on_log``.

Randomness: weights from ``seed``; masking and generator sampling are counter-based functions of
``(seed, step, example, position)`` (see :mod:`model.data`); dropout is reseeded from ``(seed, step, rank)``
at every step. A resumed run therefore repeats an uninterrupted one exactly.

Pre-emption (:mod:`model.preemption`): on SIGTERM the step in progress finishes and is checkpointed; the
newest complete checkpoint is resumed automatically.

Also runnable standalone (``python -m model.pretrain --help``; multi-GPU: ``torchrun --nproc_per_node N
-m model.pretrain ...``). Imports only torch, transformers, numpy, pyarrow, safetensors and the stdlib.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import torch

from model import distributed as mdist
from model import flops as mflops
from model.checkpoint import (CHECKPOINT_FORMAT, CheckpointError, arch_signature, latest_checkpoint,
                              load_checkpoint, one_writer, save_checkpoint)
from model.data import Prefetcher, PretrainBatcher, ShardSplit, mix64, read_index
from model.diskspace import DiskFull
from model.device import autocast, pick_device, to_device, use_tf32
from model.backbones import backbone_of, encoder
from model.electra import ElectraPretrainer, build_pretrainer, count_params, sample_from_softmax
from model.export import export
from model.metrics import (CURVE_COLUMNS, Window, evaluate, evaluate_subsets, json_safe, probe_batch, signals,
                           write_curve, write_metrics)
from model.optim import AdamWeightDecay, param_groups
from model.plateau import PlateauWatch
from model.preemption import PREEMPTED_EXIT, StopFlag
from model.settings import Paths, Settings
from model.state import TrainState

@dataclass
class Run:
    """What :func:`setup` builds for a run and the loop only reads (the model, its wrapper and optimizer
    are filled in as they are made)."""
    cfg: Settings
    paths: Paths
    card: dict | None
    on_log: Callable[[int, dict], None] | None
    stop_after: int | None
    stop_flag: StopFlag
    d: mdist.Dist
    device: torch.device
    vocab_size: int
    max_len: int
    mask_id: int
    train_split: ShardSplit
    val_split: ShardSplit | None
    t_start: float
    model: torch.nn.Module | None = None
    net: torch.nn.Module | None = None
    opt: AdamWeightDecay | None = None
    coeffs: mflops.FlopCoefficients | None = None
    peak: float | None = None
    probe: dict | None = None  # the fixed validation batch of the representation signals
    plateau: PlateauWatch | None = None  # warns once when the discriminator shows no learning
    on_step: Callable[[int, int], None] | None = None  # rank 0, after every step: (step, total steps)
    log_windows: bool = True  # print a line per logging window (off: the caller reports progress)

    @property
    def fsdp(self) -> bool:
        return self.d.enabled and self.cfg.distributed == "fsdp"

    @property
    def rng_devices(self) -> list:
        if self.device.type != "cuda":
            return []
        return [self.device.index if self.device.index is not None else torch.cuda.current_device()]

    @property
    def signature(self) -> dict:
        return arch_signature(self.cfg.params, self.vocab_size, self.max_len)

    def log(self, msg: str) -> None:
        if self.d.is_main:
            print(f"[pretrain] {msg}", flush=True)

    def build_model(self) -> torch.nn.Module:
        return build_pretrainer(dict(self.cfg.params), self.vocab_size, self.max_len, mask_id=self.mask_id)


def pretrain(shards_dir, tokenizer_dir, out_dir, checkpoint_dir, params: dict, metrics_path, curve_path,
             card: dict | None = None, *, stop_after: int | None = None, on_log=None, on_step=None,
             log_windows: bool = True, handle_signals: bool = True) -> dict:
    """Pre-train, checkpoint/resume, evaluate, export. Returns the metrics dict (also written to
    ``metrics_path``).

    ``stop_after=k`` stops after global step k with a checkpoint and no export (simulates a pre-emption;
    the next call resumes). ``on_log(step, metrics)`` is called on rank 0 at every logged step (and, when
    resuming, once per logged step restored from the checkpoint, so a logger can rebuild its history);
    ``metrics`` holds the curve's columns. ``on_step(step, total)`` is called on rank 0 after every
    optimizer step (cheap: a progress bar). ``log_windows=False`` leaves out the line printed per logging
    window (a 1M-step run would print 100k of them): the caller then reports progress from ``on_step`` and
    ``on_log`` with a bounded volume (the pretrain stage: ``pipeline.progress``). ``handle_signals``:
    SIGTERM/SIGINT/SIGUSR1 stop the run at the end of the current step with a checkpoint; the result then
    has ``completed: False, preempted: True``."""
    t_start = time.perf_counter()
    cfg = Settings.resolve(params)
    paths = Paths(Path(shards_dir), Path(tokenizer_dir) if tokenizer_dir else None, Path(out_dir),
                  Path(checkpoint_dir), Path(metrics_path), Path(curve_path))
    dist_env = mdist.init(use_cuda=cfg.device != "cpu" and torch.cuda.is_available())
    try:
        # one trainer per checkpoint folder: a second fails here, before it builds anything
        with one_writer(paths.checkpoints, dist_env, lambda m: print(f"[pretrain] {m}", flush=True)), \
                StopFlag(handle_signals) as stop_flag:
            run = setup(cfg, paths, dist_env, stop_flag, card=card, on_log=on_log, stop_after=stop_after,
                        t_start=t_start)
            run.on_step, run.log_windows = on_step, log_windows
            return train(run)
    finally:
        dist_env.close()


def setup(cfg: Settings, paths: Paths, d: mdist.Dist, stop_flag: StopFlag, *, card, on_log, stop_after,
          t_start: float) -> Run:
    """Read and check the shards, pick the device, and describe the run."""
    index = read_index(paths.shards)
    for key, want in (("pad_id", 0), ("cls_id", 2), ("sep_id", 3), ("mask_id", 4)):
        if key in index and int(index[key]) != want:
            raise ValueError(f"{paths.shards / 'index.json'}: {key} is {index[key]}, expected {want}")
    if cfg.batch_size % (cfg.grad_accum * d.world_size):
        raise ValueError(f"batch_size ({cfg.batch_size}) must be a multiple of grad_accum x processes "
                         f"({cfg.grad_accum} x {d.world_size})")
    train_split = ShardSplit(paths.shards, "train", index)
    if train_split.num_examples == 0:
        raise ValueError(f"{paths.shards}: the train split has no examples")
    try:
        val_split = ShardSplit(paths.shards, "validation", index)
    except FileNotFoundError:
        val_split = None
    device = pick_device(cfg.device, d.local_rank)
    use_tf32(device)
    run = Run(cfg, paths, card, on_log, stop_after, stop_flag, d, device, vocab_size=int(index["vocab_size"]),
              max_len=int(index["max_seq_length"]), mask_id=int(index.get("mask_id", 4)),
              train_split=train_split, val_split=val_split, t_start=t_start,
              plateau=PlateauWatch(cfg.params, cfg.plateau_warning_steps))
    if d.enabled:
        run.log(f"{d.world_size} processes ({d.backend}, {cfg.distributed}); per-process micro-batch "
                f"{cfg.batch_size // cfg.grad_accum // d.world_size} x {cfg.grad_accum} accumulation")
    return run


def train(run: Run) -> dict:
    """Build (seeded), resume, train, evaluate; export on rank 0. The global RNG is restored afterwards."""
    with torch.random.fork_rng(devices=run.rng_devices):
        torch.manual_seed(run.cfg.seed)  # weight init (same on every rank)
        run.model = run.build_model().to(run.device)
        run.model.train()
        run.coeffs = mflops.model_coefficients(run.model)
        run.peak = run.cfg.peak_tflops * 1e12 if run.cfg.peak_tflops else mflops.peak_flops(run.device)
        st, optim_state = resume(run)
        _prepare(run, optim_state)
        preempted = loop(run, st)
        if preempted is not None or st.step < run.cfg.steps:  # stopped early: by a signal, or on purpose
            out = {"completed": False, "stopped_at": st.step, "steps": run.cfg.steps,
                   "checkpoint": str(latest_checkpoint(run.paths.checkpoints))}
            if preempted is not None:
                out.update(preempted=True, signal=preempted)
            return out
        val, in_sync = finish(run, st)
        peak_mem = torch.cuda.max_memory_allocated(run.device) if run.device.type == "cuda" else None
    if not run.d.is_main:
        run.d.barrier()
        return {"completed": True, "rank": run.d.rank, "steps": st.step}
    metrics = final_metrics(run, st, val, in_sync, peak_mem)
    try:
        export(run.model, run.paths.out, run.paths.tokenizer, run.cfg.params, metrics, run.card, run.cfg.seed)
        write_curve(run.paths.curve, st.curve)
        metrics["wall_seconds"] = round(time.perf_counter() - run.t_start, 3)
        write_metrics(run.paths.metrics, metrics)
    finally:
        run.d.barrier()
    return json_safe(metrics)


def resume(run: Run) -> tuple[TrainState, dict | None]:
    """The state of the newest checkpoint (its weights loaded into ``run.model``) and its optimizer state;
    a fresh state and None when there is none."""
    d = run.d
    ck = latest_checkpoint(run.paths.checkpoints)
    if d.enabled and not d.same_int(-1 if ck is None else int(ck.name.split("-")[1])):
        raise RuntimeError(f"{run.paths.checkpoints}: processes see different latest checkpoints; the checkpoint "
                           "folder must be on storage shared by every node")
    if ck is None:
        return TrainState(window=Window(run.device)), None
    saved = load_checkpoint(ck, run.model, run.signature, run.cfg.params, run.log)
    # the window's global sums live on rank 0 only
    st = TrainState.restore(saved, Window(run.device, saved["window"] if d.is_main else None))
    run.log(f"resumed from {ck} (step {st.step}/{run.cfg.steps})")
    if run.on_log is not None and d.is_main:
        for r in st.curve:
            run.on_log(int(r[0]), dict(zip(CURVE_COLUMNS, r)))
    return st, saved["optimizer"]


def _prepare(run: Run, optim_state: dict | None) -> None:
    """Compile, wrap for DDP/FSDP, and make the optimizer (after wrapping: FSDP replaces the parameters)."""
    if run.cfg.compile:
        _compile(run.model, run.cfg.compile_backend)
    run.net = mdist.wrap(run.model, run.d, run.device, run.cfg.distributed)
    # relative_lr_scale: a measurement control (benchmarks/backbones.py): DeBERTa's relative-position
    # embeddings and their LayerNorm (encoder.LayerNorm) at a multiple of the learning rate
    f = float(run.cfg.params.get("relative_lr_scale") or 1.0)
    scales = {"rel_embeddings": f, "encoder.LayerNorm": f} if f != 1.0 else None
    run.opt = AdamWeightDecay(param_groups(run.model, run.cfg.weight_decay, scales), lr=run.cfg.learning_rate,
                              betas=(0.9, 0.999), eps=1e-6,
                              fused=False if run.fsdp else run.cfg.fused_optimizer)
    if optim_state is not None:
        mdist.load_optimizer_state(run.model, run.opt, optim_state, run.fsdp)


def _compile(model, backend: str | None) -> None:
    """torch.compile the encoders (the bulk of the FLOPs; fixed-shape) and the generator's sampler in place
    (parameter names unchanged). Masked-position gathers stay eager (data-dependent shapes)."""
    kw = {"backend": backend} if backend else {}
    encoders = [encoder(model.generator)] + ([model.discriminator] if hasattr(model, "discriminator") else [])
    for m in encoders:
        m.compile(dynamic=backbone_of(m.config).compile_dynamic, **kw)
    if hasattr(model, "discriminator"):
        model.sampler = torch.compile(sample_from_softmax, dynamic=True, **kw)


def train_step(net, opt, item, device: torch.device, params_list: list, on_output=None, *, world_size: int = 1,
               no_sync: bool = False, clip_norm: float = 1.0) -> None:
    """One optimizer step on a :class:`model.data.StepBatch`: every micro-batch forward (bf16 autocast on
    CUDA) and backward (DDP gradient sync only on the last), global-norm clip, optimizer step.
    ``on_output(out)`` sees each micro-batch's output dict (metrics stay on the device)."""
    last = len(item.micro) - 1
    for j, mb in enumerate(item.micro):
        batch = to_device(mb, device)
        sync = net.no_sync() if (no_sync and j < last) else nullcontext()
        with sync, autocast(device):
            out = net(batch.pop("input_ids"), batch.pop("attention_mask"), batch.pop("token_type_ids"),
                      gen_denom=item.gen_denom, disc_denom=item.disc_denom, **batch)
            loss = out["loss"] * world_size  # DDP averages gradients; the loss is a global mean
        loss.backward()
        if on_output is not None:
            on_output(out)
    torch.nn.utils.clip_grad_norm_(params_list, clip_norm)
    opt.step()
    opt.zero_grad(set_to_none=True)


def loop(run: Run, st: TrainState) -> str | None:
    """Train from ``st.step`` to the last step (or ``stop_after``), logging and checkpointing on the way.
    Returns the name of the signal that stopped it early, else None."""
    cfg, d, device = run.cfg, run.d, run.device
    batcher = PretrainBatcher(run.train_split, cfg.batch_size, seed=cfg.seed, mask_prob=cfg.mask_prob,
                              max_seq_length=run.max_len, grad_accum=cfg.grad_accum, world_size=d.world_size,
                              rank=d.rank, pack=cfg.pack, start_step=st.step, position=dict(st.data),
                              mask_id=run.mask_id)
    prefetch = Prefetcher(batcher.next_step, depth=cfg.prefetch, pin=device.type == "cuda",
                          process=device.type == "cuda" if cfg.prefetch_process is None else cfg.prefetch_process) \
        if cfg.prefetch > 0 else None
    next_step = prefetch.get if prefetch is not None else batcher.next_step
    params_list = [p for g in run.opt.param_groups for p in g["params"]]
    stop = cfg.steps if run.stop_after is None else min(cfg.steps, int(run.stop_after))
    st.window_tokens, st.window_t0 = 0, time.perf_counter()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    st.lr = cfg.lr(st.step)
    try:
        while st.step < stop:
            t0 = time.perf_counter()
            item = next_step()
            st.lr = cfg.lr(st.step)
            for g in run.opt.param_groups:
                g["lr"] = st.lr * g.get("lr_scale", 1.0)
            torch.manual_seed(mix64(cfg.seed, 0xD809, st.step, d.rank) & 0x7FFFFFFFFFFFFFFF)  # dropout
            train_step(run.net, run.opt, item, device, params_list, st.window.add, world_size=d.world_size,
                       no_sync=d.enabled and cfg.distributed == "ddp")
            st.advance(item, run.coeffs.step_flops(item.sum_len, item.sum_len_sq, item.gen_denom), d.world_size)
            stopping = d.any_flag(run.stop_flag.set_by is not None)
            log_now = st.step % cfg.log_every == 0 or st.step == cfg.steps
            checkpoint_now = st.step % cfg.checkpoint_every == 0 or st.step == stop or stopping
            if device.type == "cuda" and (log_now or checkpoint_now):
                torch.cuda.synchronize(device)
            st.seconds += time.perf_counter() - t0
            if log_now:
                log_window(run, st)
            if run.on_step is not None and d.is_main:
                run.on_step(st.step, cfg.steps)
            if checkpoint_now:
                checkpoint(run, st)
                st.window_t0 = time.perf_counter()  # don't count checkpoint I/O as training throughput
            if stopping:
                return run.stop_flag.set_by or "another process"
    finally:
        if prefetch is not None:
            prefetch.close()
    return None


def log_window(run: Run, st: TrainState) -> None:
    """Close the logging window: one curve row (summed over processes), the log line, ``on_log``."""
    d = run.d
    st.window.reduce_(d)
    s = st.window.summary(run.cfg.objective, run.cfg.disc_weight, run.cfg.disc_mlm_weight)
    dt = max(1e-9, time.perf_counter() - st.window_t0)
    fps = st.window.values()["flops"] / dt
    m = mflops.mfu(fps, run.peak, d.world_size)
    sig = probe_signals(run)
    st.curve.append([st.step, st.lr, s["loss"], s["gen_loss"], s["gen_acc"], s["disc_loss"], s["disc_acc"],
                     s["replaced_precision"], s["replaced_recall"], st.tokens, st.window_tokens / dt, st.seconds,
                     fps, m if m is not None else float("nan"), s["disc_auc"], s["replaced_fraction"],
                     s["gen_loss_at_mask"], s["gen_loss_unchanged"], sig["neighbour_attention"],
                     sig["last_layer_cosine"]])
    if run.log_windows:
        run.log(f"step {st.step}/{run.cfg.steps} lr {st.lr:.3g} gen {s['gen_loss']:.4f} "
                f"(at [MASK] {s['gen_loss_at_mask']:.3f}) disc {s['disc_loss']:.4f} "
                f"disc_acc {s['disc_acc']:.4f} auc {s['disc_auc']:.3f} rec {s['replaced_recall']:.3f} "
                f"nbr {sig['neighbour_attention']:.2f} cos {sig['last_layer_cosine']:.2f} tok/s "
                f"{st.window_tokens / dt:.0f} " + (f"MFU {m:.1%}" if m is not None else f"{fps / 1e9:.1f} GFLOP/s"))
    run.plateau.check(st.step, s, run.log)
    if run.on_log is not None and d.is_main:
        run.on_log(st.step, dict(zip(CURVE_COLUMNS, st.curve[-1])))
    st.window = Window(run.device)
    st.window_tokens, st.window_t0 = 0, time.perf_counter()


def probe_signals(run: Run) -> dict:
    """Neighbour attention and last-layer cosine on the first validation examples (model.metrics.signals).
    Not under FSDP (sharded weights) or torch.compile (switching the attention kernel would recompile)."""
    if run.fsdp or run.cfg.compile or not run.d.is_main:
        return signals(run.model, None)
    if run.probe is None:
        run.probe = probe_batch(run.val_split, run.device)
    return signals(run.model, run.probe)


def checkpoint(run: Run, st: TrainState) -> None:
    """Write ``step-N`` (rank 0) and the curve so far. Collective: every process calls it."""
    d = run.d
    # the window's sums become global on rank 0 (zero elsewhere), as after a resume
    st.window.reduce_(d)
    if not d.is_main:
        st.window.t.zero_()
    tensors = mdist.full_model_tensors(run.model, d, run.fsdp)       # collective under FSDP
    optimizer = mdist.full_optimizer_state(run.model, run.opt, d, run.fsdp)
    if d.is_main:
        meta = {"step": st.step, "arch": run.signature, "params": run.cfg.params, "data": st.data,
                "format": CHECKPOINT_FORMAT, "world_size": d.world_size}
        save_checkpoint(run.paths.checkpoints, st.step, tensors, st.saved(run.device.type, optimizer, run.cfg.seed),
                        meta)
        write_curve(run.paths.curve, st.curve)
    d.barrier()
    st.last_checkpoint = st.step


def finish(run: Run, st: TrainState) -> tuple[dict | None, bool | None]:
    """After the last step: the final checkpoint, whether the processes agree, and (rank 0) the validation
    metrics of the whole model. Returns (validation metrics, processes in sync)."""
    d = run.d
    if st.last_checkpoint != st.step:
        checkpoint(run, st)
    in_sync = None
    if d.enabled and run.cfg.distributed == "ddp":  # same weights everywhere: checked, not assumed
        with torch.no_grad():
            fp = torch.stack([torch.stack([p.double().sum(), p.double().square().sum()])
                              for p in run.model.parameters()]).flatten().cpu()
        in_sync = d.all_equal(fp)
    if run.fsdp:  # evaluation and export need the whole model on rank 0: rebuild a plain copy
        tensors = mdist.full_model_tensors(run.model, d, True)
        if d.is_main:
            with torch.random.fork_rng(devices=run.rng_devices):
                model = run.build_model()
            with torch.no_grad():
                for n, p in model.named_parameters():
                    p.copy_(tensors[n])
            run.model = model.to(run.device)
    if not d.is_main:
        return None, in_sync
    cfg = run.cfg
    val = evaluate(run.model, run.val_split, cfg.batch_size // cfg.grad_accum, cfg.eval_batches, run.device,
                   cfg.seed, cfg.objective, cfg.disc_weight, cfg.disc_mlm_weight)
    subsets = evaluate_subsets(run.model, run.paths.shards, cfg.batch_size // cfg.grad_accum, cfg.eval_batches,
                               run.device, cfg.seed, cfg.objective, cfg.disc_weight, cfg.disc_mlm_weight)
    if val is not None and subsets:  # per language, for a joint model's shards (index.json validation_subsets)
        val["subsets"] = subsets
    return val, in_sync


def final_metrics(run: Run, st: TrainState, val: dict | None, in_sync: bool | None, peak_mem) -> dict:
    """The run's metrics: totals, throughput, sizes, the last window's losses and the validation's."""
    cfg, model = run.cfg, run.model
    if isinstance(model, ElectraPretrainer):
        disc_params, gen_params = count_params(model.discriminator), count_params(model.generator)
    else:
        disc_params, gen_params = count_params(encoder(model.generator)), count_params(model.generator)
    last = {}
    if st.curve:
        r = dict(zip(CURVE_COLUMNS, st.curve[-1]))
        last = {k: r[k] for k in ("loss", "gen_loss", "gen_acc", "disc_loss", "disc_acc",
                                  "replaced_precision", "replaced_recall", "disc_auc", "replaced_fraction",
                                  "gen_loss_at_mask", "gen_loss_unchanged", "neighbour_attention",
                                  "last_layer_cosine") if k in r}
    fps = st.flops / st.seconds if st.seconds > 0 else None
    metrics = {
        "objective": cfg.objective, "size": cfg.size, "device": str(run.device.type), "steps": st.step,
        "processes": run.d.world_size, "processes_in_sync": in_sync, "batch_size": cfg.batch_size,
        "grad_accum": cfg.grad_accum, "max_seq_length": run.max_len,
        "vocab_size": run.vocab_size, "tokens_seen": st.tokens, "examples_seen": st.examples,
        "seconds": round(st.seconds, 3),
        "tokens_per_second": (st.tokens / st.seconds) if st.seconds > 0 else None,
        "train_flops": st.flops, "flops_per_second": fps,
        "flops_per_token": run.coeffs.per_token_estimate(run.max_len, cfg.mask_prob, cfg.batch_size),
        "peak_flops": run.peak, "mfu": mflops.mfu(fps, run.peak, run.d.world_size),
        "peak_memory_bytes": peak_mem, "packed": cfg.pack, "compiled": cfg.compile,
        "cpu_threads": torch.get_num_threads(),
        "disc_params": disc_params, "gen_params": gen_params, "total_params": count_params(model),
        "resumed_from_step": st.resumed_from,
        **{f"train_{k}": v for k, v in last.items()},
    }
    if val is not None:
        metrics.update({f"val_{k}": v for k, v in val.items()})
    else:
        metrics.update(val_batches=0)
    if cfg.objective == "mlm":  # no discriminator: report its metrics as null, not as a misleading 0
        for k in list(metrics):
            if k.endswith(("disc_loss", "disc_acc", "disc_auc", "replaced_precision", "replaced_recall",
                           "replaced_fraction")):
                metrics[k] = None
    return metrics


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m model.pretrain", description=__doc__.split("\n\n")[0])
    ap.add_argument("--shards", required=True, help="shards folder (index.json + train-*.parquet)")
    ap.add_argument("--tokenizer", default=None, help="tokenizer folder whose files are copied into --out")
    ap.add_argument("--out", required=True, help="output HF model folder")
    ap.add_argument("--checkpoints", required=True, help="checkpoint folder (resumed automatically)")
    ap.add_argument("--params", required=True, help="JSON file of pretrain params (missing keys: size defaults)")
    ap.add_argument("--metrics", required=True, help="metrics JSON to write")
    ap.add_argument("--curve", required=True, help="training curve TSV to write")
    ap.add_argument("--card", default=None, help="optional JSON file of extra model-card key/values")
    ap.add_argument("--stop-after", type=int, default=None, help="stop (with a checkpoint) after this step")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="override a param (a JSON value, else a string), e.g. --set steps=1000 --set device=cpu")
    a = ap.parse_args(argv)
    with open(a.params, encoding="utf-8") as f:
        params = json.load(f)
    for kv in a.set:
        k, _, v = kv.partition("=")
        try:
            params[k] = json.loads(v)
        except json.JSONDecodeError:
            params[k] = v
    card = None
    if a.card:
        with open(a.card, encoding="utf-8") as f:
            card = json.load(f)
    try:
        res = pretrain(a.shards, a.tokenizer, a.out, a.checkpoints, params, a.metrics, a.curve, card,
                       stop_after=a.stop_after)
    except (CheckpointError, DiskFull) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps(res, indent=2, sort_keys=True))
    if res.get("preempted"):
        return PREEMPTED_EXIT
    return 0


if __name__ == "__main__":
    sys.exit(main())
