"""Onboarding a folder of mixed real data (issue 12): `foundry new-language --source DIR` classifies every file,
writes one correct source per format, and `foundry run --until clean` keeps the clean text it was given.

The folder is built from ../shared/data English text, each format from a different slice (no duplicates across
files): a sentence-per-line .txt (WMT news, no blank lines), a .jsonl.gz of title/body articles of which some
are single 50,000-character lines, a .parquet, a .conllu (UD EWT) and a `datasets` save_to_disk folder.
"""
from __future__ import annotations

import gzip
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
import pyarrow.parquet as pq
import yaml

from pipeline.config import load_language
from tests.conftest import require_shared
from tests.test_flow import foundry
from tests.test_new_language import _git_dvc, _project

LANG = "en"


def _lines(shared: Path, name: str) -> list[str]:
    with gzip.open(shared / "text" / "en" / name, "rt", encoding="utf-8") as f:
        return [ln.strip() for ln in f if ln.strip()]


def _articles(sentences: list[str], sizes: list[int]) -> list[dict]:
    """Title + body records: the title a sentence, the body the next sentences up to about ``size`` characters."""
    out, i = [], 0
    for size in sizes:
        title, body = sentences[i], []
        i += 1
        while sum(map(len, body)) < size and i < len(sentences):
            body.append(sentences[i])
            i += 1
        out.append({"title": title, "body": " ".join(body), "url": f"https://example.org/{len(out)}"})
    return out


def build_folder(shared: Path, root: Path) -> Path:
    d = root / "incoming"
    (d / "news").mkdir(parents=True)
    wmt = _lines(shared, "wmt_news.txt.gz")
    (d / "sentences.txt").write_text("\n".join(wmt[:300]) + "\n", encoding="utf-8")       # sentence per line
    arts = _articles(wmt[300:], [50_000, 900, 1200, 50_000, 700, 1500, 800, 1000])       # two 50,000-char lines
    with gzip.open(d / "news" / "articles.jsonl.gz", "wt", encoding="utf-8") as f:
        f.writelines(json.dumps(a, ensure_ascii=False) + "\n" for a in arts)
    ntrex = _lines(shared, "ntrex128.txt.gz")
    docs = [" ".join(ntrex[i:i + 8]) for i in range(0, 400, 8)]
    pq.write_table(pa.table({"id": list(range(len(docs))), "content": docs}), d / "docs.parquet")
    ud = sorted((shared / "ud" / "UD_English-EWT").glob("*.conllu"))[0].read_text(encoding="utf-8")
    (d / "ewt.conllu").write_text("\n\n".join(ud.split("\n\n")[:300]) + "\n\n", encoding="utf-8")
    import datasets

    flores = _lines(shared, "flores200_devtest.txt.gz")
    datasets.Dataset.from_dict({"text": [" ".join(flores[i:i + 6]) for i in range(0, 600, 6)],
                                "n": list(range(100))}).save_to_disk(str(d / "hf_news"))
    return d


def _entries(yaml_text: str) -> list[dict]:
    return yaml.safe_load(yaml_text)["sources"]


def test_new_language_onboards_a_mixed_folder_and_keeps_its_text(tmp_path):
    shared = require_shared("text", "en", "wmt_news.txt.gz").parents[2]
    proj = _project(tmp_path, shared)
    folder = build_folder(shared, tmp_path)

    # --dry-run prints the YAML and writes nothing
    r = subprocess.run([sys.executable, "-m", "flows.cli", "new-language", LANG, "--source", str(folder), "--dry-run"],
                       cwd=proj, env={**os.environ, "FOUNDRY_PROJECT": str(proj)}, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert not (proj / "corpora" / f"{LANG}.yaml").exists() and LANG not in (proj / "params.yaml").read_text()
    by_format = {e["format"]: e for e in _entries(r.stdout)}
    assert sorted(by_format) == ["conllu", "hf", "jsonl", "parquet", "text"], r.stdout
    assert len(_entries(r.stdout)) == 5                                    # one entry per format
    assert by_format["text"]["documents"] == {"group_chars": 2000}         # sentence per line: grouped
    assert by_format["jsonl"]["fields"] == ["title", "body"]               # the url is not text
    assert by_format["parquet"]["field"] == "content" and by_format["hf"]["field"] == "text"
    assert by_format["hf"]["path"] == str(folder / "hf_news")
    for what in ("one sentence per line", "title + body", "save_to_disk", "file(s)", "characters", "documents"):
        assert what in r.stdout, (what, r.stdout)

    r = subprocess.run([sys.executable, "-m", "flows.cli", "new-language", LANG, "--source", str(folder)],
                       cwd=proj, env={**os.environ, "FOUNDRY_PROJECT": str(proj)}, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    cfg = load_language(LANG, proj)
    assert sorted(s.format for s in cfg.sources) == ["conllu", "hf", "jsonl", "parquet", "text"]
    assert cfg.clean.max_chars == 100_000

    _git_dvc(proj)
    r = foundry(proj, "run", LANG, "--until", "clean")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    stats = json.loads((proj / "data" / LANG / "clean" / "stats.json").read_text())
    kept = stats["chars_out"] / stats["chars_in"]
    assert kept >= 0.97, (kept, stats["dropped"])
    assert stats["dropped"]["too_long"] == 0
    sources = {s["path"].rsplit("/", 1)[-1]: s for s in stats["sources"]}
    assert sources["articles.jsonl.gz"]["documents"] == 8             # the 50,000-character lines read whole
    assert all(s["documents_out"] > 0 for s in sources.values()), sources   # every format was read
    shutil.rmtree(folder)


def test_new_language_encoding_reads_a_folder_of_legacy_and_utf8_files(tmp_path):
    """Russian text as older corpora hold it: a Windows-1251 text file and CSV beside a UTF-8 file. Without
    --encoding, new-language stops at the first legacy file and names the option; with it, the legacy files'
    sources get `encoding: cp1251`, the UTF-8 file keeps UTF-8 (cp1251 would turn it into mojibake), the script
    and language ID are read from correctly decoded text, and the clean stage keeps what the UTF-8 originals
    hold."""
    import csv
    import io

    shared = require_shared("text", "ru", "flores200_devtest.txt.gz").parents[2]
    flores = gzip.open(shared / "text/ru/flores200_devtest.txt.gz", "rt", encoding="utf-8").read()
    ntrex = gzip.open(shared / "text/ru/ntrex128.txt.gz", "rt", encoding="utf-8").read()
    blocks = [b for b in flores.split("\n\n") if b.strip() and b.encode("cp1251", "ignore").decode("cp1251") == b]
    rows = [b for b in ntrex.split("\n\n") if b.strip() and b.encode("cp1251", "ignore").decode("cp1251") == b]
    folder = tmp_path / "ru"
    folder.mkdir()
    (folder / "flores.txt").write_bytes(("\n\n".join(blocks) + "\n").encode("cp1251"))
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows([["id", "text"], *([i, b] for i, b in enumerate(rows))])
    (folder / "ntrex.csv").write_bytes(out.getvalue().encode("cp1251"))
    (folder / "news.txt").write_text("\n\n".join(rows[:40]) + "\n", encoding="utf-8")
    proj = _project(tmp_path, shared)
    new = [sys.executable, "-m", "flows.cli", "new-language", "ru", "--source", str(folder)]
    env = {**os.environ, "FOUNDRY_PROJECT": str(proj)}
    r = subprocess.run(new, cwd=proj, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 2 and "not valid UTF-8" in r.stderr and "--encoding ENC" in r.stderr, r.stderr
    r = subprocess.run(new + ["--encoding", "cp1251"], cwd=proj, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    cfg = load_language("ru", proj)
    assert {Path(s.path).name: s.encoding for s in cfg.sources} == \
        {"flores.txt": "cp1251", "ntrex.csv": "cp1251", "news.txt": "utf-8"}
    assert cfg.script == "Cyrl" and cfg.clean.lid.label in (None, "ru")
    assert "UTF-8 with non-ASCII characters, so not cp1251" in (proj / "corpora/ru.yaml").read_text()

    _git_dvc(proj)
    r = foundry(proj, "run", "ru", "--until", "clean")
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    stats = json.loads((proj / "data/ru/clean/stats.json").read_text())
    # the UTF-8 file repeats 40 of the CSV's rows: decoded from cp1251 they are the same text, so exact duplicates
    assert not stats["skipped"] and stats["dropped"]["duplicate"] == 40, stats["dropped"]
    others = sum(n for reason, n in stats["dropped"].items() if reason != "duplicate")
    assert others <= 0.03 * stats["documents_in"], stats["dropped"]
    assert stats["chars_in"] >= sum(map(len, blocks)) + sum(map(len, rows))   # every legacy character decoded
    kept = pa.concat_tables([pq.read_table(f) for f in sorted((proj / "data/ru/clean").glob("*.parquet"))])
    text = "\n".join(kept.column("text").to_pylist())
    assert "Ð" not in text and "Ñ" not in text                                 # no UTF-8 read as cp1251
    assert sum(ch in "абвгдеёжзийклмнопрстуфхцчшщъыьэюя" for ch in text.lower()) > 0.5 * len(text)


def test_new_language_encoding_reads_legacy_task_files(tmp_path):
    """WikiANN Russian NER as Windows-1251 CoNLL files (train and dev): without --encoding, --task stops at the
    first line that is not UTF-8 and names the option; with it the entry gets `encoding: cp1251` and the task
    reads as its UTF-8 original (tokens and tags); a UTF-8 task file stays UTF-8 under --encoding, and a
    cp1251 train beside a UTF-8 dev file with Cyrillic is an error (a task has one encoding)."""
    from pipeline.config import ConfigError
    from pipeline.onboard.tasks import task_entry
    from pipeline.taskdata.tasks import load_task

    shared = require_shared("ner", "wikiann", "ru", "val.conllu").parents[3]
    sents = (shared / "ner/wikiann/ru/val.conllu").read_text(encoding="utf-8").split("\n\n")
    sents = [b for b in sents if b.strip() and b.encode("cp1251", "ignore").decode("cp1251") == b][:600]
    files = {}
    for name, part, enc in (("train", sents[:400], "cp1251"), ("dev", sents[400:], "cp1251"),
                            ("train-utf8", sents[:400], "utf-8"), ("dev-utf8", sents[400:], "utf-8")):
        files[name] = tmp_path / f"{name}.conll"
        files[name].write_bytes(("\n\n".join(part) + "\n").encode(enc))

    def entry(train: str, dev: str, encoding: str | None = None) -> dict:
        return task_entry(f"ner={files[train]},{files[dev]}", str, tmp_path, shared, encoding)[0]

    with pytest.raises(ConfigError, match="train.conll:1: not valid UTF-8.*run new-language with --encoding ENC"):
        entry("train", "dev")
    legacy, utf8 = entry("train", "dev", "cp1251"), entry("train-utf8", "dev-utf8", "cp1251")
    assert legacy["encoding"] == "cp1251" and "encoding" not in utf8, (legacy, utf8)
    got, want = load_task(legacy, tmp_path), load_task(utf8, tmp_path)
    assert [(x.tokens, x.label) for x in got.train] == [(x.tokens, x.label) for x in want.train]
    assert [(x.tokens, x.label) for x in got.dev] == [(x.tokens, x.label) for x in want.dev]
    assert len(got.train) == 400 and any(ch in "абвгд" for x in got.train for t in x.tokens for ch in t)
    with pytest.raises(ConfigError, match="dev-utf8.conll is UTF-8 and the other file is not"):
        entry("train", "dev-utf8", "cp1251")


def test_new_language_task_from_a_panx_download(tmp_path):
    """XTREME's PAN-X (WikiANN as distributed): `panx/ru/train` and `dev`, no suffix, `ru:token<TAB>tag`: --task
    reads them as CoNLL tagging and the comment says the `ru:` prefix is left out."""
    from pipeline.onboard.tasks import task_entry

    shared = require_shared("ner", "wikiann", "ru", "val.conllu").parents[3]
    sents = [b for b in (shared / "ner/wikiann/ru/val.conllu").read_text(encoding="utf-8").split("\n\n") if b.strip()]
    d = tmp_path / "panx" / "ru"
    d.mkdir(parents=True)
    for name, part in (("train", sents[:500]), ("dev", sents[500:700])):
        rows = ("\n".join(f"ru:{ln.split(chr(9))[1]}\t{ln.split(chr(9))[2]}" for ln in b.split("\n")) for b in part)
        (d / name).write_text("\n\n".join(rows) + "\n", encoding="utf-8")
    entry, why = task_entry(f"ner={d / 'train'},{d / 'dev'}", str, tmp_path, shared)
    assert (entry["format"], entry["type"]) == ("conll", "tagging"), entry
    assert "500 training and 200 scored" in why and "every token starts with 'ru:'" in why, why


def test_semicolon_csv_from_a_spreadsheet(tmp_path):
    """CSV as spreadsheets write it where the decimal mark is a comma: `;` between columns (German NTREX articles
    beside a `1,5` column; SST-2 sentences and labels). new-language sets `delimiter: ';'` on the source and the
    task, which then read the original text and examples; without it the reader's error names the setting."""
    import csv
    import io

    from pipeline.config import Source
    from pipeline.errors import StageError
    from pipeline.onboard.detect import detect, render
    from pipeline.onboard.tasks import task_entry
    from pipeline.readers import SourceFile, iter_file
    from pipeline.taskdata.tasks import load_task

    shared = require_shared("glue", "SST-2", "dev.tsv").parents[2]
    arts = [b for b in gzip.open(shared / "text/de/ntrex128.txt.gz", "rt", encoding="utf-8").read().split("\n\n")
            if b.strip()]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows(
        [["id", "wert", "text"], *([i, f"{i},5", a] for i, a in enumerate(arts))])
    (tmp_path / "artikel.csv").write_text(out.getvalue(), encoding="utf-8")
    rows = [ln.split("\t") for ln in (shared / "glue/SST-2/dev.tsv").read_text(encoding="utf-8").splitlines()]
    out = io.StringIO()
    csv.writer(out, delimiter=";", lineterminator="\n").writerows(rows)
    (tmp_path / "sst.csv").write_text(out.getvalue(), encoding="utf-8")

    found, left = detect([str(tmp_path / "artikel.csv")])
    assert found[0].settings == {"format": "csv", "delimiter": ";", "field": "text"}, found[0].settings
    entry = yaml.safe_load(render(found, str, left).replace("\n  ", "\n"))[0]
    assert entry["delimiter"] == ";"                                           # the YAML reads back as written
    sf = SourceFile(Source(**entry), tmp_path / "artikel.csv", "artikel.csv")
    assert [d.text for d in iter_file(sf, 100_000)] == arts
    sf = SourceFile(Source(path="x", format="csv", field="text"), tmp_path / "artikel.csv", "artikel.csv")
    with pytest.raises(StageError, match="the header is one column holding ';': set sources\\[\\].delimiter: ';'"):
        list(iter_file(sf, 100_000))

    task, why = task_entry(f"sst={tmp_path / 'sst.csv'}", str, tmp_path, shared)
    assert task["delimiter"] == ";" and task["type"] == "classification" and "separated by ';'" in why
    got = load_task({**task, "dev_fraction": 0.2}, tmp_path)
    want = load_task({"name": "sst", "type": "classification", "format": "tsv",
                      "train": str(shared / "glue/SST-2/dev.tsv"), "dev_fraction": 0.2}, tmp_path)
    assert [(e.text_a, e.label) for e in got.train + got.dev] == [(e.text_a, e.label) for e in want.train + want.dev]


def test_task_columns_named_in_the_language_are_chosen_by_content(tmp_path):
    """MasakhaNEWS as a Swahili team would export it: a CSV whose header is `nambari,kichwa,maandishi,aina`
    (id, headline, text, category): no English column name says which is the text or the label, so
    new-language takes the longest text column as text_a and the 7-valued one as label, says so, and the task
    reads the articles and topics of the original file."""
    import csv
    import io

    from pipeline.onboard.tasks import task_entry
    from pipeline.taskdata.tasks import load_task

    shared = require_shared("classification", "masakhanews", "swa", "train.tsv").parents[3]
    original = shared / "classification/masakhanews/swa/train.tsv"
    rows = list(csv.reader(io.StringIO(original.read_text(encoding="utf-8"), newline=""), delimiter="\t"))[1:]
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(
        [["nambari", "kichwa", "maandishi", "aina"], *([i, h, t, c] for i, (c, h, t) in enumerate(rows))])
    (tmp_path / "habari.csv").write_text(out.getvalue(), encoding="utf-8")
    entry, why = task_entry(f"topic={tmp_path / 'habari.csv'}", str, tmp_path, shared)
    assert (entry["text_a"], entry["label"], entry["type"]) == ("maandishi", "aina", "classification"), entry
    assert "chosen by their content" in why and "label 'aina' (7 values)" in why, why
    got = load_task(entry, tmp_path)
    assert sorted((e.text_a, e.label) for e in got.train + got.dev) == sorted((t, c) for c, _, t in rows)


def test_csv_arrow_and_offline_hub_sources(tmp_path, monkeypatch):
    """The formats the big test leaves out: a TSV table, an Arrow stream file (what `datasets` writes), a
    compressed JSONL file, and a hub dataset name, which is a one-line error offline (nothing downloads)."""
    from pipeline.config import Source
    from pipeline.errors import StageError
    from pipeline.onboard.detect import detect
    from pipeline.readers import SourceFile, iter_file, plan_file

    text = [f"Paragraph {i} of the table. It has two sentences, and enough words to be a document." for i in range(20)]
    (tmp_path / "t.tsv").write_text("id\ttitle\tbody\n" + "".join(f"{i}\tHeading {i}\t{t}\n" for i, t in
                                                                   enumerate(text)), encoding="utf-8")
    with pa.OSFile(str(tmp_path / "rows.arrow"), "wb") as sink:
        table = pa.table({"n": list(range(20)), "text": text})
        with pa.ipc.new_stream(sink, table.schema) as w:
            w.write_table(table, max_chunksize=7)
    import lzma

    (tmp_path / "a.jsonl.xz").write_bytes(lzma.compress("".join(json.dumps({"text": t}) + "\n" for t in text).encode()))
    found, left = detect([str(tmp_path)])
    got = {f.settings["format"]: f for f in found}
    assert sorted(got) == ["arrow", "csv", "jsonl"] and left.hidden == 0 and not left.documentation
    assert got["csv"].settings == {"format": "csv", "fields": ["title", "body"]}   # id is a number, left out
    assert got["arrow"].settings == {"format": "arrow", "field": "text"}
    assert got["arrow"].tally.documents == 20 and got["jsonl"].tally.documents == 20
    for fmt, name, first in (("csv", "t.tsv", "Heading 0\n\n" + text[0]), ("arrow", "rows.arrow", text[0]),
                             ("jsonl", "a.jsonl.xz", text[0])):
        sf = SourceFile(Source(path=name, **{k: v for k, v in got[fmt].settings.items()}), tmp_path / name, name)
        docs = [d for seg in plan_file(sf, 0, 300) for d in iter_file(sf, 1000, seg.start, seg.end, seg.line)]
        assert len(docs) == 20 and docs[0].text == first, (fmt, docs[:2])
    arrow = SourceFile(Source(path="rows.arrow", format="arrow"), tmp_path / "rows.arrow", "rows.arrow")
    assert len(plan_file(arrow, 0, 300)) > 1                       # segments of record batches
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    hub = SourceFile(Source(path="someone/news", format="hf"), Path("someone/news"), "someone/news")
    with pytest.raises(StageError, match=r"'someone/news'.*HF_HUB_OFFLINE=1.*save_to_disk"):
        plan_file(hub, 0, 1000)


def test_json_array_files_are_records(tmp_path):
    """A JSON array of records (`json.dump` pretty-printed with a byte-order mark, and compact in a .json.gz),
    as exports of news archives come: new-language reads its first records and chooses title + body, the reader
    streams it record by record in one segment, with the same documents as the records. A truncated array keeps
    the records before the damage and counts one malformed_json skip (or is an error naming the file and record),
    and an array of strings is an error naming the record."""
    from pipeline.config import ConfigError, Source
    from pipeline.errors import StageError
    from pipeline.onboard.detect import detect
    from pipeline.readers import BadInput, SourceFile, iter_file, plan_file

    shared = require_shared("text", "en", "wmt_news.txt.gz").parents[2]
    arts = _articles(_lines(shared, "wmt_news.txt.gz"), [600, 900, 30_000, 700] * 10)
    d = tmp_path / "export"
    d.mkdir()
    (d / "news.json").write_bytes(b"\xef\xbb\xbf" + json.dumps(arts[:20], ensure_ascii=False, indent=2).encode())
    with gzip.open(d / "more.json.gz", "wt", encoding="utf-8") as f:
        json.dump(arts[20:], f, ensure_ascii=False)
    found, _ = detect([str(d)])
    assert len(found) == 1 and found[0].settings == {"format": "jsonl", "fields": ["title", "body"]}, found
    assert "a JSON array of records" in found[0].why and found[0].tally.documents == 40
    expected = [a["title"] + "\n\n" + a["body"] for a in arts]
    docs = []
    for name in ("more.json.gz", "news.json"):
        sf = SourceFile(Source(path=name, format="jsonl", fields=["title", "body"]), d / name, name)
        segs = plan_file(sf, 0, 1000)
        assert len(segs) == 1                               # an array is read in one piece, whatever its size
        docs += [x for x in iter_file(sf, 100_000, segs[0].start, segs[0].end, segs[0].line)]
    assert [x.text for x in docs] == expected[20:] + expected[:20]
    assert [x.line for x in docs[:3]] == [1, 2, 3]          # the record's number
    raw = (d / "news.json").read_bytes()
    (tmp_path / "cut.json").write_bytes(raw[: raw.index(arts[12]["title"].encode())])   # inside record 13
    cut = SourceFile(Source(path="cut.json", format="jsonl", fields=["title", "body"]), tmp_path / "cut.json", "cut.json")
    bad = BadInput("skip")
    assert [x.text for x in iter_file(cut, 100_000, 0, -1, 1, bad)] == expected[:12]
    assert bad.counts == {"malformed_json": 1}
    with pytest.raises(StageError, match=r"cut.json: malformed JSON after record 12 of the array"):
        list(iter_file(cut, 100_000, 0, -1, 1))
    # a damaged .jsonl.gz is still the line reader's one-line error (looking for an array must not hide it)
    (tmp_path / "cut.jsonl.gz").write_bytes(gzip.compress(b'{"text": "a line of text"}\n' * 50)[:30])
    (tmp_path / "fake.jsonl.gz").write_bytes(b'{"text": "not gzip"}\n')
    for name, why in (("cut.jsonl.gz", "ended before the end-of-stream"), ("fake.jsonl.gz", "Not a gzipped file")):
        sf = SourceFile(Source(path=name, format="jsonl"), tmp_path / name, name)
        with pytest.raises(StageError, match=rf"{name} line 1: cannot read \(.*{why}.*truncated or not gz"):
            list(iter_file(sf, 1000, 0, -1, 1))
    (tmp_path / "strings.json").write_text(json.dumps(["a text", "another"]), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"strings.json record 1: a JSON str, not an object"):
        detect([str(tmp_path / "strings.json")])


def test_json_object_files_hold_records_in_an_array(tmp_path):
    """A JSON object holding its records in an array (an API's answer `{"status", "articles": [...]}`,
    pretty-printed, and compact in a .json.gz; SQuAD's `data[].paragraphs[].context`): new-language finds the array
    whose records hold the most text, names the others, and writes `records`; the reader streams those records
    in one segment. A `records` path the file lacks is an error naming the file, its keys and its arrays."""
    from pipeline.config import ConfigError, Source
    from pipeline.errors import StageError
    from pipeline.onboard.detect import detect
    from pipeline.readers import BadInput, SourceFile, iter_file, plan_file

    shared = require_shared("text", "en", "wmt_news.txt.gz").parents[2]
    sents = _lines(shared, "wmt_news.txt.gz")
    arts = _articles(sents, [600, 900, 30_000, 700] * 10)
    for a in arts:
        a["comments"] = [{"user": "someone", "text": "Thanks for this."}]
    d = tmp_path / "api"
    d.mkdir()
    (d / "page1.json").write_bytes(b"\xef\xbb\xbf" + json.dumps({"status": "ok", "total": 40, "articles": arts[:20]},
                                                                ensure_ascii=False, indent=2).encode())
    with gzip.open(d / "page2.json.gz", "wt", encoding="utf-8") as f:
        json.dump({"status": "ok", "total": 40, "articles": arts[20:]}, f, ensure_ascii=False)
    found, _ = detect([str(d)])
    assert len(found) == 1, found
    assert found[0].settings == {"format": "jsonl", "records": "articles", "fields": ["title", "body"]}, found
    assert "the 20 objects in 'articles'" in found[0].why and "articles.item.comments (20 records)" in found[0].why
    assert found[0].tally.documents == 40
    expected = [a["title"] + "\n\n" + a["body"] for a in arts]
    docs = []
    for name in ("page1.json", "page2.json.gz"):
        sf = SourceFile(Source(path=name, format="jsonl", records="articles", fields=["title", "body"]), d / name, name)
        segs = plan_file(sf, 0, 1000)
        assert len(segs) == 1
        docs += list(iter_file(sf, 100_000, segs[0].start, segs[0].end, segs[0].line))
    assert [x.text for x in docs] == expected
    squad = {"version": "1.1", "data": [{"title": f"T{k}", "paragraphs": [
        {"context": " ".join(sents[k * 40 + j * 4: k * 40 + j * 4 + 4]),
         "qas": [{"id": f"{k}-{j}", "question": "Why?", "answers": [{"text": "x", "answer_start": 0}]}]}
        for j in range(10)]} for k in range(5)]}
    (tmp_path / "squad.json").write_text(json.dumps(squad, ensure_ascii=False), encoding="utf-8")
    found, _ = detect([str(tmp_path / "squad.json")])
    assert found[0].settings == {"format": "jsonl", "records": "data.item.paragraphs", "field": "context"}, found
    assert found[0].tally.documents == 50 and "data (5 records)" in found[0].why
    wrong = SourceFile(Source(path="squad.json", format="jsonl", records="articles"), tmp_path / "squad.json",
                       "squad.json")
    with pytest.raises(StageError, match=r"squad.json: no array of records at 'articles' \(top-level keys: version, "
                                         r"data; arrays of objects: data \(5 records\), data.item.paragraphs"):
        list(iter_file(wrong, 100_000, 0, -1, 1))
    bad = BadInput("skip")
    assert list(iter_file(wrong, 100_000, 0, -1, 1, bad)) == [] and bad.counts == {"missing_field": 1}
    (tmp_path / "empty.json").write_text('{"articles": []}', encoding="utf-8")
    empty = SourceFile(Source(path="empty.json", format="jsonl", records="articles"), tmp_path / "empty.json", "e")
    assert list(iter_file(empty, 100_000, 0, -1, 1)) == []        # an empty array is an empty file
    (tmp_path / "meta.json").write_text(json.dumps({"name": "corpus", "tags": ["a", "b"]}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"meta.json.*nor a JSON object holding an array of records or text of its "
                                          r"own \(top-level keys: name, tags\)"):
        detect([str(tmp_path / "meta.json")])
    with pytest.raises(Exception, match="records applies to format jsonl only"):
        Source(path="x.parquet", format="parquet", records="data")


def test_nested_jsonl_field_and_dataset_dict_splits(tmp_path):
    """A JSONL whose text sits in a nested object is found by its dotted path (the reader's `field` syntax), and
    a DatasetDict reads its train split while the comment names the splits it leaves out."""
    import datasets

    from pipeline.config import Source
    from pipeline.onboard.detect import detect
    from pipeline.readers import SourceFile, iter_file, plan_file

    text = [f"Paragraph {i} of the dump. It has two sentences, and enough words to be a document." for i in range(20)]
    (tmp_path / "n.jsonl").write_text("".join(json.dumps({"meta": {"url": f"https://example.org/{i}"},
                                                          "content": {"text": t, "lang": "en"}}) + "\n"
                                              for i, t in enumerate(text)), encoding="utf-8")
    datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": text[:15]}),
                          "test": datasets.Dataset.from_dict({"text": text[15:]})}).save_to_disk(str(tmp_path / "dd"))
    found, _ = detect([str(tmp_path)])
    got = {f.settings["format"]: f for f in found}
    assert got["jsonl"].settings == {"format": "jsonl", "field": "content.text"}
    assert got["hf"].settings == {"format": "hf", "field": "text", "split": "train"}
    assert got["hf"].tally.documents == 15
    assert "split train read, not test" in got["hf"].why, got["hf"].why
    sf = SourceFile(Source(path="n.jsonl", format="jsonl", field="content.text"), tmp_path / "n.jsonl", "n.jsonl")
    docs = [d for seg in plan_file(sf, 0, 300) for d in iter_file(sf, 1000, seg.start, seg.end, seg.line)]
    assert [d.text for d in docs] == text


def test_translation_records_give_the_languages_side(tmp_path):
    """OPUS/NLLB-style parallel data holds each language in a member of a `translation` struct. Built from the
    sentence-aligned FLORES devtest (en, sw) of the shared data as Parquet, a `datasets` folder and JSONL: new-
    language for sw chooses `translation.sw` (not the longer English side), and the readers give the Swahili
    sentences in order."""
    import datasets

    from pipeline.config import Source
    from pipeline.errors import StageError
    from pipeline.onboard.detect import detect
    from pipeline.readers import SourceFile, iter_file, plan_file

    shared = require_shared("small", "text", "sw", "flores200_devtest.txt").parents[3]
    side = {lang: [ln for ln in (shared / "small" / "text" / lang / "flores200_devtest.txt").read_text(
        encoding="utf-8").splitlines() if ln.strip()][:120] for lang in ("en", "sw")}
    rows = [{"id": i, "translation": {"en": e, "sw": s}} for i, (e, s) in enumerate(zip(side["en"], side["sw"]))]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "opus.parquet")
    datasets.Dataset.from_list(rows).save_to_disk(str(tmp_path / "opus_hf"))
    (tmp_path / "opus.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                         encoding="utf-8")
    found, _ = detect([str(tmp_path)], code="sw")
    got = {f.settings["format"]: f for f in found}
    assert {k: v.settings.get("field") for k, v in got.items()} == {"parquet": "translation.sw", "hf": "translation.sw",
                                                                   "jsonl": "translation.sw"}
    assert "named for the language 'sw'" in got["parquet"].why
    for fmt, name in (("parquet", "opus.parquet"), ("hf", "opus_hf"), ("jsonl", "opus.jsonl")):
        sf = SourceFile(Source(path=name, format=fmt, field="translation.sw"), tmp_path / name, name)
        docs = [d for seg in plan_file(sf, 0, 3000) for d in iter_file(sf, 100_000, seg.start, seg.end, seg.line)]
        assert [d.text for d in docs] == side["sw"], fmt
    bad = SourceFile(Source(path="opus.parquet", format="parquet", field="translation.yo"), tmp_path / "opus.parquet",
                     "opus.parquet")
    with pytest.raises(StageError, match=r"no column 'translation.yo' \(columns: id \(int64\), translation \(struct"):
        list(iter_file(bad, 100_000))


def test_files_from_windows_tools(tmp_path):
    """What spreadsheets and Notepad write: a UTF-8 byte-order mark before a CSV header, a JSONL file or a text
    file is not part of the first column's name, the first record or the first document; UTF-16 text is named
    as such, with the command that converts it."""
    from pipeline.config import ConfigError, Source
    from pipeline.onboard.detect import detect
    from pipeline.readers import SourceFile, iter_file, plan_file, sniff_binary

    docs = [d for d in require_shared("small", "text", "sw", "flores200_devtest.txt").read_text(encoding="utf-8")
            .split("\n\n") if d.strip()][:30]
    bom = "\ufeff"
    import csv
    import io

    sheet = io.StringIO()
    csv.writer(sheet).writerows([["text", "n"], *([d, i] for i, d in enumerate(docs))])   # \r\n, as Excel
    (tmp_path / "sheet.csv").write_text(bom + sheet.getvalue(), encoding="utf-8", newline="")
    (tmp_path / "dump.jsonl").write_text(bom + "".join(json.dumps({"text": d}) + "\r\n" for d in docs),
                                         encoding="utf-8", newline="")
    (tmp_path / "notes.txt").write_text(bom + "\r\n\r\n".join(docs) + "\r\n", encoding="utf-8", newline="")
    found, _ = detect([str(tmp_path)])
    got = {f.settings["format"]: f.settings for f in found}
    assert got["csv"].get("field") == "text" and got["jsonl"] == {"format": "jsonl", "field": "text"}, got
    for fmt, name, field in (("csv", "sheet.csv", "text"), ("jsonl", "dump.jsonl", "text"),
                             ("text", "notes.txt", None)):
        sf = SourceFile(Source(path=name, format=fmt, **({"field": field} if field else {})), tmp_path / name, name)
        out = [d.text for seg in plan_file(sf, 0, 3000) for d in iter_file(sf, 100_000, seg.start, seg.end, seg.line)]
        assert out == docs, (fmt, out[:1])

    (tmp_path / "unicode.txt").write_bytes((bom + "\r\n\r\n".join(docs)).encode("utf-16-le"))
    with pytest.raises(ConfigError, match=r"unicode.txt: UTF-16 text, not UTF-8; re-encode it \(e.g. iconv -f UTF-16"):
        detect([str(tmp_path / "unicode.txt")])
    seen = []
    sf = SourceFile(Source(path="unicode.txt"), tmp_path / "unicode.txt", "unicode.txt")
    assert sniff_binary(sf, lambda reason, msg, *a: seen.append((reason, msg)))
    assert seen[0][0] == "binary_file" and "UTF-16 text, not UTF-8" in seen[0][1], seen


def test_a_hub_dataset_snapshot_folder(tmp_path):
    """What `huggingface-cli download --repo-type dataset` leaves: README.md (the dataset card), .gitattributes
    and data/<split>-0000N-of-0000M.parquet. The card is left out and named (it was an error: unknown suffix .md),
    the shards are one entry, and its comment says that files of the test split are in it."""
    from pipeline.onboard.detect import detect, render

    shared = require_shared("text", "en", "ntrex128.txt.gz").parents[2]
    lines = _lines(shared, "ntrex128.txt.gz")
    snap = tmp_path / "snapshot"
    (snap / "data").mkdir(parents=True)
    (snap / "README.md").write_text("---\nlicense: cc-by-sa-4.0\n---\n# A news corpus\n", encoding="utf-8")
    (snap / ".gitattributes").write_text("*.parquet filter=lfs diff=lfs merge=lfs -text\n", encoding="utf-8")
    for name, part in (("train-00000-of-00002", lines[:300]), ("train-00001-of-00002", lines[300:600]),
                       ("test-00000-of-00001", lines[600:700])):
        docs = [" ".join(part[i:i + 5]) for i in range(0, len(part), 5)]
        pq.write_table(pa.table({"text": docs, "id": list(range(len(docs)))}), snap / "data" / f"{name}.parquet")
    found, left = detect([str(snap)])
    assert left.hidden == 1 and left.documentation == ["README.md"]
    assert len(found) == 1 and found[0].settings == {"format": "parquet", "field": "text"}
    assert found[0].paths == [(str(snap / "data" / "**" / "*.parquet"), None)] and found[0].tally.documents == 140
    assert "named for the test split" in found[0].why
    shown = render(found, str, left)
    assert "left out as documentation, not text to train on: README.md" in shown, shown


def _wiki_doc(a: dict) -> str:
    return f'<doc id="{a["id"]}" url="https://sw.wikipedia.org/wiki?curid={a["id"]}" title="{a["title"]}">\n' \
           f'{a["title"]}\n\n{a["text"]}\n\n</doc>\n'


def test_wikiextractor_output(tmp_path):
    """Wikipedia as WikiExtractor writes it, the usual way to a corpus for a language with little else: folders
    AA/, AB/ of suffix-less files wiki_00, ... holding <doc id url title> ... </doc> articles, the same with
    --compress (wiki_00.bz2) and with --json (JSON Lines without a suffix). new-language reads the content of
    suffix-less files, writes `documents: doc_tags` (one document per article, the tag lines left out) with a
    glob on the files' common name, and title + text for the JSON; the reader gives one document per article,
    the same when the file is cut into work units after </doc> (also where that tag straddles two read chunks);
    a suffix-less binary file is an error naming it."""
    import bz2

    from pipeline.config import ConfigError, Source
    from pipeline.onboard.detect import detect
    from pipeline.readers import SourceFile, iter_file, plan_file
    from pipeline.readers.common import READ_CHUNK

    shared = require_shared("text", "sw", "ntrex128.txt.gz").parents[2]
    with gzip.open(shared / "text" / "sw" / "ntrex128.txt.gz", "rt", encoding="utf-8") as f:
        sents = [ln.strip() for ln in f if ln.strip()]
    arts, i = [], 0
    while len(arts) < 120:
        n = 2 + len(arts) % 6
        arts.append({"id": str(10 + len(arts)), "title": sents[i][:40].rstrip(" .,"),
                     "text": "\n".join(sents[i + 1:i + 1 + n])})
        i += 1 + n
    wiki = tmp_path / "extracted"
    for j, sub in enumerate(("AA", "AA", "AB")):
        (wiki / sub).mkdir(parents=True, exist_ok=True)
        (wiki / sub / f"wiki_{j:02d}").write_text("".join(map(_wiki_doc, arts[40 * j:40 * j + 40])), encoding="utf-8")
    (wiki / "AA" / ".DS_Store").write_bytes(b"\x00\x01")
    comp, js = tmp_path / "compressed" / "AA", tmp_path / "json" / "AA"
    comp.mkdir(parents=True)
    js.mkdir(parents=True)
    for j in range(2):
        with bz2.open(comp / f"wiki_{j:02d}.bz2", "wt", encoding="utf-8") as f:
            f.write("".join(map(_wiki_doc, arts[60 * j:60 * j + 60])))
        (js / f"wiki_{j:02d}").write_text("".join(json.dumps({**a, "url": "u", "revid": "1"}, ensure_ascii=False) + "\n"
                                                  for a in arts[60 * j:60 * j + 60]), encoding="utf-8")
    found, left = detect([str(wiki), str(tmp_path / "compressed"), str(tmp_path / "json")])
    got = {path: fd.settings for fd in found for path, _ in fd.paths}
    assert got == {str(wiki / "**" / "wiki_0*"): {"format": "text", "documents": "doc_tags"},
                   str(comp / "**" / "wiki_0*.bz2"): {"format": "text", "documents": "doc_tags"},
                   str(js / "**" / "wiki_0*"): {"format": "jsonl", "fields": ["title", "text"]}}, got
    assert left.hidden == 1 and [fd.tally.documents for fd in found] == [240, 120], [fd.tally for fd in found]
    assert "WikiExtractor" in found[0].why and "no suffix" in found[0].why
    expected = [a["title"] + "\n" + a["text"] for a in arts]
    for files in ([f for f in found[0].files if "compressed" in str(f)],
                  [f for f in found[0].files if "compressed" not in str(f)]):
        docs = []
        for path in files:
            fd = found[0]
            sf = SourceFile(Source(path=str(path), **fd.settings), path, path.name)
            whole = list(iter_file(sf, 100_000))
            segs = plan_file(sf, 0, 2000)
            assert len(segs) > 3
            cut = [d.text for s in segs for d in iter_file(sf, 100_000, s.start, s.end, s.line)]
            assert cut == [d.text for d in whole]
            docs += whole
        assert [d.text for d in docs] == expected
    # a </doc> that straddles the reader's 1 MiB chunks still ends a work unit
    big = tmp_path / "wiki_big"
    head = _wiki_doc({"id": "1", "title": "Kubwa", "text": ""}).split("\n\n\n")[0] + "\n\n"
    size = READ_CHUNK - 3 - len(head) - 2                 # "</doc>" begins 3 bytes before the chunk's end
    body = ("neno " * 19 + "neno\n") * (size // 100 + 1)
    body = body[:size - 1] + "."
    big.write_text(_wiki_doc({"id": "1", "title": "Kubwa", "text": body}) + "".join(map(_wiki_doc, arts[:5])),
                   encoding="utf-8")
    assert big.read_bytes().index(b"</doc>\n") < READ_CHUNK < big.read_bytes().index(b"</doc>\n") + 7
    sf = SourceFile(Source(path="wiki_big", format="text", documents="doc_tags"), big, "wiki_big")
    segs = plan_file(sf, 0, 1000)
    assert segs[0].end == big.read_bytes().index(b"</doc>\n") + 7, segs[:2]
    assert len(list(iter_file(sf, 2_000_000))) == 6
    (tmp_path / "swwiki-latest-pages-articles.xml.bz2").write_bytes(bz2.compress(b"<mediawiki>"))
    with pytest.raises(ConfigError, match=r"articles.xml.bz2: cannot tell .*A Wikipedia dump \(MediaWiki XML\): "
                                          r"extract its articles first, e.g. `python -m wikiextractor"):
        detect([str(tmp_path / "swwiki-latest-pages-articles.xml.bz2")])
    (tmp_path / "blob").write_bytes(b"\x00\x01\x02 binary" * 100)
    with pytest.raises(ConfigError, match=r"blob: looks like a binary file \(NUL byte\), not a text file"):
        detect([str(tmp_path / "blob")])


def test_a_datasets_cache_folder(tmp_path, monkeypatch):
    """The folder `datasets.load_dataset(..., cache_dir=D)` leaves (Arrow files per split beside dataset_info.json
    and lock files): new-language reads the Arrow files, leaves the lock files and the metadata out and says so,
    and flags the test split's file among them."""
    import datasets

    from pipeline.onboard.detect import detect, render

    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    shared = require_shared("text", "en", "wmt_news.txt.gz").parents[2]
    sents = _lines(shared, "wmt_news.txt.gz")[:1200]
    for split, part in (("train", sents[:1000]), ("test", sents[1000:])):
        (tmp_path / f"{split}.jsonl").write_text("".join(json.dumps({"id": i, "text": " ".join(part[i:i + 5])}) + "\n"
                                                         for i in range(0, len(part), 5)), encoding="utf-8")
    cache = tmp_path / "cache"
    datasets.load_dataset("json", data_files={s: str(tmp_path / f"{s}.jsonl") for s in ("train", "test")},
                          cache_dir=str(cache))
    found, left = detect([str(cache)])
    assert len(found) == 1 and found[0].settings == {"format": "arrow", "field": "text"}, found
    assert sorted(f.name for f in found[0].files) == ["json-test.arrow", "json-train.arrow"]
    assert found[0].tally.documents == 240 and "named for the test split" in found[0].why
    assert len(left.not_text["lock file"]) >= 1
    assert [Path(n).name for n in left.not_text["datasets cache metadata file"]] == ["dataset_info.json"]
    text = render(found, str, left)
    assert "lock file(s); dataset_info.json (datasets cache metadata files))" in text, text


def test_a_leipzig_corpus_folder(tmp_path):
    """A Leipzig Corpora Collection download (`swa_news_2020_10K-sentences.txt`: `ID<TAB>sentence`, shuffled
    sentences, beside tables of words, co-occurrences and sources): new-language reads only the sentences, with
    the identifier column left out (`line_ids`) and the sentences grouped into documents, and names the tables it
    leaves out; the reader's text has no identifiers."""
    from pipeline.config import Source
    from pipeline.onboard.detect import detect, render
    from pipeline.readers import SourceFile, iter_file

    shared = require_shared("text", "sw", "ntrex128.txt.gz").parents[2]
    with gzip.open(shared / "text" / "sw" / "ntrex128.txt.gz", "rt", encoding="utf-8") as f:
        sents = [ln.strip() for ln in f if ln.strip()][:800]
    d = tmp_path / "swa_news_2020_10K"
    d.mkdir()
    stem = d / "swa_news_2020_10K"
    Path(f"{stem}-sentences.txt").write_text("".join(f"{i}\t{t}\n" for i, t in enumerate(sents, 1)), encoding="utf-8")
    Path(f"{stem}-words.txt").write_text("".join(f"{i}\t{w}\t{100 - i}\n" for i, w in enumerate(["na", "ya", "wa"], 1)),
                                         encoding="utf-8")
    Path(f"{stem}-co_n.txt").write_text("1\t2\t40\t12.5\n", encoding="utf-8")
    Path(f"{stem}-sources.txt").write_text("1\thttps://example.org/a\t2020-01-01\n", encoding="utf-8")
    Path(f"{stem}-import.sql").write_text("LOAD DATA LOCAL INFILE 'x' INTO TABLE words;\n", encoding="utf-8")
    found, left = detect([str(d)])
    assert len(found) == 1 and found[0].settings == {"format": "text", "documents": {"group_chars": 2000},
                                                     "line_ids": True}, found
    assert "identifier column" in found[0].why
    assert sorted(Path(n).name for n in left.not_text["Leipzig corpus table"]) == [
        "swa_news_2020_10K-co_n.txt", "swa_news_2020_10K-import.sql", "swa_news_2020_10K-sources.txt",
        "swa_news_2020_10K-words.txt"]
    assert "(Leipzig corpus tables))" in render(found, str, left)
    sf = SourceFile(Source(path="s.txt", **found[0].settings), Path(f"{stem}-sentences.txt"), "s.txt")
    docs = list(iter_file(sf, 100_000))
    assert "\n".join(x.text for x in docs) == "\n".join(sents)
    assert not any("\t" in x.text for x in docs) and len(docs) < len(sents) / 5


def test_a_folder_of_one_article_per_file(tmp_path, monkeypatch):
    """A scrape kept as one article per file (3,000 files: title and paragraphs, no blank line), 75 of them long
    runs of one sentence per line: one entry with one glob, not an entry per file; each article file one
    document; the others named in the comment; and the characters and documents of the files left unread once
    the sample's budget is spent estimated at the rate of those read (they were 50x too high)."""
    from pipeline.config import Source
    from pipeline.onboard import detect as det
    from pipeline.readers import SourceFile, iter_file

    shared = require_shared("text", "sw", "masakhanews_train_fewshot50.txt.gz").parents[2]
    with gzip.open(shared / "text" / "sw" / "masakhanews_train_fewshot50.txt.gz", "rt", encoding="utf-8") as f:
        arts = [b.strip() for b in f.read().split("\n\n") if b.strip()]
    with gzip.open(shared / "text" / "sw" / "tico19_test.txt.gz", "rt", encoding="utf-8") as f:
        sents = [ln.strip() for ln in f if ln.strip()]
    d = tmp_path / "scrape"
    d.mkdir()
    long = []
    for i in range(3000):
        text = "\n".join(sents[i % 2000:i % 2000 + 80]) if i % 40 == 7 else arts[i % len(arts)]
        (d / f"{i:05d}.txt").write_text(text + "\n", encoding="utf-8")
        long += [i] if i % 40 == 7 else []
    monkeypatch.setattr(det, "TOTAL_CHARS", 1_000_000)          # the sample reads ~1/10 of the folder
    found, left = det.detect([str(d)])
    assert len(found) == 1 and found[0].paths == [(str(d / "**" / "*.txt"), None)], found
    assert found[0].settings == {"format": "text"}
    assert "the whole file is one block" in found[0].why and "the first of 2925 files classified alike" in found[0].why
    assert f"75 like {long[0]:05d}.txt: 80 non-empty lines" in found[0].why
    chars = sum(len(p.read_text(encoding="utf-8")) for p in d.iterdir())
    t = found[0].tally
    assert t.estimated and abs(t.chars - chars) < 0.1 * chars and abs(t.documents - 3000) < 300, (t, chars)
    sf = SourceFile(Source(path="x", **found[0].settings), d / "00000.txt", "x")
    assert [x.text for x in iter_file(sf, 100_000)] == [arts[0]]


def test_a_folder_of_one_json_object_per_article(tmp_path):
    """Articles saved one JSON object per file, pretty-printed (as news scrapers and trafilatura's JSON output
    keep them): new-language read them as "not JSON Lines" and stopped. Each file is now one record
    (`records: "."`), the title and text joined; one article whose text is shorter than its title (a per-file
    choice of `title` alone) is read the same way, said in the comment; a JSON object with no text of its own is
    still an error naming its keys."""
    from pipeline.config import ConfigError, Source
    from pipeline.onboard.detect import detect
    from pipeline.readers import SourceFile, iter_file

    shared = require_shared("text", "sw", "masakhanews_train_fewshot50.txt.gz").parents[2]
    with gzip.open(shared / "text" / "sw" / "masakhanews_train_fewshot50.txt.gz", "rt", encoding="utf-8") as f:
        arts = [b.strip().split("\n") for b in f.read().split("\n\n") if b.strip()][:60]
    d = tmp_path / "scraped"
    d.mkdir()
    for i, lines in enumerate(arts):
        text = "Habari fupi." if i == 17 else "\n".join(lines[1:])
        (d / f"{i:03d}.json").write_text(json.dumps({"url": f"https://habari.example/{i}", "title": lines[0],
                                                     "text": text, "date": "2021-10-10"}, ensure_ascii=False,
                                                    indent=2), encoding="utf-8")
    found, _ = detect([str(d)])
    assert len(found) == 1 and found[0].paths == [(str(d / "**" / "*.json"), None)], found
    assert found[0].settings == {"format": "jsonl", "records": ".", "fields": ["title", "text"]}
    assert "read as one record" in found[0].why and "1 like 017.json" in found[0].why
    assert found[0].tally.documents == 60
    sf = SourceFile(Source(path="x", **found[0].settings), d / "017.json", "x")
    assert [x.text for x in iter_file(sf, 100_000)] == [f"{arts[17][0]}\n\nHabari fupi."]
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "m.json").write_text(json.dumps({"id": 3, "tags": [1, 2], "ok": True}), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"m\.json.*nor a JSON object holding an array of records or text of its "
                                          r"own \(top-level keys: id, tags, ok\)"):
        detect([str(tmp_path / "meta")])
