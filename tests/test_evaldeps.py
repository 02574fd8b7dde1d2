"""The evaluate stage's DVC data dependencies (params.yaml `eval`) cover every file each language's
evaluation tasks read, so DVC re-runs evaluate@LANG when any of them changes; dvc.yaml and
`foundry new-language` agree with that layout."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest
import yaml

from pipeline.evaluation import datadeps
from pipeline.config import ConfigError, languages, load_language
from tests.conftest import REPO


@pytest.fixture(autouse=True)
def _params_data_root(monkeypatch):
    # resolve task files the way the shipped params.yaml declares them (its data_root), whatever
    # FOUNDRY_DATA_ROOT this shell points at
    monkeypatch.delenv("FOUNDRY_DATA_ROOT", raising=False)


@pytest.mark.parametrize("lang", languages(REPO))
def test_every_task_file_is_under_a_declared_eval_dep(lang):
    declared = datadeps.declared(REPO, lang)
    assert len(declared) == datadeps.EVAL_SLOTS
    files = datadeps.task_files(REPO, lang)
    assert len(files) >= len(load_language(lang, REPO).evaluate.tasks)
    assert datadeps.uncovered(REPO, lang) == [], (
        f"params.yaml languages.{lang}.eval {declared} misses task files")


def test_multi_folder_languages_declare_each_folder():
    """The languages whose tasks span several datasets watch each of them (not only the first)."""
    for lang, needed in {"en": ["glue", "ud/UD_English-EWT", "xnli/en"],
                         "sw": ["xnli/sw", "ner/masakhaner2/swa", "classification/masakhanews/swa"],
                         "de": ["ud/UD_German-GSD", "ner/wikiann/de"], "ru": ["ud/UD_Russian-GSD", "ner/wikiann/ru"],
                         "zh": ["ud/UD_Chinese-GSD", "xnli/zh"], "ko": ["ud/UD_Korean-GSD", "xnli/ko"]}.items():
        declared = {os.path.normpath(p) for p in datadeps.declared(REPO, lang)}
        for n in needed:
            assert os.path.normpath(f"../shared/data/{n}") in declared, (lang, n)


def test_uncovered_names_the_task(tmp_path):
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora/demo.yaml").write_text((REPO / "corpora/demo.yaml").read_text(encoding="utf-8"))
    params = {"languages": {"demo": {"raw": "corpora/demo/text", "eval": ["corpora/demo/text"] * 4}}}
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    missing = datadeps.uncovered(tmp_path, "demo")
    assert [w for w, _ in missing] == ["evaluate.tasks[0] (topic).train", "evaluate.tasks[0] (topic).dev"]
    assert missing[0][1] == "corpora/demo/task/train.tsv"
    params["languages"]["demo"]["eval"] = ["corpora/demo/task/train.tsv", "corpora/demo/task/dev.tsv",
                                           "corpora/demo/task/dev.tsv", "corpora/demo/task/dev.tsv"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    assert datadeps.uncovered(tmp_path, "demo") == []  # files work as well as folders
    params["languages"]["demo"]["eval"] = "corpora/demo/task"  # the old single-string form
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    with pytest.raises(ConfigError, match="list of exactly 4 paths"):
        datadeps.declared(tmp_path, "demo")


def test_pad():
    assert datadeps.pad(["a"]) == ["a"] * 4
    assert datadeps.pad(["a", "b", "a"]) == ["a", "b", "b", "b"]
    with pytest.raises(ConfigError):
        datadeps.pad(["a", "b", "c", "d", "e"])


def test_dvc_yaml_uses_every_slot():
    do = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]["evaluate"]["do"]
    assert [d for d in do["deps"] if "item.eval" in d] == [f"${{item.eval.{i}}}" for i in range(datadeps.EVAL_SLOTS)]
    # the card with the scores is publish's (models/<lang>/hub); eval.json a metrics file declared as an out
    assert do["outs"] == ["reports/${key}/scorecard.md", "metrics/${key}/eval.json", "metrics/${key}/predictions.json"]


def test_new_language_registers_slots(tmp_path):
    from pipeline.scaffold import new_language, register

    (tmp_path / "params.yaml").write_text("data_root: ../shared/data\nlanguages:\n  demo:\n    raw: r\n"
                                          "    eval: [e, e, e, e]\n")
    new_language(tmp_path, "yo")
    assert datadeps.declared(tmp_path, "yo") == ["../shared/data/text/yo"] * 4
    register(tmp_path, "ha", raw="../shared/data/text/ha", eval_path=["../shared/data/ner/x", "../shared/data/xnli/ha"])
    assert datadeps.declared(tmp_path, "ha") == ["../shared/data/ner/x"] + ["../shared/data/xnli/ha"] * 3
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["languages"]["demo"]["eval"] == ["e"] * 4
    tasks = [{"name": "ner", "type": "tagging", "format": "conll", "train": "ner/x/train.txt", "dev": "ner/x/dev.txt"},
             {"name": "nli", "type": "pair_classification", "format": "xnli", "train": "xnli/zu/dev.tsv",
              "dev": "xnli/zu/test.tsv"}]
    new_language(tmp_path, "zu", tasks=tasks)
    assert datadeps.uncovered(tmp_path, "zu") == []
    assert datadeps.declared(tmp_path, "zu")[:2] == ["../shared/data/ner/x", "../shared/data/xnli/zu"]


def test_dvc_parses_the_slots():
    """DVC 3 renders the four slots for every language (and would reject a list in one dep)."""
    r = subprocess.run([sys.executable, "-m", "dvc", "stage", "list", "--name-only"], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert {f"evaluate@{lang}" for lang in languages(REPO)} <= set(r.stdout.split())
