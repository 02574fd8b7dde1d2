"""Where the tensors run: the device, TF32 and bf16 autocast on CUDA, and batches moved there (pre-training
and fine-tuning alike)."""
from __future__ import annotations

from contextlib import contextmanager, nullcontext

import torch


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """CUDA (``cuda:LOCAL_RANK``) when present unless ``cpu`` is asked for; else the CPU."""
    if requested != "cpu" and torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if requested == "cuda":
        print("[device] device 'cuda' requested but CUDA is not available; using the CPU", flush=True)
    return torch.device("cpu")


@contextmanager
def cpu_threads(n: int | None):
    """torch's intra-op threads set to ``n`` while the block runs, then restored; ``None`` leaves them alone."""
    if not n:
        yield
        return
    old = torch.get_num_threads()
    torch.set_num_threads(int(n))
    try:
        yield
    finally:
        torch.set_num_threads(old)


def use_tf32(device: torch.device) -> None:
    """On CUDA, let fp32 matmuls and convolutions (what autocast leaves in fp32) use TF32 tensor cores."""
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


_BF16_EVERYWHERE = False


def autocast(device: torch.device):
    """bf16 autocast on CUDA (losses and sampling stay fp32 inside the model); nothing elsewhere, except
    inside :func:`bf16_everywhere`. Entered around each forward pass only: autocast keeps its bf16 copies of
    the weights until the outermost autocast block exits, so a block spanning optimizer steps would train
    on stale copies."""
    if device.type == "cuda" or _BF16_EVERYWHERE:
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return nullcontext()


@contextmanager
def bf16_everywhere():
    """Within this block :func:`autocast` gives bf16 autocast on every device, the CPU too: how the tests run
    the CUDA path's mixed precision without a GPU (CPU autocast casts the same matmul / linear / SDPA /
    convolution ops to bf16)."""
    global _BF16_EVERYWHERE
    old, _BF16_EVERYWHERE = _BF16_EVERYWHERE, True
    try:
        yield
    finally:
        _BF16_EVERYWHERE = old


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch's tensors on ``device`` (asynchronous copies from pinned memory on CUDA)."""
    nb = device.type == "cuda"
    return {k: v.to(device, non_blocking=nb) for k, v in batch.items()}
