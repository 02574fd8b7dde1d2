"""`foundry new-language` on a language the project has no config for, from raw text only.

The real case: 1000 Vietnamese web sentences, one per line, no blank lines between documents
(../shared/data/langid/lingua_sentences/vi.txt). The scaffold must size its defaults to that (documents
grouped from consecutive lines, a vocabulary the corpus supports, a CPU-sized pre-training budget), and
every stage must then run on it: clean, validate (passes), vocab, shard, pretrain (a few steps here) and
evaluate, which has no labelled task and says so in the scorecard.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline.config import load_language, resolve_sources
from pipeline.scaffold import (DOC_CHARS_NO_BOUNDARIES, VOCAB_MAX, VOCAB_MIN, new_language, profile_sources,
                               sized_defaults)
from tests.conftest import REPO, require_shared
from tests.test_flow import _env, foundry, ran_stages


def _project(tmp: Path, data_root: Path) -> Path:
    proj = tmp / "proj"
    proj.mkdir()
    for name in ("pipeline", "model", "flows"):
        shutil.copytree(REPO / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", proj / "dvc.yaml")
    (proj / "corpora").mkdir()
    (proj / "params.yaml").write_text(f"data_root: {data_root}\nlanguages:\n")
    return proj


def _run(proj: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "FOUNDRY_PROJECT": str(proj)}
    return subprocess.run([sys.executable, "-m", *args], cwd=proj, env=env, capture_output=True, text=True,
                          timeout=300)


def test_profile_tells_sentence_per_line_from_documents(tmp_path):
    lines = tmp_path / "lines.txt"
    lines.write_text("".join(f"Sentence number {i} of a file without blank lines.\n" for i in range(400)))
    docs = tmp_path / "docs.txt"
    docs.write_text("".join(f"Document {i}, first line.\nDocument {i}, second line.\n\n" for i in range(400)))
    p, d = profile_sources([lines]), profile_sources([docs])
    assert p.lines == 400 and p.blocks == 1 and not p.has_document_boundaries
    assert d.lines == 800 and d.blocks == 400 and d.has_document_boundaries
    # how long a document may be no longer lays out documents (that is sources[].documents: test_onboarding)
    assert sized_defaults(p)["max_chars"] == sized_defaults(d)["max_chars"] == 100000
    # vocabulary and budget follow the amount of text
    small = sized_defaults(p)
    assert small["vocab_size"] == VOCAB_MIN and small["steps"] == 1200 and small["small"]
    big = sized_defaults(type(p)(files=1, chars=50_000_000, lines=10**6, blocks=10**5))
    assert big["vocab_size"] == VOCAB_MAX and big["steps"] == 4000
    assert sized_defaults(None)["vocab_size"] == 8000  # nothing to read: the large-corpus defaults


def test_scaffold_thai_is_spaceless_and_paths_stay_under_the_data_root(tmp_path):
    shared = require_shared("langid", "lingua_sentences", "th.txt").parents[2]
    proj = _project(tmp_path, shared)
    new_language(proj, "th", sources=[str(shared / "langid/lingua_sentences/th.txt")])
    cfg = load_language("th", proj)
    assert cfg.name == "Thai" and cfg.script == "Thai" and cfg.clean.min_chars == 30
    assert cfg.sources[0].path == "langid/lingua_sentences/th.txt"   # relative to the data root
    assert cfg.sources[0].documents.group_chars == DOC_CHARS_NO_BOUNDARIES and cfg.clean.max_chars == 100000
    assert VOCAB_MIN <= cfg.vocab.size <= 2000 and cfg.pretrain.steps == 1200 and cfg.pretrain.batch_size == 16
    params = yaml.safe_load((proj / "params.yaml").read_text())
    assert params["languages"]["th"]["raw"] == f"{shared}/langid/lingua_sentences/th.txt"
    assert [p.name for _, p in resolve_sources(cfg, proj)] == ["th.txt"]



def test_scaffold_says_when_lid176_has_no_label_for_the_language(tmp_path):
    """Hausa is in the scaffold's tables but not among lid.176's 176 labels: the config says how its documents
    are judged then (script share) and how to check the language itself; a language lid.176 knows gets no note."""
    from pipeline.config import parse_language
    from pipeline.scaffold import render

    ha = render("ha")
    (tmp_path / "ha.yaml").write_text(ha, encoding="utf-8")
    assert "lid.176 has no label 'ha'" in ha and "90% of its letters are Latn" in ha and "model_label" in ha
    assert parse_language(tmp_path / "ha.yaml", strict=True).clean.lid.label is None   # a comment: still valid
    assert "has no label" not in render("sw") and "has no label" not in render("yo")



def test_new_language_takes_lid176s_label_for_an_iso639_3_code(tmp_path):
    """`swa` (Swahili as MasakhaNER names it) is no lid.176 label, but lid.176 labels the sources' documents
    `sw`: new-language accepts that label and says why, so the clean stage keeps them (without it, the fallback
    drops the ~40% lid.176 is sure are "another language", sw). A mix of five languages gets no label (no
    label covers 80%) and the comment on the fallback."""
    shared = require_shared("small", "text", "sw", "flores200_devtest.txt").parents[3]
    proj = _project(tmp_path, shared)
    cfg_path = new_language(proj, "swa", sources=[str(shared / "small" / "text" / "sw" / "flores200_devtest.txt")],
                            script="Latn")
    text = cfg_path.read_text(encoding="utf-8")
    assert load_language("swa", proj).clean.lid.label == "sw"
    assert re.search(r"lid.176 has no label 'swa'; it labels \d+ of \d+ documents sampled across the sources' "
                     r"files 'sw'", text), text
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for lang in ("en", "de", "fi", "tr", "sw"):
        lines = (shared / "small" / "text" / lang / "flores200_devtest.txt").read_text(encoding="utf-8").splitlines()
        (mixed / f"{lang}.txt").write_text("\n\n".join([ln for ln in lines if ln.strip()][:40]) + "\n", encoding="utf-8")
    text = new_language(proj, "hau", sources=[str(mixed)], dry_run=True)
    lid = text.split("  lid:")[1].split("validate:")[0]
    assert not re.search(r"^    label:", lid, re.M) and "lid.176 has no label 'hau': a document is kept" in lid, lid
    # a folder whose first file (by name) is another language: the sample spans the files, so the label is the
    # one of most of them (the first 200 documents would all have been English)
    led = tmp_path / "led"
    led.mkdir()
    en = [ln for ln in (shared / "small" / "text" / "en" / "sample.txt").read_text(encoding="utf-8").splitlines()
          if len(ln) > 40][:300]
    (led / "a_intro_en.txt").write_text("\n\n".join(en) + "\n", encoding="utf-8")
    sw = [ln for ln in (shared / "small" / "text" / "sw" / "flores200_devtest.txt").read_text(encoding="utf-8")
          .splitlines() if ln.strip()]
    docs = [" ".join(sw[i:i + 5]) for i in range(0, 990, 5)]     # 198 documents of five sentences
    for i in range(9):
        (led / f"b_{i}.txt").write_text("\n\n".join(docs[i * 22:(i + 1) * 22]) + "\n", encoding="utf-8")
    text = new_language(proj, "swa", sources=[str(led)], dry_run=True)
    lid = text.split("  lid:")[1].split("validate:")[0]
    assert re.search(r"^    label: sw$", lid, re.M), lid
    assert "#   a_intro_en.txt (the first of 10 files classified alike): 300 non-empty lines" in text, text[:1500]


def test_new_language_tasks_from_files(tmp_path):
    """`--task NAME=TRAIN[,DEV]`: the format and type are read from the files (MasakhaNER CoNLL -> tagging, GLUE
    MRPC -> pair classification, STS-B exported as CSV -> regression, UD CoNLL-U -> tagging, SST-2 rows as
    Parquet -> classification), each entry is loaded by the evaluation's loader and commented with what it read,
    and the written config is valid. A spec that is no NAME=FILE, or a file it cannot read, is one line."""
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.config import ConfigError
    from pipeline.taskdata.tasks import load_task

    shared = require_shared("small", "glue", "STS-B", "dev.tsv").parents[3]
    small = shared / "small"
    proj = _project(tmp_path, shared)
    rows = [ln.split("\t") for ln in (small / "glue" / "STS-B" / "dev.tsv").read_text(encoding="utf-8").splitlines()]
    head = rows[0]
    with open(tmp_path / "sts.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([["sentence1", "sentence2", "score"],
                                 *([r[head.index("sentence1")], r[head.index("sentence2")], r[head.index("score")]]
                                   for r in rows[1:])])
    sst = [ln.split("\t") for ln in (small / "glue" / "SST-2" / "dev.tsv").read_text(encoding="utf-8").splitlines()[1:]]
    pq.write_table(pa.table({"sentence": [r[0] for r in sst], "label": [int(r[1]) for r in sst]}), tmp_path / "sst.parquet")
    import datasets

    feats = datasets.Features({"sentence": datasets.Value("string"),
                               "label": datasets.ClassLabel(names=["negative", "positive"])})
    datasets.DatasetDict({split: datasets.Dataset.from_dict({"sentence": [r[0] for r in part],
                                                             "label": [int(r[1]) for r in part]}, features=feats)
                          for split, part in (("train", sst[:600]), ("validation", sst[600:]))}
                         ).save_to_disk(str(tmp_path / "sst_hf"))
    ner = Path("small") / "ner" / "masakhaner2" / "swa"     # relative: found under the data root
    imst = sorted((small / "ud" / "UD_Turkish-IMST").glob("*.conllu"))[0]
    specs = [f"ner={ner / 'test.txt'},{ner / 'dev.txt'}", f"mrpc={small / 'glue' / 'MRPC' / 'dev.tsv'}",
             f"sts={tmp_path / 'sts.csv'}", f"upos={imst}", f"sst={tmp_path / 'sst.parquet'}",
             f"wikiann={small / 'ner' / 'wikiann' / 'de' / 'test.conllu'}", f"sst_hf={tmp_path / 'sst_hf'}"]
    path = new_language(proj, "swa", sources=[str(small / "text" / "sw" / "flores200_devtest.txt")],
                        task_specs=specs)
    cfg = load_language("swa", proj)
    got = {t.name: (t.format, t.type) for t in cfg.evaluate.tasks}
    assert got == {"ner": ("conll", "tagging"), "mrpc": ("glue", "pair_classification"), "sts": ("csv", "regression"),
                   "upos": ("conllu", "tagging"), "sst": ("parquet", "classification"),
                   "wikiann": ("conll", "tagging"),     # WikiANN's .conllu files are CoNLL NER
                   "sst_hf": ("hf", "classification")}, got
    assert cfg.evaluate.epochs == 10      # the shipped CPU recipe, and its training cap
    assert {t.name: t.max_train_examples for t in cfg.evaluate.tasks}["ner"] == 1000
    hf = next(t for t in cfg.evaluate.tasks if t.name == "sst_hf")
    assert (hf.train_split, hf.dev_split) == ("train", "validation")
    assert "# sst_hf: hf, classification: 600 training and 272 scored examples, 2 labels (negative, positive)" in \
        path.read_text(encoding="utf-8")
    text = path.read_text(encoding="utf-8")
    assert re.search(r"# ner: conll, tagging: 1,883 training and 942 scored examples, \d+ labels", text), text
    assert "# sts: csv, regression: 1,200 training and 300 scored examples (a seeded 20% of the training" in text
    assert next(t for t in cfg.evaluate.tasks if t.name == "ner").dev == "small/ner/masakhaner2/swa/dev.txt"
    with pytest.raises(ConfigError, match=r"--task x: nowhere/a.tsv: no such file or folder \(looked in .* and the data"):
        new_language(proj, "yo", sources=[str(small / "text" / "sw" / "flores200_devtest.txt")],
                     task_specs=["x=nowhere/a.tsv"], dry_run=True)
    for t in cfg.evaluate.tasks:      # what the evaluate stage will read
        assert len(load_task(t, proj).train) > 100
    with pytest.raises(ConfigError, match="expected NAME=TRAIN or NAME=TRAIN,DEV"):
        new_language(proj, "yo", sources=[str(small / "text" / "sw" / "flores200_devtest.txt")], task_specs=["ner"],
                     dry_run=True)
    (tmp_path / "bad.jsonl").write_text('{"text": "a", "label": 1}\n{"text": broken\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--task bad \(jsonl, classification\): .*bad.jsonl:2: invalid JSON"):
        new_language(proj, "yo", sources=[str(small / "text" / "sw" / "flores200_devtest.txt")],
                     task_specs=[f"bad={tmp_path / 'bad.jsonl'}"], dry_run=True)
    (tmp_path / "odd.tsv").write_text("a\tb\nx\ty\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"--task odd \(tsv, classification\): .*odd.tsv:1: cannot tell which column"):
        new_language(proj, "yo", sources=[str(small / "text" / "sw" / "flores200_devtest.txt")],
                     task_specs=[f"odd={tmp_path / 'odd.tsv'}"], dry_run=True)


def test_language_tables_name_every_code_and_give_known_scripts():
    """Every code with a default script has an English name, every ISO 639-3 code maps to a named ISO 639-1 one,
    and every default script is one the clean stage can measure; a smaller language (Faroese as FLORES-200 names
    it) is named, not left as its code."""
    from pipeline.config import is_script
    from pipeline.onboard.languages import ISO_639_3, LANGUAGE_NAMES, LANGUAGE_SCRIPTS, language_name, language_script

    assert set(LANGUAGE_SCRIPTS) <= set(LANGUAGE_NAMES)
    assert set(ISO_639_3.values()) <= set(LANGUAGE_NAMES)
    assert all(is_script(s) for s in LANGUAGE_SCRIPTS.values())
    assert (language_name("fao"), language_script("fao")) == ("Faroese", "Latn")
    assert (language_name("tat"), language_script("tat")) == ("Tatar", "Cyrl")
    assert language_name("xq") == "xq" and language_script("xq") is None


def test_iso639_3_codes_and_scripts_read_from_the_text(tmp_path):
    """`kor` (ISO 639-3, as FLORES-200 names Korean) is Korean in Hangul; a code in no table (a new language's
    private code) gets its script from its sources' text, said in a comment — Hangul, Thai, Georgian, Tamil,
    Hebrew, Greek from the shared sentences — and a config that is valid; text in no one script is an error that
    asks for --script."""
    from pipeline.config import ConfigError, parse_language
    from pipeline.onboard.languages import script_of_text

    shared = require_shared("langid", "lingua_sentences", "th.txt").parents[2]
    proj = _project(tmp_path, shared)
    text = new_language(proj, "kor", sources=[str(shared / "small" / "text" / "ko" / "flores200_devtest.txt")],
                        dry_run=True)
    assert "name: Korean" in text and re.search(r"^script: Hang ", text, re.M) and "script read" not in text
    lingua = shared / "langid" / "lingua_sentences"
    for lang, script in (("ko", "Hang"), ("th", "Thai"), ("ka", "Geor"), ("ta", "Taml"), ("he", "Hebr"),
                         ("el", "Grek"), ("zh", "Hani"), ("ja", "Jpan")):
        path = new_language(proj, f"x{lang}", sources=[str(lingua / f"{lang}.txt")])
        text = path.read_text(encoding="utf-8")
        assert re.search(rf"^# script read from the sources' text \(\d+% of the letters of \d+ sampled documents; "
                         rf"no default for 'x{lang}'\): check it\nscript: {script} ", text, re.M), (lang, text[:800])
        assert parse_language(path, strict=True).script == script
    mixed = [ln for lang in ("en", "ru", "ar") for ln in (lingua / f"{lang}.txt").read_text(encoding="utf-8")
             .splitlines()[:60]]
    assert script_of_text(mixed)[0] is None and script_of_text(mixed)[1] < 0.5
    (tmp_path / "mixed.txt").write_text("\n\n".join(mixed) + "\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"no default script known for language 'xq', and no script holds half the "
                                          r"letters of its sources \(at most \d+%\); pass --script"):
        new_language(proj, "xq", sources=[str(tmp_path / "mixed.txt")], dry_run=True)


def test_card_comments_stay_in_one_column_for_any_code():
    """The commented `card:` block's notes start in one column whatever the code's length (sw, swa, zh-Hant)."""
    from pipeline.scaffold import render

    for code in ("sw", "swa", "zh-Hant"):
        block = render(code).split("# card:")[1].split("\n#     -")[0].splitlines()[1:]
        cols = {ln.index("  # ") for ln in block if "  # " in ln}
        assert len(cols) == 1 and len(block) >= 4, (code, block)


def test_scaffold_for_scripts_outside_the_table(tmp_path):
    """Telugu, Burmese, ... get their script from the code, and the spaceless ones (Burmese, Khmer, Lao,
    Tibetan) get Thai's character-based length threshold; any Unicode script code is accepted by --script."""
    from pipeline.config import parse_language
    from pipeline.scaffold import render

    for code, script, name, min_chars in (("te", "Telu", "Telugu", 100), ("my", "Mymr", "Burmese", 30),
                                          ("km", "Khmr", "Khmer", 30)):
        (tmp_path / f"{code}.yaml").write_text(render(code), encoding="utf-8")
        cfg = parse_language(tmp_path / f"{code}.yaml", strict=True)
        assert (cfg.script, cfg.name, cfg.clean.min_chars) == (script, name, min_chars)
    from pipeline.scaffold import Choices

    (tmp_path / "zgh.yaml").write_text(render("zgh", Choices(script="Tfng")), encoding="utf-8")   # Tamazight
    assert parse_language(tmp_path / "zgh.yaml", strict=True).script == "Tfng"
    with pytest.raises(Exception, match="unknown script 'Tifinagh'"):
        render("zgh", Choices(script="Tifinagh"))

def test_new_language_vi_end_to_end_from_raw_text(tmp_path):
    """The README walk-through as a user runs it: new-language, a first `foundry run` that stops at the
    review gate with the review's headline, `foundry approve`, then the rest (--until / --from)."""
    src = require_shared("langid", "lingua_sentences", "vi.txt")
    proj = _project(tmp_path, src.parents[2])

    r = _run(proj, "flows.cli", "new-language", "vi", "--source", str(src))
    assert r.returncode == 0, r.stderr
    assert "stops after validate" in r.stdout and "foundry approve vi" in r.stdout
    cfg = load_language("vi", proj)
    assert cfg.name == "Vietnamese" and cfg.script == "Latn" and cfg.evaluate.tasks == []
    assert cfg.sources[0].documents.group_chars == DOC_CHARS_NO_BOUNDARIES and cfg.vocab.size == 1500
    assert cfg.review.policy == "required"                              # the gate is on by default
    assert "vi" in yaml.safe_load((proj / "params.yaml").read_text())["languages"]

    # a few pre-training steps are enough to check that the stages fit together
    text = (proj / "corpora/vi.yaml").read_text()
    (proj / "corpora/vi.yaml").write_text(text.replace("steps: 1200", "steps: 3").replace(
        "checkpoint_every: 400", "checkpoint_every: 3"))
    _git_dvc(proj)

    # the first run stops after validate and says what to review and how to decide
    r = foundry(proj, "run", "vi")
    assert r.returncode == 2, r.stdout[-3000:] + r.stderr[-3000:]
    assert ran_stages(r.stdout) == set()          # the stage list is printed only for finished runs
    head = r.stdout[r.stdout.index("Review needed"):]
    assert re.search(r"documents: \d+ kept of \d+", head) and "language ID: reliable" in head, head
    assert "validation: passed" in head and "reports/vi/quality/review.html" in head
    assert 'foundry approve vi --comment "..."' in head and 'foundry reject vi --reason "..."' in head
    assert "stopped before vocab" in r.stderr and not (proj / "models/vi/tokenizer").exists()
    # waiting for a review is no error: no ERROR record, no `error:` line, the gate message once (in the headline)
    out = r.stdout + r.stderr
    assert "| ERROR" not in out and "error:" not in out and "stopped at the data-review gate" in out, out[-3000:]
    assert out.count("review required") == 0 and "exit status 2" in r.stderr, out[-3000:]
    assert json.loads((proj / "data/vi/review.json").read_text())["decision"] == "pending"

    r = foundry(proj, "approve", "vi", "--comment", "read the samples")
    assert r.returncode == 0 and "continues from here" in r.stdout, r.stdout + r.stderr
    r = foundry(proj, "run", "vi", "--until", "shard")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert ran_stages(r.stdout) == {"vocab", "shard"} and "pretrain  not run (--until shard)" in r.stdout
    assert "Review: approved by" in r.stdout and "Summary for vi" not in r.stdout

    # --from leaves earlier stages out, and says so when one of them is stale
    (proj / "corpora/vi.yaml").write_text((proj / "corpora/vi.yaml").read_text().replace("mostly: 0.99",
                                                                                          "mostly: 0.98"))
    r = foundry(proj, "run", "vi", "--from", "pretrain")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert ran_stages(r.stdout) == {"pretrain", "evaluate", "publish"}
    assert re.search(r"validate +not run \(--from pretrain\); STALE", r.stdout), r.stdout
    assert re.search(r"clean +not run \(--from pretrain\)\n", r.stdout), r.stdout
    assert "Summary for vi:" in r.stdout and "no evaluation task configured" in r.stdout
    # nothing requested is stale: said at once, without starting Prefect
    t0 = time.time()
    r = foundry(proj, "run", "vi", "--from", "vocab")
    assert r.returncode == 0 and "Nothing to do" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    assert ran_stages(r.stdout) == set() and "validate  not run (--from vocab); STALE" in r.stdout
    assert time.time() - t0 < 20, time.time() - t0      # ~2 s; loose for a shared machine

    stats = json.loads((proj / "data/vi/clean/stats.json").read_text())
    assert stats["documents_out"] >= 50, stats["dropped"]            # ~63 documents of <= 2000 characters
    validation = json.loads((proj / "data/vi/validation.json").read_text())
    assert validation["passed"] is True, validation.get("failed")
    decision = json.loads((proj / "data/vi/review.json").read_text())
    assert decision["decision"] == "approved" and decision["comment"] == "read the samples"
    assert json.loads((proj / "models/vi/tokenizer/vocab_stats.json").read_text())["vocab_size"] == 1500
    splits = json.loads((proj / "data/vi/shards/index.json").read_text())["splits"]
    assert splits["train"]["examples"] > 200 and splits["validation"]["examples"] > 0
    assert (proj / "models/vi/electra/config.json").is_file()
    assert json.loads((proj / "metrics/vi/eval.json").read_text())["tasks"] == {}
    assert "No evaluation tasks are configured" in (proj / "reports/vi/scorecard.md").read_text()


def _git_dvc(proj: Path) -> None:
    """What `foundry run` needs around the project: git and DVC."""
    (proj / ".gitignore").write_text("/logs/\n/checkpoints/\n/.prefect/\n__pycache__/\n")
    env = _env(proj)
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=proj, check=True, env=env)
