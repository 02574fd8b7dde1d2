"""The "everything is original" plateau: a discriminator that has not started to learn, and what to do.

An ELECTRA discriminator first learns that most tokens are original and answers "original" everywhere:
replaced-token recall 0, and its scores rank replaced tokens no better than chance (AUC ~0.5). At GPU
budgets it leaves that plateau early; at CPU budgets the paper's ELECTRA backbone may never leave it, and
such a model fine-tunes at or below random initialisation (docs/pretraining.md, "Backbones"). The
pre-training loop warns once (:class:`PlateauWatch`, after ``plateau_warning_steps``), and the end-of-run
summary repeats it from the final validation metrics (:func:`on_plateau`).

Plain Python (no torch): the flows' run summary imports it too.
"""
from __future__ import annotations

import math

PLATEAU_AUC = 0.55          # below this the discriminator's scores barely rank replaced above original
MIN_WARNING_STEPS = 500     # the default waits at least this many steps ...
WARNING_FRACTION = 0.10     # ... or this share of the run, whichever is longer


def on_plateau(auc, recall) -> bool:
    """True when AUC < PLATEAU_AUC and replaced recall is 0 (both known numbers)."""
    try:
        auc, recall = float(auc), float(recall)
    except (TypeError, ValueError):
        return False
    if math.isnan(auc) or math.isnan(recall):
        return False
    return auc < PLATEAU_AUC and recall <= 0.0


def warning_step(steps: int, configured: int | None = None) -> int:
    """The step after which a plateau is worth a warning: ``configured``, else max(500, 10% of steps)."""
    if configured:
        return int(configured)
    return max(MIN_WARNING_STEPS, math.ceil(WARNING_FRACTION * int(steps)))


def advice(params: dict) -> str:
    """What to do, for this run's backbone and budget."""
    todo = []
    if params.get("backbone", "electra") != "convbert" or params.get("local_init") != "prevnext":
        todo.append("on CPU-scale budgets use `model.backbone: convbert` with `pretrain.local_init: prevnext` "
                    "(the tiny size's default), which leaves the plateau in a few hundred steps")
    todo.append(f"train longer (`pretrain.steps`, now {params.get('steps')})")
    if str(params.get("device", "auto")) != "cuda":
        todo.append("or run the pretrain stage on a GPU with the size's full budget")
    return "; ".join(todo) + " (docs/pretraining.md, \"Backbones\")"


def plateau_message(auc, recall, step: int, params: dict, when: str | None = None) -> str:
    """The warning: what the numbers say, what it means, what to do. ``when`` defaults to 'after N steps'."""
    when = when or f"after {step} steps"
    return (f"the discriminator shows no learning {when}: AUC {float(auc):.3f} < {PLATEAU_AUC} and "
            f"replaced recall {float(recall):.3f} — it is still on the 'everything is original' plateau, and "
            f"such a model fine-tunes at or below random initialisation. What to do: {advice(params)}")


class PlateauWatch:
    """Warns once, through ``log``, when a logging window past the warning step is on the plateau."""

    def __init__(self, params: dict, after: int | None = None):
        self.params = params
        self.after = after or warning_step(int(params.get("steps") or 0), params.get("plateau_warning_steps"))
        self.active = params.get("objective", "electra") == "electra"   # MLM has no discriminator
        self.warned = False

    def check(self, step: int, window: dict, log) -> bool:
        """Log the warning (once) when ``window`` (the loop's window summary: ``disc_auc``,
        ``replaced_recall``) at ``step`` is on the plateau; return whether it warned now."""
        if self.warned or not self.active or step < self.after:
            return False
        if not on_plateau(window.get("disc_auc"), window.get("replaced_recall")):
            return False
        self.warned = True
        log("WARNING: " + plateau_message(window["disc_auc"], window["replaced_recall"], step, self.params))
        return True


__all__ = ["PLATEAU_AUC", "PlateauWatch", "advice", "on_plateau", "plateau_message", "warning_step"]
