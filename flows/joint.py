"""The joint (multilingual) model's flow and its two commands: `foundry run NAME` and `foundry new-joint`.

``joint_flow`` runs every member's own flow first (``language_flow``: its stages, its review gate; a
member stopped at the gate stops the joint model, naming it), then the joint stages of
``joint/dvc.yaml`` in order through the same ``run_stage`` task (DVC says what is stale; the command is
``python -m pipeline joint_STAGE NAME``; pre-training holds the same concurrency slot). A run with nothing
stale says so from one DVC status call without starting Prefect, as a language's does.
"""
from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path

from pipeline.config.joint import load_joint
from pipeline.joint import JOINT_STAGES
from pipeline.layout import Layout
from pipeline.stages import STAGES


def dvc_address(stage: str, name: str) -> str:
    """The DVC address of a joint stage (its dvc.yaml is joint/dvc.yaml)."""
    return f"joint/dvc.yaml:{stage}@{name}"


@functools.lru_cache(maxsize=1)
def joint_flow_fn():
    """The Prefect flow, built on first use (importing Prefect costs seconds; the no-op path avoids it)."""
    from prefect import flow

    from flows.language import GateClosed, ensure_pretrain_limit, language_flow, run_stage
    from pipeline.locks import language_lock

    @flow(name="foundry-joint", flow_run_name="foundry-joint-{name}", log_prints=True)
    def joint_flow(name: str, root: str, wait: bool = False) -> dict:
        ensure_pretrain_limit()
        cfg = load_joint(name, Path(root))
        members = {}
        for m in cfg.members:
            try:
                members[m] = language_flow(m, root, 1, wait)
            except GateClosed as e:
                err = GateClosed(f"joint model {name} stopped before its vocab: member {m} is not approved. {e}")
                err.member = m
                raise err from None
        with language_lock(Path(root), name, f"foundry run {name}", wait=wait):
            joint = [run_stage(root, name, s) for s in JOINT_STAGES]
        logs = Path(root) / "logs" / name
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "last_run.json").write_text(json.dumps({"members": members, "joint": joint}, indent=1, default=str))
        return {"members": members, "joint": joint}

    return joint_flow


def _stale(root: Path, name: str, members: list[str]) -> set[str]:
    from flows import dvcops, plan

    stale = plan.stale_stages(root, members, list(STAGES))
    with dvcops.dvc_turn(root):
        stale |= set(dvcops.stale(root, [dvc_address(s, name) for s in JOINT_STAGES]))
    return stale


def _print(root: Path, name: str, outcome: dict | None, members: list[str], stale: set[str]) -> None:
    for who, stages, rows in [*((m, STAGES, (outcome or {}).get("members", {}).get(m)) for m in members),
                              (name, JOINT_STAGES, (outcome or {}).get("joint"))]:
        print(f"\nStages for {who}:")
        for i, s in enumerate(stages):
            r = (rows or [])[i] if rows and i < len(rows) else {"ran": False, "seconds": 0.0}
            print(f"  {s:<14} " + (f"ran ({r['seconds']} s)" if r.get("ran") else "skipped (up to date)"))
    lay = Layout(root, name)
    print(f"\nArtifacts for {name}:")
    for what, p in (("members' record", root / "data" / name / "members.json"), ("tokenizer", lay.tokenizer_dir),
                    ("shards", lay.shards_dir), ("ELECTRA model (HF)", lay.electra_dir),
                    ("pre-training metrics", lay.pretrain_metrics), ("comparison", lay.eval_metrics),
                    ("scorecard", lay.scorecard), ("model card", root / "reports" / name / "model_card.md")):
        print(f"  {what:<21} {os.path.relpath(p, Path.cwd())}" + ("" if p.exists() else "   (missing)"))
    try:
        rows = json.loads(lay.eval_metrics.read_text(encoding="utf-8"))["tasks"]
    except (OSError, ValueError, KeyError):
        return
    print(f"\nSummary for {name} (joint vs monolingual vs random init, points):")
    for r in rows:
        cells = [("–" if r[k] is None else f"{100 * r[k]:.1f}") for k in ("joint", "monolingual", "random_init")]
        print(f"  {r['language']:<5} {r['task']:<12} joint {cells[0]:>5}  mono {cells[1]:>5}  random {cells[2]:>5}")


def cmd_run_joint(args, root: Path, name: str) -> int:
    """`foundry run NAME` for a joint model."""
    if args.start or args.until or args.all or len(args.langs) != 1:
        print("error: a joint model runs alone and whole (no --all, --from, --until or other names)", file=sys.stderr)
        return 2
    cfg = load_joint(name, root)
    from flows import plan

    if args.dask is None and not args.wait and not plan.may_have_server() and not _stale(root, name, cfg.members):
        print(f"Nothing to do: DVC says every stage of {name} and of its members ({', '.join(cfg.members)}) is up "
              f"to date (no Prefect run started).")
        _print(root, name, None, cfg.members, set())
        return 0
    from flows.language import GateClosed, StageInputError

    try:
        outcome = joint_flow_fn()(name, str(root), wait=args.wait)
    except (GateClosed, StageInputError) as e:
        if getattr(e, "member", None):
            from flows.cli import _review_headline
            print("\n" + _review_headline(root, e.member))
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    _print(root, name, outcome, cfg.members, set())
    return 0


def cmd_new_joint(args) -> int:
    from pipeline.config import project_root
    from pipeline.joint.scaffold import new_joint

    root = project_root()
    path = new_joint(root, args.name, args.members, alpha=args.alpha, force=args.force)
    print(f"wrote {os.path.relpath(path)} and registered {args.name} in joint/params.yaml.\n"
          f"Review the file (alpha, vocab.size, pretrain), then: foundry run {args.name} (each member's stages "
          f"first, each stopping for its own review if it has none, then the joint stages)")
    return 0
