"""Scale-out wiring, cheaply: CPU shares for parallel languages, stage retries with backoff (never for
user errors), flow-run names, the task runners (threads, Dask), `foundry run --dask`, `foundry serve`,
and the complete model card's rendering."""
from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

import flows.cli as cli
import flows.language as fl
from tests.conftest import REPO


# --- CPU shares --------------------------------------------------------------------------------------

def test_cpu_share_divides_cores():
    assert fl.cpu_share(1, cores=16) == 16
    assert fl.cpu_share(3, cores=16) == 5
    assert fl.cpu_share(4, cores=2) == 1  # never zero
    assert fl.cpu_share(0, cores=8) == 8


def test_stage_env_gives_each_language_its_share_of_the_cores(monkeypatch):
    # what each stage does with the share (clean's and evaluate's processes, pre-training's threads): test_cores
    monkeypatch.delenv("FOUNDRY_CORES", raising=False)
    monkeypatch.setattr(fl, "cpu_share", lambda n, cores=None: 16 // n)
    assert "FOUNDRY_CORES" not in fl.stage_env(1)  # alone: every core
    assert fl.stage_env(2)["FOUNDRY_CORES"] == "8"
    assert fl.stage_env(4)["FOUNDRY_CORES"] == "4"
    monkeypatch.setenv("FOUNDRY_CORES", "3")  # the user's setting wins
    assert fl.stage_env(4)["FOUNDRY_CORES"] == "3"


# --- retries -------------------------------------------------------------------------------------------

class _State:
    def __init__(self, exc):
        self.exc = exc

    def result(self):
        raise self.exc


def test_stage_retries_back_off_and_skip_user_errors():
    assert fl.run_stage.retries == fl.STAGE_RETRIES >= 2
    delays = fl.run_stage.retry_delay_seconds
    assert len(delays) == fl.STAGE_RETRIES and all(b > a for a, b in zip(delays, delays[1:]))  # exponential
    assert fl.run_stage.retry_jitter_factor
    assert fl._transient(None, None, _State(RuntimeError("killed by signal 9"))) is True
    assert fl._transient(None, None, _State(fl.StageInputError("corpora/xx.yaml: bad key"))) is False


def test_user_error_is_not_retried_transient_is(tmp_path, monkeypatch):
    """run_stage through Prefect: exit status 2 fails at once; another failure is retried."""
    from prefect import flow

    calls = []

    def fake_run(root, stage, lang, logfile, log, concurrent=1):
        calls.append(stage)
        return (2, "", "error: corpora/xx.yaml: bad") if stage == "bad" else \
            ((1, "", "boom") if len(calls) == 1 else (0, '{"stage": "ok"}', ""))

    monkeypatch.setattr(fl, "_run", fake_run)
    monkeypatch.setattr(fl.dvcops, "stale", lambda root, addrs: {a: ["changed"] for a in addrs})
    monkeypatch.setattr(fl.dvcops, "commit", lambda root, addr: None)
    quick = fl.run_stage.with_options(retry_delay_seconds=0, retry_jitter_factor=None)

    @flow
    def f(stage: str):
        return quick(str(tmp_path), "xx", stage)

    (tmp_path / ".dvc").mkdir()
    assert f("ok")["ran"] is True and calls == ["ok", "ok"]  # failed once, retried, succeeded
    calls.clear()
    with pytest.raises(fl.StageInputError, match="bad"):
        f("bad")
    assert calls == ["bad"]  # not retried


# --- names and runners -------------------------------------------------------------------------------

def test_flow_run_names_carry_the_language(monkeypatch):
    assert fl.language_flow.flow_run_name == "foundry-{lang}"
    assert fl.run_stage.task_run_name == "{stage}-{lang}"

    class RT:
        parameters = {"langs": ["en", "sw"]}

    monkeypatch.setattr(fl, "runtime_flow_run", RT)
    assert fl._languages_run_name() == "foundry-en-sw"
    RT.parameters = {"langs": [f"l{i}" for i in range(30)]}
    assert fl._languages_run_name().startswith("foundry-30-languages-l0-l1-l2-l3")


def test_task_runner_choices():
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    r = fl.task_runner(3)
    assert isinstance(r, ThreadPoolTaskRunner) and r._max_workers == 3
    r = fl.task_runner(2, dask=True, dask_workers=3)
    assert isinstance(r, DaskTaskRunner) and r.cluster_kwargs["n_workers"] == 3
    r = fl.task_runner(2, dask="tcp://10.0.0.5:8786")
    assert isinstance(r, DaskTaskRunner) and r.address == "tcp://10.0.0.5:8786"


class _FakeFlow:
    def __init__(self):
        self.calls = []

    def with_options(self, task_runner=None):
        self.runner = task_runner
        return self

    def __call__(self, langs, root, concurrent=None, wait=False, start=None, until=None):
        self.calls.append((langs, root, concurrent))
        return {lang: [] for lang in langs}

    def serve(self, **kw):
        self.served = kw


@pytest.fixture
def fake_flows(monkeypatch):
    fake = _FakeFlow()
    monkeypatch.setattr(fl, "languages_flow", fake)
    monkeypatch.setattr(fl, "language_flow", lambda lang, root, wait=False, start=None, until=None: [])
    monkeypatch.setenv("FOUNDRY_PROJECT", str(REPO))
    return fake


def test_cli_run_parallel_and_dask(fake_flows, capsys):
    from prefect.task_runners import ThreadPoolTaskRunner
    from prefect_dask import DaskTaskRunner

    assert cli.main(["run", "demo", "en", "--parallel", "3"]) == 0
    assert isinstance(fake_flows.runner, ThreadPoolTaskRunner) and fake_flows.calls[-1][2] == 3
    assert cli.main(["run", "--dask", "demo", "en"]) == 0  # a language after --dask is not an address
    assert isinstance(fake_flows.runner, DaskTaskRunner) and fake_flows.runner.address is None
    assert fake_flows.calls[-1][0] == ["demo", "en"]
    assert cli.main(["run", "demo", "--dask", "--dask-workers", "2"]) == 0  # one language on Dask too
    assert fake_flows.runner.cluster_kwargs["n_workers"] == 2 and fake_flows.calls[-1][2] == 2
    assert cli.main(["run", "demo", "--dask", "tcp://scheduler:8786"]) == 0
    assert fake_flows.runner.address == "tcp://scheduler:8786" and fake_flows.calls[-1][2] == 1
    assert cli.main(["run", "demo", "--dask-workers", "2"]) == 2
    assert "needs --dask" in capsys.readouterr().err


def test_cli_serve(fake_flows, capsys):
    assert cli.main(["serve", "demo", "--cron", "0 2 * * *", "--name", "nightly"]) == 0
    kw = fake_flows.served
    assert kw["name"] == "nightly" and kw["cron"] == "0 2 * * *"
    assert kw["parameters"] == {"langs": ["demo"], "root": str(REPO)}
    assert "nightly" in capsys.readouterr().out


def test_cli_push_pull_help():
    p = cli.build_parser()
    for cmd in ("push", "pull"):
        args = p.parse_args([cmd, "demo", "en"])
        assert args.func is cli.cmd_push_pull and args.langs == ["demo", "en"]
    assert "foundry push" in cli.__doc__ and "foundry pull" in cli.__doc__ and "--dask" in cli.__doc__


# --- Dask, for real ------------------------------------------------------------------------------------

def test_dask_local_cluster_runs_tasks_in_worker_processes():
    """The runner `foundry run --dask` builds runs Prefect tasks on a LocalCluster's worker processes."""
    from prefect import flow, task

    @task(task_run_name="probe-{x}")
    def probe(x: int) -> tuple[int, int]:
        return x * x, os.getpid()

    @flow(task_runner=fl.task_runner(2, dask=True, dask_workers=2))
    def fan_out(n: int) -> list:
        return [f.result() for f in [probe.submit(i) for i in range(n)]]

    t0 = time.time()
    out = fan_out(4)
    assert [sq for sq, _ in out] == [0, 1, 4, 9]
    assert os.getpid() not in {pid for _, pid in out}
    assert time.time() - t0 < 120


# --- the complete model card --------------------------------------------------------------------------

def test_pretrain_card_records_the_review_decision(tmp_path):
    import json

    from pipeline.layout import Layout
    from pipeline.pretrain import _md5_file, review_lineage

    lay = Layout(tmp_path, "xx")
    assert review_lineage(tmp_path, "xx", lay, {}) == {"review_decision": "none recorded"}
    p = tmp_path / "data/xx/review.json"
    p.parent.mkdir(parents=True)
    d = {"decision": "approved", "reviewer": "ana", "comment": "spot-checked", "decided_at": "2026-01-01T00:00:00Z",
         "policy": "required", "corpus": "sha256:abc", "validation_passed": True, "language": "xx"}
    p.write_text(json.dumps(d))
    out = review_lineage(tmp_path, "xx", lay, {"data/xx/review.json": _md5_file(p)})
    assert out["review_decision"]["decision"] == "approved" and out["review_decision"]["reviewer"] == "ana"
    assert out["review_decision_in_lineage"] is True
    out = review_lineage(tmp_path, "xx", lay, {"data/xx/review.json": "0" * 32})
    assert out["review_decision_in_lineage"] is False
