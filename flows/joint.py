"""The joint (multilingual) model's flow and its commands: `foundry run NAME`, `foundry new-joint`, and the
joint model's part of `foundry status` and `foundry metrics`.

``joint_flow`` runs every member's own flow first (``language_flow``: its stages, its review gate; a
member stopped at the gate stops the joint model, naming it), then the joint stages of
``joint/dvc.yaml`` in order through the same ``run_stage`` task (DVC says what is stale; the command is
``python -m pipeline joint_STAGE NAME``; pre-training holds the same concurrency slot). A run with nothing
stale says so from one DVC status call without starting Prefect, as a language's does. ``--from`` and
``--until`` take a stage of either kind, in the order members' stages then joint stages
(:func:`joint_plan`): ``--until validate`` runs the members' corpora and review pages only, ``--from
joint_pretrain`` leaves out the members and the earlier joint stages (saying when a left-out joint stage is
stale).
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


def joint_plan(start: str | None = None, until: str | None = None) -> tuple[list[str], list[str]]:
    """(the members' stages, the joint stages) from ``start`` to ``until``, both included, in the order of a
    joint run: every member stage, then the joint stages."""
    order = list(STAGES) + list(JOINT_STAGES)
    for flag, s in (("--from", start), ("--until", until)):
        if s is not None and s not in order:
            raise ValueError(f"{flag} {s!r}: not a stage; stages: {', '.join(order)}")
    i, j = order.index(start) if start else 0, order.index(until) if until else len(order) - 1
    if i > j:
        raise ValueError(f"--from {start} comes after --until {until} (stages: {', '.join(order)})")
    chosen = order[i:j + 1]
    return [s for s in chosen if s in STAGES], [s for s in chosen if s in JOINT_STAGES]


def _is_stale(changed: dict, stage: str, name: str) -> list | None:
    """DVC's reasons for a joint stage (its status names it with or without the dvc.yaml path), or None."""
    return changed.get(dvc_address(stage, name)) or changed.get(f"{stage}@{name}")


def _left_out(root: Path, name: str, joint_stages: list[str]) -> list[dict]:
    """Result rows for the joint stages before ``joint_stages[0]`` (left out by --from), flagged when stale."""
    from flows import dvcops

    before = list(JOINT_STAGES[:JOINT_STAGES.index(joint_stages[0])]) if joint_stages else list(JOINT_STAGES)
    with dvcops.dvc_turn(root):
        changed = dvcops.stale(root, [dvc_address(s, name) for s in before]) if before else {}
    return [{"stage": s, "ran": False, "seconds": 0.0, "excluded": True, "stale": bool(_is_stale(changed, s, name))}
            for s in before]


@functools.lru_cache(maxsize=1)
def joint_flow_fn():
    """The Prefect flow, built on first use (importing Prefect costs seconds; the no-op path avoids it)."""
    from prefect import flow

    from flows.language import GateClosed, ensure_pretrain_limit, language_flow, run_stage
    from pipeline.locks import language_lock

    @flow(name="foundry-joint", flow_run_name="foundry-joint-{name}", log_prints=True)
    def joint_flow(name: str, root: str, wait: bool = False, start: str | None = None,
                   until: str | None = None) -> dict:
        ensure_pretrain_limit()
        cfg = load_joint(name, Path(root))
        member_stages, joint_stages = joint_plan(start, until)
        members = {}
        for m in cfg.members if member_stages else ():
            try:
                members[m] = language_flow(m, root, 1, wait, start=member_stages[0], until=member_stages[-1])
            except GateClosed as e:
                err = GateClosed(f"joint model {name} stopped before its vocab: member {m} is not approved. {e}")
                err.member = m
                raise err from None
        joint = _left_out(Path(root), name, joint_stages) if joint_stages else []
        if joint_stages:
            with language_lock(Path(root), name, f"foundry run {name}", wait=wait):
                joint += [run_stage(root, name, s) for s in joint_stages]
        logs = Path(root) / "logs" / name
        logs.mkdir(parents=True, exist_ok=True)
        (logs / "last_run.json").write_text(json.dumps({"members": members, "joint": joint}, indent=1, default=str))
        return {"members": members, "joint": joint}

    return joint_flow


def _stale(root: Path, name: str, members: list[str], member_stages: list[str], joint_stages: list[str]) -> set[str]:
    from flows import dvcops, plan

    stale = plan.stale_stages(root, members, member_stages) if member_stages else set()
    with dvcops.dvc_turn(root):
        stale |= set(dvcops.stale(root, [dvc_address(s, name) for s in joint_stages]))
    return stale


def _print(root: Path, name: str, outcome: dict | None, members: list[str], stale: set[str]) -> None:
    for who, stages, rows in [*((m, STAGES, (outcome or {}).get("members", {}).get(m)) for m in members),
                              (name, JOINT_STAGES, (outcome or {}).get("joint"))]:
        print(f"\nStages for {who}:")
        for i, s in enumerate(stages):
            # a stage without a row in a run's outcome was left out by --from/--until
            r = rows[i] if rows and i < len(rows) else {"ran": False, "seconds": 0.0, "excluded": outcome is not None}
            print(f"  {s:<14} " + (f"ran ({r['seconds']} s)" if r.get("ran") else
                                   "left out (--from/--until)" + (", stale" if r.get("stale") else "")
                                   if r.get("excluded") else "skipped (up to date)"))
    lay = Layout(root, name)
    print(f"\nArtifacts for {name}:")
    for what, p in (("members' record", root / "data" / name / "members.json"), ("tokenizer", lay.tokenizer_dir),
                    ("shards", lay.shards_dir), ("ELECTRA model (HF)", lay.electra_dir),
                    ("pre-training metrics", lay.pretrain_metrics), ("comparison", lay.eval_metrics),
                    ("scorecard", lay.scorecard), ("Hub folder + card", lay.hub_dir / "README.md")):
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
    if args.all or len(args.langs) != 1:
        print("error: a joint model runs alone (no --all or other names)", file=sys.stderr)
        return 2
    try:
        member_stages, joint_stages = joint_plan(args.start, args.until)
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    cfg = load_joint(name, root)
    from flows import plan

    if args.dask is None and not args.wait and not plan.may_have_server() and \
            not _stale(root, name, cfg.members, member_stages, joint_stages):
        print(f"Nothing to do: DVC says every requested stage of {name} and of its members "
              f"({', '.join(cfg.members)}) is up to date (no Prefect run started).")
        _print(root, name, None, cfg.members, set())
        return 0
    from flows.language import GateClosed, StageInputError

    try:
        outcome = joint_flow_fn()(name, str(root), wait=args.wait, start=args.start, until=args.until)
    except (GateClosed, StageInputError) as e:
        if getattr(e, "member", None):
            from flows.cli import _review_headline
            print("\n" + _review_headline(root, e.member))
        print(f"\nerror: {e}", file=sys.stderr)
        return 2
    _print(root, name, outcome, cfg.members, set())
    return 0


def joint_status(root: Path, name: str) -> dict[str, str]:
    """Per joint stage, what ``foundry status`` says of a language's (joint/dvc.lock records the joint stages)."""
    import yaml

    from flows import dvcops

    with dvcops.dvc_turn(root):
        changed = dvcops.stale(root, [dvc_address(s, name) for s in JOINT_STAGES])
    try:
        lock = yaml.safe_load((Path(root) / "joint" / "dvc.lock").read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        lock = {}
    ran = set(lock.get("stages") or {}) if isinstance(lock, dict) else set()
    return dvcops.stage_states([(s, f"{s}@{name}" in ran, _is_stale(changed, s, name)) for s in JOINT_STAGES])


def joint_status_text(root: Path, name: str) -> str:
    """``foundry status NAME`` for a joint model: its stages (its members are languages: ``foundry status M``)."""
    return "\n".join([f"{name} (joint model; its members: foundry status {' '.join(load_joint(name, root).members)}):",
                      *(f"  {s:<14} {state}" for s, state in joint_status(root, name).items())])


def joint_metrics_text(root: Path, name: str) -> str:
    """``foundry metrics NAME`` for a joint model: pre-training's final validation (overall and per language),
    then per member and task the joint, monolingual and random-init medians and the FLOPs ratio."""
    from pipeline.evaluation.scorecard import pct, signed, span
    from pipeline.evaluation.warnings import read_json
    from pipeline.joint.report import compute_cell

    cfg, lay = load_joint(name, root), Layout(root, name)
    pre, comparison = read_json(lay.pretrain_metrics), read_json(lay.eval_metrics)
    head = f"{name} (joint model of {', '.join(cfg.members)})"
    if not pre:
        return f"{head}: never run (no {os.path.relpath(lay.pretrain_metrics, root)})"
    num = lambda x: f"{x:.3f}" if isinstance(x, (int, float)) else "-"  # noqa: E731
    lines = [f"{head}: steps {pre.get('steps', '-')}, FLOPs {pre.get('train_flops') or 0:.3g}, val AUC "
             f"{num(pre.get('val_disc_auc'))}, val recall {num(pre.get('val_replaced_recall'))}, val loss "
             f"{num(pre.get('val_loss'))}"]
    lines += [f"  {m}: val AUC {num(v.get('disc_auc'))}, val recall {num(v.get('replaced_recall'))}"
              for m, v in (pre.get("val_subsets") or {}).items()]
    rows = (comparison or {}).get("tasks") or []
    if not rows:
        return "\n".join(lines + ["  not evaluated yet (joint_evaluate)"])
    tw = max(len(f"{r['language']} {r['task']}") for r in rows)
    lines += ["", f"  {'task':<{tw}}  {'joint':>6}  {'mono':>6}  {'random':>6}  {'j-mono':>6}  {'95% interval':<14}  "
                  f"mono/joint FLOPs"]
    lines += [f"  {r['language'] + ' ' + r['task']:<{tw}}  {pct(r['joint']):>6}  {pct(r['monolingual']):>6}  "
              f"{pct(r['random_init']):>6}  {signed(r['joint_minus_monolingual']):>6}  "
              f"{span(r.get('joint_minus_monolingual_interval')):<14}  {compute_cell(r)}"
              for r in rows]
    return "\n".join(lines + ["(medians over seeds, x100; 95% interval of joint - mono, paired over examples and "
                               "seeds; reports/" + name + "/scorecard.md)"])


def cmd_new_joint(args) -> int:
    from pipeline.config import project_root
    from pipeline.joint.scaffold import new_joint

    root = project_root()
    path = new_joint(root, args.name, args.members, alpha=args.alpha, force=args.force)
    print(f"wrote {os.path.relpath(path)} and registered {args.name} in joint/params.yaml.\n"
          f"Review the file (alpha, vocab.size, pretrain), then: foundry run {args.name} (each member's stages "
          f"first, each stopping for its own review if it has none, then the joint stages)")
    return 0
