"""Process-group plumbing for ``torchrun`` (single node or multi-node): DDP by default, FSDP2 as an option.

``torchrun`` sets RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR / MASTER_PORT; :func:`init` reads them,
initialises the default process group (NCCL on CUDA, gloo on CPU) and picks ``cuda:LOCAL_RANK``. Without
those variables (or with WORLD_SIZE=1) everything here is a no-op on a single process.

Stop requests (SIGTERM) must be agreed on by every rank at the same step: :meth:`Dist.any_flag` reduces a
flag over a gloo group (CPU tensors, so no device synchronisation).

Shutting down (:meth:`Dist.close`) releases every DDP wrapper's hold on the group before destroying it: see
there why the other order can hang a CPU run at its very end.

Imports only torch and the stdlib.
"""
from __future__ import annotations

import os
import weakref
from dataclasses import dataclass, field

import torch
import torch.distributed as dist

from model.backbones import encoder


@dataclass
class Dist:
    world_size: int = 1
    rank: int = 0
    local_rank: int = 0
    backend: str | None = None
    owns_group: bool = False
    cpu_group: object = None
    wrappers: list = field(default_factory=list)  # weak references to the DDP wrappers :func:`wrap` made

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def barrier(self) -> None:
        if self.enabled:
            if self.cpu_group is not None:
                dist.barrier(group=self.cpu_group)
            else:
                dist.barrier()

    def all_reduce_sum_(self, t: torch.Tensor) -> torch.Tensor:
        if self.enabled:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def any_flag(self, flag: bool) -> bool:
        """True on every rank if ``flag`` is true on any rank (CPU/gloo reduction)."""
        if not self.enabled:
            return bool(flag)
        t = torch.tensor([1 if flag else 0], dtype=torch.int32)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.cpu_group)
        return bool(t.item())

    def same_int(self, value: int) -> bool:
        """Whether every rank passed the same integer."""
        if not self.enabled:
            return True
        t = torch.tensor([value, -value], dtype=torch.int64)
        dist.all_reduce(t, op=dist.ReduceOp.MAX, group=self.cpu_group)
        return int(t[0]) == value and int(-t[1]) == value

    def all_equal(self, t: torch.Tensor) -> bool:
        """Whether a CPU tensor is bitwise equal on every rank."""
        if not self.enabled:
            return True
        got = [torch.empty_like(t) for _ in range(self.world_size)]
        dist.all_gather(got, t, group=self.cpu_group)
        return all(torch.equal(g, got[0]) for g in got)

    def close(self) -> None:
        """Leave the process group (if this process joined it).

        A DDP wrapper holds the group in C++ (its ``Reducer``). If the wrapper outlives
        ``destroy_process_group``, the group dies with it, and that destructor joins gloo's worker threads with
        the GIL held, while a worker that has just finished a collective may be waiting for the GIL to free
        the Python tensors of that work: a deadlock (pytorch/pytorch#56297 and #190489; the trainer's rank 1
        hung this way at the end of a 2-process CPU run). Dropping the wrappers' ``reducer`` (and the
        ``logger`` that shares it) first leaves Python's reference as the last one, and its destructor
        releases the GIL while it joins. The wrappers cannot be used afterwards."""
        for ref in self.wrappers:
            ddp = ref()
            if ddp is not None:
                for name in ("logger", "reducer"):
                    if name in ddp.__dict__:
                        delattr(ddp, name)
        self.wrappers.clear()
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
            self.owns_group = False


def env_world_size() -> int:
    return int(os.environ.get("WORLD_SIZE", "1"))


def init(use_cuda: bool) -> Dist:
    """Join the ``torchrun`` process group if there is one (WORLD_SIZE > 1)."""
    world = env_world_size()
    if world <= 1:
        return Dist()
    rank = int(os.environ["RANK"])
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    owns = False
    if use_cuda:
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        backend = "nccl" if use_cuda else "gloo"
        kw = {"device_id": torch.device("cuda", local_rank)} if use_cuda else {}
        dist.init_process_group(backend=backend, **kw)
        owns = True
    backend = dist.get_backend()
    cpu_group = dist.new_group(backend="gloo") if backend != "gloo" else None
    return Dist(world_size=dist.get_world_size(), rank=dist.get_rank(), local_rank=local_rank,
                backend=backend, owns_group=owns, cpu_group=cpu_group)


def wrap(model: torch.nn.Module, d: Dist, device: torch.device, mode: str = "ddp") -> torch.nn.Module:
    """DDP (default) or FSDP2 (``fully_shard`` per encoder layer, then the root: the shared embeddings
    stay in the root unit so the generator/discriminator tie survives). Single process: unchanged."""
    if not d.enabled:
        return model
    if mode == "fsdp":
        from torch.distributed.fsdp import fully_shard
        for enc in _encoders(model):
            for layer in enc.encoder.layer:
                fully_shard(layer)
        fully_shard(model)
        return model
    from torch.nn.parallel import DistributedDataParallel as DDP
    ddp = DDP(model, device_ids=[device.index] if device.type == "cuda" else None,
              broadcast_buffers=False, gradient_as_bucket_view=True)
    d.wrappers.append(weakref.ref(ddp))
    return ddp


def full_model_tensors(model: torch.nn.Module, d: Dist, fsdp: bool) -> dict:
    """name -> full CPU tensor for every (de-duplicated) parameter, on rank 0 ({} elsewhere).
    Collective under FSDP (every rank must call it)."""
    names = [n for n, _ in model.named_parameters()]
    if fsdp:
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict
        sd = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
        return {n: sd[n].contiguous() for n in names} if d.is_main else {}
    if not d.is_main:
        return {}
    return {n: p.detach().to("cpu", copy=True).contiguous() for n, p in model.named_parameters()}


def full_optimizer_state(model: torch.nn.Module, opt, d: Dist, fsdp: bool) -> dict | None:
    """``opt.state_dict()`` layout (integer parameter indices) with full CPU tensors, on rank 0."""
    if not fsdp:
        return opt.state_dict() if d.is_main else None
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict
    osd = get_optimizer_state_dict(model, opt, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    if not d.is_main:
        return None
    ref = opt.state_dict()  # groups with integer ids, in the same order as the FQNs below
    fqns = [fqn for g in osd["param_groups"] for fqn in g["params"]]
    state = {i: {k: v for k, v in osd["state"][fqn].items()} for i, fqn in enumerate(fqns) if fqn in osd["state"]}
    return {"state": state, "param_groups": ref["param_groups"]}


def load_optimizer_state(model: torch.nn.Module, opt, state: dict, fsdp: bool) -> None:
    """Load a :func:`full_optimizer_state` dict (every rank reads the same checkpoint)."""
    if not fsdp:
        opt.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict
    name_of = {id(p): n for n, p in model.named_parameters()}
    groups, by_fqn = [], {}
    for g, saved in zip(opt.param_groups, state["param_groups"]):
        fqns = [name_of[id(p)] for p in g["params"]]
        groups.append({**{k: v for k, v in saved.items() if k != "params"}, "params": fqns})
        for fqn, i in zip(fqns, saved["params"]):
            if i in state["state"]:
                by_fqn[fqn] = state["state"][i]
    set_optimizer_state_dict(model, opt, optim_state_dict={"state": by_fqn, "param_groups": groups},
                             options=StateDictOptions(full_state_dict=True))


def unwrap(model: torch.nn.Module) -> torch.nn.Module:
    return model.module if hasattr(model, "module") and not hasattr(model, "discriminator") \
        and not hasattr(model, "generator") else model


def _encoders(model) -> list:
    out = []
    if hasattr(model, "discriminator"):
        out.append(encoder(model.discriminator))
    if hasattr(model, "generator"):
        out.append(encoder(model.generator))
    return out


__all__ = ["Dist", "init", "wrap", "unwrap", "env_world_size", "full_model_tensors", "full_optimizer_state",
           "load_optimizer_state"]
