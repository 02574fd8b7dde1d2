"""Progress of the long stages (issue 13, item 3): a tqdm bar with an ETA on a terminal (run under a
pseudo-terminal here), and a bounded number of plain lines when the output is not a terminal (a pipe, as
under `foundry run` and in CI) however long the stage runs — counted on real clean, pretrain and evaluate
runs."""
from __future__ import annotations

import fcntl
import io
import json
import os
import pty
import re
import select
import shutil
import subprocess
import struct
import sys
import termios
from pathlib import Path

import pytest
import yaml

from pipeline.progress import Progress, ProgressSettings
from tests.conftest import REPO
from tests.test_evaluate import _project as _eval_project, _upos, data_root, tiny_electra  # noqa: F401
from tests.test_model import write_shards, write_tokenizer

PRETRAIN_CONFIG = """\
language: xx
script: Latn
sources:
  - path: raw/*.txt
    root: project
clean: {}
validate: {}
review: {}
vocab: {size: 100}
shard: {}
model:
  size: tiny
  overrides: {num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 1, intermediate_size: 64,
              embedding_size: 32}
pretrain:
  steps: 80
  batch_size: 8
  warmup_steps: 2
  log_every: 2
  checkpoint_every: 1000
  eval_batches: 1
  device: cpu
evaluate: {}
"""
PROGRESS_LINE = re.compile(r"^(clean|pretrain|evaluate)\b.*: \S+/\S+ \(\d+%\), .*ETA ", re.M)


def _env(proj: Path, **extra: str) -> dict:
    env = {**os.environ, "FOUNDRY_PROJECT": str(proj), "OMP_NUM_THREADS": "1", "FOUNDRY_CLEAN_WORKERS": "1",
           **extra}
    for k in ("FOUNDRY_PROGRESS", "FOUNDRY_PROGRESS_LINES", "FOUNDRY_PROGRESS_SECONDS"):
        if k not in extra:
            env.pop(k, None)
    return env


def _piped(proj: Path, *args: str, **extra: str) -> str:
    r = subprocess.run([sys.executable, "-m", "pipeline", *args], cwd=proj, env=_env(proj, **extra),
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    return r.stderr


def _in_pty(proj: Path, *args: str, size: tuple[int, int] = (30, 120)) -> str:
    """Run ``python -m pipeline ARGS`` with its standard streams on a pseudo-terminal of ``size`` (rows,
    columns; (0, 0) as `script` gives); everything it wrote."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", size[0], size[1], 0, 0))
    proc = subprocess.Popen([sys.executable, "-m", "pipeline", *args], cwd=proj, env=_env(proj),
                            stdin=slave, stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    out = bytearray()
    try:
        while True:
            ready, _, _ = select.select([master], [], [], 600)
            if not ready:
                break
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            out += chunk
    finally:
        os.close(master)
        rc = proc.wait(timeout=60)
    text = out.decode("utf-8", errors="replace")
    assert rc == 0, text[-3000:]
    return text


# --- the mechanism ---------------------------------------------------------------------------------------

def test_a_million_updates_write_at_most_the_bound():
    out = io.StringIO()
    with Progress("pretrain xx", 1_000_000, unit="step", stream=out,
                  settings=ProgressSettings("lines", lines=25, seconds=0)) as p:
        for i in range(1_000_000):
            p.update(1, auc="0.700") if i % 1000 == 0 else p.update(1)
    lines = out.getvalue().splitlines()
    assert 20 <= len(lines) <= 25, lines
    assert lines[0].startswith("pretrain xx: 0/1000000 (0%)")
    assert lines[-1].startswith("pretrain xx: 1000000/1000000 (100%)") and "ETA 00:00" in lines[-1]
    assert all(PROGRESS_LINE.match(ln) and "auc 0.700" in ln for ln in lines[1:]), lines[:3]


def test_lines_are_spaced_in_time_too():
    out = io.StringIO()
    with Progress("clean xx", 1000, stream=out, settings=ProgressSettings("lines", lines=100, seconds=3600)) as p:
        for _ in range(1000):
            p.update(1)
    assert len(out.getvalue().splitlines()) == 2   # the start and the end: nothing was due for an hour


def test_off_and_bad_mode(monkeypatch):
    out = io.StringIO()
    with Progress("x", 10, stream=out, settings=ProgressSettings("off")) as p:
        p.update(10)
    assert out.getvalue() == ""
    monkeypatch.setenv("FOUNDRY_PROGRESS", "fancy")
    with pytest.raises(ValueError, match="FOUNDRY_PROGRESS='fancy'"):
        ProgressSettings.from_env()


# --- real stages -----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pretrain_project(tmp_path_factory) -> Path:
    """A project with upstream artifacts in place (synthetic shards) for `python -m pipeline pretrain xx`."""
    proj = tmp_path_factory.mktemp("progress") / "proj"
    proj.mkdir()
    (proj / "corpora").mkdir()
    (proj / "corpora" / "xx.yaml").write_text(PRETRAIN_CONFIG)
    (proj / "raw").mkdir()
    (proj / "raw" / "a.txt").write_text("some raw text\n")
    (proj / "params.yaml").write_text(yaml.safe_dump({"languages": {"xx": {"raw": "raw", "eval": ["raw"] * 4}}}))
    (proj / "data" / "xx").mkdir(parents=True)
    (proj / "data" / "xx" / "validation.json").write_text(json.dumps({"passed": True}))
    write_shards(proj / "data" / "xx" / "shards", n_train=160, n_val=16)
    write_tokenizer(proj / "models" / "xx" / "tokenizer")
    return proj


def test_pretrain_without_a_terminal_writes_bounded_lines(pretrain_project):
    shutil.rmtree(pretrain_project / "checkpoints", ignore_errors=True)
    err = _piped(pretrain_project, "pretrain", "xx", FOUNDRY_PROGRESS_LINES="8", FOUNDRY_PROGRESS_SECONDS="0")
    lines = [ln for ln in err.splitlines() if PROGRESS_LINE.match(ln)]
    # 80 steps, 40 logging windows: 8 lines at most, and no line per window from model/
    assert 4 <= len(lines) <= 8, err[-3000:]
    assert not re.search(r"\[pretrain\] step \d+/", err), err[-2000:]
    assert lines[0].startswith("pretrain xx: 0/80 (0%)") and "ETA ?" in lines[0], lines
    assert lines[-1].startswith("pretrain xx: 80/80 (100%)") and "step/s" in lines[-1]
    assert re.search(r"tok/s \d+, loss \d+\.\d+, auc \d\.\d{3}, rec \d\.\d{3}", lines[-1]), lines[-1]
    assert "\r" not in err


@pytest.mark.parametrize("size", [(30, 120), (0, 0)], ids=["sized", "unsized"])
def test_pretrain_on_a_terminal_draws_a_bar_with_an_eta(pretrain_project, size):
    shutil.rmtree(pretrain_project / "checkpoints", ignore_errors=True)
    out = _in_pty(pretrain_project, "pretrain", "xx", size=size)
    assert "\r" in out                                     # a bar redrawn in place
    bars = re.findall(r"pretrain xx:\s+\d+%\|.*?\| \d+/80 \[[\d:]+, ETA [\d:?]+, [\d.?]+ ?step/s", out)
    assert bars, out[-2000:]
    assert "100%|" in out and " 80/80 [" in out


def test_clean_without_a_terminal_counts_bytes_and_documents(tmp_path):
    proj = tmp_path / "proj"
    (proj / "corpora").mkdir(parents=True)
    shutil.copytree(REPO / "corpora" / "demo" / "text", proj / "corpora" / "demo" / "text")
    cfg = yaml.safe_load((REPO / "corpora" / "demo.yaml").read_text())
    cfg["clean"]["task_bytes"] = 40_000           # about ten work units of the demo's ~400 KB
    (proj / "corpora" / "demo.yaml").write_text(yaml.safe_dump(cfg))
    (proj / "params.yaml").write_text(yaml.safe_dump({"languages": {"demo": {"raw": "corpora/demo/text",
                                                                             "eval": ["corpora/demo/text"] * 4}}}))
    err = _piped(proj, "clean", "demo", FOUNDRY_PROGRESS_LINES="5", FOUNDRY_PROGRESS_SECONDS="0")
    lines = [ln for ln in err.splitlines() if PROGRESS_LINE.match(ln)]
    assert 3 <= len(lines) <= 5 and all(ln.startswith("clean demo: ") for ln in lines), err[-3000:]
    assert all("B/s" in ln for ln in lines[1:]), lines
    docs_in = json.loads((proj / "data" / "demo" / "clean" / "stats.json").read_text())
    last = lines[-1]
    assert "(100%)" in last and re.search(r"documents (\d+)$", last), last
    assert int(re.search(r"documents (\d+)$", last).group(1)) > 20, (last, docs_in.get("documents"))


def test_evaluate_counts_runs_and_names_the_task(tiny_electra, data_root, tmp_path, monkeypatch, capsys):  # noqa: F811
    from pipeline.evaluation.cli import cli_evaluate

    proj = _eval_project(tmp_path, tiny_electra)
    monkeypatch.setenv("FOUNDRY_PROJECT", str(proj))
    monkeypatch.setenv("FOUNDRY_PROGRESS_LINES", "4")
    monkeypatch.setenv("FOUNDRY_PROGRESS_SECONDS", "0")
    monkeypatch.delenv("FOUNDRY_PROGRESS", raising=False)
    monkeypatch.chdir(proj)
    assert cli_evaluate(["tr", "--model", str(tiny_electra), "--task", "upos", "--seeds", "3",
                         "--workers", "1"]) == 0
    err = capsys.readouterr().err
    lines = [ln for ln in err.splitlines() if PROGRESS_LINE.match(ln)]
    # 1 task x (pre-trained, random init) x 3 seeds = 6 runs, at most 4 lines
    assert 3 <= len(lines) <= 4 and all(ln.startswith("evaluate: ") for ln in lines), err[-2000:]
    assert lines[-1].startswith("evaluate: 6/6 (100%)") and re.search(r"last upos \w+ seed \d$", lines[-1])
