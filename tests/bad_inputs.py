"""The bad-input suite: every kind of bad input a user can hand the pipeline, each built in a throwaway
project and run through the CLI (``python -m pipeline STAGE LANG``, ``python -m flows.cli ...``).

Each :class:`Case` says what to build (``make``), which command to run, and what must come out: exit status 2
and a message naming the file (and line, where the input has lines), or exit status 0 with the bad input
counted by reason in ``data/<lang>/clean/stats.json`` (``skipped`` for unreadable input, ``dropped`` for
documents the filters remove). ``tests/test_bad_inputs.py`` runs them; the README's "Troubleshooting" table
is generated from ``symptom``/``cause``/``fix`` (``python -m tests.bad_inputs --markdown``).

Nothing big is committed: the 50 MB line is written at test time.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tarfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
GOOD_TEXT = REPO / "corpora" / "demo" / "text" / "part-01.txt"   # original English prose, ~56 documents
LANG = "xx"

SECTIONS = ("validate", "review", "vocab", "shard", "model", "pretrain", "evaluate")
CLEAN = "{min_chars: 100, lid: {label: en}}"
TINY_MODEL = ("{size: tiny, overrides: {num_hidden_layers: 1, hidden_size: 32, num_attention_heads: 1, "
              "intermediate_size: 64, embedding_size: 32}}")


@dataclass(frozen=True)
class Expect:
    code: int                                  # exit status
    needles: tuple[str, ...] = ()              # must appear in stderr (exit 2)
    skipped: dict[str, int] = field(default_factory=dict)   # stats.json "skipped" kind -> count (exit 0)
    dropped: dict[str, int] = field(default_factory=dict)   # stats.json "dropped" reason -> at least (exit 0)
    split: int = 0                             # stats.json split_long_document, at least
    max_rss_mb: int = 0                        # peak RSS of the stage process, at most (0: not measured)


@dataclass(frozen=True)
class Case:
    kind: str
    symptom: str          # what the user sees (a fragment of the message), for the README
    cause: str
    fix: str
    make: Callable[["Project"], list[str]]   # builds the bad input; returns the command (after `python -m`)
    expect: Expect
    slow: bool = False    # big input: run only the stage concerned


class Project:
    """A throwaway project: corpora/xx.yaml, params.yaml, raw/ (root: project) and a data root."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.raw = self.root / "raw"
        self.data = self.root / "data-root"
        self.raw.mkdir(parents=True, exist_ok=True)
        self.data.mkdir(parents=True, exist_ok=True)
        (self.root / "corpora").mkdir(parents=True, exist_ok=True)
        (self.root / "params.yaml").write_text(f"languages:\n  {LANG}: {{raw: raw, eval: raw}}\n")

    # --- building ---------------------------------------------------------------------------------
    def config(self, sources: str = "  - {path: raw/*, root: project}\n", clean: str = CLEAN,
               extra: dict[str, str] | None = None, lang: str = LANG, language: str | None = None,
               script: str = "Latn") -> Path:
        sec = {s: "{}" for s in SECTIONS}
        sec.update(vocab="{size: 1000}", model="{size: tiny}")  # dvc.yaml tracks these keys by name
        sec.update(extra or {})
        text = (f"language: {language or lang}\nscript: {script}\nsources:\n{sources}clean: {clean}\n"
                + "".join(f"{k}: {v}\n" for k, v in sec.items()))
        path = self.root / "corpora" / f"{lang}.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    def good(self, name: str = "good.txt", where: Path | None = None) -> Path:
        p = (where or self.raw) / name
        p.write_bytes(good_bytes())
        return p

    def write(self, name: str, data: bytes, where: Path | None = None) -> Path:
        p = (where or self.raw) / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        return p

    # --- running ----------------------------------------------------------------------------------
    def env(self) -> dict:
        return {**os.environ, "FOUNDRY_PROJECT": str(self.root), "FOUNDRY_DATA_ROOT": str(self.data),
                "FOUNDRY_CLEAN_WORKERS": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1",
                "PREFECT_HOME": str(self.root / ".prefect"), "HF_HUB_OFFLINE": "1",
                "TOKENIZERS_PARALLELISM": "false", "DVC_NO_ANALYTICS": "1", "GX_ANALYTICS_ENABLED": "false"}

    def run(self, argv: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", *argv], cwd=self.root, env=self.env(), capture_output=True,
                              text=True, timeout=timeout)

    def run_peak_rss(self, argv: list[str], timeout: int = 900) -> tuple[subprocess.CompletedProcess, float]:
        """Run a command in a wrapper process whose only child is the command: the wrapper's
        ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is the command's peak RSS (of it or a worker it waited for)."""
        wrapper = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
                   "print(f'peak_rss_kb={resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss}', file=sys.stderr); "
                   "sys.exit(r.returncode)")
        r = subprocess.run([sys.executable, "-c", wrapper, sys.executable, "-m", *argv], cwd=self.root, env=self.env(),
                           capture_output=True, text=True, timeout=timeout)
        kb = int(r.stderr.rsplit("peak_rss_kb=", 1)[1].split()[0])
        return r, kb / 1024

    def stats(self) -> dict:
        return json.loads((self.root / "data" / LANG / "clean" / "stats.json").read_text(encoding="utf-8"))


CLEAN_CMD = ["pipeline", "clean", LANG]
# peak RSS of the clean stage on the 100 MB line (measured: 183 MB, and 181 MB for the 24 good documents alone);
# reading the line whole would add at least 200 MB (its bytes and its decoded text) to that
LONG_LINE_RSS_MB = 300


def good_bytes(n: int = 24) -> bytes:
    """The first ``n`` documents of the demo prose (English), blank-line separated."""
    docs = GOOD_TEXT.read_text(encoding="utf-8").split("\n\n")[:n]
    return ("\n\n".join(d.strip("\n") for d in docs) + "\n").encode()


def _good_lines() -> int:
    return good_bytes().count(b"\n")


def _jsonl(texts: list[str]) -> bytes:
    return b"".join(json.dumps({"text": t}, ensure_ascii=False).encode() + b"\n" for t in texts)


def _docs(n: int = 4) -> list[str]:
    return [d.strip() for d in GOOD_TEXT.read_text(encoding="utf-8").split("\n\n") if d.strip()][:n]


# --- clean: unreadable text files -----------------------------------------------------------------

def invalid_utf8(p: Project, skip: bool = False) -> list[str]:
    p.good()
    p.write("bad.txt", "Erste Zeile ist in Ordnung und lang genug.\n\nzweite \xff Zeile\n".encode("latin-1"))
    p.config(clean="{min_chars: 100, lid: {label: en}, on_bad_input: skip}" if skip else CLEAN)
    return CLEAN_CMD


def wrong_encoding(p: Project) -> list[str]:
    p.good()
    # Windows-1252 leaves 0x81 undefined: a file that is not in the encoding its source names
    p.write("legacy.txt", "Première ligne, assez longue pour compter.\n\nla deuxième \x81 ligne\n".encode("latin-1"))
    p.config(sources="  - {path: raw/*, root: project, encoding: cp1252}\n")
    return CLEAN_CMD


def multibyte_encoding(p: Project) -> list[str]:
    p.good()
    p.config(sources="  - {path: raw/*, root: project, encoding: shift_jis}\n")
    return CLEAN_CMD


def nul_byte(p: Project) -> list[str]:
    p.good()
    body = good_bytes()                 # > 8000 bytes, so a later NUL is not taken for a binary file
    p.write("bad.txt", body + b"broken\x00line\n")
    p.config()
    return CLEAN_CMD


def binary_file(p: Project, skip: bool = False) -> list[str]:
    p.good()
    p.write("image.txt", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 4)
    p.config(clean="{min_chars: 100, lid: {label: en}, on_bad_input: skip}" if skip else CLEAN)
    return CLEAN_CMD


def utf16_file(p: Project) -> list[str]:
    p.good()
    p.write("wide.txt", good_bytes(4).decode().encode("utf-16"))
    p.config()
    return CLEAN_CMD


def truncated_gzip(p: Project) -> list[str]:
    p.good()
    gz = gzip.compress(good_bytes() * 3, mtime=0)
    p.write("part.txt.gz", gz[: len(gz) // 2])
    p.config()
    return CLEAN_CMD


def not_gzip(p: Project) -> list[str]:
    p.good()
    p.write("plain.txt.gz", b"this file is called .gz but holds plain text\n")
    p.config()
    return CLEAN_CMD


def truncated_archive(p: Project) -> list[str]:
    p.good()
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for i in range(3):
            info = tarfile.TarInfo(f"corpus/part{i}.txt")
            info.size = len(good_bytes())
            t.addfile(info, io.BytesIO(good_bytes()))
    gz = gzip.compress(raw.getvalue(), mtime=0)
    p.write("corpus.tar.gz", gz[: len(gz) // 2])
    p.config()
    return CLEAN_CMD


def archive_members_match_nothing(p: Project) -> list[str]:
    with zipfile.ZipFile(p.raw / "download.zip", "w") as z:
        z.writestr("news/articles.txt", good_bytes())
    p.config(sources="  - {path: raw/download.zip, root: project, members: '*-sentences.txt'}\n")
    return CLEAN_CMD


def empty_file(p: Project) -> list[str]:
    p.write("empty.txt", b"")
    p.config()
    return CLEAN_CMD


def whitespace_only(p: Project) -> list[str]:
    p.write("blank.txt", b"\n\n   \n\t\n\r\n")
    p.config()
    return CLEAN_CMD


def long_line_100mb(p: Project) -> list[str]:
    """A 100 MB file that is one line (a dump without line breaks). Digits and spaces: every piece is cut,
    counted and then dropped by the script filter, so the run stays short; what is measured is the reading."""
    p.good()
    with open(p.raw / "huge.txt", "wb") as f:
        chunk = ("1234567 " * (1 << 17)).encode()       # 1 MiB
        for _ in range(100):
            f.write(chunk)
        f.write(b"\n")
    p.config(clean="{min_chars: 100, max_chars: 100000, lid: {label: en}}")
    return CLEAN_CMD


# --- clean: structured sources ----------------------------------------------------------------------

def _jsonl_config(p: Project, skip: bool = False) -> None:
    p.good()
    p.config(sources="  - {path: raw/*.txt, root: project}\n  - {path: raw/*.jsonl, root: project, format: jsonl}\n",
             clean="{min_chars: 100, lid: {label: en}, on_bad_input: skip}" if skip else CLEAN)


def malformed_jsonl(p: Project, skip: bool = False) -> list[str]:
    p.write("docs.jsonl", _jsonl(_docs(2)) + b'{"text": "unterminated\n' + _jsonl(_docs(4)[2:]))
    _jsonl_config(p, skip)
    return CLEAN_CMD


def jsonl_not_object(p: Project) -> list[str]:
    p.write("docs.jsonl", _jsonl(_docs(2)) + b'["a", "list", "not", "an", "object"]\n')
    _jsonl_config(p)
    return CLEAN_CMD


def json_array_truncated(p: Project, skip: bool = False) -> list[str]:
    whole = json.dumps([{"text": t} for t in _docs(4)], ensure_ascii=False, indent=2).encode()
    p.write("docs.jsonl", whole[: whole.index(_docs(4)[2][:40].encode())])    # cut inside the third record
    _jsonl_config(p, skip)
    return CLEAN_CMD


def json_records_elsewhere(p: Project) -> list[str]:
    p.good()
    p.write("docs.json", json.dumps({"total": 4, "data": [{"text": t} for t in _docs(4)]}, ensure_ascii=False).encode())
    p.config(sources="  - {path: raw/*.txt, root: project}\n"
                     "  - {path: raw/*.json, root: project, format: jsonl, records: articles}\n", clean=CLEAN)
    return CLEAN_CMD


def jsonl_missing_field(p: Project) -> list[str]:
    p.write("docs.jsonl", _jsonl(_docs(3)) + b'{"body": "the text is under another key"}\n')
    _jsonl_config(p)
    return CLEAN_CMD


def jsonl_wrong_type(p: Project) -> list[str]:
    p.write("docs.jsonl", b'{"text": 42}\n' + _jsonl(_docs(3)))
    _jsonl_config(p)
    return CLEAN_CMD


def _parquet_config(p: Project) -> None:
    p.good()
    p.config(sources="  - {path: raw/*.txt, root: project}\n"
                     "  - {path: raw/*.parquet, root: project, format: parquet}\n")


def _parquet_bytes(table) -> bytes:
    import io

    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def parquet_garbage(p: Project) -> list[str]:
    p.write("docs.parquet", b"PAR1" + bytes(range(256)) + b"PAR1")
    _parquet_config(p)
    return CLEAN_CMD


def parquet_truncated(p: Project) -> list[str]:
    import pyarrow as pa

    data = _parquet_bytes(pa.table({"text": _docs(8)}))
    p.write("docs.parquet", data[: len(data) // 2])
    _parquet_config(p)
    return CLEAN_CMD


def parquet_no_column(p: Project) -> list[str]:
    import pyarrow as pa

    p.write("docs.parquet", _parquet_bytes(pa.table({"content": _docs(3)})))
    _parquet_config(p)
    return CLEAN_CMD


def parquet_wrong_type(p: Project) -> list[str]:
    import pyarrow as pa

    p.write("docs.parquet", _parquet_bytes(pa.table({"text": [1, 2, 3]})))
    _parquet_config(p)
    return CLEAN_CMD


def conllu_malformed(p: Project) -> list[str]:
    p.good()
    p.write("ud.conllu", b"# newdoc id = a\n# text = The ferry runs every hour between the two banks of the river.\n"
                         b"1\tThe\t_\t_\t_\t_\t_\t_\t_\t_\n"
                         b"this line is not a token line\n\n")
    p.config(sources="  - {path: raw/*.txt, root: project}\n  - {path: raw/*.conllu, root: project, format: conllu}\n")
    return CLEAN_CMD


# --- onboarding: new-language on a folder, and Hugging Face datasets ----------------------------------

NEW_LANGUAGE_CMD = ["flows.cli", "new-language", "yo", "--source", "raw"]


def unknown_file_type(p: Project) -> list[str]:
    p.good()
    p.write("report.pdf", b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n")
    return NEW_LANGUAGE_CMD


def tagged_text_as_corpus(p: Project) -> list[str]:
    p.good()
    rows = [("Rais", "B-PER"), ("Samia", "I-PER"), ("alitembelea", "O"), ("Dodoma", "B-LOC"), (".", "O")]
    p.write("ner.txt", "".join("".join(f"{w} {t}\n" for w, t in rows) + "\n" for _ in range(30)).encode())
    return NEW_LANGUAGE_CMD


def jsonl_no_string_field(p: Project) -> list[str]:
    p.good()
    p.write("tokens.jsonl", b"".join(json.dumps({"id": i, "tokens": [[1, 2], [3]], "score": 0.5}).encode() + b"\n"
                                     for i in range(5)))
    return NEW_LANGUAGE_CMD


def hf_no_text_column(p: Project) -> list[str]:
    import datasets

    p.good()
    datasets.Dataset.from_dict({"id": [1, 2, 3], "label": [0, 1, 0]}).save_to_disk(str(p.raw / "labels"))
    p.config(sources="  - {path: raw/*.txt, root: project}\n  - {path: raw/labels, root: project, format: hf}\n")
    return CLEAN_CMD


# --- clean: content the filters remove (counted, not fatal) ----------------------------------------

GERMAN = [
    "Die Fähre zwischen den beiden Ufern des Flusses fährt seit mehr als hundert Jahren jeden Tag. Sie trägt "
    "ein Dutzend Autos und eine Handvoll Radfahrer, und die Überfahrt dauert kaum sechs Minuten.",
    "Jeden Dienstag nach der Schule treffen sich vierzehn Schülerinnen und Schüler im Labor, um Wetterdaten zu "
    "sammeln. Ihre Lehrerin hofft, dass die Messreihe auch im nächsten Jahr weitergeführt wird.",
]
RUSSIAN = ("Паром между двумя берегами реки ходит уже больше ста лет. Он перевозит дюжину машин и несколько "
           "велосипедистов, а переправа занимает всего шесть минут, но экономит почти тридцать километров.")


def wrong_language(p: Project) -> list[str]:
    p.good()
    p.write("other.txt", ("\n\n".join(GERMAN) + "\n").encode())
    p.config()
    return CLEAN_CMD


def mixed_scripts(p: Project) -> list[str]:
    p.good()
    p.write("cyrillic.txt", (RUSSIAN + " The ferry.\n").encode())
    p.config()
    return CLEAN_CMD


def filters_to_nothing(p: Project) -> list[str]:
    p.write("short.txt", b"short\n\ntiny\n\nthree words here\n")
    p.config()
    return CLEAN_CMD


# --- sources: missing files, symlinks, paths outside the data root --------------------------------

def missing_source(p: Project) -> list[str]:
    p.config(sources="  - {path: text/xx/*.txt.gz}\n")
    return CLEAN_CMD


def source_escapes_data_root(p: Project) -> list[str]:
    p.good(where=p.root)        # a file beside the data root, not in it
    p.config(sources="  - {path: ../good.txt}\n")
    return CLEAN_CMD


def symlink_out_of_data_root(p: Project) -> list[str]:
    outside = p.root / "elsewhere"
    outside.mkdir()
    p.good(where=outside)
    (p.data / "text").mkdir()
    p.good(where=p.data / "text")
    (p.data / "text" / "link.txt").symlink_to(outside / "good.txt")
    p.config(sources="  - {path: text/*.txt}\n")
    return CLEAN_CMD


def broken_symlink(p: Project) -> list[str]:
    p.good()
    (p.raw / "gone.txt").symlink_to(p.root / "deleted.txt")
    p.config()
    return CLEAN_CMD


# --- configuration ---------------------------------------------------------------------------------

def bad_yaml(p: Project) -> list[str]:
    p.config()
    path = p.root / "corpora" / f"{LANG}.yaml"
    path.write_text(path.read_text().replace("vocab: {size: 1000}", "vocab:\n  size: [8000\n"))
    return ["pipeline", "vocab", LANG]


def yaml_not_utf8(p: Project) -> list[str]:
    p.config()
    path = p.root / "corpora" / f"{LANG}.yaml"
    path.write_bytes(path.read_bytes() + "# Fähre\n".encode("latin-1"))
    return CLEAN_CMD


def yaml_not_mapping(p: Project) -> list[str]:
    (p.root / "corpora" / f"{LANG}.yaml").write_text("- language: xx\n- script: Latn\n")
    return CLEAN_CMD


def yaml_python_tag(p: Project) -> list[str]:
    (p.root / "corpora" / f"{LANG}.yaml").write_text(
        "language: xx\nscript: Latn\nsources:\n  - path: !!python/object/apply:os.system ['true']\n")
    return CLEAN_CMD


def unknown_key(p: Project) -> list[str]:
    p.good()
    p.config(clean="{min_chars: 100, lid: {label: en}, min_char: 5}")
    return CLEAN_CMD


def missing_section(p: Project) -> list[str]:
    p.good()
    path = p.config()
    path.write_text(path.read_text().replace("shard: {}\n", ""))
    return CLEAN_CMD


def unknown_language(p: Project) -> list[str]:
    p.config()
    return ["pipeline", "clean", "qq"]


def language_not_registered(p: Project) -> list[str]:
    p.config()
    return ["flows.cli", "status", "qq"]


def bad_language_code(p: Project) -> list[str]:
    return ["flows.cli", "new-language", "Swahili"]


def language_unknown_to_lid(p: Project) -> list[str]:
    """A language code the language-ID model has no label for: every document looks like another language."""
    p.good()
    p.config(lang="qqq", clean="{min_chars: 100}")
    return ["pipeline", "clean", "qqq"]


def language_key_mismatch(p: Project) -> list[str]:
    p.good()
    p.config(language="sw")
    return CLEAN_CMD


def unknown_script(p: Project) -> list[str]:
    p.good()
    p.config(script="Latin")
    return CLEAN_CMD


def negative_threshold(p: Project) -> list[str]:
    p.good()
    p.config(clean="{min_chars: -5, lid: {label: en}}")
    return CLEAN_CMD


def threshold_out_of_range(p: Project) -> list[str]:
    p.good()
    p.config(clean="{min_chars: 100, lid: {label: en, min_score: 1.5}}")
    return CLEAN_CMD


def min_above_max(p: Project) -> list[str]:
    p.good()
    p.config(clean="{min_chars: 5000, max_chars: 100, lid: {label: en}}")
    return CLEAN_CMD


def threshold_not_a_number(p: Project) -> list[str]:
    p.good()
    p.config(extra={"validate": "{mostly: high}"})
    return ["pipeline", "validate", LANG]


# --- evaluation data ---------------------------------------------------------------------------------

def _fake_model(p: Project) -> None:
    """models/xx/electra with a config only: the evaluate stage reads every task's data before it loads a
    tokenizer or a model, so a bad file is reported first."""
    d = p.root / "models" / LANG / "electra"
    d.mkdir(parents=True)
    (d / "config.json").write_text(json.dumps({
        "model_type": "electra", "vocab_size": 13, "hidden_size": 32, "num_hidden_layers": 1,
        "num_attention_heads": 1, "intermediate_size": 64, "embedding_size": 32, "max_position_embeddings": 64}))


def _eval_task(p: Project, fmt: str, typ: str, train: bytes, dev: bytes, ext: str, extra: str = "") -> list[str]:
    _fake_model(p)
    p.write(f"train.{ext}", train, where=p.data / "task")
    p.write(f"dev.{ext}", dev, where=p.data / "task")
    p.config(extra={"model": "{size: tiny}", "evaluate": (
        f"{{seeds: 1, random_init_baseline: false, tasks: [{{name: t, type: {typ}, format: {fmt}, "
        f"train: task/train.{ext}, dev: task/dev.{ext}{extra}}}]}}")})
    return ["pipeline", "evaluate", LANG]


TSV_TRAIN = b"sentence\tlabel\n" + b"".join(f"example number {i}\t{'pos' if i % 2 else 'neg'}\n".encode()
                                             for i in range(8))


def eval_unknown_label(p: Project) -> list[str]:
    return _eval_task(p, "tsv", "classification", TSV_TRAIN,
                      b"sentence\tlabel\na fine one\tpos\na strange one\tneutral\n", "tsv")


def eval_missing_file(p: Project) -> list[str]:
    cmd = _eval_task(p, "tsv", "classification", TSV_TRAIN, b"", "tsv")
    (p.data / "task" / "dev.tsv").unlink()
    return cmd


def eval_tsv_columns(p: Project) -> list[str]:
    return _eval_task(p, "tsv", "classification", TSV_TRAIN,
                      b"sentence\tlabel\nfine\tpos\ntoo\tmany\tcolumns\n", "tsv")


def eval_regression_label(p: Project) -> list[str]:
    train = b"sentence1\tsentence2\tscore\n" + b"".join(f"a {i}\tb {i}\t{i % 5}.0\n".encode() for i in range(6))
    return _eval_task(p, "tsv", "regression", train, b"sentence1\tsentence2\tscore\nx\ty\tvery similar\n", "tsv")


def eval_conllu_malformed(p: Project) -> list[str]:
    good = b"# text = a b\n1\ta\ta\tNOUN\t_\t_\t0\troot\t_\t_\n2\tb\tb\tVERB\t_\t_\t1\tdep\t_\t_\n\n"
    bad = good + b"1\ta\tNOUN\n\n"
    return _eval_task(p, "conllu", "tagging", good * 3, bad, "conllu")


def eval_unknown_upos(p: Project) -> list[str]:
    good = b"1\ta\ta\tNOUN\t_\t_\t0\troot\t_\t_\n2\tb\tb\tVERB\t_\t_\t1\tdep\t_\t_\n\n"
    bad = b"1\ta\ta\tNOUN\t_\t_\t0\troot\t_\t_\n2\tb\tb\tNOUNISH\t_\t_\t1\tdep\t_\t_\n\n"
    return _eval_task(p, "conllu", "tagging", good * 3, bad, "conllu")


def eval_jsonl_malformed(p: Project) -> list[str]:
    train = b"".join(json.dumps({"text": f"ex {i}", "label": "ab"[i % 2]}).encode() + b"\n" for i in range(6))
    return _eval_task(p, "jsonl", "classification", train, train[:40] + b'\n{"text": "x", "label":\n', "jsonl")


def eval_not_utf8(p: Project) -> list[str]:
    return _eval_task(p, "tsv", "classification", TSV_TRAIN, b"sentence\tlabel\nfine\tpos\nna\xefve\tneg\n", "tsv")


# --- pre-training ------------------------------------------------------------------------------------

PRETRAIN = "{steps: 4, batch_size: 8, warmup_steps: 1, log_every: 2, checkpoint_every: 2, eval_batches: 1, device: cpu}"


def _pretrain_inputs(p: Project) -> Path:
    """Shards and tokenizer as the shard and vocab stages leave them; returns the stage's checkpoint folder."""
    import hashlib

    from pipeline.config import load_language
    from tests.test_model import write_shards, write_tokenizer

    p.good()
    p.config(extra={"model": TINY_MODEL, "pretrain": PRETRAIN})
    shards = write_shards(p.root / "data" / LANG / "shards", n_train=32, n_val=8)
    write_tokenizer(p.root / "models" / LANG / "tokenizer")
    params = load_language(LANG, p.root).pretrain_resolved()
    fp = hashlib.sha256(json.dumps(params, sort_keys=True).encode() + (shards / "index.json").read_bytes())
    return p.root / "checkpoints" / LANG / fp.hexdigest()[:16]


def truncated_checkpoint(p: Project) -> list[str]:
    """The newest checkpoint's weights cut short (a full disk, an interrupted copy)."""
    from model.checkpoint import CHECKPOINT_FORMAT, arch_signature
    from model.sizes import resolve_params
    from pipeline.config import load_language

    ck = _pretrain_inputs(p) / "step-000000002"
    ck.mkdir(parents=True)
    index = json.loads((p.root / "data" / LANG / "shards" / "index.json").read_text())
    params = resolve_params(load_language(LANG, p.root).pretrain_resolved())
    sig = arch_signature(params, index["vocab_size"], index["max_seq_length"])
    (ck / "meta.json").write_text(json.dumps({"step": 2, "arch": sig, "params": params, "format": CHECKPOINT_FORMAT,
                                              "world_size": 1}))
    (ck / "model.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{\"__metadata__\"")
    (ck / "state.pt").write_bytes(b"PK\x03\x04")
    return ["pipeline", "pretrain", LANG]


def pretrain_without_shards(p: Project) -> list[str]:
    p.good()
    p.config(extra={"model": TINY_MODEL, "pretrain": PRETRAIN})
    return ["pipeline", "pretrain", LANG]


def vocab_without_validation(p: Project) -> list[str]:
    p.good()
    p.config()
    return ["pipeline", "vocab", LANG]


# --- the registry ------------------------------------------------------------------------------------

def _e(*needles: str) -> Expect:
    return Expect(2, tuple(needles))


GL = _good_lines()
CASES: list[Case] = [
    Case("invalid_utf8", "`raw/bad.txt line 3: not valid UTF-8 (byte 0xff at column 8)`",
         "the file is in another encoding (Latin-1, Windows-1252) or damaged",
         "re-encode it (`iconv -f latin1 -t utf-8`), or give the source its `encoding: cp1252` (any single-byte "
         "encoding), or set `clean.on_bad_input: skip` to drop bad lines",
         invalid_utf8, _e("bad.txt line 3", "not valid UTF-8", "reads as Windows-1252/Latin-1: iconv -f CP1252",
                          "`encoding: cp1252`")),
    Case("invalid_utf8_skipped", "`stats.json` `skipped: {invalid_utf8: 1}`, warning `bad input skipped`",
         "`clean.on_bad_input: skip`: bad lines are counted and listed in `rejected.jsonl`, the rest is cleaned",
         "read `data/<lang>/clean/rejected.jsonl` (`skipped:*` records name file and line)",
         lambda p: invalid_utf8(p, skip=True), Expect(0, skipped={"invalid_utf8": 1})),
    Case("wrong_encoding", "`raw/legacy.txt line 3: not valid cp1252 (byte 0x81 at column 13 is no character in "
         "it)`", "`sources[].encoding` names an encoding the file is not in",
         "find the file's encoding (`file -i`, the tool that wrote it) and set it, or re-encode the file as UTF-8",
         wrong_encoding, _e("legacy.txt line 3", "not valid cp1252", "byte 0x81")),
    Case("multibyte_encoding", "`corpora/xx.yaml: invalid language configuration` `- sources.0.encoding: Value "
         "error, encoding 'shift_jis' is not a single-byte encoding; convert the files to UTF-8 ...`",
         "a multi-byte encoding (UTF-16, Shift_JIS, GBK, Big5, EUC-KR): lines cannot be found in its bytes",
         "convert the files: `iconv -f shift_jis -t utf-8`, and leave `encoding` out",
         multibyte_encoding, _e("xx.yaml", "encoding", "not a single-byte encoding", "iconv -f shift_jis")),
    Case("nul_byte", "`raw/bad.txt line N: NUL byte at column 7 (binary data in a text file?)`",
         "binary data inside a text file", "remove the bytes, or `clean.on_bad_input: skip`",
         nul_byte, _e(f"bad.txt line {GL + 1}", "NUL byte")),
    Case("binary_file", "`raw/image.txt line 3: looks like a binary file (NUL byte at byte 8)`",
         "an image, archive or other binary file among the sources",
         "remove it or narrow `sources[].path`; with `on_bad_input: skip` the file is skipped and counted",
         binary_file, _e("image.txt line 3", "binary file")),
    Case("binary_file_skipped", "`stats.json` `skipped: {binary_file: 1}`",
         "`clean.on_bad_input: skip` skips the whole file", "nothing, or remove the file",
         lambda p: binary_file(p, skip=True), Expect(0, skipped={"binary_file": 1})),
    Case("utf16_file", "`raw/wide.txt line 1: UTF-16 text, not UTF-8 (NUL byte at byte 3); convert it to UTF-8 text "
         "(e.g. iconv -f UTF-16 -t UTF-8) ...`",
         "the file is UTF-16 (e.g. saved by Windows Notepad as \"Unicode\")",
         "convert it: `iconv -f utf-16 -t utf-8`", utf16_file, _e("wide.txt line 1", "UTF-16 text, not UTF-8")),
    Case("truncated_gzip", "`raw/part.txt.gz line N: cannot read (...); is the file truncated or not gzip?`",
         "an interrupted download or copy", "fetch the file again (`gzip -t` checks it)",
         truncated_gzip, _e("part.txt.gz line", "truncated")),
    Case("not_gzip", "`raw/plain.txt.gz line 1: cannot read (Not a gzipped file ...)`", "a `.gz` name on a file that is not compressed",
         "rename it to `.txt`", not_gzip, _e("plain.txt.gz", "gzip")),
    Case("truncated_archive", "`raw/corpus.tar.gz: cannot read this archive (EOFError: Compressed file ended "
         "before the end-of-stream marker was reached); is it complete?`",
         "an interrupted download of a tar or zip archive (archives are read in place as the folders they pack)",
         "fetch it again (`gzip -t`, `unzip -t` check it)", truncated_archive,
         _e("corpus.tar.gz: cannot read this archive", "is it complete?")),
    Case("archive_members_match_nothing", "`corpora/xx.yaml: sources[0] ('raw/download.zip'): archive "
         "raw/download.zip holds no file matching members '*-sentences.txt'`",
         "`sources[].members` names no file of the archive (`*` also matches `/`)",
         "list the archive (`unzip -l`, `tar tf`) and fix the glob", archive_members_match_nothing,
         _e("sources[0]", "download.zip holds no file matching members '*-sentences.txt'")),
    Case("empty_file", "`corpora/xx.yaml: the sources contain no documents (1 file(s): raw/empty.txt)`",
         "empty or whitespace-only source files", "check `sources[].path` and `sources[].format`",
         empty_file, _e("no documents", "raw/empty.txt")),
    Case("whitespace_only", "`the sources contain no documents (... raw/blank.txt)`",
         "a file of blank lines", "as above", whitespace_only, _e("no documents", "raw/blank.txt")),
    Case("long_line_100mb", "`stats.json` `split_long_document: 1000`",
         "a single line longer than `clean.max_chars` (a dump without line breaks); it is streamed (never held "
         "whole), cut at sentence ends (else spaces) into pieces that are kept",
         "nothing; or set `sources[].documents: line` if each line is a document",
         long_line_100mb, Expect(0, dropped={"script": 1000}, split=1000, max_rss_mb=LONG_LINE_RSS_MB), slow=True),
    Case("malformed_jsonl", "`raw/docs.jsonl line 3: malformed JSON (Unterminated string starting at column 10)`",
         "a broken or truncated JSON line", "fix the line, or `clean.on_bad_input: skip`",
         malformed_jsonl, _e("docs.jsonl line 3", "malformed JSON (Unterminated string starting at column")),
    Case("malformed_jsonl_skipped", "`stats.json` `skipped: {malformed_json: 1}`",
         "`clean.on_bad_input: skip`", "read the `skipped:malformed_json` records in `rejected.jsonl`",
         lambda p: malformed_jsonl(p, skip=True), Expect(0, skipped={"malformed_json": 1})),
    Case("jsonl_not_object", "`raw/docs.jsonl line 3: expected a JSON object, got list`",
         "a line that is valid JSON but not an object", "one object per line: `{\"text\": ...}`",
         jsonl_not_object, _e("docs.jsonl line 3", "JSON object")),
    Case("json_array_truncated", "`raw/docs.jsonl: malformed JSON after record 2 of the array (...)`",
         "a JSON array file cut short (an interrupted download or export)", "copy it again, or "
         "`clean.on_bad_input: skip` to keep the records before the damage", json_array_truncated,
         _e("docs.jsonl: malformed JSON after record 2 of the array")),
    Case("json_array_truncated_skipped", "`stats.json` `skipped: {malformed_json: 1}`",
         "`clean.on_bad_input: skip` with a JSON array cut short: the records before the damage are kept",
         "read the `skipped:malformed_json` record in `rejected.jsonl`",
         lambda p: json_array_truncated(p, skip=True), Expect(0, skipped={"malformed_json": 1})),
    Case("json_records_elsewhere", "`raw/docs.json: no array of records at 'articles' (top-level keys: total, "
         "data; arrays of objects: data (4 records))`", "`sources[].records` names a path the JSON object file does "
         "not have", "set `records` to the array holding the records (`new-language` finds it)",
         json_records_elsewhere, _e("docs.json: no array of records at 'articles'", "arrays of objects: data")),
    Case("jsonl_missing_field", "`raw/docs.jsonl line 4: no field 'text' (fields: body)`",
         "the text is under another key", "set `sources[].field` (dotted paths reach nested keys)",
         jsonl_missing_field, _e("docs.jsonl line 4", "no field 'text'")),
    Case("jsonl_wrong_type", "`raw/docs.jsonl line 1: field 'text' is int, not a string`",
         "the field holds a number, list or object", "point `sources[].field` at the text",
         jsonl_wrong_type, _e("docs.jsonl line 1", "not a string")),
    Case("parquet_garbage", "`raw/docs.parquet: not a readable Parquet file (...)`",
         "not Parquet, or damaged", "re-export it", parquet_garbage, _e("docs.parquet", "not a readable Parquet")),
    Case("parquet_truncated", "`raw/docs.parquet: not a readable Parquet file (Parquet magic bytes not found in footer ...)`",
         "an interrupted copy (the footer is missing)", "copy it again",
         parquet_truncated, _e("docs.parquet", "Parquet")),
    Case("parquet_no_column", "`raw/docs.parquet: no column 'text' (columns: content)`",
         "the text column has another name", "set `sources[].field`",
         parquet_no_column, _e("docs.parquet", "no column 'text'")),
    Case("parquet_wrong_type", "`raw/docs.parquet: column 'text' has type int64, expected string`",
         "`sources[].field` names a non-text column", "point it at the text column",
         parquet_wrong_type, _e("docs.parquet", "expected string")),
    Case("conllu_malformed", "`raw/ud.conllu line 4: not a CoNLL-U token line (expected 10 tab-separated columns, got 1)`",
         "a line that is neither a comment nor a token line", "fix the file, or `clean.on_bad_input: skip`",
         conllu_malformed, _e("ud.conllu line 4", "CoNLL-U")),
    Case("unknown_file_type", "`.../raw/report.pdf: cannot tell what this file holds from its name (suffix .pdf); "
         "known: .txt ...`", "`foundry new-language --source FOLDER` on a folder holding a file of no known format",
         "convert it to text, remove it from the folder, or name the files to read with `--source`",
         unknown_file_type, _e("report.pdf", "cannot tell what this file holds")),
    Case("tagged_text_as_corpus", "`.../raw/ner.txt: a word and its tag on each line ('Rais B-PER', ...): labelled "
         "data for a tagging task (CoNLL), not running text...`", "`foundry new-language --source FOLDER` on a folder "
         "holding a NER or POS file", "add it as a task (`--task ner=FILE`), or remove it from the folder",
         tagged_text_as_corpus, _e("ner.txt: a word and its tag on each line", "--task NAME=")),
    Case("jsonl_no_string_field", "`.../raw/tokens.jsonl: no field holds text in the first 5 record(s) (fields: id "
         "(int), tokens (list), score (float))`", "a JSON Lines file without a string field (token ids, scores)",
         "convert the records to text, or leave the file out of `--source`",
         jsonl_no_string_field, _e("tokens.jsonl", "no field holds text")),
    Case("hf_no_text_column", "`.../raw/labels: no column 'text' (columns: id (int64), label (int64))`",
         "a `datasets` folder (`format: hf`) without the text column", "set `sources[].field` to its text column",
         hf_no_text_column, _e("labels", "no column 'text'", "id (int64)")),
    Case("wrong_language", "`stats.json` `dropped: {language: 2}`; examples in `rejected.jsonl`",
         "documents in another language than the config's", "nothing; to keep them, set `clean.lid.label` or "
         "lower `clean.lid.min_score`", wrong_language, Expect(0, dropped={"language": 2})),
    Case("mixed_scripts", "`stats.json` `dropped: {script: 1}`",
         "a document mostly in another script than `script:`", "nothing; or lower `clean.min_script_share`",
         mixed_scripts, Expect(0, dropped={"script": 1})),
    Case("filters_to_nothing", "`corpora/xx.yaml: all 3 documents were dropped (too_short: 3); relax clean.* "
         "thresholds`", "every document fails a filter", "relax the `clean.*` thresholds named, or fix the sources",
         filters_to_nothing, _e("xx.yaml", "all 3 documents were dropped", "too_short")),
    Case("missing_source", "`corpora/xx.yaml: sources[0].path 'text/xx/*.txt.gz' matches no file (looked for ...)`",
         "a wrong path, or `FOUNDRY_DATA_ROOT` / `data_root` points elsewhere",
         "fix the path, or set `root: project` for paths inside the project",
         missing_source, _e("xx.yaml", "sources[0].path", "matches no file")),
    Case("source_escapes_data_root", "`corpora/xx.yaml: sources[0].path '../good.txt' leads outside the data root ...`",
         "a relative path with `..` that leaves the data root", "use an absolute path if you mean it",
         source_escapes_data_root, _e("xx.yaml", "sources[0].path", "outside the data root")),
    Case("symlink_out_of_data_root", "`corpora/xx.yaml: sources[0].path 'text/*.txt': text/link.txt is a symbolic "
         "link to ..., outside the data root ...`", "a symbolic link that points out of the data root",
         "copy the file in, or name its real location with an absolute path",
         symlink_out_of_data_root, _e("xx.yaml", "link.txt", "outside the data root")),
    Case("broken_symlink", "`corpora/xx.yaml: sources[0].path 'raw/*': raw/gone.txt is a broken symbolic link`",
         "the link's target was moved or deleted", "fix or remove the link",
         broken_symlink, _e("xx.yaml", "gone.txt", "broken symbolic link")),
    Case("bad_yaml", "`corpora/xx.yaml: line 11, column 6 invalid YAML: expected ',' or ']', but got ':'`",
         "a YAML syntax error", "fix the line named", bad_yaml, _e("xx.yaml", "line 1", "invalid YAML")),
    Case("yaml_not_utf8", "`corpora/xx.yaml: not valid UTF-8 at byte N`", "the config was saved as Latin-1",
         "save it as UTF-8", yaml_not_utf8, _e("xx.yaml", "not valid UTF-8")),
    Case("yaml_not_mapping", "`corpora/xx.yaml: expected a mapping of settings at the top level, got list`",
         "the file is a list, or empty", "write `key: value` settings", yaml_not_mapping,
         _e("xx.yaml", "expected a mapping")),
    Case("yaml_python_tag", "`corpora/xx.yaml: line 4, column 11 invalid YAML: could not determine a constructor`",
         "a `!!python/...` tag (configs are read with `yaml.safe_load`; nothing is executed)", "remove the tag",
         yaml_python_tag, _e("xx.yaml", "invalid YAML")),
    Case("unknown_key", "`corpora/xx.yaml: invalid language configuration` `- clean.min_char: unknown key (got 5)`",
         "a typo in a key", "use the key the message's schema allows (`docs/architecture.md`, `pipeline/config/sections.py`)",
         unknown_key, _e("xx.yaml", "clean.min_char", "unknown key")),
    Case("missing_section", "`corpora/xx.yaml: section(s) shard missing`",
         "dvc.yaml tracks every section as a stage parameter", "add it: `shard: {}` takes the defaults",
         missing_section, _e("xx.yaml", "shard", "missing")),
    Case("unknown_language", "`corpora/qq.yaml: no configuration for language 'qq'; known: xx`",
         "no `corpora/<lang>.yaml` for that code", "`foundry new-language qq`",
         unknown_language, _e("qq.yaml", "no configuration for language 'qq'")),
    Case("language_not_registered", "`params.yaml: language 'qq' is not listed under languages`",
         "the code is not in `params.yaml`", "`foundry new-language qq` adds it",
         language_not_registered, _e("params.yaml", "'qq'", "not listed")),
    Case("bad_language_code", "`language code 'Swahili' is not an ISO 639 code`",
         "a name instead of a code", "use the ISO 639 code, e.g. `sw`",
         bad_language_code, _e("'Swahili'", "ISO 639")),
    Case("language_unknown_to_lid", "`corpora/qqq.yaml: all 24 documents were dropped (language: 24); relax clean.* "
         "thresholds (... lid.176 has no label 'qqq' ...; it labels 100% of the documents 'en': if that is this "
         "language, set clean.lid.label: en ...)`",
         "a language code lid.176 has no label for, on text it is sure is another language (or the wrong code for "
         "the text)",
         "set `clean.lid.label` to the lid.176 code of the text, give a local model (`clean.lid.model_path`), or "
         "`clean.lid.enabled: false`", language_unknown_to_lid,
         _e("qqq.yaml", "all 24 documents were dropped", "language: 24", "no label 'qqq'",
            "set clean.lid.label: en")),
    Case("language_key_mismatch", "`corpora/xx.yaml: key 'language' is 'sw' but the file is named for 'xx'`",
         "a copied config", "make `language:` match the file name", language_key_mismatch,
         _e("xx.yaml", "key 'language' is 'sw'")),
    Case("unknown_script", "`corpora/xx.yaml: invalid language configuration` `- script: Value error, unknown script "
         "'Latin'; an ISO 15924 code of a Unicode script (e.g. Latn, ...`", "a script name instead of its ISO 15924 code", "use the code (`Latn`, `Cyrl`, ...)",
         unknown_script, _e("xx.yaml", "script", "unknown script 'Latin'")),
    Case("negative_threshold", "`corpora/xx.yaml: invalid language configuration` `- clean.min_chars: Input should be "
         "greater than or equal to 1 (got -5)`", "a nonsense threshold", "a value in the range the message gives",
         negative_threshold, _e("xx.yaml", "clean.min_chars", "-5")),
    Case("threshold_out_of_range", "`corpora/xx.yaml: invalid language configuration` `- clean.lid.min_score: Input should "
         "be less than or equal to 1 (got 1.5)`", "a score threshold outside [0, 1]", "a value in [0, 1]",
         threshold_out_of_range, _e("xx.yaml", "clean.lid.min_score", "1.5")),
    Case("min_above_max", "`corpora/xx.yaml: invalid language configuration` `- clean: Value error, max_chars (100) must "
         "be greater than min_chars (5000)`",
         "bounds the wrong way round", "swap them", min_above_max, _e("xx.yaml", "max_chars (100)")),
    Case("threshold_not_a_number", "`corpora/xx.yaml: invalid language configuration` `- validate.mostly: Input should be a "
         "valid number, unable to parse string as a number (got 'high')`", "a word where a number belongs", "a number", threshold_not_a_number,
         _e("xx.yaml", "validate.mostly", "'high'")),
    Case("eval_unknown_label", "`.../task/dev.tsv:3: label 'neutral' does not occur in the training file .../task/train.tsv; "
         "labels seen there: neg, pos`",
         "a dev label the training file never has", "fix the label, or add examples of it to the training file",
         eval_unknown_label, _e("dev.tsv:3", "'neutral'")),
    Case("eval_missing_file", "`.../task/dev.tsv: file not found`", "a wrong `train`/`dev` path",
         "fix the path (relative to the data root, or `root: project`)",
         eval_missing_file, _e("dev.tsv", "file not found")),
    Case("eval_tsv_columns", "`.../task/dev.tsv:3: expected 2 tab-separated columns (the header has 2), found 3`",
         "a stray tab in a TSV row", "fix the row", eval_tsv_columns, _e("dev.tsv:3", "columns")),
    Case("eval_regression_label", "`.../task/dev.tsv:2: label 'very similar' is not a number (regression task)`",
         "a text label in a regression task", "fix the label, or the task's `type`",
         eval_regression_label, _e("dev.tsv:2", "not a number")),
    Case("eval_conllu_malformed", "`.../task/dev.conllu:5: expected 10 tab-separated CoNLL-U columns, found 3 (this "
         "looks like a CoNLL NER file: use format: conll)`", "a malformed or non-CoNLL-U file",
         "fix the file or the task's `format`", eval_conllu_malformed, _e("dev.conllu:5", "CoNLL-U columns")),
    Case("eval_unknown_upos", "`.../task/dev.conllu:2: 'NOUNISH' is not a Universal POS tag (allowed: ADJ, ...)`",
         "a tag outside the 17 UD tags", "fix the tag, or set `label:` to another column",
         eval_unknown_upos, _e("dev.conllu:2", "Universal POS")),
    Case("eval_jsonl_malformed", "`.../task/dev.jsonl:2: invalid JSON (Expecting value at column 10)`", "a broken JSON line", "fix the line",
         eval_jsonl_malformed, _e("dev.jsonl:2", "invalid JSON")),
    Case("eval_not_utf8", "`.../task/dev.tsv:3: not valid UTF-8 (byte 2 of the line); ...`",
         "a file in another encoding", "re-encode it as UTF-8, or give the task its single-byte `encoding: cp1252`",
         eval_not_utf8, _e("dev.tsv:3", "UTF-8", "`encoding: ")),
    Case("truncated_checkpoint", "`checkpoints/xx/<fp>/step-000000002/model.safetensors: cannot read the checkpoint "
         "(SafetensorError: ...); is it truncated? delete .../step-000000002 to resume from the checkpoint "
         "before it`",
         "the newest checkpoint was cut short (full disk, interrupted copy)",
         "delete that `step-*` folder: the run resumes from the previous checkpoint, or starts afresh",
         truncated_checkpoint, _e("step-000000002", "model.safetensors", "delete")),
    Case("pretrain_without_shards", "`data/xx/shards/index.json: missing — run the shard stage first`",
         "a stage run out of order", "run the earlier stages (`foundry run xx` does it in order)",
         pretrain_without_shards, _e("index.json", "shard stage")),
    Case("vocab_without_validation", "`vocab xx: data/xx/validation.json: not found; run the validate stage first`",
         "no validated, approved corpus yet", "run clean and validate first (`foundry run xx`)",
         vocab_without_validation, _e("validation.json")),
]
BY_KIND = {c.kind: c for c in CASES}
assert len(BY_KIND) == len(CASES), "kinds must be unique"


def markdown_table() -> str:
    """The README's troubleshooting table, one row per kind."""
    def cell(s: str) -> str:
        return s.replace("|", "\\|").replace("\n", " ")

    rows = ["| you see | cause | fix |", "|---|---|---|"]
    rows += [f"| {cell(c.symptom)} | {cell(c.cause)} | {cell(c.fix)} |" for c in CASES]
    return "\n".join(rows)


if __name__ == "__main__":
    if "--markdown" in sys.argv:
        print(markdown_table())
    else:
        print("\n".join(c.kind for c in CASES))
