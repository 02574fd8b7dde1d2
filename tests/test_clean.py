"""Clean stage and streaming readers, on real text from the shared data folder."""
from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import unicodedata
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.cleaning.normalize import normalize, script_share
from pipeline.cleaning.output import SCHEMA
from pipeline.stages import clean as clean_stage
from pipeline.config import ConfigError, load_language
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.readers import iter_documents

SHARED = Path(os.environ.get("FOUNDRY_DATA_ROOT", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))


@pytest.fixture(scope="session")
def shared() -> Path:
    root = SHARED.resolve()
    if not (root / "small" / "text").is_dir():
        msg = f"shared data not found at {root} (set FOUNDRY_DATA_ROOT)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return root


def make_project(tmp: Path, shared: Path, lang: str, sources: list[dict], script: str = "Latn",
                 clean_cfg: dict | None = None, validate_cfg: dict | None = None) -> Path:
    (tmp / "corpora").mkdir(parents=True, exist_ok=True)
    (tmp / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {lang: {}}}))
    cfg = {"language": lang, "script": script, "sources": sources}
    if clean_cfg:
        cfg["clean"] = clean_cfg
    if validate_cfg:
        cfg["validate"] = validate_cfg
    (tmp / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    return tmp


def docs_of(path: Path) -> list[str]:
    """Blank-line-separated documents of a real text file."""
    text = path.read_text(encoding="utf-8")
    return [d.strip("\n") for d in text.split("\n\n") if d.strip()]


def read_clean(root: Path, lang: str) -> tuple[pa.Table, dict]:
    lay = Layout(root, lang)
    table = pa.concat_tables([pq.read_table(f) for f in lay.clean_files()])
    stats = json.loads(lay.clean_stats.read_text())
    return table, stats


def check_stats(stats: dict, table: pa.Table):
    assert stats["documents_in"] == stats["documents_out"] + sum(stats["dropped"].values())
    assert stats["documents_out"] == table.num_rows
    assert stats["chars_out"] == sum(table.column("n_chars").to_pylist())
    assert sum(s["documents"] for s in stats["sources"]) == stats["documents_in"]
    for s in stats["sources"]:
        assert len(s["sha256"]) == 64


@pytest.mark.parametrize("lang,script,clean_cfg", [
    ("sw", "Latn", {"min_chars": 50, "lid": {"min_score": 0.2}}),
    ("tr", "Latn", {"min_chars": 50}),
    ("zh", "Hani", {"min_chars": 20}),
])
def test_real_text_cleans(tmp_path, shared, lang, script, clean_cfg):
    src = f"small/text/{lang}/flores200_devtest.txt"
    root = make_project(tmp_path, shared, lang, [{"path": src}], script, clean_cfg)
    summary = clean_stage.run(lang, root)
    table, stats = read_clean(root, lang)
    check_stats(stats, table)
    assert summary["documents_out"] == table.num_rows > 200
    assert stats["sources"][0]["path"] == src
    assert stats["sources"][0]["sha256"] == hashlib.sha256((shared / src).read_bytes()).hexdigest()
    assert table.schema == SCHEMA
    rows = table.to_pylist()
    assert len({r["id"] for r in rows}) == len(rows)
    for r in rows[:50]:
        assert r["id"] == hashlib.sha1(r["text"].encode()).hexdigest()[:16]
        assert r["n_chars"] == len(r["text"]) >= clean_cfg["min_chars"]
        assert r["lid_lang"] == lang and 0 < r["lid_score"] <= 1.0
        assert r["script_share"] >= 0.5
        assert r["source"] == src
    assert stats["lid"]["kept"]["count"] == table.num_rows


def test_duplicates_dropped_and_counted(tmp_path, shared):
    docs = docs_of(shared / "small/text/sw/flores200_devtest.txt")[:30]
    # the same document twice more, once with different spacing (equal after normalisation)
    dup = docs[3].replace(" ", "  ", 3)
    text = "\n\n".join(docs + [docs[3], dup]) + "\n"
    (tmp_path / "raw").mkdir()
    (tmp_path / "raw" / "sw.txt").write_text(text, encoding="utf-8")
    root = make_project(tmp_path, shared, "sw", [{"path": "raw/sw.txt", "root": "project"}],
                        clean_cfg={"min_chars": 20, "lid": {"min_score": 0.1}})
    clean_stage.run("sw", root)
    table, stats = read_clean(root, "sw")
    check_stats(stats, table)
    assert stats["dropped"]["duplicate"] == 2
    texts = table.column("text").to_pylist()
    assert len(texts) == len(set(texts))
    assert normalize(docs[3]) in texts
    assert stats["sources"][0]["path"] == "raw/sw.txt"


def test_foreign_script_dropped(tmp_path, shared):
    sw = docs_of(shared / "small/text/sw/flores200_devtest.txt")[:20]
    ru = docs_of(shared / "small/text/ru/flores200_devtest.txt")[5]
    (tmp_path / "mixed.txt").write_text("\n\n".join(sw[:10] + [ru] + sw[10:]) + "\n", encoding="utf-8")
    root = make_project(tmp_path, shared, "sw", [{"path": "mixed.txt", "root": "project"}],
                        clean_cfg={"min_chars": 20, "lid": {"min_score": 0.1}})
    clean_stage.run("sw", root)
    table, stats = read_clean(root, "sw")
    check_stats(stats, table)
    assert stats["dropped"]["script"] + stats["dropped"]["language"] >= 1
    assert stats["dropped"]["script"] == 1  # the script check runs before language ID
    assert not any(script_share(t, "Cyrl") > 0.1 for t in table.column("text").to_pylist())


def test_normalize_unit():
    raw = "  Caf\u0065\u0301\u200b au\u00a0\u00a0lait\x07\t\tna\u00adme\ufeff \r\n\n\u2028 ZW\u200cNJ  \n\n"
    out = normalize(raw)
    assert out == "Caf\u00e9 au lait name\nZW\u200cNJ"
    assert unicodedata.is_normalized("NFC", out)
    assert normalize(" \u200b\n\t\n") == ""
    # ZWJ/ZWNJ are kept for Indic scripts
    assert normalize("क्\u200dष") == "क्\u200dष"
    assert script_share("abc абв", "Latn") == 0.5
    assert script_share("日本語のテキスト", "Jpan") == 1.0
    assert script_share("한국어 漢字", "Kore") == 1.0
    assert script_share("123 !!", "Latn") == 0.0


def test_csv_quoted_lines_unquoted_and_counted(tmp_path, shared):
    """The shared German FLORES file holds 24 lines as a CSV writer quotes them (`"sagte: ""Mike ..."" und"`); the
    clean stage unquotes exactly those, counts them, and leaves a quoted line with a stray doubled quote alone."""
    from pipeline.cleaning.normalize import csv_unquote
    from tests.conftest import require_shared
    flores = require_shared("text", "de", "flores200_devtest.txt.gz")
    lines = gzip.open(flores, "rt", encoding="utf-8").read().split("\n")
    quoted = [ln for ln in lines if csv_unquote(ln) is not None]
    assert len(quoted) == 24
    # quoted at both ends, a doubled pair inside, but also single quotes (NTREX's kind of typo): not CSV, kept as is
    stray = '"Er sagte: ""Ja"", und dann: "du hast Macht, wenn so viele Frauen machtlos sind.""'
    assert csv_unquote(stray) is None
    (tmp_path / "de.txt").write_text("\n".join(lines) + "\n\n" + "\n".join([stray] + lines[1:4]) + "\n",
                                     encoding="utf-8")
    for on in (True, False):
        root = make_project(tmp_path / str(on), shared, "de", [{"path": str(tmp_path / "de.txt")}],
                            clean_cfg={"min_chars": 20, "normalize": {"csv_quotes": on}})
        clean_stage.run("de", root)
        table, stats = read_clean(root, "de")
        check_stats(stats, table)
        kept = [ln for t in table.column("text").to_pylist() for ln in t.split("\n")]
        if on:
            assert stats["normalized"] == {"csv_unquoted_lines": 24}
            assert not any(csv_unquote(ln) for ln in kept)
            assert csv_unquote(quoted[0]) in kept and quoted[0] not in kept
        else:
            assert stats["normalized"] == {}
            assert quoted[0] in kept
        assert any(ln.startswith(stray) for ln in kept)


def test_single_byte_encodings_read_as_their_utf8_originals(tmp_path, shared):
    """Russian FLORES in Windows-1251 and KOI8-R (text, gzip) and German FLORES as a Windows-1252 CSV, each with
    `encoding:` on its source, clean to exactly what the UTF-8 originals clean to; without it, the stage stops at
    the first line that is not UTF-8 and says which encoding to try."""
    import csv as csvlib
    from tests.conftest import require_shared
    ru = gzip.open(require_shared("text", "ru", "flores200_devtest.txt.gz"), "rt", encoding="utf-8").read()
    de = gzip.open(require_shared("text", "de", "flores200_devtest.txt.gz"), "rt", encoding="utf-8").read()
    ru_blocks = [b for b in ru.split("\n\n") if b.strip()][:60]
    ru_blocks = [b for b in ru_blocks if b.encode("cp1251", "ignore").decode("cp1251") == b
                 and b.encode("koi8-r", "ignore").decode("koi8-r") == b]        # what both code pages hold
    de_blocks = [b for b in de.split("\n\n") if b.strip()][:60]
    de_blocks = [b for b in de_blocks if b.encode("cp1252", "ignore").decode("cp1252") == b]
    assert len(ru_blocks) >= 40 and len(de_blocks) >= 40
    ru_text = "\n\n".join(ru_blocks) + "\n"
    out = io.StringIO()
    writer = csvlib.writer(out, lineterminator="\n")
    writer.writerows([["id", "text"], *([i, b] for i, b in enumerate(de_blocks))])
    (tmp_path / "ru-utf8.txt").write_text(ru_text, encoding="utf-8")
    (tmp_path / "ru-1251.txt").write_bytes(ru_text.encode("cp1251"))
    (tmp_path / "ru-koi8.txt.gz").write_bytes(gzip.compress(ru_text.encode("koi8-r"), mtime=0))
    (tmp_path / "de-utf8.csv").write_text(out.getvalue(), encoding="utf-8")
    (tmp_path / "de-1252.csv").write_bytes(out.getvalue().encode("cp1252"))

    def clean(lang: str, name: str, sources: list[dict]) -> list[str]:
        root = make_project(tmp_path / name, shared, lang, sources, "Cyrl" if lang == "ru" else "Latn",
                            clean_cfg={"min_chars": 20})
        clean_stage.run(lang, root)
        table, stats = read_clean(root, lang)
        check_stats(stats, table)
        assert not stats["skipped"]
        return table.column("text").to_pylist()

    want = clean("ru", "ru-utf8", [{"path": str(tmp_path / "ru-utf8.txt")}])
    assert len(want) >= 0.9 * len(ru_blocks)
    assert clean("ru", "ru-1251", [{"path": str(tmp_path / "ru-1251.txt"), "encoding": "cp1251"}]) == want
    assert clean("ru", "ru-koi8", [{"path": str(tmp_path / "ru-koi8.txt.gz"), "encoding": "koi8-r"}]) == want
    want = clean("de", "de-utf8", [{"path": str(tmp_path / "de-utf8.csv"), "format": "csv"}])
    assert len(want) >= 0.9 * len(de_blocks)
    assert clean("de", "de-1252", [{"path": str(tmp_path / "de-1252.csv"), "format": "csv", "encoding": "cp1252"}]) \
        == want
    root = make_project(tmp_path / "ru-undeclared", shared, "ru", [{"path": str(tmp_path / "ru-1251.txt")}], "Cyrl",
                        clean_cfg={"min_chars": 20})
    with pytest.raises(StageError, match=r"ru-1251\.txt line 1: not valid UTF-8 .*`encoding: ENC`, ENC its code "
                                         r"page \(cp1251, koi8-r"):
        clean_stage.run("ru", root)
    root = make_project(tmp_path / "de-undeclared", shared, "de", [{"path": str(tmp_path / "de-1252.csv"),
                                                                    "format": "csv"}], clean_cfg={"min_chars": 20})
    with pytest.raises(StageError, match=r"de-1252\.csv near line \d+: not valid UTF-8 .*reads as Windows-1252.*"
                                         r"`encoding: cp1252`"):
        clean_stage.run("de", root)


def test_control_and_zero_width_removed_end_to_end(tmp_path, shared):
    docs = docs_of(shared / "small/text/tr/flores200_devtest.txt")[:10]
    # decomposed (NFD) text, a zero-width space, a BOM and a control character in document 0
    dirty = unicodedata.normalize("NFD", docs[0]).replace(" ", " \u200b", 2) + "\x01\ufeff"
    (tmp_path / "tr.txt").write_text("\ufeff" + "\n\n".join([dirty] + docs[1:]) + "\n", encoding="utf-8")
    root = make_project(tmp_path, shared, "tr", [{"path": "tr.txt", "root": "project"}], clean_cfg={"min_chars": 20})
    clean_stage.run("tr", root)
    table, stats = read_clean(root, "tr")
    check_stats(stats, table)
    texts = table.column("text").to_pylist()
    assert texts[0] == normalize(docs[0])
    for t in texts:
        assert unicodedata.is_normalized("NFC", t)
        assert not any(c in t for c in "\u200b\ufeff\x01\t\r")
        assert "  " not in t


def test_deterministic_output(tmp_path, shared):
    root = make_project(tmp_path, shared, "sw", [{"path": "small/text/sw/flores200_devtest.txt"}],
                        clean_cfg={"min_chars": 20, "rows_per_shard": 100, "lid": {"min_score": 0.2}})
    clean_stage.run("sw", root)
    lay = Layout(root, "sw")
    first = {p.name: p.read_bytes() for p in sorted(lay.clean_dir.iterdir())}
    assert len([n for n in first if n.endswith(".parquet")]) >= 3  # several shards of 100 rows
    clean_stage.run("sw", root)
    second = {p.name: p.read_bytes() for p in sorted(lay.clean_dir.iterdir())}
    assert first == second
    # no leftovers from the atomic swap
    assert [p.name for p in lay.clean_dir.parent.iterdir()] == ["clean"]


def test_readers_jsonl_parquet_conllu_gz(tmp_path, shared):
    tr = docs_of(shared / "small/text/tr/flores200_devtest.txt")[:40]
    with open(tmp_path / "tr.jsonl", "w", encoding="utf-8") as f:
        for i, d in enumerate(tr[:20]):
            f.write(json.dumps({"id": i, "meta": {"body": d}}, ensure_ascii=False) + "\n")
            if i == 5:
                f.write("\n")  # blank lines are skipped
    pq.write_table(pa.table({"content": tr[20:] + [None]}), tmp_path / "tr.parquet", row_group_size=7)
    sources = [
        {"path": "tr.jsonl", "root": "project", "format": "jsonl", "field": "meta.body"},
        {"path": "tr.parquet", "root": "project", "format": "parquet", "field": "content"},
        {"path": "small/ud/UD_Turkish-IMST/tr_imst-ud-test.conllu", "format": "conllu"},
        {"path": "text/tr/flores200_devtest.txt.gz"},
    ]
    root = make_project(tmp_path, shared, "tr", sources, clean_cfg={"min_chars": 20})
    cfg = load_language("tr", root)
    docs = list(iter_documents(cfg, root))
    by_src: dict[str, list] = {}
    for d in docs:
        by_src.setdefault(d.source, []).append(d)
    assert [d.text for d in by_src["tr.jsonl"]] == tr[:20]
    assert [d.line for d in by_src["tr.jsonl"]][5:8] == [6, 8, 9]
    assert [d.text for d in by_src["tr.parquet"]] == tr[20:] + [""]
    assert [d.line for d in by_src["tr.parquet"]] == list(range(21))
    conllu = by_src["small/ud/UD_Turkish-IMST/tr_imst-ud-test.conllu"]
    raw = (shared / "small/ud/UD_Turkish-IMST/tr_imst-ud-test.conllu").read_text(encoding="utf-8")
    assert len(conllu) == raw.count("# newdoc")
    first_sent = next(ln for ln in raw.splitlines() if ln.startswith("# text = "))[len("# text = "):]
    assert conllu[0].text.split("\n")[0] == first_sent
    assert sum(d.text.count("\n") + 1 for d in conllu) == raw.count("# text = ")
    with gzip.open(shared / "text/tr/flores200_devtest.txt.gz", "rt", encoding="utf-8") as f:
        gz_docs = [d.strip("\n") for d in f.read().split("\n\n") if d.strip()]
    assert [d.text for d in by_src["text/tr/flores200_devtest.txt.gz"]] == gz_docs

    clean_stage.run("tr", root)
    table, stats = read_clean(root, "tr")
    check_stats(stats, table)
    assert stats["dropped"]["empty"] == 1  # the null parquet row
    # flores in .gz duplicates the jsonl/parquet documents taken from the same FLORES file
    assert stats["dropped"]["duplicate"] >= 35
    assert {s["format"] for s in stats["sources"]} == {"jsonl", "parquet", "conllu", "text"}


def test_conllu_without_newdoc_grouped(tmp_path, shared):
    path = shared / "ud/UD_Chinese-GSD/zh_gsd-ud-test.conllu"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    root = make_project(tmp_path, shared, "zh", [{"path": str(path), "format": "conllu"}], script="Hani")
    docs = list(iter_documents(load_language("zh", root), root))
    n_sent = path.read_text(encoding="utf-8").count("# text = ")
    assert [d.text.count("\n") + 1 for d in docs[:-1]] == [20] * (len(docs) - 1)
    assert sum(d.text.count("\n") + 1 for d in docs) == n_sent


def test_long_documents_and_lines_split_never_dropped(tmp_path, shared):
    lines = [ln for ln in (shared / "small/text/en/sample.txt").read_text().splitlines() if ln.strip()][:200]
    block = "\n".join(lines)
    huge = " ".join(lines[:60])  # one line longer than max_chars: cut at sentence ends
    (tmp_path / "en.txt").write_text(block + "\n\n" + huge + "\n\n" + lines[0] + " " + lines[1] + "\n",
                                     encoding="utf-8")
    root = make_project(tmp_path, shared, "en", [{"path": "en.txt", "root": "project"}],
                        clean_cfg={"min_chars": 20, "max_chars": 2000, "min_script_share": 0.0,
                                   "lid": {"enabled": False}})
    docs = list(iter_documents(load_language("en", root), root))
    pieces = [d for d in docs if d.split]
    assert all(len(d.text) <= 2000 for d in pieces)
    of_block = [d for d in pieces if d.line <= len(lines)]
    of_line = [d for d in pieces if d.line == len(lines) + 2]
    assert len(of_block) >= len(block) // 2000 and "\n".join(d.text for d in of_block) == block
    assert of_block[0].line == 1 and of_block[1].line > 1
    assert len(of_line) >= len(huge) // 2000 and " ".join(d.text for d in of_line).split() == huge.split()
    assert all(d.text.rstrip()[-1] in ".!?\"'”’)" for d in of_line[:-1])   # cut after a sentence
    assert len(pieces) == len(of_block) + len(of_line)
    clean_stage.run("en", root)
    table, stats = read_clean(root, "en")
    check_stats(stats, table)
    assert stats["split_long_document"] == len(pieces)
    assert stats["dropped"]["too_long"] == 0
    assert max(table.column("n_chars").to_pylist()) <= 2000


def test_sentence_per_line_file_read_as_blank_line_documents_is_warned(tmp_path, shared):
    """A file of one sentence per line with hardly a blank line, read with the default blank-line documents,
    becomes a few huge documents that the filters and deduplication judge whole: stats.json warns, naming the file
    and the setting new-language writes for it; grouped, or a file with real blank-line documents, is not warned."""
    with gzip.open(shared / "text/en/wmt_news.txt.gz", "rt", encoding="utf-8") as f:
        sents = [ln.strip() for ln in f if ln.strip()][:600]
    (tmp_path / "news.txt").write_text("\n".join(sents[:400]) + "\n\n" + "\n".join(sents[400:]) + "\n",
                                       encoding="utf-8")
    flores = {"path": "text/en/flores200_devtest.txt.gz"}
    for documents, warned in (("blank_line", True), ({"group_chars": 2000}, False)):
        root = make_project(tmp_path, shared, "en", [{"path": "news.txt", "root": "project", "documents": documents},
                                                     flores], clean_cfg={"lid": {"calibrate": False}})
        clean_stage.run("en", root)
        _, stats = read_clean(root, "en")
        notes = [w for w in stats["warnings"] if "group_chars" in w]
        news = next(s for s in stats["sources"] if s["path"] == "news.txt")
        read = [d.text for d in iter_documents(load_language("en", root), root) if d.source == "news.txt"]
        assert news["lines"] == 600 and news["chars"] == sum(map(len, read)) and news["documents"] == len(read)
        if warned:
            assert len(notes) == 1 and notes[0].startswith("news.txt: 2 document(s) of 300 lines each"), notes
            assert "`documents: {group_chars: 2000}`" in notes[0]
        else:
            assert not notes and news["documents"] > 20, stats["warnings"]


def test_overlong_line_streamed_and_split(tmp_path, shared):
    # a 3 MB line with max_chars=1000: read in chunks and cut (no space: hard) into kept 1000-character pieces
    (tmp_path / "big.txt").write_text("good line of text here\n\n" + "é" * 3_000_000 + "\nok\n", encoding="utf-8")
    root = make_project(tmp_path, shared, "en", [{"path": "big.txt", "root": "project"}],
                        clean_cfg={"min_chars": 5, "max_chars": 1000})
    docs = list(iter_documents(load_language("en", root), root))
    assert docs[0].text == "good line of text here" and not docs[0].split
    pieces = docs[1:-1]
    assert len(pieces) == 3000 and all(d.split and d.text == "é" * 1000 and d.line == 3 for d in pieces)
    assert docs[-1].text == "ok" and docs[-1].line == 4   # the rest of the block (a piece of it too)


# --- errors ---------------------------------------------------------------------------------------

def test_missing_source_is_config_error(tmp_path, shared):
    root = make_project(tmp_path, shared, "sw", [{"path": "small/text/sw/nope-*.txt"}])
    with pytest.raises(ConfigError, match=r"corpora/sw.yaml.*nope-\*\.txt"):
        clean_stage.run("sw", root)


def test_undecodable_bytes_named(tmp_path, shared):
    good = (shared / "small/text/sw/flores200_devtest.txt").read_bytes().split(b"\n")[:5]
    good[2] = b"ab\xffcd"
    (tmp_path / "corpus.txt").write_bytes(b"\n".join(good) + b"\n")
    root = make_project(tmp_path, shared, "sw", [{"path": "corpus.txt", "root": "project"}])
    with pytest.raises(StageError, match=r"corpus\.txt line 3: not valid UTF-8 \(byte 0xff at column 3\)"):
        clean_stage.run("sw", root)
    assert not Layout(root, "sw").clean_dir.exists()


def test_malformed_jsonl_and_missing_field(tmp_path, shared):
    doc = docs_of(shared / "small/text/sw/flores200_devtest.txt")[0]
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": doc}) + "\n" + '{"text": "unterminated\n',
                                      encoding="utf-8")
    root = make_project(tmp_path, shared, "sw", [{"path": "a.jsonl", "root": "project", "format": "jsonl"}])
    with pytest.raises(StageError, match=r"a\.jsonl line 2: malformed JSON"):
        clean_stage.run("sw", root)
    (tmp_path / "a.jsonl").write_text(json.dumps({"text": doc}) + "\n" + json.dumps({"body": doc}) + "\n",
                                      encoding="utf-8")
    with pytest.raises(StageError, match=r"a\.jsonl line 2: no field 'text' \(fields: body\)"):
        clean_stage.run("sw", root)


def test_unreadable_parquet(tmp_path, shared):
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 this is not parquet")
    root = make_project(tmp_path, shared, "sw", [{"path": "bad.parquet", "root": "project", "format": "parquet"}])
    with pytest.raises(StageError, match=r"bad\.parquet: not a readable Parquet file"):
        clean_stage.run("sw", root)
    pq.write_table(pa.table({"body": ["x"]}), tmp_path / "bad.parquet")
    with pytest.raises(StageError, match=r"bad\.parquet: no column 'text'"):
        clean_stage.run("sw", root)


def test_corrupt_gzip(tmp_path, shared):
    data = (shared / "text/sw/flores200_devtest.txt.gz").read_bytes()
    (tmp_path / "cut.txt.gz").write_bytes(data[: len(data) // 2])  # truncated download
    root = make_project(tmp_path, shared, "sw", [{"path": "cut.txt.gz", "root": "project"}])
    with pytest.raises(StageError, match=r"cut\.txt\.gz line \d+: cannot read"):
        clean_stage.run("sw", root)


def test_empty_corpus(tmp_path, shared):
    (tmp_path / "empty.txt").write_text("\n\n   \n", encoding="utf-8")
    root = make_project(tmp_path, shared, "sw", [{"path": "empty.txt", "root": "project"}])
    with pytest.raises(StageError, match=r"corpora/sw\.yaml: the sources contain no documents"):
        clean_stage.run("sw", root)


def test_everything_filtered_is_error_and_keeps_old_output(tmp_path, shared):
    root = make_project(tmp_path, shared, "sw", [{"path": "small/text/sw/flores200_devtest.txt"}],
                        clean_cfg={"min_chars": 20, "lid": {"min_score": 0.2}})
    clean_stage.run("sw", root)
    before = {p.name: p.read_bytes() for p in Layout(root, "sw").clean_dir.iterdir()}
    make_project(tmp_path, shared, "sw", [{"path": "small/text/sw/flores200_devtest.txt"}],
                 clean_cfg={"min_chars": 100_000, "max_chars": 200_000})
    with pytest.raises(StageError, match=r"corpora/sw\.yaml: all 281 documents were dropped "
                                         r"\(too_short: 281\); relax clean\.\* thresholds"):
        clean_stage.run("sw", root)
    after = {p.name: p.read_bytes() for p in Layout(root, "sw").clean_dir.iterdir()}
    assert before == after
    # a wrong language config: Swahili text judged as Turkish
    make_project(tmp_path, shared, "tr", [{"path": "small/text/sw/flores200_devtest.txt"}],
                 clean_cfg={"min_chars": 20})
    with pytest.raises(StageError, match=r"all 281 documents were dropped \(language: \d+"):
        clean_stage.run("tr", root)
