"""Property-based tests (hypothesis) for the readers: the clean stage's source readers (pipeline/readers/) and
the evaluation task loaders (pipeline/taskdata/formats/).

- arbitrary bytes, text and JSONL lines never raise anything but ``StageError`` (the documented error type,
  which the CLI prints without a traceback); in ``on_bad_input: skip`` mode the source readers never raise;
- valid generated documents survive a write/read round trip with their text intact;
- every input record is accounted for: documents read + records skipped (by kind) = records written.
"""
from __future__ import annotations

import json
import os
import tempfile
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline.config import Source, TaskSettings
from pipeline.errors import StageError
from pipeline.readers import BadInput, SourceFile, iter_file, sniff_binary
from pipeline.readers.lines import iter_lines
from pipeline.taskdata.formats.registry import read_examples

SETTINGS = settings(max_examples=int(os.environ.get("FOUNDRY_HYPOTHESIS_EXAMPLES", "150")), deadline=None,
                    suppress_health_check=[HealthCheck.too_slow])
MAX_CHARS = 10_000


@contextmanager
def source_file(data: bytes, fmt: str, name: str = "src"):
    with tempfile.TemporaryDirectory(prefix="foundry-prop-") as d:
        path = Path(d) / name
        path.write_bytes(data)
        yield SourceFile(Source(path=name, format=fmt), path, name)


def read_all(data: bytes, fmt: str, mode: str = "error", name: str = "src") -> tuple[list, BadInput]:
    bad = BadInput(mode)
    with source_file(data, fmt, name) as sf:
        if sniff_binary(sf, bad):
            return [], bad
        return list(iter_file(sf, MAX_CHARS, bad=bad)), bad


def only_stage_errors(data: bytes, fmt: str, name: str = "src") -> None:
    try:
        read_all(data, fmt, "error", name)
    except StageError as e:
        assert name in str(e)          # the message names the file
    docs, _ = read_all(data, fmt, "skip", name)   # skip mode: never raises
    for d in docs:
        assert isinstance(d.text, str)
        if fmt != "jsonl":                          # (JSON may spell a NUL as \u0000)
            assert "\x00" not in d.text


# --- nothing but StageError -------------------------------------------------------------------------------

# bytes that look like the formats, mixed with damage
FRAGMENTS = st.sampled_from([b"\n", b"\n\n", b"\r\n", b"\t", b"#", b"# text = a b", b"# newdoc", b"1\ta\t_", b"1-2",
                             b'{"text": "', b'"}', b"{", b"}", b"[", b"]", b"null", b"\\u0000", b"\x00", b"\xff",
                             b"\xc3", b"\xe2\x82", b"\x1f\x8b", b"PAR1", "é".encode(), "語".encode(), b" ", b"word"])
MESSY = st.one_of(st.binary(max_size=600), st.lists(FRAGMENTS, max_size=60).map(b"".join))


@SETTINGS
@given(MESSY, st.sampled_from(["text", "jsonl", "conllu"]))
def test_source_readers_raise_only_stage_error(data, fmt):
    only_stage_errors(data, fmt)


@SETTINGS
@given(MESSY)
def test_gzip_reader_raises_only_stage_error(data):
    import gzip

    blob = gzip.compress(data, mtime=0)
    for cut in (len(blob), len(blob) // 2, 3):
        only_stage_errors(blob[:cut], "text", name="src.txt.gz")
    only_stage_errors(data, "text", name="plain.txt.gz")     # not gzip at all


@SETTINGS
@given(st.binary(max_size=400))
def test_parquet_reader_raises_only_stage_error(data):
    only_stage_errors(b"PAR1" + data + b"PAR1", "parquet")
    only_stage_errors(data, "parquet")


JSON_VALUES = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
                           lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
                           max_leaves=8)


@SETTINGS
@given(st.lists(st.one_of(JSON_VALUES.map(lambda v: json.dumps(v)), st.text(max_size=40)), max_size=12))
def test_jsonl_lines_raise_only_stage_error(lines):
    only_stage_errors("\n".join(lines).encode("utf-8", "surrogatepass"), "jsonl")


# --- round trips ------------------------------------------------------------------------------------------

# a line of a text document: non-blank, no line break, no NUL (what a clean text file holds)
LINE = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00"), min_size=1,
               max_size=60).filter(lambda s: s.strip() != "")
DOC = st.lists(LINE, min_size=1, max_size=5).map("\n".join)


@SETTINGS
@given(st.lists(DOC, min_size=1, max_size=12), st.sampled_from(["\n", "\r\n"]))
def test_text_round_trip(docs, eol):
    data = ((eol + eol).join(d.replace("\n", eol) for d in docs) + eol).encode()
    got, bad = read_all(data, "text")
    assert [d.text for d in got] == docs
    assert not bad.counts
    assert all(not d.split for d in got)


TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@SETTINGS
@given(st.lists(TEXT, min_size=1, max_size=12), st.booleans())
def test_jsonl_round_trip(texts, ascii_only):
    data = b"".join(json.dumps({"text": t, "n": i}, ensure_ascii=ascii_only).encode() + b"\n"
                    for i, t in enumerate(texts))
    got, bad = read_all(data, "jsonl")
    assert [d.text for d in got] == texts
    assert [d.line for d in got] == list(range(1, len(texts) + 1))
    assert not bad.counts


@SETTINGS
@given(st.lists(st.one_of(st.none(), TEXT), min_size=1, max_size=30))
def test_parquet_round_trip(texts):
    import io

    buf = io.BytesIO()
    pq.write_table(pa.table({"text": pa.array(texts, pa.string())}), buf, row_group_size=7)
    got, bad = read_all(buf.getvalue(), "parquet")
    assert [d.text for d in got] == [t or "" for t in texts]
    assert [d.line for d in got] == list(range(len(texts)))
    assert not bad.counts


# --- every record accounted for ---------------------------------------------------------------------------

GOOD_RECORD = TEXT.map(lambda t: ("ok", json.dumps({"text": t}).encode()))
BAD_RECORDS = st.sampled_from([
    ("malformed_json", b'{"text": "unterminated'),
    ("malformed_json", b"[1, 2, 3]"),
    ("malformed_json", b"not json at all"),
    ("missing_field", b'{"body": "x"}'),
    ("bad_field_type", b'{"text": 42}'),
    ("bad_field_type", b'{"text": ["a"]}'),
    ("invalid_utf8", b'{"text": "caf\xe9"}'),
    ("nul_byte", b'{"text": "a\x00b"}'),
])


@SETTINGS
@given(st.lists(st.one_of(GOOD_RECORD, BAD_RECORDS), min_size=1, max_size=25), st.booleans())
def test_jsonl_read_plus_skipped_equals_records(records, blank_lines):
    # NUL lines only after 8000 bytes would count as nul_byte; near the start they make the file "binary"
    pad = [("ok", json.dumps({"text": "x" * 8100}).encode())]
    records = pad + records
    sep = b"\n\n" if blank_lines else b"\n"
    data = sep.join(r for _, r in records) + b"\n"
    docs, bad = read_all(data, "jsonl", "skip")
    want = {}
    for kind, _ in records:
        if kind != "ok":
            want[kind] = want.get(kind, 0) + 1
    assert dict(bad.counts) == want
    assert len(docs) + sum(bad.counts.values()) == len(records)
    assert len(bad.examples) == sum(bad.counts.values())      # each skip names its file and line
    assert all(ex["source"] == "src" and ex["line"] >= 1 for ex in bad.examples)


@SETTINGS
@given(st.lists(st.one_of(LINE.map(lambda s: s.encode()), st.sampled_from([b"caf\xe9", b"\xff\xfe", b"a\x00b"])),
                min_size=1, max_size=30))
def test_text_lines_read_plus_skipped_equals_lines(lines):
    data = b"x" * 8100 + b"\n" + b"\n".join(lines) + b"\n"
    bad = BadInput("skip")
    with source_file(data, "text") as sf:
        read = list(iter_lines(sf.path, MAX_CHARS, bad=bad, rel=sf.rel))
    assert len(read) + sum(bad.counts.values()) == len(lines) + 1
    assert [n for n, _, _ in read] == sorted(n for n, _, _ in read)
    skipped_lines = {ex["line"] for ex in bad.examples}
    assert skipped_lines.isdisjoint(n for n, _, _ in read)


# --- the evaluation task loaders --------------------------------------------------------------------------

TASKS = [
    TaskSettings(name="t", type="classification", format="tsv", train="x"),
    TaskSettings(name="t", type="classification", format="tsv", train="x", skip_header=False),
    TaskSettings(name="t", type="pair_classification", format="tsv", train="x"),
    TaskSettings(name="t", type="regression", format="tsv", train="x"),
    TaskSettings(name="t", type="pair_classification", format="xnli", train="x"),
    TaskSettings(name="t", type="classification", format="masakhanews", train="x"),
    TaskSettings(name="t", type="classification", format="jsonl", train="x"),
    TaskSettings(name="t", type="tagging", format="jsonl", train="x"),
    TaskSettings(name="t", type="tagging", format="conllu", train="x"),
    TaskSettings(name="t", type="tagging", format="conll", train="x"),
]
TASK_FRAGMENTS = st.sampled_from([b"\n", b"\t", b"\r\n", b" ", b'"', b"sentence", b"label", b"text", b"category",
                                  b"headline", b"sentence1", b"sentence2", b"score", b"1", b"0", b"-1", b"1.5",
                                  b"nan", b"NOUN", b"B-PER", b"_", b"#", b"1-2", b"1.1", b"-DOCSTART-",
                                  b'{"text": "a", "label": "b"}', b'{"tokens": ["a"], "tags": ["X"]}', b"{",
                                  b"\xef\xbb\xbf", b"\xff", "é".encode()])
TASK_DATA = st.one_of(st.binary(max_size=300), st.lists(TASK_FRAGMENTS, max_size=60).map(b"".join))


@SETTINGS
@given(TASK_DATA, st.sampled_from(range(len(TASKS))))
def test_task_loaders_raise_only_stage_error(data, i):
    task = TASKS[i]
    with tempfile.TemporaryDirectory(prefix="foundry-prop-") as d:
        path = Path(d) / "train.data"
        path.write_bytes(data)
        try:
            out = read_examples(path, task)
        except StageError as e:
            assert str(path) in str(e) or "task 't'" in str(e)
            return
    for ex in out:
        assert isinstance(ex.text_a, str) and ex.line >= 1


CELL = st.text(st.characters(blacklist_categories=("Cs", "Cc", "Zl", "Zp"), blacklist_characters="\t\x85"),
               min_size=1, max_size=30).filter(lambda s: s.strip() == s and s != "")


@SETTINGS
@given(st.lists(st.tuples(CELL, CELL), min_size=1, max_size=20))
def test_tsv_task_round_trip(rows):
    task = TaskSettings(name="t", type="classification", format="tsv", train="x")
    data = ("sentence\tlabel\n" + "".join(f"{a}\t{b}\n" for a, b in rows)).encode()
    with tempfile.TemporaryDirectory(prefix="foundry-prop-") as d:
        path = Path(d) / "train.tsv"
        path.write_bytes(data)
        out = read_examples(path, task)
    assert [(e.text_a, e.label) for e in out] == rows
    assert [e.line for e in out] == list(range(2, len(rows) + 2))
