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


def test_foundry_run_prints_a_user_error_as_one_line(tmp_path):
    """`foundry run` on real text with one invalid byte: the stage's user error (exit status 2) reaches the
    terminal as its one line naming file and line, without Prefect's traceback; the flow's log keeps it."""
    import sqlite3

    from tests.conftest import require_shared
    from tests.test_flow import foundry, make_project

    text = require_shared("small", "text", "sw", "flores200_devtest.txt").read_bytes().split(b"\n")
    bad = next(i for i in range(10, len(text)) if len(text[i]) > 40)
    text[bad] = text[bad][:20] + b"\xff" + text[bad][20:]
    config = ("language: xx\nscript: Latn\nsources:\n  - path: raw/*\n    root: project\n"
              "clean: {min_chars: 50, lid: {enabled: false}}\n" + SECTIONS)
    proj = make_project(tmp_path, require_shared(), "xx", config, "small/text/sw", "small/text/sw")
    (proj / "raw").mkdir()
    (proj / "raw" / "sw.txt").write_bytes(b"\n".join(text))
    r = foundry(proj, "run", "xx")
    out = r.stdout + r.stderr
    assert r.returncode == 2, out[-3000:]
    assert "Traceback" not in out, out[-5000:]
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and f"sw.txt line {bad + 1}" in errors[0] and "UTF-8" in errors[0], r.stderr
    # Prefect's records point at it instead of repeating it: the stage's own line, and the last line
    assert out.count(f"sw.txt line {bad + 1}") == 2 and "stopped by a user error" in r.stderr, r.stderr
    con = sqlite3.connect(proj / ".prefect" / "prefect.db")
    try:
        logged = [m for (m,) in con.execute("SELECT message FROM log WHERE message LIKE '%Traceback%'")]
    finally:
        con.close()
    assert any("StageInputError" in m and f"line {bad + 1}" in m for m in logged)   # the detail is kept
    assert f"line {bad + 1}" in (proj / "logs" / "xx" / "clean.log").read_text(encoding="utf-8")
