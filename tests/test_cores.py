"""A stage's share of the cores (``FOUNDRY_CORES``, set by the flow when several languages run at once): the
clean stage's worker processes, evaluate's fine-tuning processes and torch's threads follow it; a bad value is
a one-line error naming the variable. (Pre-training's threads in the real stage: test_pretrain_stage.)"""
from __future__ import annotations

import pytest
import torch

from model.device import cpu_threads
from pipeline import cores
from pipeline.cleaning.executor import workers_for
from pipeline.config import load_language
from pipeline.errors import StageError
from pipeline.evaluation.jobs import default_workers
from tests.conftest import REPO


@pytest.fixture
def no_share(monkeypatch):
    monkeypatch.delenv(cores.ENV, raising=False)
    monkeypatch.delenv("FOUNDRY_CLEAN_WORKERS", raising=False)
    return monkeypatch


def test_the_share_is_read_and_checked(no_share):
    assert cores.share() is None and cores.available() == cores.machine() >= 1
    no_share.setenv(cores.ENV, " 3 ")
    assert cores.share() == cores.available() == 3
    for bad in ("0", "-1", "two", "1.5"):
        no_share.setenv(cores.ENV, bad)
        with pytest.raises(StageError, match=f"FOUNDRY_CORES={bad!r}"):
            cores.available()


def test_clean_and_evaluate_processes_follow_the_share(no_share):
    cfg = load_language("demo", REPO)
    assert cfg.clean.workers == 0   # the shipped default: every core the stage may use
    assert workers_for(cfg) == cores.machine() and default_workers(1) == cores.machine()
    no_share.setenv(cores.ENV, "5")
    assert workers_for(cfg) == 5
    assert default_workers(1) == 5 and default_workers(2) == 2 and default_workers(8) == 1
    no_share.setenv("FOUNDRY_CLEAN_WORKERS", "3")   # the user's own setting wins
    assert workers_for(cfg) == 3
    no_share.delenv("FOUNDRY_CLEAN_WORKERS")
    pinned = cfg.model_copy(update={"clean": cfg.clean.model_copy(update={"workers": 2})})
    assert workers_for(pinned) == 2                 # and so does a pinned clean.workers


def test_torch_threads_follow_the_share_and_are_restored(no_share):
    old = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        with cpu_threads(cores.share()):             # no share: untouched
            assert torch.get_num_threads() == 2
        no_share.setenv(cores.ENV, "1")
        with cpu_threads(cores.share()):
            assert torch.get_num_threads() == 1
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(old)
