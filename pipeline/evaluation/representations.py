"""A diagnostic beside the scores: how similar different tokens' last-layer states are. A collapsed
representation explains a pre-trained model that fine-tunes worse than random init."""
from __future__ import annotations

import logging

from pipeline.evaluation.variants import RANDOM, Variant

log = logging.getLogger("pipeline.evaluation")

COLLAPSED = 0.95  # mean cosine between different tokens' last-layer states above which we warn


def representations(prepared: list, variants: list[Variant], threads: int) -> dict:
    """Last-layer token similarity of every model on the first task's scored examples."""
    try:
        from model.device import cpu_threads
        from model.finetune import representation_stats
    except ImportError:  # pragma: no cover
        return {}
    t, data, feats = prepared[0]
    out = {}
    try:
        with cpu_threads(max(1, int(threads))):
            for v in variants:
                st = representation_stats(v.init, feats[v.tokenizer_key][1], arch=None if v.init else v.arch)
                out[v.key] = {"final_layer_token_cosine": st["final"], "layer_token_cosine": st["layers"],
                              "examples": st["examples"], "task": t.name}
    except Exception as e:  # noqa: BLE001 - a diagnostic never fails the evaluation
        log.warning("representation diagnostic skipped: %s", e)
    return out


def collapse_notes(result: dict) -> list[tuple[str, str]]:
    """(model, note) for every model whose representation is collapsed, for the scorecard's notes."""
    notes = []
    for key, r in (result.get("representations") or {}).items():
        c = r.get("final_layer_token_cosine")
        if key != RANDOM and c is not None and c >= COLLAPSED:
            base = (result.get("representations") or {}).get(RANDOM, {}).get("final_layer_token_cosine")
            notes.append((key, f"last-layer token representations are collapsed: different tokens' states have "
                               f"mean cosine {c:.3f}" + (f" (random init: {base:.3f})" if base is not None else "")
                          + " — the model maps every token to nearly the same vector (for an ELECTRA "
                            "discriminator: still on the 'everything is original' plateau), so fine-tuning "
                            "starts from a degenerate state and can score below random initialisation"))
    return notes
