"""Reading sources from inside archives, against reading the same files extracted.

    .venv/bin/python -m benchmarks.archive_read [--mb 60] [--articles 3000]

``pipeline/files.py`` reads a .zip or tar member in place. This measures what that costs the clean
stage's reading, in one process, as the stage reads: the sources listed and hashed (``source_files``,
``source_sha256``; an archive is hashed member by member as it is listed), each file cut into work-unit
segments (``plan_file``, ``clean.task_bytes``) and every segment read (``iter_file``). Two shapes of
download, each built from ../shared/data text (all 11 languages' sentences, repeated to the size asked):

1. **one big file**, a Leipzig-style ``-sentences.txt`` of ``--mb`` million characters: extracted (the
   baseline), gzipped (``.txt.gz``, the compressed form the readers always took), and as the member of a
   ``.tar.gz``, a ``.zip`` and a ``.tar.zst``;
2. **many small files**, ``--articles`` articles of ~8,000 characters each: a folder (the baseline), a ``.tar.gz`` and a
   ``.zip``.

Each arm must give exactly the baseline's documents. Reported: MB (of text) per CPU-second and the ratio to
the baseline of its shape. Results go to benchmarks/results/archive_read-<date>.{md,json}, naming the machine.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import io
import json
import tarfile
import tempfile
import time
import zipfile
from pathlib import Path

import yaml

from benchmarks.clean_throughput import _machine
from model.atomic import write_text

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
LANGS = ("en", "de", "fi", "tr", "ru", "ar", "hi", "zh", "ja", "ko", "sw")


def _sentences() -> list[str]:
    out = []
    for lang in LANGS:
        for f in sorted((SHARED / "text" / lang).glob("*.txt.gz")):
            out += [ln for ln in gzip.open(f, "rt", encoding="utf-8").read().splitlines() if ln.strip()]
    return out


def _tar(members: dict[str, bytes], path: Path) -> None:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as t:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))
    if path.name.endswith(".gz"):
        path.write_bytes(gzip.compress(raw.getvalue(), compresslevel=6, mtime=0))
    else:
        import zstandard

        path.write_bytes(zstandard.ZstdCompressor().compress(raw.getvalue()))


def _zip(members: dict[str, bytes], path: Path) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in members.items():
            z.writestr(name, data)


def _read(root: Path, source: dict) -> tuple[float, float, str, int]:
    """(CPU seconds, wall seconds, sha256 of the documents' text, documents) of reading one source as the clean
    stage does."""
    from pipeline.config import load_language
    from pipeline.readers import iter_file, plan_file, source_files, source_sha256
    from pipeline.files import _listing

    _listing.cache_clear()
    (root / "corpora" / "xx.yaml").write_text(yaml.safe_dump({"language": "xx", "script": "Latn",
                                                              "sources": [source]}), encoding="utf-8")
    cfg = load_language("xx", root)
    h, n = hashlib.sha256(), 0
    c0, w0 = time.process_time(), time.perf_counter()
    files = source_files(cfg, root)
    for sf in files:      # the work folder's fingerprint hashes every source file
        source_sha256(sf)
    for i, sf in enumerate(files):
        for s in plan_file(sf, i, cfg.clean.task_bytes):
            for d in iter_file(sf, cfg.clean.max_chars, s.start, s.end, s.line):
                h.update(d.text.encode())
                n += 1
    return time.process_time() - c0, time.perf_counter() - w0, h.hexdigest(), n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.archive_read", description=__doc__.split("\n\n")[0])
    ap.add_argument("--mb", type=float, default=60, help="size of the one big file, million characters")
    ap.add_argument("--articles", type=int, default=3000, help="number of small files")
    a = ap.parse_args(argv)
    sents = _sentences()
    with tempfile.TemporaryDirectory(prefix="archive-read-") as tmp:
        root = Path(tmp)
        (root / "corpora").mkdir()
        (root / "params.yaml").write_text(yaml.safe_dump({"data_root": str(root), "languages": {"xx": {}}}))
        big, i = io.StringIO(), 0
        while big.tell() < a.mb * 1e6:
            big.write(f"{i + 1}\t{sents[i % len(sents)]}\n")
            i += 1
        data = big.getvalue().encode()
        name = "xx_web_2024_1M/xx_web_2024_1M-sentences.txt"
        (root / "big.txt").write_bytes(data)
        (root / "big.txt.gz").write_bytes(gzip.compress(data, compresslevel=6, mtime=0))
        _tar({name: data}, root / "big.tar.gz")
        _tar({name: data}, root / "big.tar.zst")
        _zip({name: data}, root / "big.zip")
        layout = {"documents": {"group_chars": 2000}, "line_ids": True}
        articles, k = {}, 0
        for j in range(a.articles):
            body = []
            while sum(map(len, body)) < 8000:
                body.append(sents[k % len(sents)])
                k += 1
            articles[f"news/{j // 500:02d}/{j:05d}.txt"] = ("\n".join(body) + "\n").encode()
        for n_, d in articles.items():
            (root / "folder" / n_).parent.mkdir(parents=True, exist_ok=True)
            (root / "folder" / n_).write_bytes(d)
        _tar(articles, root / "news.tar.gz")
        _zip(articles, root / "news.zip")
        arms = [("one big file", "extracted .txt", {"path": "big.txt", **layout}),
                ("one big file", ".txt.gz", {"path": "big.txt.gz", **layout}),
                ("one big file", ".tar.gz member", {"path": "big.tar.gz", **layout}),
                ("one big file", ".tar.zst member", {"path": "big.tar.zst", **layout}),
                ("one big file", ".zip member", {"path": "big.zip", **layout}),
                ("many small files", "folder", {"path": "folder/**/*.txt"}),
                ("many small files", ".tar.gz", {"path": "news.tar.gz"}),
                ("many small files", ".zip", {"path": "news.zip"})]
        sizes = {"one big file": len(data), "many small files": sum(map(len, articles.values()))}
        rows, base = [], {}
        for shape, arm, source in arms:
            cpu, wall, digest, docs = _read(root, source)
            base.setdefault(shape, (cpu, digest))
            mb = sizes[shape] / 1e6
            rows.append({"shape": shape, "arm": arm, "mb": round(mb, 1), "documents": docs, "cpu_s": round(cpu, 2),
                         "wall_s": round(wall, 2), "mb_per_cpu_s": round(mb / cpu, 1),
                         "ratio": round(base[shape][0] / cpu, 2), "identical": digest == base[shape][1]})
            print(json.dumps(rows[-1]), flush=True)
    day = dt.date.today().isoformat()
    out = REPO / "benchmarks" / "results" / f"archive_read-{day}"
    machine = _machine()
    write_text(out.with_suffix(".json"), json.dumps({"machine": machine, "rows": rows}, indent=1) + "\n")
    lines = [f"# Reading sources inside archives ({day})", "",
             f"Machine: {machine['cpu']}, {machine['usable_cores']} usable cores, Python {machine['python']}. "
             f"One process, as the clean stage reads (list and hash, plan work units, read every segment).", "",
             "| shape | source | MB | documents | CPU s | MB per CPU-s | vs baseline | same documents |",
             "|---|---|---:|---:|---:|---:|---:|---|"]
    lines += [f"| {r['shape']} | {r['arm']} | {r['mb']} | {r['documents']:,} | {r['cpu_s']} | {r['mb_per_cpu_s']} | "
              f"{r['ratio']}x | {'yes' if r['identical'] else 'NO'} |" for r in rows]
    write_text(out.with_suffix(".md"), "\n".join(lines) + "\n")
    print(f"wrote {out}.md")
    return 0 if all(r["identical"] for r in rows) else 1


if __name__ == "__main__":
    raise SystemExit(main())
