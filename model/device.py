"""Where the tensors run: the device, bf16 autocast on CUDA, and batches moved there."""
from __future__ import annotations

from contextlib import nullcontext

import torch


def pick_device(requested: str = "auto", local_rank: int = 0) -> torch.device:
    """CUDA (``cuda:LOCAL_RANK``) when present unless ``cpu`` is asked for; else the CPU."""
    if requested != "cpu" and torch.cuda.is_available():
        return torch.device("cuda", local_rank)
    if requested == "cuda":
        print("[pretrain] device 'cuda' requested but CUDA is not available; using the CPU", flush=True)
    return torch.device("cpu")


def autocast(device: torch.device):
    """bf16 autocast on CUDA (losses and sampling stay fp32 inside the model); nothing elsewhere."""
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return nullcontext()


def to_device(batch: dict, device: torch.device) -> dict:
    """The batch's tensors on ``device`` (asynchronous copies from pinned memory on CUDA)."""
    nb = device.type == "cuda"
    return {k: v.to(device, non_blocking=nb) for k, v in batch.items()}
