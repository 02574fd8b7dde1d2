"""Executors of the work units, apart from the work itself (``worker.py``).

``run_units`` runs the units whose folder does not exist yet, inline or in a process pool (``forkserver``;
``clean.workers`` processes); ``WorkUnitStep`` wraps a unit as a datatrove ``PipelineStep`` (rank = unit) so
datatrove's Slurm/Ray executors can run the same work (docs/cleaning.md).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

from pipeline import cores
from pipeline.cleaning.worker import UnitWorker
from pipeline.cleaning.workunits import Context, load_plan, unit_dir
from pipeline.config import LanguageConfig
from pipeline.progress import Progress


def workers_for(cfg: LanguageConfig) -> int:
    """Processes to run: FOUNDRY_CLEAN_WORKERS, else clean.workers; 0 means every core this stage may use
    (``pipeline.cores``: its share when several languages run at once)."""
    env = os.environ.get("FOUNDRY_CLEAN_WORKERS")
    n = int(env) if env and env.strip().isdigit() else cfg.clean.workers
    return max(1, n if n > 0 else cores.available())


_STATE: dict = {}


def _init(ctx: Context) -> None:
    _STATE["worker"] = UnitWorker(ctx)


def _run_one(args) -> int:
    unit, out = args
    _STATE["worker"].run(unit, Path(out))
    return unit["id"]


def run_units(ctx: Context, units: list[dict], work: Path, workers: int) -> None:
    """Run the units whose folder does not exist yet, in order of id (inline or in a process pool), showing
    the input bytes done of the total, the documents read, the rate and the ETA (``pipeline.progress``)."""
    (work / "tasks").mkdir(parents=True, exist_ok=True)
    todo = [(u, str(unit_dir(work, u["id"]))) for u in units if not unit_dir(work, u["id"]).is_dir()]
    if not todo:
        return
    with _UnitProgress(ctx.cfg.language, units, todo) as progress:
        _run(ctx, todo, workers, progress.done)


class _UnitProgress(Progress):
    """Input bytes of the finished units (reused ones count as done from the start) and their documents."""

    def __init__(self, lang: str, units: list[dict], todo: list):
        total = sum(int(u.get("bytes") or 0) for u in units)
        super().__init__(f"clean {lang}", total, unit="B", unit_scale=True,
                         initial=total - sum(int(u.get("bytes") or 0) for u, _ in todo))
        self.docs = 0
        self.units = {u["id"]: (u, out) for u, out in todo}

    def done(self, unit_id: int) -> None:
        u, out = self.units[unit_id]
        try:
            self.docs += int(json.loads((Path(out) / "stats.json").read_text(encoding="utf-8"))["documents_in"])
        except (OSError, ValueError, KeyError):  # the count is a courtesy; the merge reads the stats for real
            pass
        self.update(int(u.get("bytes") or 0), documents=self.docs)


def _run(ctx: Context, todo: list, workers: int, done) -> None:
    if workers <= 1 or len(todo) == 1:
        w = UnitWorker(ctx)
        for u, out in todo:
            w.run(u, Path(out))
            done(u["id"])
        return
    import multiprocessing as mp

    # forkserver: workers fork from a clean server process that has imported this module once (no inherited
    # threads or open files of the caller, and no per-worker import cost as with spawn)
    ctx_mp = mp.get_context("forkserver")
    ctx_mp.set_forkserver_preload(["pipeline.cleaning.executor", "pipeline.cleaning.worker",
                                   "pipeline.cleaning.quality", "pipeline.cleaning.dedup", "pipeline.cleaning.lid"])
    pool = ctx_mp.Pool(min(workers, len(todo)), initializer=_init, initargs=(ctx,))
    try:
        for unit_id in pool.imap_unordered(_run_one, todo, chunksize=1):
            done(unit_id)
        pool.close()
    except BaseException:
        pool.terminate()
        raise
    finally:
        pool.join()


# --- datatrove executors (Slurm, Ray) ---------------------------------------------------------------

try:
    from datatrove.pipeline.base import PipelineStep as _PipelineStep
except Exception:  # pragma: no cover - datatrove is a declared dependency
    _PipelineStep = object

_PLANS: dict = {}


class WorkUnitStep(_PipelineStep):
    """Unit ``rank`` of a planned clean as a datatrove pipeline step.

    ``python -m pipeline.cleaning.workunits plan LANG`` writes the plan; any datatrove executor with
    ``tasks=len(plan)`` then runs ``[WorkUnitStep(LANG, ROOT)]``; ``python -m pipeline clean LANG`` afterwards
    finds every unit folder complete and only merges (see docs/cleaning.md).
    """

    name = "ELECTRA Foundry clean work unit"
    type = "FOUNDRY"

    def __init__(self, lang: str, root: str):
        super().__init__()
        self.lang = lang
        self.root = str(root)

    def run(self, data=None, rank: int = 0, world_size: int = 1):
        key = (self.lang, self.root)
        if key not in _PLANS:   # once per process: the plan as written by `... workunits plan`
            ctx, units, work = load_plan(self.lang, Path(self.root), existing=True)
            _PLANS[key] = (ctx, units, work, UnitWorker(ctx))
        ctx, units, work, worker = _PLANS[key]
        if world_size != len(units):
            raise ValueError(f"the plan has {len(units)} units but the executor runs {world_size}")
        out = unit_dir(work, rank)
        if not out.is_dir():
            worker.run(units[rank], out)
        return iter(())
