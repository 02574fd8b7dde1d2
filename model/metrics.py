"""What pre-training measures: the logging window, the curve file, validation, and JSON-safe values.

The window keeps running sums of the step outputs on the device (no host sync until read), so a window's
loss is exact whatever the micro-batching and sums over processes with one all-reduce. The curve is a TSV
with :data:`CURVE_COLUMNS`, one row per logged step.
"""
from __future__ import annotations

import math

import torch

from model import distributed as mdist
from model.atomic import write_json, write_text
from model.data import BatchIterator, ShardSplit, read_index
from model.device import autocast, to_device

CURVE_COLUMNS = ("step", "lr", "loss", "gen_loss", "gen_acc", "disc_loss", "disc_acc",
                 "replaced_precision", "replaced_recall", "tokens_seen", "tokens_per_s", "seconds",
                 "flops_per_s", "mfu", "disc_auc", "replaced_fraction",
                 # the generator's loss where it saw [MASK] (must predict from context) and where the token was
                 # left unchanged (can copy it); the average of the two hides a generator at unigram level
                 "gen_loss_at_mask", "gen_loss_unchanged",
                 # model.diagnostics on a fixed validation batch: has context use formed, has the encoder collapsed
                 "neighbour_attention", "last_layer_cosine")
# columns that do not depend on wall-clock time (equal between an interrupted+resumed and a straight run)
DETERMINISTIC_COLUMNS = CURVE_COLUMNS[:10] + CURVE_COLUMNS[14:]
AUC_BINS = 200


def auc_from_histograms(pos: list[float], neg: list[float]) -> float:
    """ROC AUC from score histograms of the positives and negatives (ties within a bin count 1/2)."""
    n_pos, n_neg = sum(pos), sum(neg)
    if not n_pos or not n_neg:
        return float("nan")
    below = 0.0
    area = 0.0
    for p_, n_ in zip(pos, neg):  # ascending score
        area += p_ * (below + 0.5 * n_)
        below += n_
    return area / (n_pos * n_neg)


class Window:
    """Running sums of the step outputs, kept on the device (no host sync until read).

    Losses are kept as sums (``gen_sum`` over masked positions, ``disc_sum`` over real tokens) so a
    window's loss is exact whatever the micro-batching, and sums over processes with one all-reduce.
    The discriminator's probabilities of replaced and original tokens go into two histograms
    (``AUC_BINS`` bins), from which the window's replaced-token-detection ROC AUC is read (the official
    evaluation's ``disc_auc``): 0.5 is chance, and it moves before any token crosses p = 0.5."""

    KEYS = ("gen_sum", "disc_sum", "masked_count", "token_count", "gen_correct", "disc_correct",
            "replaced_count", "predicted_replaced", "true_positive", "gen_sum_at_mask", "mask_shown_count", "disc_mlm_sum", "flops")
    _FLOPS = KEYS.index("flops")

    def __init__(self, device, values: dict | None = None):
        self.device = device
        self.t = torch.zeros(len(self.KEYS) + 2 * AUC_BINS, dtype=torch.float64, device=device)
        self.n = 0
        if values:
            vec = [float(values.get(k, 0.0)) for k in self.KEYS]
            vec += list(values.get("auc_pos") or [0.0] * AUC_BINS) + list(values.get("auc_neg") or [0.0] * AUC_BINS)
            self.t += torch.tensor(vec, dtype=torch.float64, device=device)
            self.n = int(values.get("n", 0))

    def add(self, out: dict) -> None:
        k = len(self.KEYS)
        self.t[:self._FLOPS] += torch.stack([out[k_].detach().to(torch.float64) for k_ in self.KEYS[:self._FLOPS]])
        if "disc_logits" in out:
            prob = torch.sigmoid(out["disc_logits"].float())
            act, lab = out["active"], out["labels"]
            self.t[k:k + AUC_BINS] += torch.histc(prob[act & lab], AUC_BINS, 0.0, 1.0).double()
            self.t[k + AUC_BINS:] += torch.histc(prob[act & ~lab], AUC_BINS, 0.0, 1.0).double()

    def add_flops(self, f: float) -> None:
        self.t[self._FLOPS] += f

    def reduce_(self, d: mdist.Dist) -> None:
        d.all_reduce_sum_(self.t)

    def values(self) -> dict:
        vals = self.t.tolist()
        k = len(self.KEYS)
        v = dict(zip(self.KEYS, vals[:k]))
        v["auc_pos"], v["auc_neg"] = vals[k:k + AUC_BINS], vals[k + AUC_BINS:]
        v["n"] = self.n
        return v

    def summary(self, objective: str, disc_weight: float, disc_mlm_weight: float = 0.0) -> dict:
        v = self.values()
        div = lambda a, b: (a / b) if b else float("nan")  # noqa: E731
        gen = div(v["gen_sum"], v["masked_count"])
        out = {"gen_loss": gen, "gen_acc": div(v["gen_correct"], v["masked_count"]),
               "gen_loss_at_mask": div(v["gen_sum_at_mask"], v["mask_shown_count"]),
               "gen_loss_unchanged": div(v["gen_sum"] - v["gen_sum_at_mask"],
                                         v["masked_count"] - v["mask_shown_count"])}
        if objective == "electra":
            disc = div(v["disc_sum"], v["token_count"])
            mlm = div(v["disc_mlm_sum"], v["masked_count"]) if disc_mlm_weight else float("nan")
            out.update(loss=gen + disc_weight * disc + (disc_mlm_weight * mlm if disc_mlm_weight else 0.0),
                       disc_loss=disc, disc_mlm_loss=mlm,
                       disc_acc=div(v["disc_correct"], v["token_count"]),
                       replaced_precision=div(v["true_positive"], v["predicted_replaced"]),
                       replaced_recall=div(v["true_positive"], v["replaced_count"]),
                       replaced_fraction=div(v["replaced_count"], v["token_count"]),
                       disc_auc=auc_from_histograms(v["auc_pos"], v["auc_neg"]))
        else:
            out.update(loss=gen, disc_loss=float("nan"), disc_mlm_loss=float("nan"), disc_acc=float("nan"), replaced_precision=float("nan"),
                       replaced_recall=float("nan"), replaced_fraction=float("nan"), disc_auc=float("nan"))
        return out


@torch.no_grad()
def evaluate(model, split: ShardSplit, batch_size: int, batches: int, device: torch.device, seed: int,
             objective: str, disc_weight: float = 50.0, disc_mlm_weight: float = 0.0) -> dict | None:
    """Losses/accuracies over the first ``batches`` batches of ``split`` (fixed masking seed, no dropout)."""
    if batches <= 0 or split is None or split.num_examples == 0:
        return None
    was_training = model.training
    model.eval()
    g = torch.Generator(device=device)
    g.manual_seed(int(seed) + 2)
    it = BatchIterator(split, batch_size, shuffle=False)
    win = Window(device)
    n = 0
    for batch in it:
        if n >= batches:
            break
        batch = to_device(batch, device)
        with autocast(device):
            out = model(batch["input_ids"], batch["attention_mask"], batch["token_type_ids"], generator=g)
        win.add(out)
        n += 1
    model.train(was_training)
    s = win.summary(objective, disc_weight, disc_mlm_weight)
    s.update(batches=n, tokens=int(win.values()["token_count"]))
    s.update(signals(model, probe_batch(split, device)))
    return s


SUBSET_KEYS = ("disc_auc", "replaced_recall", "replaced_precision", "disc_acc", "disc_loss", "gen_loss", "gen_acc",
               "batches", "tokens")


def evaluate_subsets(model, shards_dir, batch_size: int, batches: int, device: torch.device, seed: int,
                     objective: str, disc_weight: float = 50.0, disc_mlm_weight: float = 0.0) -> dict:
    """:func:`evaluate` on each named part of the validation data that ``index.json`` lists under
    ``validation_subsets`` (``{name: [files]}``; a joint model's languages): ``{name: metrics}``, {} if none."""
    index = read_index(shards_dir)
    out = {}
    for name, files in (index.get("validation_subsets") or {}).items():
        split = ShardSplit(shards_dir, "validation", {"splits": {"validation": {"files": list(files)}}})
        s = evaluate(model, split, batch_size, batches, device, seed, objective, disc_weight, disc_mlm_weight)
        if s:
            out[name] = {k: s[k] for k in SUBSET_KEYS if k in s}
    return out


def probe_batch(split: ShardSplit | None, device, size: int = 8) -> dict | None:
    """The first ``size`` validation examples: the fixed batch the representation signals are read on."""
    if split is None or split.num_examples == 0:
        return None
    return to_device(BatchIterator(split, size, shuffle=False).next_batch(), device)


@torch.no_grad()
def signals(model, batch: dict | None) -> dict:
    """``neighbour_attention``, ``last_layer_cosine`` and ``attention_entropy`` (model.diagnostics) of the discriminator (the MLM's
    encoder for the MLM objective) on ``batch``; NaN without a batch."""
    if batch is None:
        return {"neighbour_attention": float("nan"), "last_layer_cosine": float("nan"),
                "attention_entropy": float("nan")}
    from model.diagnostics import representation_signals
    net = model.discriminator if hasattr(model, "discriminator") else model.generator
    s = representation_signals(net, batch["input_ids"], batch["attention_mask"], batch["token_type_ids"])
    return {"neighbour_attention": s["neighbour_attention"], "last_layer_cosine": s["last_layer_cosine"],
            "attention_entropy": s["attention_entropy"]}


def json_safe(x):
    """``x`` with non-finite floats as None (JSON has no NaN), recursively."""
    if isinstance(x, float) and not math.isfinite(x):
        return None
    if isinstance(x, dict):
        return {k: json_safe(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [json_safe(v) for v in x]
    return x


def write_metrics(path, metrics: dict) -> None:
    write_json(path, json_safe(metrics))


def fmt(v) -> str:
    if isinstance(v, float):
        return "nan" if not math.isfinite(v) else f"{v:.6g}"
    return str(v)


def write_curve(path, rows: list[list]) -> None:
    lines = ["\t".join(CURVE_COLUMNS)] + ["\t".join(fmt(v) for v in r) for r in rows]
    write_text(path, "\n".join(lines) + "\n")
