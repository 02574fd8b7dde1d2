"""The optimizer and learning-rate schedule of pre-training and fine-tuning (official ``optimization.py``).

* :class:`AdamWeightDecay`: the official ``AdamWeightDecayOptimizer``, Adam *without* bias correction and
  with decoupled weight decay, in a fused or multi-tensor step.
* :func:`param_groups`: no weight decay on LayerNorm weights and biases (the official exclusion list).
* :func:`layerwise_param_groups`: that rule plus layer-wise LR decay (official ``_get_layer_lrs``).
* :func:`lr_factor`: linear warm-up multiplied by linear decay to 0, ``global_step`` counted from 0.
"""
from __future__ import annotations

import re

import torch

NO_DECAY = ("LayerNorm", "layer_norm", "bias")
_LAYER_RE = re.compile(r"\.(?:layer|layers|block|blocks|h)\.(\d+)\.")


class AdamWeightDecay(torch.optim.Optimizer):
    """The official ELECTRA/BERT ``AdamWeightDecayOptimizer``: Adam *without* bias correction.

    m = b1 m + (1-b1) g;  v = b2 v + (1-b2) g^2;  u = m / (sqrt(v) + eps) + wd * p;  p -= lr * u
    (weight decay is decoupled and uses the parameter before the update).

    ``fused=None`` (default) uses PyTorch's fused AdamW kernel (``torch._fused_adamw_``, one launch for
    all tensors) when the parameters are on CUDA, else the multi-tensor ``torch._foreach_*`` ops;
    ``fused=True`` forces the kernel (CPU too, where PyTorch has it). The fused kernel computes
    p <- p (1 - lr wd) - lr m_hat / (sqrt(v_hat) + eps) with m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t);
    it is given t = 2^30 so that both corrections are exactly 1, which is the same update.

    ``bias_correction=True`` divides m and v by (1 - b^t) as torch's Adam does (a fine-tuning option; it
    always takes the multi-tensor path and keeps a per-parameter ``step`` in the state).
    """

    _NO_CORRECTION_STEP = float(2 ** 30)

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-6,
                 weight_decay: float = 0.0, fused: bool | None = None, bias_correction: bool = False):
        if lr < 0 or eps < 0 or weight_decay < 0:
            raise ValueError("lr, eps and weight_decay must be >= 0")
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))
        # attributes, not group defaults: the checkpointed state_dict keeps the official keys only
        self.fused = fused
        self.bias_correction = bias_correction
        self._steps: dict = {}

    def _use_fused(self, params) -> bool:
        if self.fused is False or self.bias_correction or not hasattr(torch, "_fused_adamw_"):
            return False
        if self.fused is None:
            return all(p.is_cuda for p in params)
        return True

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            params, grads, ms, vs = [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["exp_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                    st["exp_avg_sq"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                params.append(p)
                grads.append(p.grad)
                ms.append(st["exp_avg"])
                vs.append(st["exp_avg_sq"])
            if not params:
                continue
            if self._use_fused(params):
                self._fused_step(params, grads, ms, vs, group)
            else:
                self._foreach_step(params, grads, ms, vs, group)
        return loss

    def _foreach_step(self, params, grads, ms, vs, group) -> None:
        b1, b2 = group["betas"]
        torch._foreach_mul_(ms, b1)
        torch._foreach_add_(ms, grads, alpha=1 - b1)
        torch._foreach_mul_(vs, b2)
        torch._foreach_addcmul_(vs, grads, grads, value=1 - b2)
        if self.bias_correction:
            steps = []
            for p in params:
                self.state[p]["step"] = self.state[p].get("step", 0) + 1
                steps.append(self.state[p]["step"])
            ms = torch._foreach_div(ms, [1 - b1 ** t for t in steps])
            vs = torch._foreach_div(vs, [1 - b2 ** t for t in steps])
        upd = torch._foreach_sqrt(vs)
        torch._foreach_add_(upd, group["eps"])
        upd = torch._foreach_div(ms, upd)
        if group["weight_decay"]:
            torch._foreach_add_(upd, params, alpha=group["weight_decay"])
        torch._foreach_add_(params, upd, alpha=-group["lr"])

    def _fused_step(self, params, grads, ms, vs, group) -> None:
        by_dev: dict = {}
        for i, p in enumerate(params):
            by_dev.setdefault((p.device, p.dtype), []).append(i)
        b1, b2 = group["betas"]
        for (dev, _), idx in by_dev.items():
            t = self._steps.get(dev)
            if t is None:
                t = self._steps[dev] = torch.tensor(self._NO_CORRECTION_STEP, dtype=torch.float32, device=dev)
            torch._fused_adamw_([params[i] for i in idx], [grads[i] for i in idx], [ms[i] for i in idx],
                                [vs[i] for i in idx], [], [t] * len(idx), amsgrad=False, lr=float(group["lr"]),
                                beta1=b1, beta2=b2, weight_decay=float(group["weight_decay"]), eps=group["eps"],
                                maximize=False, grad_scale=None, found_inf=None)


def decays(name: str) -> bool:
    """Whether weight decay applies to the parameter called ``name`` (not to LayerNorm and biases)."""
    return not any(k in name for k in NO_DECAY)


def param_groups(model: torch.nn.Module, weight_decay: float,
                 lr_scales: dict[str, float] | None = None) -> list[dict]:
    """Two groups: decayed, and no decay for LayerNorm weights/biases and every bias (official rule).

    Shared/tied parameters appear once (``named_parameters`` de-duplicates them). ``lr_scales`` (name
    substring -> factor, a measurement control, e.g. DeBERTa's relative-position parameters at 10x): those
    parameters go into groups of their own whose ``lr_scale`` the training loop multiplies the learning rate by.
    """
    groups: dict[tuple, list] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        scale = next((f for k, f in (lr_scales or {}).items() if k in name), 1.0)
        groups.setdefault((decays(name), float(scale)), []).append(p)
    out = [{"params": groups.pop((True, 1.0), []), "weight_decay": float(weight_decay)},
           {"params": groups.pop((False, 1.0), []), "weight_decay": 0.0}]
    return out + [{"params": ps, "weight_decay": float(weight_decay) if d else 0.0, "lr_scale": f}
                  for (d, f), ps in sorted(groups.items())]


def num_layers(model: torch.nn.Module) -> int:
    """Transformer layers of the backbone: distinct ``layer.N`` indices, else the config's count."""
    idx = {int(m.group(1)) for n, _ in model.named_parameters() if (m := _LAYER_RE.search("." + n))}
    if idx:
        return max(idx) + 1
    cfg = getattr(model, "config", None)
    for k in ("num_hidden_layers", "n_layers", "num_layers"):
        if isinstance(getattr(cfg, k, None), int):
            return getattr(cfg, k)
    return 0


def _layer_lr_scale(name: str, n_layers: int, decay: float | None, embedding_like: tuple[str, ...] = ()) -> float:
    """Official depths: embeddings 0, layer i -> i + 1, task-specific head n_layers + 2."""
    if not decay or decay == 1.0:
        return 1.0
    if not name.startswith("electra."):
        depth = n_layers + 2  # the task-specific head
    elif (m := _LAYER_RE.search(name)):
        depth = int(m.group(1)) + 1
    elif "embeddings" in name or name.startswith(embedding_like):
        depth = 0  # embeddings, embeddings_project (ELECTRA), rel_embeddings and their LayerNorm (DeBERTa)
    else:
        depth = n_layers + 1  # another backbone parameter (a pooler, a final LayerNorm)
    return decay ** (n_layers + 2 - depth)


def layerwise_param_groups(model: torch.nn.Module, lr: float, decay: float | None,
                           weight_decay: float) -> list[dict]:
    """One group per (LR scale, decay/no-decay) of a fine-tuning model (backbone in ``model.electra``,
    head elsewhere); each group carries its ``base_lr`` and its parameters' ``names``.

    With L layers and decay d the head gets lr, encoder layer i (0-based from the bottom) lr * d^(L + 1 - i)
    -- the top layer lr * d^2, a vestige of the removed pooler (google-research/electra issue #51) -- and
    the embeddings lr * d^(L + 2)."""
    n_layers = num_layers(model.electra)
    # DeBERTa's encoder-level LayerNorm normalises the relative embeddings every layer reads: it goes with them
    rel = hasattr(getattr(model.electra, "encoder", None), "rel_embeddings")
    embedding_like = ("electra.encoder.LayerNorm.",) if rel else ()
    groups: dict[tuple, dict] = {}
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        scale = _layer_lr_scale(name, n_layers, decay, embedding_like)
        wd = float(weight_decay) if decays(name) else 0.0
        key = (scale, wd)
        if key not in groups:
            groups[key] = {"params": [], "base_lr": lr * scale, "lr": lr * scale, "weight_decay": wd,
                           "names": []}
        groups[key]["params"].append(p)
        groups[key]["names"].append(name)
    return list(groups.values())


def lr_factor(step: int, warmup_steps: int, total_steps: int) -> float:
    """Multiplier of the peak LR for the update with 0-based index ``step`` (the official global_step).

    ``min(1, step / warmup) * max(0, 1 - step / total)``: linear warmup *multiplied* by a linear decay to 0
    over the whole run, exactly as ``optimization.create_optimizer`` (``polynomial_decay`` power 1, then
    ``*= min(1, global_step / warmup_steps)``): the first update has LR 0 (it still fills Adam's moments).
    Pre-training and fine-tuning both use it, as the official code does.
    """
    warm = min(1.0, step / warmup_steps) if warmup_steps > 0 else 1.0
    decay = max(0.0, 1.0 - step / max(1, total_steps))
    return warm * decay

