"""Real concurrent `foundry run` processes on the demo language (issue 15): one run per language at a time,
pre-training one at a time across processes, every stage run once, the same outputs, clear messages.

The trials are benchmarks/_run_safety.py's (the fault-injection benchmark runs more of them); tiny settings:
8 pre-training steps, one fine-tuning seed."""
from __future__ import annotations

import json
import re

import pytest

from benchmarks import _run_safety as rs
from pipeline.stages import STAGES

pytestmark = pytest.mark.slow


def test_concurrent_runs_repeat_nothing_and_share_no_pretraining(tmp_path):
    proj = rs.make_project(tmp_path, ("demo", "en"))   # en: demo's text and settings under another code

    # a clone where nothing has run: two `foundry run demo --wait` and a `foundry run en`, at once; while
    # demo is busy, `foundry run demo` and `python -m pipeline clean demo` (as dvc repro runs it) refuse
    res = rs.concurrent_trial(proj, ["demo", "demo", "en"], "fresh", {"demo": list(STAGES), "en": list(STAGES)})
    assert not res["problems"], json.dumps(res, indent=1)
    holder = res["holder"]
    assert re.fullmatch(r"`foundry run demo` \(PID \d+ on .+, since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d\)", holder)
    run, stage = res["refused"]
    assert run["rc"] == stage["rc"] == 2
    assert run["message"] == f"error: demo is busy: {holder} is running it; run again with --wait to wait for it"
    assert stage["message"] == f"error: clean demo: demo is busy: {holder} is running it; run again with --wait " \
                               f"to wait for it"
    demo = [r for r in res["results"] if r["lang"] == "demo"]
    assert sorted(len(r["ran"]) for r in demo) == [0, len(STAGES)]          # one ran everything, one nothing
    assert [r["waited"] for r in demo if not r["ran"]] == [True]            # ... after waiting, and said so
    assert len(res["pretrain_spans"]) == 2 and res["pretrain_overlaps"] == 0
    assert rs.differing_outputs(proj, "demo", "en") == []                   # same text, same settings, same bytes
    assert len(list((proj / "checkpoints" / "demo").glob("[0-9a-f]*"))) == 1

    # the pre-training slot holds across processes without Prefect: the pretrain stage of both languages
    # at once, as `dvc repro` runs it; one trains, the other waits for the machine's one CPU slot and says so
    for lang in ("demo", "en"):
        rs.set_steps(proj, lang, rs.PRETRAIN_STEPS + 2)
    res = rs.slot_trial(proj, ["demo", "en"])
    assert not res["problems"], json.dumps(res, indent=1)
    (waiting,) = [r["waiting"] for r in res["results"] if r["waiting"]]
    assert re.fullmatch(r"pretrain (demo|en): waiting for a pre-training slot on cpu \(1 in use: `pretrain (demo|en) "
                        rf"in {re.escape(str(proj.resolve()))}` \(PID \d+ on .+, since .+\)\)", waiting), waiting
    assert rs.differing_outputs(proj, "demo", "en") == []
