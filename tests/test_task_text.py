"""A `format: tasks` source: the evaluation tasks' training text in the corpus, never a scored example."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from pipeline.config import ConfigError, load_language
from pipeline.taskdata.tasks import load_task
from pipeline.readers import iter_file, source_files, source_sha256
from pipeline.readers.tasks import GROUP_CHARS
from pipeline.stages import clean as clean_stage
from tests.test_clean import read_clean

TASKS = [
    {"name": "CoLA", "type": "classification", "format": "glue", "train": "small/glue/CoLA/train.tsv",
     "dev": "small/glue/CoLA/dev.tsv", "max_train_examples": 100, "max_eval_examples": 50},
    {"name": "RTE", "type": "pair_classification", "format": "glue", "train": "small/glue/RTE/train.tsv",
     "dev": "small/glue/RTE/dev.tsv", "max_train_examples": 100},
    # one file: a seeded 30% is scored, the rest trained on
    {"name": "STS-B", "type": "regression", "format": "glue", "train": "small/glue/STS-B/train.tsv",
     "dev_fraction": 0.3, "split_seed": 0},
]


def project(tmp: Path, shared: Path, sources: list[dict], tasks: list[dict] = TASKS) -> Path:
    (tmp / "corpora").mkdir(parents=True, exist_ok=True)
    (tmp / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {"en": {}}}))
    cfg = {"language": "en", "script": "Latn", "sources": sources, "clean": {"min_chars": 50},
           "evaluate": {"tasks": tasks}}
    (tmp / "corpora" / "en.yaml").write_text(yaml.safe_dump(cfg))
    return tmp


def texts(ex) -> list[str]:
    return [" ".join(ex.tokens)] if ex.tokens else [x for x in (ex.text_a, ex.text_b) if x]


def tasks_source(root: Path):
    (sf,) = [f for f in source_files(load_language("en", root), root) if f.source.format == "tasks"]
    return sf


def test_training_text_in_scored_text_out(tmp_path, shared):
    root = project(tmp_path, shared, [{"format": "tasks", "path": "*"}])
    sf = tasks_source(root)
    docs = list(iter_file(sf, 100000))
    lines = [ln for d in docs for ln in d.text.split("\n")]
    datas = {t["name"]: load_task({**t, "max_train_examples": None, "max_eval_examples": None}, root)
             for t in TASKS}
    scored = {x for d in datas.values() for ex in d.dev for x in texts(ex)}
    trained = [x for d in datas.values() for ex in d.train[: d.train_available] for x in texts(ex)]
    # every training text (all of the split, not only the 100 a cap trains on) once, no scored text
    assert not set(lines) & scored
    assert set(lines) == set(trained) - scored and len(lines) == len(set(lines))
    assert len(datas["STS-B"].dev) == 600
    # documents of at most GROUP_CHARS characters, as a text source's group_chars: each as full as the next
    # line allows (the last may be shorter)
    assert all(len(d.text) <= GROUP_CHARS for d in docs)
    assert all(len(d.text) + 1 + len(n.text.split("\n")[0]) > GROUP_CHARS for d, n in zip(docs, docs[1:]))
    # the counts add up: every training text is kept, or left out as scored or repeated
    from pipeline.readers.tasks import task_lines
    counts = task_lines(sf)[1]
    assert list(counts) == ["CoLA", "RTE", "STS-B"]
    assert sum(c["lines"] for c in counts.values()) == len(lines)
    assert sum(c["lines"] + c["left_out_scored"] + c["left_out_repeated"] for c in counts.values()) == len(trained)
    assert counts["STS-B"]["trained_on"] == "small/glue/STS-B/train.tsv (70%, split_seed 0)"
    assert counts["STS-B"]["left_out_scored"] > 0    # STS-B repeats sentences across its pairs


def test_a_glob_names_tasks_and_the_hash_follows_the_split(tmp_path, shared):
    root = project(tmp_path / "a", shared, [{"format": "tasks", "path": "ST*"}])
    sf = tasks_source(root)
    lines = [ln for d in iter_file(sf, 100000) for ln in d.text.split("\n")]
    from pipeline.readers.tasks import task_lines
    assert list(task_lines(sf)[1]) == ["STS-B"] and lines
    other = [dict(t, split_seed=1) if t["name"] == "STS-B" else t for t in TASKS]
    longer = [dict(t, epochs=7) for t in TASKS]
    assert source_sha256(tasks_source(project(tmp_path / "b", shared, [{"format": "tasks", "path": "ST*"}], other))) \
        != source_sha256(sf)
    # a fine-tuning knob changes nothing the corpus reads: the same hash (the evaluate stage's check passes)
    assert source_sha256(tasks_source(project(tmp_path / "c", shared, [{"format": "tasks", "path": "ST*"}], longer))) \
        == source_sha256(sf)


def test_config_errors(tmp_path, shared):
    root = project(tmp_path, shared, [{"format": "tasks", "path": "QNLI"}])
    with pytest.raises(ConfigError, match=r"sources\[0\]\.path 'QNLI' \(format tasks\) names no task of "
                                          r"evaluate\.tasks \(tasks: CoLA, RTE, STS-B\)"):
        source_files(load_language("en", root), root)
    root = project(tmp_path / "b", shared, [{"format": "tasks", "path": "*", "documents": "line"}])
    with pytest.raises(ConfigError, match="group_chars"):
        load_language("en", root)


def test_clean_stage_counts_the_task_text(tmp_path, shared):
    src = "small/text/en/flores200_devtest.txt"
    root = project(tmp_path, shared, [{"path": src}, {"format": "tasks", "path": "*", "documents": {"group_chars": 800}}])
    clean_stage.run("en", root)
    table, stats = read_clean(root, "en")
    entry = stats["sources"][1]
    assert entry["path"] == "tasks:*" and entry["format"] == "tasks" and entry["documents_out"] > 0
    assert entry["sha256"] == source_sha256(tasks_source(root))
    assert set(entry["tasks"]) == {"CoLA", "RTE", "STS-B"}
    kept = " ".join(r["text"] for r in table.to_pylist() if r["source"] == "tasks:*")
    cola_dev = load_task(TASKS[0], root).dev
    assert not any(ex.text_a in kept for ex in cola_dev if len(ex.text_a) > 40)
    first_train = load_task(TASKS[0], root).train[0].text_a
    assert first_train in kept
    # evaluate's check: the same task text passes; another split would score text the corpus may hold
    from pipeline.readers.tasks import stale
    assert stale(load_language("en", root), root, stats) is None
    cfg_path = root / "corpora/en.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["evaluate"]["tasks"][0]["epochs"] = 5
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert stale(load_language("en", root), root, stats) is None
    cfg["evaluate"]["tasks"][2]["split_seed"] = 3
    cfg_path.write_text(yaml.safe_dump(cfg))
    assert "re-clean with `dvc repro --force clean@en`" in stale(load_language("en", root), root, stats)
    # the reviewer sees, per task, what was read and what was left out
    from pipeline.stages import validate as validate_stage
    validate_stage.run("en", root)
    page = (root / "reports/en/quality/review.html").read_text(encoding="utf-8")
    assert "left out: scored" in page and "small/glue/STS-B/train.tsv (70%, split_seed 0)" in page
