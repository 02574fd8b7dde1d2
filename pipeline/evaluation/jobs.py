"""The fine-tuning runs: one job per task x model x seed. On a CPU they run in parallel processes, each
with a fixed number of torch threads, so the numbers do not depend on how many run at once; on a GPU
(or with a stand-in fine-tuner), or when the runs together are too small to repay starting the processes,
one after another in this process."""
from __future__ import annotations

import os
import threading
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Callable

from model.sizes import FINETUNE_LR
from pipeline import cores
from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.taskdata.formats.glue import default_epochs
from pipeline.taskdata.tasks import TaskData
from pipeline.evaluation.variants import Variant
from pipeline.progress import Progress

WARMUP_FRACTION = 0.1
WEIGHT_DECAY = 0.0   # the paper's fine-tuning table (Appendix); the official code's default is 0.01
# A fine-tuning process takes 3-5 s to start (spawned, it imports torch and transformers again), and each worker
# pays it in CPU time: two workers repay it from about 8 s of runs, which they halve. Runs that together come to
# fewer model FLOPs than this (about 8 s on one thread of a 2-core AMD EPYC VM, where a `tiny` run of 150
# sentences x 1 epoch, 2.3e10 FLOPs, took 1.2 s) go one after another in this process instead, unless
# `evaluate.workers` is set. The shipped suites are 100x larger.
IN_PROCESS_FLOPS = 1.5e11


@dataclass
class Job:
    task_index: int
    variant: str
    seed: int
    init: str | None
    arch: dict | None
    task_type: str
    num_labels: int
    train: list
    dev: list
    hparams: dict
    task: str = ""   # the task's name, for progress and errors
    flops: float = float("inf")   # the run's model FLOPs (run_flops), inf where the architecture is not known

    @property
    def key(self) -> tuple:
        return (self.task_index, self.variant, self.seed)

    def cost(self) -> float:
        n = sum(len(f["input_ids"]) for f in self.train)
        return n * float(self.hparams.get("epochs", 3)) + sum(len(f["input_ids"]) for f in self.dev)


def run_flops(arch: dict, train: list, dev: list, epochs: float) -> float:
    """Model FLOPs of one fine-tuning run, counted as ``model.flops`` counts pre-training (the encoder's
    matmuls and attention; training = 3 x forward): every training example each epoch, every scored one once.
    inf for an architecture that count does not know (a reference model's config without its keys)."""
    from model.flops import coefficients
    try:
        h = int(arch["hidden_size"])
        c = coefficients({**arch, "embedding_size": arch.get("embedding_size") or h}, None, 0)
    except (KeyError, TypeError, ValueError):
        return float("inf")

    def forward(feats: list) -> float:
        return sum(c.per_token * n + c.per_token_sq * n * n for n in (len(f["input_ids"]) for f in feats))
    return 3.0 * float(epochs) * forward(train) + forward(dev)


def in_process(jobs: list[Job]) -> bool:
    """Whether ``jobs`` together are too small to repay starting worker processes (:data:`IN_PROCESS_FLOPS`)."""
    return sum(j.flops for j in jobs) < IN_PROCESS_FLOPS


def hparams(t: TaskSettings, data: TaskData, v: Variant, device: str) -> dict:
    return {"learning_rate": t.learning_rate or FINETUNE_LR[v.size], "epochs": default_epochs(t, data.glue_task),
            "batch_size": t.batch_size, "warmup_fraction": WARMUP_FRACTION, "weight_decay": WEIGHT_DECAY,
            "layerwise_lr_decay": v.layerwise_lr_decay, "bias_correction": t.bias_correction, "device": device}


def build_jobs(prepared: list, variants: list[Variant], seeds: int, threads: int, device: str) -> list[Job]:
    """Every (task, model, seed) of ``prepared`` ((task, data, features by tokenizer) triples)."""
    jobs = []
    for ti, (t, data, feats) in enumerate(prepared):
        for v in variants:
            train_f, dev_f, max_len = feats[v.tokenizer_key]
            hp = hparams(t, data, v, device)
            flops = run_flops(v.arch, train_f, dev_f, hp["epochs"])
            for s in range(seeds):
                jobs.append(Job(ti, v.key, s, v.init, None if v.init else dict(v.arch), t.type,
                                data.num_labels, train_f, dev_f, {**hp, "seed": s, "threads": threads}, t.name,
                                flops))
    return jobs


def default_workers(threads: int) -> int:
    """Fine-tuning processes: the cores this stage may use (``pipeline.cores``) / threads per process."""
    return max(1, cores.available() // max(1, int(threads)))


def _uses_gpu(device: str) -> bool:
    if device == "cpu":
        return False
    try:
        import torch
        return bool(torch.cuda.is_available())
    except ImportError:  # pragma: no cover
        return False


def _run_job(job: Job, finetune: Callable) -> dict:
    out = finetune(job.init, job.task_type, job.num_labels, list(job.train), list(job.dev), dict(job.hparams),
                   arch=job.arch)
    return {k: out.get(k) for k in ("predictions", "labels", "train_loss", "seconds", "steps")}


def _worker_init(threads: int, parent: int) -> None:
    import torch
    torch.set_num_threads(max(1, int(threads)))
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    exit_with_parent(parent)


def exit_with_parent(parent: int, every: float = 0.5) -> threading.Thread:
    """Exit this worker when ``parent`` is gone. A stage killed on its own (SIGKILL, a SIGTERM to its pid from
    a scheduler or DVC's caller) leaves its pool's workers running: each finishes the fine-tuning run it holds,
    minutes of CPU taken from the next stage, before noticing that no one reads its result."""
    def watch():
        while os.getppid() == parent:
            time.sleep(every)
        os._exit(1)
    t = threading.Thread(target=watch, name="exit-with-parent", daemon=True)
    t.start()
    return t


def _worker_job(job: Job) -> dict:
    from model.finetune import finetune
    return _run_job(job, finetune)


def _label(job: Job) -> str:
    return f"{job.task or f'task #{job.task_index}'} {job.variant} seed {job.seed}"


def _progress(jobs: list[Job]) -> Progress:
    """Runs done of the total, the task, model variant and seed of the last one, the ETA (pipeline.progress)."""
    return Progress("evaluate", len(jobs), unit="run")


def _serial(jobs: list[Job], finetune: Callable) -> dict:
    out: dict = {}
    with _progress(jobs) as progress:
        for job in jobs:
            try:
                out[job.key] = _run_job(job, finetune)
            except (ValueError, RuntimeError) as e:
                raise StageError(f"fine-tuning failed ({_label(job)}): {e}") from e
            progress.update(1, last=_label(job))
    return out


def _parallel(jobs: list[Job], workers: int) -> dict:
    import multiprocessing as mp

    out: dict = {}
    order = sorted(jobs, key=lambda j: -j.cost())  # longest first: better packing, same results
    threads = int(jobs[0].hparams.get("threads") or 1)
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=mp.get_context("spawn"),
                               initializer=_worker_init, initargs=(threads, os.getpid()))
    with pool as ex, _progress(jobs) as progress:
        futures = {ex.submit(_worker_job, j): j for j in order}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                out[job.key] = fut.result()
            except BrokenProcessPool as e:
                raise StageError(
                    f"a fine-tuning worker process died ({_label(job)}): out of memory, or a script that calls "
                    f"evaluate without `if __name__ == '__main__':` (worker processes are spawned and re-import "
                    f"the main module); evaluate.workers: 1 runs everything in this process ({e})") from e
            except (ValueError, RuntimeError) as e:
                for f in futures:
                    f.cancel()
                raise StageError(f"fine-tuning failed ({_label(job)}): {e}") from e
            progress.update(1, last=_label(job))
    return out


def execute(jobs: list[Job], finetune_fn: Callable | None, workers: int, device: str) -> dict:
    """Run every job; returns {job.key: output}. Parallel processes on CPU, in-process otherwise
    (``finetune_fn``, a stand-in for ``model.finetune.finetune``, always runs in this process)."""
    if not jobs:
        return {}
    if finetune_fn is not None or workers <= 1 or len(jobs) == 1 or _uses_gpu(device):
        return _serial(jobs, finetune_fn or _default_finetune())
    return _parallel(jobs, workers)


def _default_finetune() -> Callable:
    try:
        from model.finetune import finetune
    except ImportError as e:  # pragma: no cover - depends on the model package being installed
        raise StageError(f"model.finetune is not available ({e})") from None
    return finetune
