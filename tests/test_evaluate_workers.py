"""The evaluate stage's fine-tuning workers do not outlive it: a stage killed on its own (SIGKILL, or a SIGTERM to
its pid alone, as a scheduler or a user's `kill` sends) takes its worker processes with it within seconds,
instead of leaving each to finish the fine-tuning run it holds."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.procs import kill_alone, parent_of, reaped

# Two real fine-tuning jobs (a random-init ELECTRA of a few hundred parameters, real torch training) sized to
# run for minutes, through the stage's own process pool.
_SCRIPT = textwrap.dedent("""
    import random, sys
    from pipeline.evaluation.jobs import Job, _parallel

    rng = random.Random(0)
    def ex():
        n = rng.randint(8, 24)
        return {"input_ids": [2] + [rng.randint(5, 63) for _ in range(n)] + [3], "token_type_ids": [0] * (n + 2),
                "label": rng.randint(0, 1)}
    arch = {"model_type": "electra", "vocab_size": 64, "embedding_size": 16, "hidden_size": 16,
            "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "max_position_embeddings": 32}
    train, dev = [ex() for _ in range(64)], [ex() for _ in range(8)]
    jobs = [Job(0, "random_init", s, None, arch, "classification", 2, train, dev,
                {"learning_rate": 1e-3, "epochs": 100000, "batch_size": 8, "threads": 1, "device": "cpu"}, "t")
            for s in range(2)]
    if __name__ == "__main__":
        print("started", flush=True)
        _parallel(jobs, workers=2)
""")


def _spawned_children(pid: int) -> set[int]:
    """The processes multiprocessing spawned from ``pid`` (its pool's workers; not its resource tracker)."""
    out = set()
    for child, parent in parent_of().items():
        try:  # a process may end between the listing and the read
            if parent == pid and b"spawn_main" in (Path("/proc") / str(child) / "cmdline").read_bytes():
                out.add(child)
        except OSError:
            pass
    return out


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process parents from /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_fine_tuning_workers_exit_with_a_killed_stage(tmp_path, sig):
    script = tmp_path / "stage.py"
    script.write_text(_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    stage = subprocess.Popen([sys.executable, str(script)], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True, start_new_session=True)
    with reaped(stage):
        assert stage.stdout.readline().strip() == "started"
        deadline = time.monotonic() + 120
        workers: set[int] = set()
        while time.monotonic() < deadline:
            workers = _spawned_children(stage.pid)
            if len(workers) == 2:
                break
            time.sleep(0.2)
        assert len(workers) == 2, "the pool did not start two workers"
        time.sleep(2)  # both are inside their fine-tuning runs (minutes long)
        left = kill_alone(stage, sig, workers)
        assert not left, f"fine-tuning workers {left} outlived their stage ({sig.name})"
