"""Fault injection (benchmarks/fault_injection.py, same code): SIGKILL a stage at a random moment under
`dvc repro`, then no output a later stage reads is half-written, `dvc status` does not call the stage up to
date, and a rerun completes with the outputs of an uninterrupted run and no temp leftovers.

The full run (20 trials per stage) is `python -m benchmarks.fault_injection`; its results are in
docs/reliability.md. Here: one trial each for clean, vocab, shard and pretrain on the tiny demo settings, and
the completeness checks on hand-made half-written outputs."""
from __future__ import annotations

import json

import pytest

from benchmarks import fault_injection as fi


def _parquet(path):
    import pyarrow as pa
    import pyarrow.parquet as pq
    pq.write_table(pa.table({"input_ids": [[2, 5, 3]]}), path)


def test_half_written_outputs_are_not_complete(tmp_path):
    shards = tmp_path / "data/demo/shards"
    shards.mkdir(parents=True)
    spec = fi.spec_for("data/demo/shards")
    assert spec.consumed and not spec.complete(shards)          # no index.json yet
    _parquet(shards / "train-00000.parquet")
    (shards / "index.json").write_text(json.dumps({"splits": {"train": {"files": ["train-00000.parquet",
                                                                                    "train-00001.parquet"]}}}))
    assert not spec.complete(shards)                              # index names a file that is not there
    (shards / "train-00001.parquet").write_bytes(b"PAR1 truncated")
    assert not spec.complete(shards)                              # or one cut short
    _parquet(shards / "train-00001.parquet")
    assert spec.complete(shards)
    digest = fi.content_digest(shards, spec)
    # a leftover temp sibling is neither the output nor part of it
    (tmp_path / "data/demo/.shards.abcd1234.tmp").mkdir()
    assert fi.content_digest(shards, spec) == digest
    assert fi.temp_siblings(tmp_path, ["data/demo/shards"]) == ["data/demo/.shards.abcd1234.tmp"]
    assert fi.classify(digest, "x", digest) == "new" and fi.classify(digest, digest, "y") == "previous"
    assert fi.classify("absent", "x", "y") == "absent" and fi.classify("zzz", "x", "y") == "other"

    electra = tmp_path / "electra"
    (electra / "generator").mkdir(parents=True)
    for d in (electra, electra / "generator"):
        (d / "config.json").write_text("{}")
        (d / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}")  # header cut short
    (electra / "tokenizer.json").write_text("{}")
    assert not fi.spec_for("models/demo/electra").complete(electra)

    # what a kill inside DVC's file-by-file deletion of the previous output leaves: fewer files, each unchanged
    before = fi.file_digests(electra)
    (electra / "generator" / "config.json").unlink()
    assert fi.partly_removed(fi.file_digests(electra), before)
    (electra / "config.json").write_text('{"changed": 1}')
    assert not fi.partly_removed(fi.file_digests(electra), before)      # a file differs: half-written, not removed
    assert not fi.partly_removed(before, before)                        # nothing removed


def test_timing_keys_are_left_out_of_digests():
    a = {"tasks": {"topic": {"seconds": 1.5, "accuracy": 0.9, "runs": [{"seconds": 2, "steps": 3}]}}, "seconds": 9}
    b = json.loads(json.dumps(a).replace("1.5", "7.5").replace(": 9", ": 1"))
    assert fi._strip_timing(a) == fi._strip_timing(b)
    assert fi._strip_timing(a)["tasks"]["topic"] == {"accuracy": 0.9, "runs": [{"steps": 3}]}


@pytest.mark.slow
def test_kill_9_each_stage_then_rerun(tmp_path):
    logs: list[str] = []
    results = fi.run_suite(tmp_path, ["clean", "vocab", "shard", "pretrain"], trials=1, seed=7, log=logs.append)
    assert [r.stage for r in results] == ["clean", "vocab", "shard", "pretrain"]
    failures = [f for r in results for f in r.failures]
    assert not failures, "\n".join(failures + logs)
    for r in results:
        s = r.summary()
        assert s["trials"] == 1 and s["rerun_ok"] == 1, logs
        (t,) = r.trials
        assert 0 <= t["kill_at"] <= r.duration_s
        # outputs a later stage reads: absent, previous or new after the kill, never half-written
        assert set(t["states"].values()) <= {"absent", "previous", "new", "complete", "incomplete", "other",
                                             "partly_removed"}
        for out, state in t["states"].items():
            if fi.spec_for(out).consumed and state == "partly_removed":   # DVC's deletion, and DVC says so
                assert t["phase"] == "dvc" and t["dvc_changed"] is True, (out, t, logs)
            elif fi.spec_for(out).consumed:
                assert state in ("absent", "previous", "new"), (out, state, logs)

