"""End to end: the whole flow for a real language in a temporary git + DVC repo under Prefect's local
server. Checks the artifact layout, that the artifacts load, that a second run does nothing, and that a
changed knob re-runs exactly the stages that depend on it."""
from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO, require_shared

pytestmark = pytest.mark.slow

STAGES = ["clean", "validate", "vocab", "shard", "pretrain", "evaluate", "publish"]

TR_CONFIG = """\
language: tr
name: Turkish
script: Latn
sources:
  - path: small/text/tr/*.txt
clean:
  min_chars: 100
  lid: {min_score: 0.5}
validate:
  min_documents: 20
  mostly: 0.99
review: {}
vocab:
  size: 1500
shard:
  max_seq_length: 64
model:
  size: tiny
pretrain:
  steps: 40
  batch_size: 16
  warmup_steps: 4
  log_every: 5
  checkpoint_every: 20
  eval_batches: 2
evaluate:
  seeds: 1
  tasks:
    - name: upos
      type: tagging
      format: conllu
      train: small/ud/UD_Turkish-IMST/tr_imst-ud-dev.conllu
      dev: small/ud/UD_Turkish-IMST/tr_imst-ud-test.conllu
      max_train_examples: 150
      max_eval_examples: 100
      epochs: 1
      max_length: 64
"""


def make_project(tmp: Path, shared: Path, lang: str, config: str, raw: str, eval_path: str) -> Path:
    proj = tmp / "proj"
    proj.mkdir()
    for name in ("pipeline", "model", "flows"):
        shutil.copytree(REPO / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", proj / "dvc.yaml")
    (proj / "corpora").mkdir()
    (proj / "corpora" / f"{lang}.yaml").write_text(config, encoding="utf-8")
    (proj / "params.yaml").write_text(yaml.safe_dump({
        "data_root": str(shared),
        "languages": {lang: {"raw": str(shared / raw), "eval": [str(shared / eval_path)] * 4}},
    }))
    (proj / ".gitignore").write_text("/logs/\n/checkpoints/\n/.prefect/\n__pycache__/\n")
    env = _env(proj)
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=proj, check=True, env=env)
    return proj


def _env(proj: Path) -> dict:
    return {**os.environ, "FOUNDRY_PROJECT": str(proj), "PREFECT_HOME": str(proj / ".prefect"),
            "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
            "GIT_COMMITTER_EMAIL": "t@t"}


def foundry(proj: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=proj, env=_env(proj),
                          capture_output=True, text=True, timeout=900)


def prefect_artifacts(proj: Path) -> dict[str, tuple[str, str]]:
    """Latest artifact per key in the run's Prefect database (the ephemeral server's SQLite file)."""
    import sqlite3
    con = sqlite3.connect(proj / ".prefect" / "prefect.db")
    try:
        rows = con.execute("SELECT key, type, data FROM artifact WHERE key IS NOT NULL ORDER BY created").fetchall()
    finally:
        con.close()
    return {k: (t, d) for k, t, d in rows}


def ran_stages(out: str) -> set[str]:
    return set(re.findall(r"^\s+(\w+)\s+ran \(", out, flags=re.M))


def test_flow_end_to_end_noop_and_partial_reruns(tmp_path):
    require_shared("small")
    shared = require_shared()
    proj = make_project(tmp_path, shared, "tr", TR_CONFIG, "small/text/tr", "small/ud/UD_Turkish-IMST")

    r = foundry(proj, "run", "tr")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert ran_stages(r.stdout) == set(STAGES)

    # every artifact of the layout exists and loads
    from transformers import AutoModel, AutoTokenizer
    import json
    import pyarrow.parquet as pq

    clean = sorted((proj / "data/tr/clean").glob("*.parquet"))
    assert clean and pq.read_table(clean[0]).column_names[:2] == ["id", "text"]
    stats = json.loads((proj / "data/tr/clean/stats.json").read_text())
    assert stats["documents_in"] == stats["documents_out"] + sum(stats["dropped"].values())
    assert json.loads((proj / "data/tr/validation.json").read_text())["passed"] is True
    assert (proj / "reports/tr/quality/index.html").is_file()
    tok = AutoTokenizer.from_pretrained(proj / "models/tr/tokenizer")
    enc = tok("Merhaba dünya", "İkinci cümle")
    assert enc["input_ids"][0] == tok.cls_token_id and "token_type_ids" in enc
    assert json.loads((proj / "data/tr/shards/index.json").read_text())["splits"]["train"]["examples"] > 0
    from model.backbones import load_discriminator
    model = load_discriminator(proj / "models/tr/electra")  # tiny: a ConvBERT encoder + its RTD head
    assert type(model).__name__ == "ConvBertForPreTraining"
    assert type(AutoModel.from_pretrained(proj / "models/tr/electra")).__name__ == "ConvBertModel"
    assert (proj / "models/tr/electra/generator/config.json").is_file()
    assert (proj / "models/tr/electra/README.md").is_file()
    AutoTokenizer.from_pretrained(proj / "models/tr/electra")
    assert json.loads((proj / "metrics/tr/pretrain.json").read_text())["val_disc_loss"] > 0
    ev = json.loads((proj / "metrics/tr/eval.json").read_text())
    assert "upos" in ev["tasks"]
    assert "upos" in (proj / "reports/tr/scorecard.md").read_text()
    # the flow published its Prefect artifacts: the run summary and the scorecard as a table
    arts = prefect_artifacts(proj)
    assert arts.get("foundry-run-tr", ("",))[0] == "markdown", arts
    # ... and the end-of-run summary, in the terminal and in that artifact: pretrained vs random init per task
    median = lambda k: f"{100 * ev['tasks']['upos'][k]['median']:.1f}"  # noqa: E731
    iv = ev["tasks"]["upos"]["delta_interval"]
    span = f"[{100 * iv['low']:+.1f}, {100 * iv['high']:+.1f}]"
    assert re.search(rf"\n  upos +{median('pretrained')} +{median('random_init')} +[+-]\d+\.\d +{re.escape(span)} ",
                     r.stdout), r.stdout
    assert "Summary for tr:" in r.stdout and "## Pre-trained vs random init" in arts["foundry-run-tr"][1]
    assert f"| upos | token_accuracy | {median('pretrained')} | {median('random_init')} |" in arts["foundry-run-tr"][1]
    kind, data = arts["scorecard-tr"]
    rows = json.loads(data)
    rows = json.loads(rows) if isinstance(rows, str) else rows  # Prefect stores the table JSON-encoded
    assert kind == "table" and [r["task"] for r in rows] == ["upos", "average"], rows
    assert rows[0]["pretrained"] == round(100 * ev["tasks"]["upos"]["pretrained"]["median"], 1)
    assert rows[0]["95% interval"] == span

    # DVC recorded every stage; status is clean
    st = foundry(proj, "status", "tr")
    assert st.returncode == 0 and st.stdout.count("up to date") == len(STAGES), st.stdout

    # a second run executes no stage
    r = foundry(proj, "run", "tr")
    assert r.returncode == 0, r.stderr[-3000:]
    assert ran_stages(r.stdout) == set()
    assert r.stdout.count("skipped (up to date)") == len(STAGES)
    assert "Nothing to do" in r.stdout          # answered from DVC, without starting Prefect

    # changing the vocab size re-runs vocab, shard, pretrain, evaluate, publish — not clean or validate
    cfg = proj / "corpora/tr.yaml"
    cfg.write_text(cfg.read_text().replace("size: 1500", "size: 1200"))
    r = foundry(proj, "run", "tr")
    assert r.returncode == 0, r.stderr[-3000:]
    assert ran_stages(r.stdout) == {"vocab", "shard", "pretrain", "evaluate", "publish"}

    # changing only an evaluation setting re-runs only evaluate (and publish, whose card holds the new scores)
    cfg.write_text(cfg.read_text().replace("epochs: 1", "epochs: 2"))
    r = foundry(proj, "run", "tr")
    assert r.returncode == 0, r.stderr[-3000:]
    assert ran_stages(r.stdout) == {"evaluate", "publish"}

    # a failed validation stops the flow before vocab, with a clear message
    cfg.write_text(cfg.read_text().replace("min_documents: 20", "min_documents: 100000"))
    r = foundry(proj, "run", "tr")
    assert r.returncode == 2
    assert "data validation failed" in r.stderr and "stopped before vocab" in r.stderr
    assert "Traceback" not in r.stderr.split("error:")[-1]
    assert json.loads((proj / "data/tr/validation.json").read_text())["passed"] is False


SW_CONFIG = TR_CONFIG.replace("language: tr", "language: sw").replace("name: Turkish", "name: Swahili") \
    .replace("small/text/tr/*.txt", "small/text/sw/*.txt").replace("min_score: 0.5", "min_score: 0.2") \
    .replace("""    - name: upos
      type: tagging
      format: conllu
      train: small/ud/UD_Turkish-IMST/tr_imst-ud-dev.conllu
      dev: small/ud/UD_Turkish-IMST/tr_imst-ud-test.conllu""", """    - name: ner
      type: tagging
      format: conll
      train: small/ner/masakhaner2/swa/test.txt
      dev: small/ner/masakhaner2/swa/dev.txt""")


def test_languages_in_parallel_pretrain_one_at_a_time(tmp_path):
    require_shared("small")
    shared = require_shared()
    proj = make_project(tmp_path, shared, "tr", TR_CONFIG, "small/text/tr", "small/ud/UD_Turkish-IMST")
    (proj / "corpora/sw.yaml").write_text(SW_CONFIG)
    params = yaml.safe_load((proj / "params.yaml").read_text())
    params["languages"]["sw"] = {"raw": str(shared / "small/text/sw"), "eval": [str(shared / "small/ner/masakhaner2/swa")] * 4}
    (proj / "params.yaml").write_text(yaml.safe_dump(params))

    r = foundry(proj, "run", "--all", "--parallel", "2")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    import json
    runs = {lang: {s["stage"]: s for s in json.loads((proj / f"logs/{lang}/last_run.json").read_text())}
            for lang in ("tr", "sw")}
    assert all(s["ran"] for lang in runs for s in runs[lang].values())
    a, b = runs["tr"]["pretrain"], runs["sw"]["pretrain"]
    assert a["ended"] <= b["started"] or b["ended"] <= a["started"], "pre-training overlapped"
    # the data stages of the two languages did run side by side
    assert runs["tr"]["clean"]["started"] < runs["sw"]["shard"]["ended"]
    assert runs["sw"]["clean"]["started"] < runs["tr"]["shard"]["ended"]
    assert (proj / "reports/sw/scorecard.md").is_file() and (proj / "reports/tr/scorecard.md").is_file()
