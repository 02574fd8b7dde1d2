"""Prefect flows: one language end to end, and many languages at once.

Flows are thin. For each stage they ask DVC whether it is stale, run ``python -m pipeline STAGE LANG``
(the same command dvc.yaml declares) when it is, and ``dvc commit`` the result so dvc.lock and the
cache record it. The data-quality gate sits between validate and vocab: validation must pass, and the
corpus needs a review decision (``data/<lang>/review.json``, see ``pipeline.review``). Under
``review.policy: required`` the flow pauses for a person's decision when a Prefect server is configured
(``pause_flow_run(wait_for_input=ReviewInput)``, resumed from the UI or by ``foundry approve/reject``),
and stops with instructions when it runs on the ephemeral server. A run holds its language for its whole
length (``pipeline.locks``: a second run of it fails or waits, in any process); pre-training takes a slot of
the Prefect global concurrency limit ``foundry-pretrain`` (one at a time, visible in the UI with a server), and
the stage itself one of the machine's file-lock slots (which hold across processes, server or not).

Several languages run as subflows of ``languages_flow`` on a task runner: threads by default
(``foundry run --parallel N``) or a Dask cluster (``--dask [ADDRESS]``, prefect-dask's
``DaskTaskRunner``; see :func:`task_runner`). Each stage subprocess gets its share of the machine's
cores (``FOUNDRY_CLEAN_WORKERS`` = cores // languages running at once) so parallel languages do not
oversubscribe the CPU. Stage tasks retry transient failures with exponential backoff; a bad config or
bad input (exit status 2) is never retried. DVC's status/commit calls take a file lock in ``.dvc/tmp``
so they also take turns across processes (Dask workers).
"""
from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Literal

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.concurrency.sync import concurrency
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.runtime import flow_run as runtime_flow_run
from prefect.task_runners import ThreadPoolTaskRunner
from prefect.tasks import exponential_backoff

from flows import dvcops
from flows.dvcops import dvc_turn
from flows.joint import dvc_address
from flows.plan import api_url, select_stages
from flows.summary import summary_markdown
from pipeline.review import gate as review
from pipeline.config import load_language
from pipeline.cores import ENV as CORES_ENV, machine as machine_cores
from pipeline.joint import JOINT_STAGES
from pipeline.layout import Layout
from pipeline.locks import language_lock
from pipeline.stages import STAGES

PRETRAIN_LIMIT = "foundry-pretrain"
USER_ERROR = 2  # exit status of `python -m pipeline` for a bad config or bad input
FLOW_NAME = "foundry-language"
EPHEMERAL_NOTE = ("(This run uses Prefect's ephemeral server, which no other process can reach, so it stops "
                  "instead of pausing; with a Prefect server — PREFECT_API_URL — it pauses and waits.)")
REVIEW_POLL_SECONDS = 2  # how often a paused run asks the server whether it was resumed
STAGE_RETRIES = 3         # transient failures (crash, OOM kill, pre-emption exit 75): 3 more tries ...
RETRY_BASE_SECONDS = 10   # ... after 10, 20 and 40 s (exponential backoff, +-50% jitter)


class StageInputError(RuntimeError):
    """The stage rejected its input or config; retrying cannot help."""


class GateClosed(RuntimeError):
    """The data-quality gate stopped the language before vocab and any GPU work."""


class ReviewPending(GateClosed):
    """Stopped only because no one has decided yet (the first run of a new corpus under review.policy required,
    without a server to pause on): no rejection, and no error."""


GATE_STOP = "stopped at the data-review gate (what to do: below)"
USER_STOP = "stopped by a user error (its one-line message: below)"
_USER_ERRORS = ("StageInputError: ", "GateClosed: ", "ReviewPending: ")


class _NoTracebackForUserErrors(logging.Filter):
    """On the terminal, a user error (bad input or config, a closed gate) is its one-line message, printed once
    by the CLI at the end: Prefect's engine logs the exception with its traceback (task and flow: four records
    repeating the message), which the console handler shortens here to a pointer. A gate that waits for a review
    (ReviewPending) is no error: its records become INFO lines (the CLI prints the review headline and what to
    do). The flow's log keeps everything: Prefect's API handler sits on the run loggers and formats the record
    before it propagates to the console's."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, (StageInputError, GateClosed)):
            record.exc_info, record.exc_text, record.args = None, None, ()
            record.msg = GATE_STOP if isinstance(exc, GateClosed) else USER_STOP
            if isinstance(exc, ReviewPending):
                record.levelno, record.levelname = logging.INFO, "INFO"
        elif exc is None and (msg := record.getMessage()).startswith("Finished in state Failed") and \
                any(name in msg for name in _USER_ERRORS):
            gate = "GateClosed: " in msg or "ReviewPending: " in msg
            record.msg, record.args = "Finished: " + (GATE_STOP if gate else USER_STOP).split(" (")[0], ()
        return True


def quiet_user_errors() -> None:
    """Keep the traceback of a user error out of the terminal (``foundry run``; the flow's log keeps it)."""
    from prefect.logging.handlers import PrefectConsoleHandler

    for h in logging.getLogger().handlers:
        if isinstance(h, PrefectConsoleHandler) and not any(isinstance(f, _NoTracebackForUserErrors)
                                                            for f in h.filters):
            h.addFilter(_NoTracebackForUserErrors())


def _transient(task, task_run, state) -> bool:
    try:
        state.result()
    except StageInputError:
        return False
    except Exception:
        return True
    return False


def cpu_share(concurrent: int, cores: int | None = None) -> int:
    """Cores for one stage process when ``concurrent`` languages run at once on this machine."""
    if cores is None:
        cores = machine_cores()
    return max(1, int(cores) // max(1, int(concurrent)))


def stage_env(concurrent: int) -> dict:
    """The environment of a stage subprocess: with several languages at once, the stage uses this language's
    share of the cores (``FOUNDRY_CORES``: clean's worker processes, evaluate's fine-tuning processes,
    pre-training's torch threads; ``pipeline/cores.py``), unless the user set that variable."""
    env = dict(os.environ)
    if concurrent > 1 and not env.get(CORES_ENV):
        env[CORES_ENV] = str(cpu_share(concurrent))
    return env


@task(retries=STAGE_RETRIES, retry_delay_seconds=exponential_backoff(backoff_factor=RETRY_BASE_SECONDS),
      retry_jitter_factor=0.5, retry_condition_fn=_transient, task_run_name="{stage}-{lang}")
def run_stage(root: str, lang: str, stage: str, concurrent: int = 1) -> dict:
    log = get_run_logger()
    rootp = Path(root)
    addr = dvc_address(stage, lang) if stage in JOINT_STAGES else f"{stage}@{lang}"  # a joint model's: flows/joint.py
    with dvc_turn(rootp):
        changed = dvcops.stale(rootp, [addr])
    if addr not in changed:
        log.info("%s is up to date (DVC): skipped", addr)
        return {"stage": stage, "ran": False, "seconds": 0.0}
    if ":" in addr or addr in dvcops.recorded_stages(rootp):   # (a joint stage: its own dvc.lock)
        log.info("%s is stale: %s", addr, dvcops.describe(changed[addr]))
    else:  # DVC calls every dependency of a stage that never ran 'modified': dozens of lines that say nothing
        log.info("%s has never run", addr)
    logfile = rootp / "logs" / lang / f"{stage}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if stage in ("pretrain", "joint_pretrain"):
        with concurrency(PRETRAIN_LIMIT, occupy=1, strict=True):
            started = time.time()
            rc, last, err = _run(rootp, stage, lang, logfile, log, concurrent)
            ended = time.time()
    else:
        started = time.time()
        rc, last, err = _run(rootp, stage, lang, logfile, log, concurrent)
        ended = time.time()
    if rc == USER_ERROR:
        raise StageInputError(err.strip().removeprefix("error: ") or f"{addr} failed (see {logfile})")
    if rc != 0:
        raise RuntimeError(f"{addr} exited with status {rc}; log: {logfile}\n{err[-2000:]}")
    with dvc_turn(rootp):
        dvcops.commit(rootp, addr)
    try:
        summary = json.loads(last)
    except (json.JSONDecodeError, TypeError):
        summary = {}
    return {"stage": stage, "ran": True, "seconds": round(time.time() - t0, 1), "summary": summary,
            "started": started, "ended": ended}


def _run(root: Path, stage: str, lang: str, logfile: Path, log, concurrent: int = 1) -> tuple[int, str, str]:
    """Run the stage command, streaming its output to the Prefect log and to logs/<lang>/<stage>.log."""
    cmd = [sys.executable, "-m", "pipeline", stage, lang]
    last, err_lines = "", []
    with open(logfile, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                env=stage_env(concurrent), text=True, encoding="utf-8", errors="replace")
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
            fh.flush()        # `tail -f logs/LANG/STAGE.log` and `foundry status` follow a running stage
            line = line.rstrip("\n")
            if line.startswith("{") and '"stage"' in line:
                last = line
            else:
                log.info("[%s %s] %s", stage, lang, line)
            if line.startswith("error:") or err_lines:
                err_lines.append(line)
        rc = proc.wait()
    return rc, last, "\n".join(err_lines[-40:])


def gate(root: Path, lang: str) -> None:
    """Stop the language before vocab when validation failed."""
    path = Layout(root, lang).validation
    result = json.loads(path.read_text(encoding="utf-8"))
    if not result.get("passed"):
        _sync_quietly(root, lang, result)
        failed = [e.get("name", "?") for e in result.get("expectations", []) if not e.get("passed")]
        raise GateClosed(
            f"{lang}: data validation failed ({', '.join(failed) or 'see report'}); stopped before vocab. "
            f"Review reports/{lang}/quality/review.html (and index.html, {path.relative_to(root)}), fix the "
            f"corpus or corpora/{lang}.yaml (validate.*), then run again.")


def _sync_quietly(root: Path, lang: str, validation: dict) -> None:
    """Record 'rejected-by-validation' (the validate stage normally did already)."""
    try:
        review.sync_decision(load_language(lang, root), Layout(root, lang), validation)
    except Exception:  # the gate's own message matters more than this record
        pass


class ReviewInput(RunInput):
    """What a reviewer answers when a `required` run pauses after validation (Prefect UI form or
    `foundry approve/reject`, which resume the run with this input)."""
    decision: Literal["approve", "reject"]
    comment: str = ""
    reviewer: str = ""


def _publish_review(root: Path, lang: str, status: str) -> None:
    md_path = Layout(root, lang).quality_dir / review.SUMMARY
    md = md_path.read_text(encoding="utf-8") if md_path.is_file() else f"# Data review: {lang}\n"
    try:
        create_markdown_artifact(key=f"review-{_key(lang)}", markdown=md + f"\n**Decision:** {status}\n",
                                 description=f"Data review for {lang} (reports/{lang}/quality/review.html)")
    except Exception as e:  # an artifact is a convenience; never the reason a run stops
        get_run_logger().warning("could not publish the review artifact: %s", e)


def _key(lang: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in lang.lower())


def review_gate(root: Path, lang: str) -> dict:
    """Open the gate only for a corpus with a valid approval; pause for one when policy is `required`.

    Returns the decision (review.json's content). Raises GateClosed on a rejection, on a timeout, or
    when a decision is needed but this run cannot wait for one (no persistent Prefect server)."""
    log = get_run_logger()
    cfg = load_language(lang, root)
    layout = Layout(root, lang)
    validation = json.loads(layout.validation.read_text(encoding="utf-8"))
    corpus = review.corpus_hash(layout)
    decision = review.sync_decision(cfg, layout, validation, corpus)
    state = review.assess(decision, corpus, cfg.review.policy)
    if state == "approved":
        log.info("%s: corpus %s %s by %s%s", lang, review.short(corpus), decision["decision"],
                 review.who(decision), f": {decision['comment']}" if decision.get("comment") else "")
        _publish_review(root, lang, f"{decision['decision']} by {review.who(decision)}")
        return decision
    if state in ("rejected", "rejected-by-validation"):
        _publish_review(root, lang, f"{decision['decision']} by {review.who(decision)}")
        raise GateClosed(review.gate_message(lang, cfg, decision, corpus, state))

    # policy `required` and no valid decision for this corpus
    message = review.gate_message(lang, cfg, decision, corpus, state)
    if not api_url():
        _publish_review(root, lang, "waiting for a review (run stopped)")
        raise ReviewPending(message + " " + EPHEMERAL_NOTE)
    if state == "void":
        log.warning("%s: the %s decision by %s was for another corpus (%s); it is void for the current corpus (%s)",
                    lang, decision.get("decision"), review.who(decision), review.short(decision.get("corpus")),
                    review.short(corpus))
    hours = cfg.review.timeout_hours
    timeout = max(1, math.ceil(hours * 3600))
    _publish_review(root, lang, f"waiting for a review (paused, up to {hours:g} h)")
    log.warning("%s: waiting up to %g h for a review of reports/%s/quality/review.html (corpus %s): approve "
                "or reject in the Prefect UI (Resume) or with `foundry approve %s --comment ...` / "
                "`foundry reject %s --reason ...`", lang, hours, lang, review.short(corpus), lang, lang)
    prompt = ReviewInput.with_initial_data(description=(
        f"**Review of the {lang} corpus** `{review.short(corpus)}` before any vocabulary or GPU work: read "
        f"`reports/{lang}/quality/review.html`, then choose approve or reject, with a comment (and your name)."))
    try:
        answer = pause_flow_run(wait_for_input=prompt, timeout=timeout, poll_interval=REVIEW_POLL_SECONDS)
    except FlowPauseTimeout:
        raise GateClosed(f"{lang}: no review decision within {hours:g} h (review.timeout_hours); stopped before "
                         f"vocab. Review reports/{lang}/quality/review.html, then `foundry approve {lang}` (or "
                         f"`foundry reject {lang} --reason ...`) and run again.") from None
    except Exception as e:  # resumed without (valid) input, e.g. from the API
        raise GateClosed(f"{lang}: the paused run was resumed without a review decision ({e}); stopped before "
                         f"vocab. Decide with `foundry approve {lang}` or `foundry reject {lang} --reason ...` "
                         f"and run again.") from None
    wanted = review.APPROVED if answer.decision == "approve" else review.REJECTED
    current = review.read_decision(layout)
    if not (current and current.get("decision") == wanted and current.get("corpus") == corpus):
        # resumed from the UI (the CLI writes the file before resuming)
        current = review.make_decision(layout, cfg, wanted, corpus, bool(validation.get("passed")),
                                       comment=answer.comment, reviewer=answer.reviewer or "prefect-ui")
        review.write_decision(layout, current)
    _publish_review(root, lang, f"{wanted} by {review.who(current)}")
    if wanted == review.REJECTED:
        raise GateClosed(review.gate_message(lang, cfg, current, corpus, "rejected"))
    log.info("%s: corpus %s approved by %s", lang, review.short(corpus), review.who(current))
    return current


def paused_review_runs(root: Path, lang: str) -> list:
    """Flow runs of this project and language paused at the review gate (needs a Prefect server)."""
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import (
        FlowFilter,
        FlowFilterName,
        FlowRunFilter,
        FlowRunFilterState,
        FlowRunFilterStateType,
    )
    from prefect.client.schemas.objects import StateType
    from prefect.client.schemas.sorting import FlowRunSort

    with get_client(sync_client=True) as client:
        runs = client.read_flow_runs(
            flow_filter=FlowFilter(name=FlowFilterName(any_=[FLOW_NAME])),
            flow_run_filter=FlowRunFilter(state=FlowRunFilterState(
                type=FlowRunFilterStateType(any_=[StateType.PAUSED]))),
            sort=FlowRunSort.START_TIME_DESC, limit=200)
    here = str(Path(root).resolve())
    out = []
    for r in runs:
        params = r.parameters or {}
        if params.get("lang") == lang and str(Path(str(params.get("root", ""))).resolve()) == here:
            out.append(r)
    return out


def resume_review(root: Path, lang: str, decision: str, comment: str, reviewer: str) -> list[str]:
    """Resume this language's paused runs with the decision; return the resumed flow run names."""
    from prefect.flow_runs import resume_flow_run

    resumed = []
    for r in paused_review_runs(root, lang):
        resume_flow_run(r.id, run_input={"decision": decision, "comment": comment, "reviewer": reviewer})
        resumed.append(f"{r.name} ({r.id})")
    return resumed


def ensure_pretrain_limit() -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(PRETRAIN_LIMIT)
        except Exception:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=PRETRAIN_LIMIT, limit=1))


def publish_scorecard(root: Path, lang: str) -> bool:
    """The scorecard (``metrics/<lang>/eval.json``) as a Prefect table artifact, one row per task and the
    average, with links to the markdown/HTML reports in its description. False when there is none yet."""
    lay = Layout(root, lang)
    if not lay.eval_metrics.is_file():
        return False
    from pipeline.evaluation.scorecard import scorecard_rows
    try:
        rows = scorecard_rows(json.loads(lay.eval_metrics.read_text(encoding="utf-8")))
        create_table_artifact(key=f"scorecard-{_key(lang)}", table=rows,
                              description=f"Scorecard for {lang}: {lay.scorecard} and "
                                          f"{lay.scorecard.with_suffix('.html')}")
    except Exception as e:  # an artifact is a convenience; never the reason a run stops
        get_run_logger().warning("could not publish the scorecard artifact: %s", e)
        return False
    return True


@flow(name=FLOW_NAME, flow_run_name="foundry-{lang}", log_prints=True)
def language_flow(lang: str, root: str, concurrent: int = 1, wait: bool = False, start: str | None = None,
                  until: str | None = None) -> list[dict]:
    """Run the stages of one language in order (``start`` to ``until``, default all); DVC skips what is up
    to date.

    ``concurrent``: how many languages run at once on this machine (each stage process gets
    cores // concurrent for its workers). One run per language at a time, across processes and Dask
    workers (``pipeline.locks.language_lock``): when another holds it, fail (LanguageBusy) or ``wait``."""
    ensure_pretrain_limit()
    with language_lock(Path(root), lang, f"foundry run {lang}", wait=wait):
        return _language_stages(lang, root, concurrent, select_stages(start, until))


def _language_stages(lang: str, root: str, concurrent: int, chosen: list[str]) -> list[dict]:
    """The chosen stages in order (under the language's lock), the validation check after validate and the
    review gate before vocab, the run summary. A stage left out is recorded as such, flagged when stale."""
    rootp = Path(root)
    results = []
    before = STAGES[:STAGES.index(chosen[0])]  # left out by --from: say so when one is stale
    with dvc_turn(rootp):
        stale = dvcops.stale(rootp, [f"{s}@{lang}" for s in before]) if before else {}
    for stage in STAGES:
        if stage not in chosen:
            results.append({"stage": stage, "ran": False, "seconds": 0.0, "excluded": True,
                            "stale": f"{stage}@{lang}" in stale})
            if f"{stage}@{lang}" in stale:
                get_run_logger().warning("%s@%s is stale (%s) but --from %s leaves it out", stage, lang,
                                         dvcops.describe(stale[f"{stage}@{lang}"]), chosen[0])
            continue
        if stage == "vocab":
            gate(rootp, lang)
            review_gate(rootp, lang)
        results.append(run_stage(root, lang, stage, concurrent))
        if stage == "validate":
            gate(rootp, lang)
    (rootp / "logs" / lang).mkdir(parents=True, exist_ok=True)
    (rootp / "logs" / lang / "last_run.json").write_text(json.dumps(results, indent=1, default=str))
    create_markdown_artifact(key=f"foundry-run-{lang.lower()}", markdown=summary_markdown(lang, results, rootp),
                             description=f"ELECTRA Foundry run for {lang}")
    publish_scorecard(rootp, lang)
    return results


@task(task_run_name="language-{lang}")
def _language_task(lang: str, root: str, concurrent: int = 1, wait: bool = False, start: str | None = None,
                   until: str | None = None) -> list[dict]:
    return language_flow(lang, root, concurrent, wait, start, until)


def _languages_run_name() -> str:
    langs = runtime_flow_run.parameters.get("langs") or []
    name = "foundry-" + "-".join(str(x) for x in langs)
    return name if len(name) <= 60 else f"foundry-{len(langs)}-languages-{'-'.join(map(str, langs[:4]))}-etc"


def task_runner(parallel: int = 2, dask: str | bool | None = None, dask_workers: int | None = None):
    """The task runner for ``languages_flow``: threads (``parallel`` languages at once), or Dask.

    ``dask``: ``True`` starts a local Dask cluster (``distributed.LocalCluster``, ``dask_workers``
    processes of one thread each, default ``parallel``); a string is the address of a running Dask
    scheduler (``tcp://host:8786``), whose workers must see the project at the same path (a shared
    filesystem) and have this environment installed."""
    if not dask:
        return ThreadPoolTaskRunner(max_workers=max(1, int(parallel)))
    from prefect_dask import DaskTaskRunner

    if isinstance(dask, str):
        return DaskTaskRunner(address=dask)
    n = max(1, int(dask_workers or parallel))
    return DaskTaskRunner(cluster_class="distributed.LocalCluster",
                          cluster_kwargs={"n_workers": n, "threads_per_worker": 1, "processes": True,
                                          "dashboard_address": None})


@flow(name="foundry-languages", flow_run_name=_languages_run_name, log_prints=True,
      task_runner=ThreadPoolTaskRunner(max_workers=2))
def languages_flow(langs: list[str], root: str, concurrent: int | None = None,
                   wait: bool = False, start: str | None = None, until: str | None = None) -> dict[str, object]:
    """Several languages in parallel (bounded by the task runner's workers); pre-training one at a time.

    Use ``languages_flow.with_options(task_runner=task_runner(N))`` to change the bound or run on
    Dask (``foundry run --parallel N`` / ``--dask`` do). ``concurrent``: languages running at once
    on one machine, which divides its cores between their stage processes (default: 2, the default
    runner's bound, or fewer languages).
    """
    ensure_pretrain_limit()
    concurrent = max(1, min(len(langs), concurrent or 2))
    futures = {lang: _language_task.submit(lang, root, concurrent, wait, start, until) for lang in langs}
    outcome: dict[str, object] = {}
    for lang, fut in futures.items():
        try:
            outcome[lang] = fut.result()
        except Exception as e:  # one language failing does not stop the others
            outcome[lang] = e
    rows = [{"language": lang, "status": "ok" if not isinstance(v, Exception) else f"failed: {v}"[:300]}
            for lang, v in outcome.items()]
    create_table_artifact(key="foundry-languages", table=rows, description="Per-language outcome")
    return outcome
