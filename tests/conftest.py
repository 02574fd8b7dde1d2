"""Shared test setup: quiet, offline tools; a per-run PREFECT_HOME; the shared data location."""
from __future__ import annotations

import atexit
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("FOUNDRY_DATA_ROOT", REPO.parent / "shared" / "data")).resolve()

os.environ.update({
    "DVC_NO_ANALYTICS": "1",
    "GX_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "180",
    "HF_HUB_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
})
# one Prefect home (database, ephemeral server) per run, and per worker under pytest-xdist: the workers inherit
# the controller's environment, and two ephemeral servers must not share one SQLite file. Removed at exit (5 MB a
# run): registered before Prefect is imported, so it runs after Prefect's own exit handler stops the server
if os.environ.get("PYTEST_XDIST_WORKER") or "PREFECT_HOME" not in os.environ:
    os.environ["PREFECT_HOME"] = tempfile.mkdtemp(prefix="foundry-prefect-")
    atexit.register(shutil.rmtree, os.environ["PREFECT_HOME"], ignore_errors=True)
# pre-training slots are the machine's (~/.cache/electra-foundry/slots): one folder per run and per worker, so
# the tests neither wait for a user's pre-training nor leave files in their home; the workers' pre-trainings
# still run side by side, as before
if os.environ.get("PYTEST_XDIST_WORKER") or "FOUNDRY_SLOT_DIR" not in os.environ:
    os.environ["FOUNDRY_SLOT_DIR"] = tempfile.mkdtemp(prefix="foundry-slots-")
    atexit.register(shutil.rmtree, os.environ["FOUNDRY_SLOT_DIR"], ignore_errors=True)


def require_shared(*parts: str) -> Path:
    """Path under the shared data; skip with a reason when absent (fail instead when CI=true)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        msg = f"shared data not found at {path} (set FOUNDRY_DATA_ROOT)"
        if os.environ.get("CI") == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture
def shared() -> Path:
    return require_shared()


# The test files that take longest (seconds in CI's `make test`, two workers, 2026-12-07: the sum of their tests'
# setup + call + teardown), run first: with `--dist loadfile` a file runs whole on one worker, and a long file
# started last leaves the other worker idle (pytest-xdist's own reorder, off in the Makefile, starts the files
# with the most tests first, which put the 525 s UPOS pre-training test at the end). Other files keep their order.
LONGEST_FIRST = ("test_evaluate_pretraining.py",   # 525
                 "test_joint.py",                  # 503
                 "test_flow.py",                   # 492
                 "test_bad_inputs.py",             # 311
                 "test_review.py",                 # 304
                 "test_new_language.py",           # 227
                 "test_gpu_paths.py",              # 207
                 "test_concurrent_runs.py",        # 194
                 "test_clean_robust.py")           # 160


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))    # stable: a file's tests stay together


def pytest_sessionfinish(session):
    """Stop an ephemeral Prefect server that a test started in this process while pytest's output is still open:
    left to Prefect's exit handlers, its 'Stopping temporary server' line goes to a closed stream and prints a
    logging traceback ('ValueError: I/O operation on closed file') at the end of a green run. The logs still
    queued for the server go first; the stop itself is not logged."""
    server = sys.modules.get("prefect.server.api.server")
    if server is None or not any(s.running for s in server.SubprocessASGIServer._instances.values()):
        return
    from prefect.logging.handlers import APILogWorker
    APILogWorker.drain_all(timeout=5)
    logger = server.subprocess_server_logger
    level = logger.level
    logger.setLevel(logging.WARNING)
    try:
        for instance in list(server.SubprocessASGIServer._instances.values()):
            instance.stop()
    finally:
        logger.setLevel(level)
