"""Archives as sources (pipeline/files.py, pipeline/onboard/archived.py): a .zip or a tar (plain,
gzip, xz, bzip2, zstd) is read in place as the folder it packs, member by member, through the same readers; its
members give exactly the documents their extracted files give, whole or cut into the clean stage's segments; and
`new-language` names the archive and the members to read.

The members are built from ../shared/data Swahili text (MasakhaNEWS articles, TICO-19 and NTREX sentences) and
Turkish UD, in the shapes downloads come in: a Leipzig Corpora Collection tarball, a zip of JSON Lines articles
with a README and macOS's __MACOSX copies.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import random
import tarfile
import zipfile
from pathlib import Path

import pytest
import yaml

from pipeline.config import ConfigError, load_language
from pipeline.errors import StageError
from pipeline import files as archives
from pipeline.readers import iter_file, plan_file, source_files
from pipeline.stages import clean as clean_stage
from tests.test_clean import check_stats, make_project, read_clean

KINDS = (".zip", ".tar", ".tar.gz", ".tgz", ".tar.xz", ".tar.bz2", ".tar.zst")
SOURCES = [{"members": "*.txt*"}, {"members": "*.jsonl", "format": "jsonl", "fields": ["title", "body"]},
           {"members": "*.csv", "format": "csv"}, {"members": "*.conllu", "format": "conllu"}]


def _text(shared: Path, name: str) -> str:
    return gzip.open(shared / "text" / "sw" / name, "rt", encoding="utf-8").read()


def _members(shared: Path) -> dict[str, bytes]:
    news = [b for b in _text(shared, "masakhanews_train_fewshot50.txt.gz").split("\n\n") if b.strip()]
    tico = [ln for ln in _text(shared, "tico19_test.txt.gz").splitlines() if ln.strip()]
    table = io.StringIO()
    csv.writer(table, lineterminator="\n").writerows([["id", "text"], *enumerate(tico[1000:1400])])
    ud = sorted((shared / "ud" / "UD_Turkish-IMST").glob("*.conllu"))[0].read_text(encoding="utf-8")
    articles = [{"title": b.split("\n")[0], "body": "\n".join(b.split("\n")[1:])} for b in news[100:]]
    return {"corpus/news.txt": "\n\n".join(news[:100]).encode() + b"\n",
            "corpus/sub/tico.txt.gz": gzip.compress("\n\n".join(tico[:1000]).encode(), mtime=0),   # compressed
            "corpus/articles.jsonl": "".join(json.dumps(a, ensure_ascii=False) + "\n" for a in articles).encode(),
            "corpus/table.csv": table.getvalue().encode(),
            "corpus/ud.conllu": "\n\n".join(ud.split("\n\n")[:400]).encode() + b"\n\n",
            "corpus/.notes.txt": b"hidden\n", "__MACOSX/corpus/._news.txt": b"\x00\x05\x16\x07 resource fork"}


def _pack(members: dict[str, bytes], path: Path) -> Path:
    if path.name.endswith(".zip"):
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
            for name, data in members.items():
                z.writestr(name, data)
        return path
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo("./" + name)     # GNU tar's `tar czf x.tgz .` names members ./...
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    z = archives.compression(path.name)
    data = _compress(data, z) if z else data
    path.write_bytes(data)
    return path


def _documents(root: Path, sources: list[dict], task_bytes: int | None = None) -> list[tuple[str, str, int]]:
    """(file name, text, line) of every document the sources give, whole files or segment by segment."""
    out = []
    for i, sf in enumerate(source_files(load_language("sw", root), root)):
        segments = plan_file(sf, i, task_bytes) if task_bytes else [None]
        for s in segments:
            docs = iter_file(sf, 3000, s.start, s.end, s.line) if s else iter_file(sf, 3000)
            out += [(sf.rel.rsplit("/", 1)[-1], d.text, d.line) for d in docs]
    return out


@pytest.mark.parametrize("small", [archives.SMALL, 0])
def test_archive_members_read_as_their_extracted_files(tmp_path, shared, monkeypatch, small):
    """Every archive kind gives, format by format, the documents of the extracted files (the same text, lines
    and order), whole and in 20 kB segments; hidden and __MACOSX members are not read. ``small=0`` reads every
    tar member from the stream at its offset instead of keeping it whole."""
    monkeypatch.setattr(archives, "SMALL", small)
    members = _members(shared)
    folder = tmp_path / "extracted"
    for name, data in members.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_bytes(data)
    want = {}
    for k, src in enumerate(SOURCES):
        plain = {**src, "path": str(folder / "corpus" / "**" / src["members"].replace("*.", "[!.]*."))}
        root = make_project(tmp_path / f"x{k}", shared, "sw", [{k_: v for k_, v in plain.items() if k_ != "members"}])
        want[k] = _documents(root, [])
        assert len(want[k]) > 5, (src, len(want[k]))
    assert len({n for k in want for n, _, _ in want[k]}) == 5
    for kind in KINDS:
        archive = _pack(members, tmp_path / f"download{kind}")
        for k, src in enumerate(SOURCES):
            root = make_project(tmp_path / f"a{k}{kind}", shared, "sw", [{**src, "path": str(archive)}])
            assert _documents(root, []) == want[k], (kind, src)
            assert _documents(root, [], task_bytes=20_000) == want[k], (kind, src)
        files = source_files(load_language("sw", root), root)
        assert [sf.rel for sf in files] == [f"{archive}/corpus/ud.conllu"]   # recorded as ARCHIVE/MEMBER


def test_clean_stage_reads_a_leipzig_tarball_as_its_extracted_folder(tmp_path, shared):
    """A Leipzig Corpora Collection download kept as it came (`swh_news_2020_1K.tar.gz`, `ID<TAB>sentence`
    beside its tables): the clean stage gives the corpus the extracted `-sentences.txt` gives, and records each
    document's source as the archive and member."""
    sents = [ln for ln in _text(shared, "ntrex128.txt.gz").splitlines() if ln.strip()]
    stem = "swh_news_2020_1K/swh_news_2020_1K"
    members = {f"{stem}-sentences.txt": "".join(f"{i}\t{s}\n" for i, s in enumerate(sents, 1)).encode(),
               f"{stem}-words.txt": b"1\tna\t500\n2\tya\t420\n", f"{stem}-sources.txt": b"1\thttps://x.org/a\n"}
    archive = _pack(members, tmp_path / "swh_news_2020_1K.tar.gz")
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "sentences.txt").write_bytes(members[f"{stem}-sentences.txt"])
    layout = {"documents": {"group_chars": 2000}, "line_ids": True}

    def clean(name: str, source: dict) -> tuple[list[str], dict]:
        root = make_project(tmp_path / name, shared, "sw", [{**source, **layout}], clean_cfg={"min_chars": 20})
        clean_stage.run("sw", root)
        table, stats = read_clean(root, "sw")
        check_stats(stats, table)
        return table.column("text").to_pylist(), stats

    want, _ = clean("extracted", {"path": str(tmp_path / "x" / "sentences.txt")})
    got, stats = clean("archive", {"path": str(archive), "members": "*-sentences.txt"})
    assert got == want and len(got) > 50
    assert [s["path"] for s in stats["sources"]] == [f"{archive}/{stem}-sentences.txt"]


def test_archive_errors_name_the_archive_and_member(tmp_path, shared):
    members = _members(shared)
    archive = _pack(members, tmp_path / "d.zip")

    def files(source: dict):
        root = make_project(tmp_path / f"p{len(list(tmp_path.iterdir()))}", shared, "sw", [source])
        return source_files(load_language("sw", root), root)

    with pytest.raises(ConfigError, match=r"archive .*d\.zip holds no file matching members '\*\.parquet'"):
        files({"path": str(archive), "members": "*.parquet"})
    (tmp_path / "plain.txt").write_text("text\n")
    with pytest.raises(ConfigError, match=r"plain\.txt is not an archive .*members applies to archives"):
        files({"path": str(tmp_path / "plain.txt"), "members": "*.txt"})
    with pytest.raises(ConfigError, match=r"d\.zip is an archive; format parquet is not read from inside one"):
        files({"path": str(archive), "format": "parquet"})
    with pytest.raises(Exception, match="members applies to formats text, jsonl, csv and conllu"):
        files({"path": str(archive), "format": "hf", "members": "*"})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(_pack(members, tmp_path / "whole.tar.gz").read_bytes()[:3000])
    with pytest.raises(StageError, match=r"cut\.tar\.gz: cannot read this archive .*is it complete"):
        files({"path": str(cut)})
    latin = _pack({"a/notes.txt": "Habari ya asubuhi.\n\nCaf\u00e9 ya zamani.\n".encode("latin-1")}, tmp_path / "l.zip")
    [sf] = files({"path": str(latin)})
    with pytest.raises(StageError, match=r"l\.zip/a/notes\.txt line 3: not valid UTF-8"):
        list(iter_file(sf, 3000))


def test_new_language_names_the_archive_and_the_members_to_read(tmp_path, shared):
    """A downloads folder holding a Leipzig tarball, a zip of title/body JSON Lines articles (with a README and
    __MACOSX copies) and a plain text file: one entry per archive and format, with a `members` glob that reads
    exactly the text (the tables and README are named as left out), and the clean stage reads them all."""
    from pipeline.onboard.detect import detect, render

    news = [b for b in _text(shared, "masakhanews_train_fewshot50.txt.gz").split("\n\n") if b.strip()]
    sents = [ln for ln in _text(shared, "ntrex128.txt.gz").splitlines() if ln.strip()]
    stem = "swh_news_2020_1K/swh_news_2020_1K"
    d = tmp_path / "downloads"
    d.mkdir()
    _pack({f"{stem}-sentences.txt": "".join(f"{i}\t{s}\n" for i, s in enumerate(sents, 1)).encode(),
           f"{stem}-words.txt": b"1\tna\t500\n", f"{stem}-co_n.txt": b"1\t2\t40\n"}, d / "swh_news_2020_1K.tar.gz")
    _pack({"news/README.md": b"# MasakhaNEWS articles\n", "__MACOSX/news/._a.jsonl": b"\x00\x05junk",
           **{f"news/{part}.jsonl": "".join(json.dumps({"title": b.split("\n")[0], "body": "\n".join(b.split("\n")[1:]),
                                                        "url": f"https://x.org/{part}/{i}"}, ensure_ascii=False) + "\n"
                                            for i, b in enumerate(news[k::2])).encode()
              for k, part in enumerate(("a", "b"))}}, d / "news.zip")
    (d / "tico.txt").write_text(_text(shared, "tico19_test.txt.gz")[:100_000], encoding="utf-8")

    found, left = detect([str(d)])
    text = render(found, str, left)
    entries = yaml.safe_load(text.replace("\n  ", "\n"))
    by_path = {Path(e["path"]).name: e for e in entries}
    assert sorted(by_path) == ["news.zip", "swh_news_2020_1K.tar.gz", "tico.txt"], text
    assert by_path["news.zip"] == {"path": str(d / "news.zip"), "members": "*.jsonl", "format": "jsonl",
                                   "fields": ["title", "body"]}
    leipzig = by_path["swh_news_2020_1K.tar.gz"]
    assert leipzig["members"] == f"{stem}-sentences.txt" and leipzig["line_ids"] is True, leipzig
    assert left.documentation == ["news.zip/news/README.md"] and left.hidden == 1     # __MACOSX/news/._a.jsonl
    assert sorted(left.not_text["Leipzig corpus table"]) == [f"swh_news_2020_1K.tar.gz/{stem}-co_n.txt",
                                                             f"swh_news_2020_1K.tar.gz/{stem}-words.txt"]
    assert "2 file(s)" in text and "news.zip/news/README.md" in text

    root = make_project(tmp_path / "p", shared, "sw", entries, clean_cfg={"min_chars": 20})
    clean_stage.run("sw", root)
    table, stats = read_clean(root, "sw")
    check_stats(stats, table)
    read = {s["path"].removeprefix(str(d) + "/"): s for s in stats["sources"]}
    assert sorted(read) == ["news.zip/news/a.jsonl", "news.zip/news/b.jsonl",
                            f"swh_news_2020_1K.tar.gz/{stem}-sentences.txt", "tico.txt"], sorted(read)
    assert read["news.zip/news/a.jsonl"]["documents"] + read["news.zip/news/b.jsonl"]["documents"] == len(news)
    assert stats["chars_out"] / stats["chars_in"] >= 0.97, stats["dropped"]


def test_task_files_read_from_inside_an_archive(tmp_path, shared):
    """A treebank as GitHub's "Download ZIP" gives it (`UD_Turkish-IMST-master.zip`) and MasakhaNER's Swahili
    files as a `.tar.gz`: a task's `train`/`dev` name `ARCHIVE/MEMBER` and read exactly as the extracted files;
    a member the archive lacks is an error naming the archive and the members of that name; new-language takes
    such paths for --task, and params.yaml's eval paths (what DVC watches) name the archive, covering the task."""
    from pipeline.evaluation import datadeps
    from pipeline.scaffold import new_language
    from pipeline.taskdata.tasks import load_task

    ud, ner = shared / "ud" / "UD_Turkish-IMST", shared / "ner" / "masakhaner2" / "swa"
    top = "UD_Turkish-IMST-master"
    zipped = _pack({f"{top}/README.md": b"# UD Turkish IMST\n",
                    **{f"{top}/{f.name}": f.read_bytes() for f in sorted(ud.glob("*.conllu"))}},
                   tmp_path / f"{top}.zip")
    tarred = _pack({f"swa/{f.name}": f.read_bytes() for f in (ner / "dev.txt", ner / "test.txt")}, tmp_path / "ner.tgz")
    train, dev = sorted(ud.glob("*train.conllu"))[0], sorted(ud.glob("*dev.conllu"))[0]
    cases = [({"type": "tagging", "format": "conllu"}, (train, dev),
              (zipped / top / train.name, zipped / top / dev.name)),
             ({"type": "tagging", "format": "conll"}, (ner / "test.txt", ner / "dev.txt"),
              (tarred / "swa" / "test.txt", tarred / "swa" / "dev.txt"))]
    for kw, plain, packed in cases:
        want = load_task({"name": "t", **kw, "train": str(plain[0]), "dev": str(plain[1])}, tmp_path)
        got = load_task({"name": "t", **kw, "train": str(packed[0]), "dev": str(packed[1])}, tmp_path)
        assert [(e.tokens, e.label) for e in got.train] == [(e.tokens, e.label) for e in want.train]
        assert [(e.tokens, e.label) for e in got.dev] == [(e.tokens, e.label) for e in want.dev]
        assert len(got.train) > 1000 and got.train[0].source == str(packed[0])
    with pytest.raises(StageError, match=rf"archive .*{top}\.zip holds no member '{top}/train\.conllu' \(members: "):
        load_task({"name": "t", "type": "tagging", "format": "conllu", "train": str(zipped / top / "train.conllu")},
                  tmp_path)

    proj = make_project(tmp_path / "proj", shared, "xx", [{"path": "text/tr"}])
    (proj / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {}}))
    (proj / "corpora" / "xx.yaml").unlink()
    new_language(proj, "tr", task_specs=[f"upos={zipped / top / train.name},{zipped / top / dev.name}"])
    cfg = load_language("tr", proj)
    assert cfg.evaluate.tasks[0].train == str(zipped / top / train.name) and cfg.evaluate.tasks[0].format == "conllu"
    assert {(proj / p).resolve() for p in datadeps.declared(proj, "tr")} == {zipped.resolve()}   # the archive
    assert datadeps.uncovered(proj, "tr") == []


def _panx(ner: Path, to: Path) -> Path:
    """XTREME's `panx_dataset.tar` as downloaded: a plain tar of one `LANG.tar.gz` per language, each holding
    suffix-less `train`/`dev`/`test`/`extra` files of `sw:`-prefixed token-tag lines."""
    def prefixed(p: Path) -> bytes:
        return "".join(f"sw:{ln.split()[0]}\t{ln.split()[-1]}\n" if ln.strip() else "\n"
                       for ln in p.read_text(encoding="utf-8").splitlines()).encode()
    to.parent.mkdir()
    inner = _pack({"train": prefixed(ner / "train.txt"), "dev": prefixed(ner / "dev.txt"), "extra": b"sw:a\tO\n"},
                  to.parent.parent / "sw.tar.gz").read_bytes()
    other = _pack({"train": b"yo:a\tO\n", "dev": b"yo:a\tO\n"}, to.parent.parent / "yo.tar.gz").read_bytes()
    return _pack({"sw.tar.gz": inner, "yo.tar.gz": other}, to)


def test_archives_inside_archives_are_read_through(tmp_path, shared, monkeypatch):
    """An archive packed in an archive is read as the folder it packs, named through it: WikiANN's Swahili files
    as XTREME distributes them (`panx_dataset.tar/sw.tar.gz/train`) read as the extracted files for a task, with
    only the archives on the way listed, and new-language's --task takes the path (DVC watches the outer tar); a
    corpus zip holding a Leipzig tarball beside a text file gives the documents of the extracted files, and a
    `members` glob naming the inner archive takes its files. A damaged inner archive, a zip inside a tar too large
    to keep whole, archives nested too deep: errors naming them."""
    from pipeline.evaluation import datadeps
    from pipeline.scaffold import new_language
    from pipeline.taskdata.tasks import load_task

    ner = shared / "ner" / "masakhaner2" / "swa"
    panx = _panx(ner, tmp_path / "download" / "panx_dataset.tar")
    listed, listing = [], archives._listing
    monkeypatch.setattr(archives, "_listing", lambda a, *k: listed.append(a.name) or listing(a, *k))
    kw = {"name": "ner", "type": "tagging", "format": "conll"}
    want = load_task({**kw, "train": str(ner / "train.txt"), "dev": str(ner / "dev.txt")}, tmp_path)
    got = load_task({**kw, "train": str(panx / "sw.tar.gz" / "train"), "dev": str(panx / "sw.tar.gz" / "dev")},
                    tmp_path)
    assert [(e.tokens, e.label) for e in got.train] == [(e.tokens, e.label) for e in want.train]
    assert [(e.tokens, e.label) for e in got.dev] == [(e.tokens, e.label) for e in want.dev] and len(got.dev) > 900
    assert got.train[0].source == str(panx / "sw.tar.gz" / "train")
    assert set(listed) == {"panx_dataset.tar", "sw.tar.gz"}          # yo.tar.gz was never opened
    with pytest.raises(StageError, match=r"holds no member 'sw\.tar\.gz/trian' \(members: sw\.tar\.gz/train, "):
        archives.member_at(panx / "sw.tar.gz" / "trian")
    assert [m.member for m in archives.members(panx)] == ["sw.tar.gz/train", "sw.tar.gz/dev", "sw.tar.gz/extra",
                                                          "yo.tar.gz/train", "yo.tar.gz/dev"]

    proj = make_project(tmp_path / "proj", shared, "xx", [{"path": "text/sw"}])
    (proj / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {}}))
    (proj / "corpora" / "xx.yaml").unlink()
    new_language(proj, "sw", task_specs=[f"ner={panx}/sw.tar.gz/train,{panx}/sw.tar.gz/dev"])
    task = load_language("sw", proj).evaluate.tasks[0]
    assert (task.format, task.train) == ("conll", f"{panx}/sw.tar.gz/train")
    assert {(proj / p).resolve() for p in datadeps.declared(proj, "sw")} == {panx.resolve()}

    members = _members(shared)
    inner = _pack({k: v for k, v in members.items() if k.endswith(".txt")}, tmp_path / "inner.tar.gz")
    outer = _pack({"leipzig/sw.tar.gz": inner.read_bytes(), "extra/notes.txt": b"Habari ya asubuhi.\n"},
                  tmp_path / "corpus.zip")
    plain = make_project(tmp_path / "plain", shared, "sw", [{"path": str(_pack(
        {k: v for k, v in members.items() if k.endswith(".txt")}, tmp_path / "plain.zip"))}])
    root = make_project(tmp_path / "nested", shared, "sw", [{"path": str(outer), "members": "leipzig/sw.tar.gz"}])
    assert _documents(root, []) == _documents(plain, []) and len(_documents(root, [])) > 50
    assert [sf.rel.removeprefix(str(outer) + "/") for sf in source_files(load_language("sw", root), root)] == \
        ["leipzig/sw.tar.gz/corpus/news.txt"]
    root = make_project(tmp_path / "all", shared, "sw", [{"path": str(outer)}])
    assert [sf.rel.removeprefix(str(outer) + "/") for sf in source_files(load_language("sw", root), root)] == \
        ["leipzig/sw.tar.gz/corpus/news.txt", "extra/notes.txt"]

    cut = _pack({"a/cut.tar.gz": inner.read_bytes()[:3000]}, tmp_path / "cut.zip")
    with pytest.raises(StageError, match=r"cut\.zip/a/cut\.tar\.gz: cannot read this archive .*is it complete"):
        archives.members(cut)
    monkeypatch.setattr(archives, "SMALL", 1000)
    noise = _pack({"a.txt": random.Random(0).randbytes(5000)}, tmp_path / "in.zip")     # (deflate keeps it > 1000)
    zipped = _pack({"in.zip": noise.read_bytes()}, tmp_path / "z.tar")
    with pytest.raises(StageError, match=r"z\.tar/in\.zip: a zip inside a tar is read in place only up to"):
        archives.members(zipped)
    deep = _pack({"b.zip": _pack({"c.zip": _pack({"d.zip": b""}, tmp_path / "c.zip").read_bytes()},
                                 tmp_path / "b.zip").read_bytes()}, tmp_path / "a.zip")
    with pytest.raises(StageError, match=r"a\.zip/b\.zip/c\.zip/d\.zip: archives nested more than 3 deep"):
        archives.members(deep)


@pytest.mark.parametrize("suffix", [".gz", ".xz", ".bz2", ".zst"])
def test_a_compressed_file_cut_into_units_is_decompressed_once(tmp_path, shared, monkeypatch, suffix):
    """The clean stage reads a large compressed file as many work units (`clean.task_bytes`, 500 kB): each
    unit's reader continues the process's open decompressed stream instead of decompressing the file again up
    to its start (which made reading quadratic: 50 MB of .txt.gz in 104 units took 14 CPU-s, 1.5 extracted).
    The units give the documents of the uncompressed file; the file is opened three times (planning, the first
    unit, one stream for the others), not once per unit; a unit behind the stream reopens it."""
    import builtins
    import bz2

    text = _text(shared, "tico19_test.txt.gz") * 3
    plain = tmp_path / "t.txt"
    plain.write_text(text, encoding="utf-8")
    packed = tmp_path / f"t.txt{suffix}"
    packed.write_bytes(_compress(text.encode(), suffix))
    opened = []

    def counting(real):
        return lambda f, *a, **k: opened.append(str(f)) or real(f, *a, **k)
    monkeypatch.setattr(builtins, "open", counting(builtins.open))
    monkeypatch.setattr(bz2, "_builtin_open", counting(bz2._builtin_open))
    archives._Stream.streams.clear()

    def units(path: Path) -> tuple[object, list]:
        root = make_project(tmp_path / path.name.replace(".", "_"), shared, "sw",
                            [{"path": str(path), "documents": "line"}])
        [sf] = source_files(load_language("sw", root), root)
        return sf, plan_file(sf, 0, 20_000)
    sf, segments = units(plain)
    want = [(d.text, d.line) for s in segments for d in iter_file(sf, 3000, s.start, s.end, s.line)]
    sf, segments = units(packed)
    opened.clear()
    got = [(d.text, d.line) for s in segments for d in iter_file(sf, 3000, s.start, s.end, s.line)]
    assert got == want and len(segments) > 20
    assert opened.count(str(packed)) == 2, opened    # the first unit, then one stream for the other units
    first, second = segments[1], segments[2]
    assert [d.text for d in iter_file(sf, 3000, first.start, first.end, first.line)] == \
        [t for t, ln in want if first.line <= ln < second.line]                        # behind the stream


def _compress(data: bytes, suffix: str) -> bytes:
    import bz2
    import lzma

    import zstandard

    return {".gz": lambda: gzip.compress(data, mtime=0), ".xz": lambda: lzma.compress(data),
            ".bz2": lambda: bz2.compress(data), ".zst": lambda: zstandard.ZstdCompressor().compress(data)}[suffix]()
