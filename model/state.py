"""The state of a pre-training run in one dataclass: what the loop advances and, with the weights and the
optimizer moments, what a checkpoint holds (``state.pt``)."""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import torch

from model.checkpoint import CHECKPOINT_FORMAT
from model.metrics import Window


@dataclass
class TrainState:
    """What the loop advances, in one place; with the weights and optimizer moments it is the checkpoint."""
    window: Window            # sums since the last logged step (global on rank 0 after a reduce)
    step: int = 0
    tokens: int = 0
    examples: int = 0
    seconds: float = 0.0      # training time, without checkpoint and export I/O
    flops: float = 0.0
    lr: float = 0.0
    data: dict = field(default_factory=lambda: {"epoch": 0, "offset": 0})  # loader position after `step`
    curve: list = field(default_factory=list)
    resumed_from: int | None = None
    last_checkpoint: int | None = None
    window_tokens: int = 0    # throughput of the window: wall clock, not checkpointed
    window_t0: float = field(default_factory=time.perf_counter)

    @classmethod
    def restore(cls, saved: dict, window: Window) -> "TrainState":
        step = int(saved["step"])
        return cls(window=window, step=step, tokens=int(saved["tokens_seen"]), examples=int(saved["examples_seen"]),
                   seconds=float(saved["seconds"]), flops=float(saved.get("flops", 0.0)), data=saved["data"],
                   curve=[list(r) for r in saved["curve"]], resumed_from=step, last_checkpoint=step)

    def advance(self, item, flops: float, world_size: int) -> None:
        """Count a finished optimizer step on ``item`` (a :class:`model.data.StepBatch`)."""
        self.step += 1
        self.window.n += 1
        self.data = item.state
        self.window.add_flops(flops / world_size)  # summed over ranks at log time
        self.flops += flops
        self.tokens += item.sum_len
        self.window_tokens += item.sum_len
        self.examples += item.examples

    def saved(self, device_type: str, optimizer: dict, seed: int) -> dict:
        """The ``state.pt`` of a checkpoint."""
        return {"format": CHECKPOINT_FORMAT, "step": self.step, "device": device_type, "optimizer": optimizer,
                "data": self.data, "rng": {"scheme": "counter", "seed": seed}, "torch_rng": torch.get_rng_state(),
                "tokens_seen": self.tokens, "examples_seen": self.examples, "seconds": self.seconds,
                "flops": self.flops, "lr": self.lr, "curve": [list(r) for r in self.curve],
                "window": self.window.values()}
