"""pretrain stage: ELECTRA generator + discriminator on the language's shards (model/ does the work).

Checkpoints live in checkpoints/<lang>/<fingerprint>/ — the fingerprint covers the resolved
parameters and the shards, so a changed knob never resumes from a stale run, while an interrupted
run with the same inputs resumes where it stopped.

Training metrics go to DVCLive under ``metrics/<lang>/pretrain_live/`` (``metrics.json`` and
``plots/metrics/train/*.tsv``, declared as the stage's metrics and plots in dvc.yaml): DVCLive is told
not to write a dvc.yaml, not to make a report and not to save a DVC experiment, so it writes nothing
outside that folder and never touches git. ``model/`` stays free of DVCLive: it calls back ``on_log``.

The model card's lineage names the git commit, the DVC hashes (DVC's own md5 / ``.dir`` scheme) of the
shards and tokenizer actually used — computed here — and of the raw and cleaned corpus from ``dvc.lock``
(filled when the flow or ``dvc repro`` ran the upstream stages, which commit before pretrain runs), with
a flag saying whether ``dvc.lock`` agrees with the files on disk.

The card also records the review decision the corpus was approved with (``data/<lang>/review.json``:
decision, reviewer, comment, time, corpus hash), and whether that file is the one ``dvc.lock`` names
as the vocab stage's dependency. Scores come later: the publish stage writes ``models/<lang>/hub/``, this
folder with the Hub card and the scores (``pipeline/hubcard.py``); a separate output because a stage may not
rewrite another stage's output (``models/<lang>/electra`` is pretrain's, and DVC would then see pretrain as
changed).

A run stopped by SIGTERM checkpoints and exits with status 75 (``model.preemption.PREEMPTED_EXIT``); the
flow retries it and it resumes.
"""
from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import yaml

from pipeline.errors import StageError
from pipeline.layout import Layout

LIVE_DIR = "pretrain_live"
LIVE_METRICS = ("loss", "gen_loss", "gen_acc", "disc_loss", "disc_acc", "disc_auc", "replaced_precision",
                "replaced_recall", "replaced_fraction", "lr", "tokens_per_s", "flops_per_s", "mfu")


def live_dir(lay: Layout) -> Path:
    return lay.metrics_dir / LIVE_DIR


def dvc_md5(path: Path) -> str | None:
    """The md5 DVC 3 records for a file, or for a folder (md5 of its sorted file list, plus '.dir')."""
    path = Path(path)
    if path.is_file():
        return _md5_file(path)
    if not path.is_dir():
        return None
    entries = sorted(({"md5": _md5_file(f), "relpath": f.relative_to(path).as_posix()}
                      for f in path.rglob("*") if f.is_file()), key=lambda e: e["relpath"])
    return hashlib.md5(json.dumps(entries, sort_keys=True).encode("utf-8")).hexdigest() + ".dir"


def _md5_file(p: Path) -> str:
    h = hashlib.md5()
    with open(p, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def lineage_hashes(root: Path, lang: str, lay: Layout) -> dict:
    """DVC hashes of the data this model is trained on: computed for the direct inputs (shards,
    tokenizer), from dvc.lock for the upstream raw and cleaned corpus and the review decision."""
    lock_path = root / "dvc.lock"
    lock = (yaml.safe_load(lock_path.read_text(encoding="utf-8")) or {}) if lock_path.is_file() else {}
    stages = lock.get("stages") or {}

    def outs(stage):
        return {o["path"]: o.get("md5") for o in (stages.get(f"{stage}@{lang}") or {}).get("outs") or []}

    def deps(stage):
        return {o["path"]: o.get("md5") for o in (stages.get(f"{stage}@{lang}") or {}).get("deps") or []}

    rel = lambda p: p.relative_to(root).as_posix()  # noqa: E731
    shards, tok = rel(lay.shards_dir), rel(lay.tokenizer_dir)
    hashes: dict = {}
    hashes.update({p: h for p, h in deps("clean").items() if not p.startswith("pipeline/")})  # raw sources
    hashes.update(outs("clean"))
    hashes.update({p: h for p, h in deps("vocab").items() if p.endswith("review.json")})
    computed = {shards: dvc_md5(lay.shards_dir), tok: dvc_md5(lay.tokenizer_dir)}
    recorded = {**outs("vocab"), **outs("shard")}
    consistent = all(recorded.get(p) == h for p, h in computed.items())
    # the shards' recorded deps name the clean corpus and tokenizer they were built from
    shard_deps = deps("shard")
    if shard_deps.get(tok) not in (None, computed[tok]):
        consistent = False
    hashes.update(computed)
    return {"dvc_hashes": hashes, "dvc_lock_consistent": bool(lock) and consistent}


def review_lineage(root: Path, lang: str, lay: Layout, hashes: dict) -> dict:
    """The review decision of the corpus (data/<lang>/review.json) for the card, and whether the file
    is the one dvc.lock records as the vocab stage's dependency (the tokenizer was built on it)."""
    from pipeline.review import gate as review

    path = review.decision_path(lay)
    try:
        d = review.read_decision(lay)
    except StageError as e:
        return {"review_decision": f"unreadable: {e}"}
    if not d:
        return {"review_decision": "none recorded"}
    keep = ("decision", "reviewer", "comment", "decided_at", "policy", "corpus", "validation_passed")
    out = {"review_decision": {k: d.get(k) for k in keep if k in d}}
    recorded = hashes.get(path.relative_to(root).as_posix())
    if recorded:
        out["review_decision_in_lineage"] = recorded == _md5_file(path)
    return out


class _LiveLogger:
    """``on_log`` callback writing the curve to DVCLive (train/<metric>, x = step)."""

    def __init__(self, directory: Path):
        from dvclive import Live
        self.live = Live(dir=str(directory), resume=False, report=None, save_dvc_exp=False, dvcyaml=None,
                         monitor_system=False)

    def __call__(self, step: int, metrics: dict) -> None:
        self.live.step = int(step)
        for k in LIVE_METRICS:
            v = metrics.get(k)
            if isinstance(v, (int, float)) and math.isfinite(v):
                self.live.log_metric(f"train/{k}", float(v))
        self.live.next_step()

    def finish(self, final: dict | None) -> None:
        if final:
            for k, v in sorted(final.items()):
                if k.startswith("val_") and isinstance(v, (int, float)) and not isinstance(v, bool) \
                        and math.isfinite(v):
                    self.live.log_metric(f"val/{k[4:]}", float(v), plot=False)
            for name, sub in sorted((final.get("val_subsets") or {}).items()):  # a joint model's languages
                for k, v in sorted(sub.items()):
                    if isinstance(v, (int, float)) and math.isfinite(v):
                        self.live.log_metric(f"val/{name}/{k}", float(v), plot=False)
        self.live.end()
