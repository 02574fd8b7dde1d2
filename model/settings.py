"""What a pre-training run is given: :class:`Settings` (the resolved params, typed) and :class:`Paths`."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from model.optim import lr_factor
from model.plateau import warning_step
from model.sizes import resolve_params


@dataclass(frozen=True)
class Settings:
    """The resolved pre-training params (:func:`model.sizes.resolve_params`), typed. ``params`` keeps the
    whole dict (architecture keys too): the model is built from it, and it is checkpointed and exported."""
    params: dict
    objective: str
    size: str
    steps: int
    batch_size: int           # sequences per optimizer step, all processes together
    grad_accum: int
    learning_rate: float
    warmup_steps: int
    mask_prob: float
    disc_weight: float
    disc_mlm_weight: float    # the discriminator's corrective MLM (model.electra.CorrectiveHead); 0: the paper's
    weight_decay: float
    seed: int
    device: str
    log_every: int
    checkpoint_every: int
    eval_batches: int
    pack: bool
    compile: bool
    compile_backend: str | None
    distributed: str
    prefetch: int
    prefetch_process: bool | None  # the loader in a worker process, else a thread; None: a process on CUDA
    fused_optimizer: bool | None
    peak_tflops: float | None
    plateau_warning_steps: int    # warn once after this step if the discriminator shows no learning

    @classmethod
    def resolve(cls, params: dict) -> "Settings":
        p = resolve_params(dict(params))
        return cls(params=p, objective=p["objective"], size=p["size"], steps=int(p["steps"]),
                   batch_size=int(p["batch_size"]), grad_accum=int(p["grad_accum"]),
                   learning_rate=float(p["learning_rate"]), warmup_steps=int(p["warmup_steps"]),
                   mask_prob=float(p["mask_prob"]), disc_weight=float(p["disc_weight"]),
                   disc_mlm_weight=float(p.get("disc_mlm_weight") or 0.0),
                   weight_decay=float(p["weight_decay"]), seed=int(p["seed"]), device=p["device"],
                   log_every=int(p["log_every"]), checkpoint_every=int(p["checkpoint_every"]),
                   eval_batches=int(p["eval_batches"]), pack=bool(p["pack"]), compile=bool(p.get("compile")),
                   compile_backend=p.get("compile_backend"), distributed=p["distributed"],
                   prefetch=int(p["prefetch"]),
                   prefetch_process=None if p.get("prefetch_process") is None else bool(p["prefetch_process"]),
                   fused_optimizer=p.get("fused_optimizer"),
                   peak_tflops=float(p["peak_tflops"]) if p.get("peak_tflops") else None,
                   plateau_warning_steps=warning_step(int(p["steps"]), p.get("plateau_warning_steps")))

    def lr(self, step: int) -> float:
        """The learning rate of the update with 0-based index ``step``."""
        return self.learning_rate * lr_factor(step, self.warmup_steps, self.steps)


@dataclass(frozen=True)
class Paths:
    """Where a run reads and writes."""
    shards: Path
    tokenizer: Path | None    # its files are copied into the export
    out: Path                 # the HF model folder
    checkpoints: Path
    metrics: Path
    curve: Path
