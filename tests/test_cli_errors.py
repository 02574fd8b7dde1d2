"""Bad input through the stage CLI (what DVC and the flow run): one clear message naming the file and
line, exit status 2, never a bare traceback."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

SECTIONS = ("validate: {}\nreview: {}\nvocab: {size: 1000}\nshard: {}\nmodel: {size: tiny}\npretrain: {}\n"
            "evaluate: {}\n")


def project(tmp_path: Path, files: dict[str, bytes], clean: str = "clean: {min_chars: 10, lid: {enabled: false}}\n",
            fmt: str = "text") -> Path:
    (tmp_path / "raw").mkdir()
    for name, data in files.items():
        (tmp_path / "raw" / name).write_bytes(data)
    (tmp_path / "corpora").mkdir()
    (tmp_path / "corpora" / "xx.yaml").write_text(
        f"language: xx\nscript: Latn\nsources:\n  - path: raw/*\n    format: {fmt}\n    root: project\n" + clean + SECTIONS)
    (tmp_path / "params.yaml").write_text("languages:\n  xx: {raw: raw, eval: raw}\n")
    return tmp_path


def stage(proj: Path, name: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pipeline", name, "xx"], cwd=proj, capture_output=True, text=True,
                          env={**os.environ, "FOUNDRY_PROJECT": str(proj)}, timeout=300)


def assert_clear(r, *needles):
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


@pytest.mark.parametrize("files, fmt, needles", [
    ({"a.txt": b"Good first line of text here.\n\nsecond \xff\xfe bad line\n"}, "text", ["a.txt", "line 3", "UTF-8"]),
    ({"a.jsonl": b'{"text": "a fine document with words"}\n{"text": "broken\n'}, "jsonl", ["a.jsonl", "line 2"]),
    ({"a.txt": b""}, "text", ["no documents"]),
])
def test_bad_corpus_named(tmp_path, files, fmt, needles):
    r = stage(project(tmp_path, files, fmt=fmt), "clean")
    assert_clear(r, *needles)


def test_corpus_that_filters_to_nothing(tmp_path):
    proj = project(tmp_path, {"a.txt": b"short\n\ntiny\n"}, clean="clean: {min_chars: 50, lid: {enabled: false}}\n")
    assert_clear(stage(proj, "clean"), "xx.yaml", "dropped", "too_short")
    assert not (proj / "data/xx/clean").exists()  # nothing that looks finished


def test_missing_source_file(tmp_path):
    proj = project(tmp_path, {})
    assert_clear(stage(proj, "clean"), "xx.yaml", "sources[0].path", "matches no file")


def test_vocab_refuses_without_validation(tmp_path):
    proj = project(tmp_path, {"a.txt": b"x" * 20 + b"\n"})
    assert_clear(stage(proj, "vocab"), "validation.json")
