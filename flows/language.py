"""Prefect flows: one language end to end, and many languages at once.

Flows are thin. For each stage they ask DVC whether it is stale, run ``python -m pipeline STAGE LANG``
(the same command dvc.yaml declares) when it is, and ``dvc commit`` the result so dvc.lock and the
cache record it. The data-quality gate sits between validate and vocab. Pre-training takes a slot of
the Prefect global concurrency limit ``foundry-pretrain`` (one at a time), whatever runs in parallel.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact, create_table_artifact
from prefect.concurrency.sync import concurrency
from prefect.task_runners import ThreadPoolTaskRunner

from flows import dvcops
from flows.dvcops import STAGES
from pipeline.layout import Layout

PRETRAIN_LIMIT = "foundry-pretrain"
USER_ERROR = 2  # exit status of `python -m pipeline` for a bad config or bad input


class StageInputError(RuntimeError):
    """The stage rejected its input or config; retrying cannot help."""


class GateClosed(RuntimeError):
    """The data-quality gate stopped the language before vocab and any GPU work."""


def _transient(task, task_run, state) -> bool:
    try:
        state.result()
    except StageInputError:
        return False
    except Exception:
        return True
    return False


@task(retries=2, retry_delay_seconds=[5, 30], retry_condition_fn=_transient,
      task_run_name="{stage}-{lang}")
def run_stage(root: str, lang: str, stage: str) -> dict:
    log = get_run_logger()
    rootp = Path(root)
    addr = f"{stage}@{lang}"
    changed = dvcops.stale(rootp, [addr])
    if addr not in changed:
        log.info("%s is up to date (DVC): skipped", addr)
        return {"stage": stage, "ran": False, "seconds": 0.0}
    log.info("%s is stale: %s", addr, dvcops.describe(changed[addr]))
    logfile = rootp / "logs" / lang / f"{stage}.log"
    logfile.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.time()
    if stage == "pretrain":
        with concurrency(PRETRAIN_LIMIT, occupy=1, strict=True):
            started = time.time()
            rc, last, err = _run(rootp, stage, lang, logfile, log)
            ended = time.time()
    else:
        started = time.time()
        rc, last, err = _run(rootp, stage, lang, logfile, log)
        ended = time.time()
    if rc == USER_ERROR:
        raise StageInputError(err.strip().removeprefix("error: ") or f"{addr} failed (see {logfile})")
    if rc != 0:
        raise RuntimeError(f"{addr} exited with status {rc}; log: {logfile}\n{err[-2000:]}")
    dvcops.commit(rootp, addr)
    try:
        summary = json.loads(last)
    except (json.JSONDecodeError, TypeError):
        summary = {}
    return {"stage": stage, "ran": True, "seconds": round(time.time() - t0, 1), "summary": summary,
            "started": started, "ended": ended}


def _run(root: Path, stage: str, lang: str, logfile: Path, log) -> tuple[int, str, str]:
    """Run the stage command, streaming its output to the Prefect log and to logs/<lang>/<stage>.log."""
    cmd = [sys.executable, "-m", "pipeline", stage, lang]
    last, err_lines = "", []
    with open(logfile, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(cmd, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, encoding="utf-8", errors="replace")
        assert proc.stdout is not None
        for line in proc.stdout:
            fh.write(line)
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
        failed = [e.get("name", "?") for e in result.get("expectations", []) if not e.get("passed")]
        raise GateClosed(
            f"{lang}: data validation failed ({', '.join(failed) or 'see report'}); stopped before vocab. "
            f"Review reports/{lang}/quality/index.html and {path.relative_to(root)}, fix the corpus or "
            f"corpora/{lang}.yaml (validate.*), then run again.")


def ensure_pretrain_limit() -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.actions import GlobalConcurrencyLimitCreate

    with get_client(sync_client=True) as client:
        try:
            client.read_global_concurrency_limit_by_name(PRETRAIN_LIMIT)
        except Exception:
            client.create_global_concurrency_limit(GlobalConcurrencyLimitCreate(name=PRETRAIN_LIMIT, limit=1))


def summary_markdown(lang: str, results: list[dict], root: Path) -> str:
    lay = Layout(root, lang)
    rows = ["| stage | ran | seconds | summary |", "|---|---|---|---|"]
    for r in results:
        s = {k: v for k, v in (r.get("summary") or {}).items() if k not in ("stage", "lang")}
        rows.append(f"| {r['stage']} | {'yes' if r['ran'] else 'no (up to date)'} | {r['seconds']} | "
                    f"{json.dumps(s, default=str)[:200] if s else ''} |")
    parts = [f"# ELECTRA Foundry run: {lang}", "", *rows, ""]
    if lay.scorecard.is_file():
        parts += ["## Scorecard", "", lay.scorecard.read_text(encoding="utf-8")]
    return "\n".join(parts)


@flow(name="foundry-language", flow_run_name="foundry-{lang}", log_prints=True)
def language_flow(lang: str, root: str) -> list[dict]:
    """Run every stage of one language in order; DVC skips what is up to date."""
    ensure_pretrain_limit()
    rootp = Path(root)
    results = []
    for stage in STAGES:
        results.append(run_stage(root, lang, stage))
        if stage == "validate":
            gate(rootp, lang)
    (rootp / "logs" / lang).mkdir(parents=True, exist_ok=True)
    (rootp / "logs" / lang / "last_run.json").write_text(json.dumps(results, indent=1, default=str))
    create_markdown_artifact(key=f"foundry-run-{lang.lower()}", markdown=summary_markdown(lang, results, rootp),
                             description=f"ELECTRA Foundry run for {lang}")
    return results


@task(task_run_name="language-{lang}")
def _language_task(lang: str, root: str) -> list[dict]:
    return language_flow(lang, root)


@flow(name="foundry-languages", log_prints=True, task_runner=ThreadPoolTaskRunner(max_workers=2))
def languages_flow(langs: list[str], root: str) -> dict[str, object]:
    """Several languages in parallel (bounded by the task runner's workers); pre-training one at a time.

    Use ``languages_flow.with_options(task_runner=ThreadPoolTaskRunner(max_workers=N))`` to change
    the bound (``foundry run --parallel N`` does).
    """
    ensure_pretrain_limit()
    futures = {lang: _language_task.submit(lang, root) for lang in langs}
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
