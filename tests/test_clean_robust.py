"""Clean stage robustness: every kind of bad input is a clear error naming file and line, or a counted skip
(clean.on_bad_input); a 50 MB line is streamed, not held; a killed multi-task run resumes and gives the
same output as an uninterrupted one, and leaves no worker process behind."""
from __future__ import annotations

import gzip
import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from pipeline.stages import clean as clean_stage
from pipeline.cleaning.workunits import load_plan
from pipeline.errors import StageError
from pipeline.layout import Layout
from tests.conftest import REPO, require_shared
from tests.procs import descendants, kill_alone, reaped

SECTIONS = {"validate": {}, "review": {}, "vocab": {"size": 1000}, "shard": {}, "model": {"size": "tiny"},
            "pretrain": {}, "evaluate": {}}  # dvc.yaml tracks vocab.size / model.size by name


def project(tmp: Path, sources: list[dict], clean_cfg: dict, lang: str = "sw") -> Path:
    shared = require_shared()
    (tmp / "corpora").mkdir(parents=True, exist_ok=True)
    (tmp / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {lang: {}}}))
    cfg = {"language": lang, "script": "Latn", "sources": sources, "clean": clean_cfg, **SECTIONS}
    (tmp / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return tmp


def good_docs(n: int = 12) -> list[str]:
    text = require_shared("small", "text", "sw", "flores200_devtest.txt").read_text(encoding="utf-8")
    return [d.strip("\n") for d in text.split("\n\n") if d.strip()][:n]


def text_bytes(docs: list[str]) -> bytes:
    return ("\n\n".join(docs) + "\n").encode("utf-8")


def _jsonl(docs: list[str]) -> bytes:
    return b"".join(json.dumps({"text": d}, ensure_ascii=False).encode() + b"\n" for d in docs)


def _parquet_garbage(path: Path) -> None:
    path.write_bytes(b"PAR1" + os.urandom(64))


def _conllu() -> bytes:
    return ("# newdoc id = a\n# text = Habari ya asubuhi, rafiki yangu mpendwa wa siku nyingi sana.\n"
            "1\tHabari\t_\t_\t_\t_\t_\t_\t_\t_\n"
            "this line is not a token line\n\n").encode()


def _cases():
    docs = good_docs()
    head = text_bytes(docs[:6])
    tail = text_bytes(docs[6:])
    big_text = text_bytes(docs * 4)  # > 8000 bytes so a later NUL is not "binary"
    gz_full = gzip.compress(text_bytes(docs * 10), mtime=0)
    l_utf, l_nul = head.count(b"\n") + 1, big_text.count(b"\n") + 1
    return [
        # kind, file name, format, content (bytes or writer), error message pattern, line
        ("invalid_utf8", "a.txt", "text", head + b"Maneno \xff mabaya\n\n" + tail,
         rf"a\.txt line {l_utf}: not valid UTF-8 \(byte 0xff at column 8\)", l_utf),
        ("nul_byte", "a.txt", "text", big_text + b"kitu\x00kingine\n\n" + tail,
         rf"a\.txt line {l_nul}: NUL byte at column 5", l_nul),
        ("binary_file", "a.bin", "text", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200),
         r"a\.bin line 3: looks like a binary file", 3),
        ("corrupt_gzip", "a.txt.gz", "text", gz_full[: len(gz_full) * 2 // 3],
         r"a\.txt\.gz line \d+: cannot read", None),
        ("malformed_json", "a.jsonl", "jsonl", _jsonl(docs[:3]) + b'{"text": "unterminated\n' + _jsonl(docs[3:]),
         r"a\.jsonl line 4: malformed JSON", 4),
        ("missing_field", "a.jsonl", "jsonl", _jsonl(docs[:2]) + b'{"body": "x"}\n' + _jsonl(docs[2:]),
         r"a\.jsonl line 3: no field 'text' \(fields: body\)", 3),
        ("bad_field_type", "a.jsonl", "jsonl", _jsonl(docs[:2]) + b'{"text": 42}\n' + _jsonl(docs[2:]),
         r"a\.jsonl line 3: field 'text' is int, not a string", 3),
        ("malformed_conllu", "a.conllu", "conllu", _conllu(), r"a\.conllu line 4: not a CoNLL-U token line", 4),
        ("unreadable_parquet", "a.parquet", "parquet", _parquet_garbage, r"a\.parquet: not a readable Parquet", 0),
    ]


def _setup(tmp_path: Path, kind: str, mode: str) -> Path:
    _, name, fmt, content, _, _ = _cases_by_kind()[kind]
    raw = tmp_path / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    if callable(content):
        content(raw / name)
    else:
        (raw / name).write_bytes(content)
    (raw / "good.txt").write_bytes(text_bytes(good_docs()[::-1][:8]))  # other good text, so output is never empty
    sources = [{"path": f"raw/{name}", "root": "project", "format": fmt},
               {"path": "raw/good.txt", "root": "project"}]
    return project(tmp_path, sources, {"min_chars": 20, "on_bad_input": mode, "lid": {"min_score": 0.1},
                                       "quality": {"gopher_quality": {"min_doc_words": 0}}})


def _cases_by_kind():
    return {c[0]: c for c in _cases()}


KINDS = ["invalid_utf8", "nul_byte", "binary_file", "corrupt_gzip", "malformed_json", "missing_field",
         "bad_field_type", "malformed_conllu", "unreadable_parquet"]


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_error_names_file_and_line(tmp_path, kind):
    root = _setup(tmp_path, kind, "error")
    pattern = _cases_by_kind()[kind][4]
    with pytest.raises(StageError, match=pattern):
        clean_stage.run("sw", root)
    assert not Layout(root, "sw").clean_dir.exists()


@pytest.mark.parametrize("kind", KINDS)
def test_bad_input_skip_is_counted_with_examples(tmp_path, kind):
    root = _setup(tmp_path, kind, "skip")
    summary = clean_stage.run("sw", root)
    stats = json.loads(Layout(root, "sw").clean_stats.read_text())
    assert stats["skipped"].get(kind) == 1, stats["skipped"]
    assert summary["skipped"] == stats["skipped"]
    assert any("bad input skipped" in w for w in stats["warnings"])
    recs = [json.loads(x) for x in (Layout(root, "sw").clean_dir / "rejected.jsonl").read_text().splitlines()]
    ex = [r for r in recs if r["reason"] == f"skipped:{kind}"]
    name, line = _cases_by_kind()[kind][1], _cases_by_kind()[kind][5]
    assert len(ex) == 1 and ex[0]["source"] == f"raw/{name}" and ex[0]["details"]["kind"] == kind
    if line is not None:
        assert ex[0]["line"] == line
    assert stats["documents_in"] == stats["documents_out"] + sum(stats["dropped"].values())
    assert stats["documents_out"] >= 8   # the good text went through
    if kind == "corrupt_gzip":           # what came before the damage is kept
        assert next(s for s in stats["sources"] if s["path"] == f"raw/{name}")["documents"] > 0


def test_50mb_single_line_is_streamed_and_split(tmp_path):
    raw = tmp_path / "raw"
    raw.mkdir()
    docs = good_docs(8)
    with open(raw / "huge.txt", "wb") as f:
        f.write(text_bytes(docs[:4]) + b"\n")
        chunk = ("neno " * 200_000).encode()     # 1 MB
        for _ in range(50):
            f.write(chunk)
        f.write(b"\n\n" + text_bytes(docs[4:]))
    root = project(tmp_path, [{"path": "raw/huge.txt", "root": "project"}],
                   {"min_chars": 20, "lid": {"min_score": 0.1}})
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    clean_stage.run("sw", root)
    grew_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    stats = json.loads(Layout(root, "sw").clean_stats.read_text())
    # cut into max_chars pieces (2,000,000 characters: 25) that are counted, never dropped as too_long
    assert stats["dropped"]["too_long"] == 0 and stats["split_long_document"] >= 25
    assert stats["documents_out"] >= 8
    assert stats["chars_in"] > 49_000_000
    assert stats["documents_in"] == stats["documents_out"] + sum(stats["dropped"].values())
    assert grew_mb < 200, f"peak memory grew by {grew_mb:.0f} MB"  # (work units of ~8 MB, not 50 MB+)


# --- resumability ---------------------------------------------------------------------------------

def _stage(root: Path, workers: str) -> subprocess.Popen:
    env = {**os.environ, "FOUNDRY_PROJECT": str(root), "FOUNDRY_CLEAN_WORKERS": workers,
           "PYTHONPATH": str(REPO)}
    return subprocess.Popen([sys.executable, "-m", "pipeline", "clean", "sw"], cwd=REPO, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def test_killed_run_resumes_and_matches_uninterrupted(tmp_path):
    src = [{"path": "small/text/sw/flores200_devtest.txt"}]
    cfg = {"min_chars": 50, "task_bytes": 6000}
    # the reference: uninterrupted, two workers
    ref = project(tmp_path / "ref", src, cfg)
    p = _stage(ref, "2")
    out, err = p.communicate(timeout=300)
    assert p.returncode == 0, err
    assert json.loads(out)["tasks"] > 10
    # the same clean, one worker, killed (with its whole process group) once two tasks are done
    root = project(tmp_path / "run", src, cfg)
    work = root / "data" / "sw" / ".clean-work" / "tasks"
    p = _stage(root, "1")
    deadline = time.time() + 120
    while time.time() < deadline and p.poll() is None:
        if (work / "00001").is_dir():
            break
        time.sleep(0.01)
    assert p.poll() is None, "the run finished before it could be killed"
    os.killpg(p.pid, signal.SIGKILL)
    p.wait()
    assert not Layout(root, "sw").clean_dir.exists()            # nothing that looks finished
    done = sorted(d.name for d in work.iterdir() if not d.name.startswith("."))
    assert done and len(done) < json.loads(out)["tasks"]
    # rerun: finishes, reuses the completed tasks, same output as the uninterrupted run
    p = _stage(root, "1")
    out2, err2 = p.communicate(timeout=300)
    assert p.returncode == 0, err2
    summary = json.loads(out2)
    assert summary["tasks_reused"] >= len(done) >= 2
    a = {f.name: f.read_bytes() for f in Layout(root, "sw").clean_dir.iterdir()}
    b = {f.name: f.read_bytes() for f in Layout(ref, "sw").clean_dir.iterdir()}
    assert a.keys() == b.keys() and a == b
    assert not (root / "data" / "sw" / ".clean-work").exists()   # work folder removed after success


def test_changed_config_discards_old_work(tmp_path):
    src = [{"path": "small/text/sw/flores200_devtest.txt"}]
    fast = {"gopher_repetition": {"enabled": False}, "gopher_quality": {"enabled": False}}
    root = project(tmp_path, src, {"min_chars": 50, "task_bytes": 30000, "quality": fast})
    ctx, tasks, work = load_plan("sw", root)
    (work / "tasks" / "00000").mkdir(parents=True)
    (work / "tasks" / "00000" / "stats.json").write_text("{not a finished task of this config")
    project(tmp_path, src, {"min_chars": 60, "task_bytes": 30000, "quality": fast})   # a different config
    summary = clean_stage.run("sw", root)
    assert summary["tasks_reused"] == 0
    stats = json.loads(Layout(root, "sw").clean_stats.read_text())
    assert stats["settings"]["min_chars"] == 60


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads process parents from /proc (Linux)")
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_clean_workers_exit_with_a_killed_stage(tmp_path, sig):
    """A clean stage killed on its own (not its process group: a scheduler's or a user's `kill PID`) takes its
    forkserver and pool workers with it (a worker finishes the unit it holds, then reads EOF from the task
    pipe whose only writer was the stage), instead of leaving them waiting for units no one will send."""
    root = project(tmp_path, [{"path": "text/sw/*.txt.gz"}], {"min_chars": 50, "task_bytes": 20000})
    work = root / "data" / "sw" / ".clean-work" / "tasks"
    with reaped(_stage(root, "2")) as p:
        deadline = time.time() + 120
        while time.time() < deadline and p.poll() is None and not (work / "00001").is_dir():
            time.sleep(0.01)
        assert p.poll() is None, "the run finished before it could be killed"
        below = descendants(p.pid)
        assert len(below) >= 3, f"expected a forkserver and two workers below the stage, found {below}"
        left = kill_alone(p, sig, below)
        assert not left, f"clean processes {left} outlived their stage ({sig.name})"


def test_a_folder_of_many_small_files_reads_the_project_config_once(tmp_path, monkeypatch):
    """A corpus of thousands of one-document files (a real crawl's shape): planning read params.yaml once per
    file (40 of 55 s for 2,887 files). The number of reads must not grow with the number of files, and every
    file's document is read."""
    from pipeline.config import project as project_mod

    docs = [d for d in require_shared("small", "text", "sw", "flores200_devtest.txt").read_text(encoding="utf-8")
            .split("\n\n") if d.strip()]
    reads = []
    real = project_mod._read_yaml
    monkeypatch.setattr(project_mod, "_read_yaml", lambda p: (reads.append(Path(p).name), real(p))[1])
    counts = {}
    for n in (20, 200):
        # an absolute path, as new-language writes for a folder outside the data root
        root = project(tmp_path / f"p{n}", [{"path": str(tmp_path / f"p{n}" / "many" / "**" / "*.txt"),
                                             "format": "text"}],
                       {"min_chars": 20, "dedup": {"exact": False, "minhash": False}})
        for i in range(n):
            f = root / "many" / f"d{i % 7}" / f"doc{i:04d}.txt"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(docs[i % len(docs)] + "\n", encoding="utf-8")
        reads.clear()
        stats = clean_stage.run("sw", root)
        assert stats["documents_in"] == n
        counts[n] = reads.count("params.yaml")
    assert counts[200] == counts[20], counts
