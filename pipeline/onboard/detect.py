"""Format detection for ``foundry new-language --source`` (a file, folder or glob; repeatable).

Every file is classified by its extension and then checked against its content: plain text (.txt, .text; how lines
become documents decided from the data, ``layout.py``), JSON Lines (.jsonl, .ndjson, .json; the text field chosen
from the first records, ``fields.py``), Parquet, Arrow, CSV/TSV (a column; a header separated by ``;`` or ``|``
sets ``delimiter``), CoNLL-U, and a ``datasets`` ``save_to_disk`` folder (format ``hf``; its files are not
classified one by one). Line-based files may be compressed (.gz, .xz, .zst, .bz2). An archive (.zip, .tar, .tar.gz,
...) stands for the folder it packs: its members are classified as files (``archived.py``). A file that is none of
these, or whose content contradicts its extension, is a ``ConfigError`` naming it: nothing is guessed silently.
Hidden files (``.name``) are left out, as the source globs leave them out, and so is a folder's documentation
(README, LICENSE, CITATION, ...: a Hub dataset snapshot always has a README.md), lock files and the metadata of a
``load_dataset`` cache folder (its Arrow files are read); the YAML says so. An entry whose files include some named
for a held-out split (``test-00000-of-00001.parquet``) says that too.

Files with the same format and settings become one ``sources`` entry (a glob where one matches exactly those
files, else one entry per file), each with a comment: what was found and why the settings were chosen.
"""
from __future__ import annotations

import glob
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.config import ConfigError
from pipeline.config.sources import UTF8, delimiter_of
from pipeline.onboard.fields import SAMPLE_RECORDS, choose
from pipeline.onboard.globs import globs, merge_alike, suffix
from pipeline.onboard.head import SNIFF_BYTES, encoding_of, head, lines as _lines
from pipeline.onboard.archived import entries, expand
from pipeline.onboard.leftout import LeftOut
from pipeline.onboard.layout import LineStats, conll_like, id_column
from pipeline.onboard.sample import TOTAL_CHARS, Tally, tally
from pipeline.readers import format_of
from pipeline.files import Member
from pipeline.readers.common import COMPRESSED
from pipeline.readers.hf import is_dataset_folder, load_folder, splits, training_split
from pipeline.readers.text import LINES_PER_BLOCK

OBJECT_SCAN_BYTES = 64 << 20  # decompressed bytes of a JSON object file scanned for its arrays of records
KNOWN = (".txt .text .jsonl .ndjson .json .parquet .arrow .feather .csv .tsv .conllu (text formats also "
         ".gz/.xz/.zst/.bz2), and archives of them (.zip, .tar, .tar.gz/.tgz, .tar.xz, .tar.bz2, .tar.zst)")


# a file named for a held-out split (test-00000-of-00001.parquet, dev.jsonl, ...)
_HELD_OUT = re.compile(r"(?:^|[-_./])(test|dev|valid|validation|eval)(?:[-_.]|$)", re.I)


@dataclass
class Found:
    """One ``sources`` entry: its settings, its files, what they hold and why."""
    settings: dict                      # format and its settings (no path)
    files: list[Path]
    why: str = ""
    paths: list[tuple[str, str | None]] = field(default_factory=list)   # the entries' (path, archive members),
                                                                       # set by ``group``
    tally: Tally | None = None
    alike: int = 0                      # the files classified as ``why`` says, where others were merged in


def _inputs(sources: list[str]) -> tuple[list[Path | Member], list[Path], LeftOut]:
    """(files, dataset folders, what a folder holds that is left out) named by --source arguments; an
    archive's files stand in its place (``archived.py``)."""
    files, datasets, left = [], [], LeftOut()
    for s in sources:
        p = Path(s).expanduser()
        if is_dataset_folder(p):
            datasets.append(p.resolve())
            continue
        if p.is_dir():
            todo = [p]
            while todo:
                d = todo.pop()
                inside = sorted(d.iterdir())
                names = [q.name for q in inside]
                for q in inside:
                    if q.name.startswith("."):
                        left.hidden += 1
                    elif q.is_file() and left.sort(str(q.relative_to(p)), q.name, names):
                        pass
                    elif is_dataset_folder(q):
                        datasets.append(q.resolve())
                    elif q.is_dir():
                        todo.append(q)
                    elif q.is_file():
                        files.append(q.resolve())
            continue
        matches = [Path(m) for m in sorted(glob.glob(str(p), recursive=True))] if not p.is_file() else [p]
        if not matches:
            raise ConfigError(f"--source {s}: no such file or folder")
        for q in matches:
            if is_dataset_folder(q):
                datasets.append(q.resolve())
            elif q.is_file():
                files.append(q.resolve())
    return expand(sorted(set(files)), left), sorted(set(datasets)), left


def _text(path: Path, code: str | None = None, encoding: str = UTF8) -> tuple[dict, str]:
    stats = LineStats()
    lines = _lines(path, encoding)
    if conll_like(lines[:2000]):
        first = next(ln for ln in lines if ln.strip() and not ln.startswith("#"))
        raise ConfigError(f"{path}: a word and its tag on each line ({first.strip()!r}, ...): labelled data for a "
                          f"tagging task (CoNLL), not running text. Add it with --task NAME={path} (a `format: "
                          f"tasks` source can then pre-train on its words), or remove it from the folder")
    ids = id_column(lines[:-1] if len(lines) > 1 else lines)     # (the last line may be cut by the sample)
    for line in lines:
        stats.add(line.partition("\t")[2] if ids else line)
    if not stats.lines:
        return {"format": "text"}, "empty"
    one_block = stats.blocks == 1 and stats.lines <= LINES_PER_BLOCK
    documents, why = stats.decide(whole=one_block and len(head(path)) < SNIFF_BYTES)   # (head: read once before)
    settings = {"format": "text"} if documents == "blank_line" else {"format": "text", "documents": documents}
    if ids:
        settings["line_ids"] = True
        why = (f"each line starts with a number and a tab (an identifier column, as in the Leipzig Corpora "
               f"Collection's -sentences.txt), left out of the text; {why}")
    return settings, why


def _json_array(path: Path, start: int, code: str | None) -> tuple[dict, str]:
    """Field choice from the first records of a JSON array file (read as format jsonl)."""
    from itertools import islice

    from pipeline.readers.jsonl import array_records

    records: list[dict] = []
    try:
        for n, obj in islice(array_records(path, start), SAMPLE_RECORDS):
            if not isinstance(obj, dict):
                raise ConfigError(f"{path} record {n}: a JSON {type(obj).__name__}, not an object; a JSON array "
                                  f"of objects (records) is read, one document each")
            records.append(_flatten(obj))
    except ValueError as e:
        if not records:
            raise ConfigError(f"{e}; not a JSON array of records") from None
    settings, why = _record_settings(path, records, code)
    return settings, f"a JSON array of records (one document each); {why}"


def _record_settings(path: Path, records: list[dict], code: str | None) -> tuple[dict, str]:
    """The jsonl entry's field choice from flattened JSON records (JSON Lines or an array's)."""
    names = list(dict.fromkeys(k for r in records for k in r))
    types = {k: type(next(r[k] for r in records if k in r)).__name__ for k in names}
    settings, why = choose(str(path), records, names, types, prefer=code)
    return {"format": "jsonl", **settings}, why


def _jsonl(path: Path, code: str | None = None) -> tuple[dict, str]:
    from pipeline.readers.jsonl import array_start, object_start

    if (start := array_start(path)) is not None:
        return _json_array(path, start, code)
    try:
        return _json_lines(path, code)
    except ConfigError as e:              # perhaps one JSON object holding an array of records
        if object_start(path) is None:
            raise
        return _json_object(path, code, e)


def _json_lines(path: Path, code: str | None) -> tuple[dict, str]:
    records: list[dict] = []
    lines = [ln for ln in _lines(path) if ln.strip()]
    for i, ln in enumerate(lines[:SAMPLE_RECORDS], 1):
        try:
            obj = json.loads(ln)
        except json.JSONDecodeError as e:
            if i == len(lines) and len(lines) > 1:
                break          # the sample ended inside a long line
            raise ConfigError(f"{path} line {i}: not JSON ({e.msg}); not a JSON Lines file") from None
        if not isinstance(obj, dict):
            raise ConfigError(f"{path} line {i}: a JSON {type(obj).__name__}, not an object; not JSON Lines")
        records.append(_flatten(obj))
    return _record_settings(path, records, code)


def _json_object(path: Path, code: str | None, as_lines: ConfigError) -> tuple[dict, str]:
    """Field choice for a JSON object file holding its records in an array (``{"articles": [...]}``): the array
    whose records hold the most text (read as format jsonl with ``records``)."""
    from itertools import islice

    from pipeline.readers.jsonl import array_records, json_arrays, object_start

    try:
        keys, arrays, whole = json_arrays(path, limit=OBJECT_SCAN_BYTES)
    except ValueError:
        raise as_lines from None
    arrays = {p: v for p, v in arrays.items() if v[0] and p}
    if not arrays:
        return _json_record(path, code, keys, as_lines)
    best = max(arrays, key=lambda p: arrays[p][1])
    first = islice(array_records(path, object_start(path) or 0, best), SAMPLE_RECORDS)
    records = [_flatten(obj) for _, obj in first if isinstance(obj, dict)]
    settings, why = _record_settings(path, records, code)
    seen = "" if whole else f" in its first {OBJECT_SCAN_BYTES >> 20} MB"
    others = [f"{p} ({v[0]:,} records)" for p, v in arrays.items() if p != best]
    return ({"format": "jsonl", "records": best, **settings},
            f"a JSON object (top-level keys: {', '.join(keys[:10])}); its records, one document each, are the "
            f"{arrays[best][0]:,} objects{seen} in {best!r}, the array with the most text"
            + (f" (the other arrays of objects: {', '.join(others[:5])})" if others else "") + f"; {why}")


def _json_record(path: Path, code: str | None, keys: list[str], as_lines: ConfigError) -> tuple[dict, str]:
    """A JSON object file with no array of records: itself one record (``records: "."``) when it holds text."""
    from pipeline.readers.jsonl import array_records, object_start

    try:
        record = _flatten(next(obj for _, obj in array_records(path, object_start(path) or 0, ".")))
    except ValueError:
        record = {}
    try:
        settings, why = _record_settings(path, [record], code)
    except ConfigError:      # (no field that holds text)
        raise ConfigError(f"{as_lines}; nor a JSON object holding an array of records or text of its own "
                          f"(top-level keys: {', '.join(keys[:10]) or 'none'})") from None
    return ({"format": "jsonl", "records": ".", **settings},
            f"one JSON object (keys: {', '.join(keys[:10])}), read as one record: one document per file (an "
            f"article or page saved as JSON); {why}")


def _flatten(obj: dict, prefix: str = "", depth: int = 0) -> dict:
    """A record with nested objects' keys as dotted names (``{"content": {"text": ..}}`` -> ``content.text``,
    the jsonl reader's ``field`` syntax), three levels deep."""
    out = {}
    for k, v in obj.items():
        if isinstance(v, dict) and v and depth < 2:
            out.update(_flatten(v, f"{prefix}{k}.", depth + 1))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _table_settings(where: str, table, fmt: str, code: str | None = None) -> tuple[dict, str]:
    """Field choice from the first rows of a pyarrow table (parquet, arrow, hf); a struct column's members are
    candidates by dotted name (``translation.sw``)."""
    import pyarrow as pa

    from pipeline.readers.rows import is_string

    while any(pa.types.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    types = {f.name: str(f.type) for f in table.schema}
    strings = [f.name for f in table.schema if is_string(f.type)]
    settings, why = choose(where, table.select(strings).to_pylist() if strings else [{}] * table.num_rows,
                           strings, types, prefer=code)
    return {"format": fmt, **settings}, why


def _parquet(path: Path, code: str | None = None) -> tuple[dict, str]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pf = pq.ParquetFile(path)
        batch = next(pf.iter_batches(batch_size=SAMPLE_RECORDS), None)
    except (pa.ArrowException, OSError) as e:
        raise ConfigError(f"{path}: not a readable Parquet file ({e})") from None
    table = pa.Table.from_batches([batch]) if batch is not None else pf.schema_arrow.empty_table()
    return _table_settings(str(path), table, "parquet", code)


def _arrow(path: Path, code: str | None = None) -> tuple[dict, str]:
    import pyarrow as pa

    from pipeline.readers.arrow import open_batches

    try:
        schema, batches = open_batches(path)
        batch = next(batches, None)
    except (pa.ArrowException, OSError) as e:
        raise ConfigError(f"{path}: not a readable Arrow file ({e})") from None
    table = pa.Table.from_batches([batch.slice(0, SAMPLE_RECORDS)]) if batch is not None else schema.empty_table()
    return _table_settings(str(path), table, "arrow", code)


def _csv(path: Path, code: str | None = None, encoding: str = UTF8) -> tuple[dict, str]:
    import csv

    from pipeline.readers.delimited import delimiter

    lines = _lines(path, encoding)
    sep = delimiter_of(lines[0], delimiter(path.name)) if lines else None
    rows = list(csv.reader(lines[: SAMPLE_RECORDS + 1], delimiter=sep or delimiter(path.name)))
    if not rows:
        raise ConfigError(f"{path}: an empty table (no header row)")
    header, body = rows[0], rows[1:]
    records = [dict(zip(header, r)) for r in body if len(r) == len(header)]
    numeric = {h for h in header if records and all(_is_number(r[h]) for r in records)}
    types = {h: "number" if h in numeric else "text" for h in header}
    settings, why = choose(str(path), records, [h for h in header if h not in numeric], types, prefer=code)
    if sep:
        return {"format": "csv", "delimiter": sep, **settings}, f"columns separated by {sep!r}; {why}"
    return {"format": "csv", **settings}, why


def _is_number(s: str) -> bool:
    try:
        float(s)
        return True
    except ValueError:
        return False


def _conllu(path: Path, code: str | None = None) -> tuple[dict, str]:
    lines = _lines(path)
    tokens = sum(1 for ln in lines if ln.count("\t") == 9)
    sentences = sum(1 for ln in lines if ln.startswith("# text"))
    if not tokens:
        raise ConfigError(f"{path}: no CoNLL-U token lines (10 tab-separated columns) in its first lines")
    docs = sum(1 for ln in lines if ln.startswith("# newdoc"))
    return {"format": "conllu"}, (f"{sentences:,} '# text' sentences in the first lines; documents from "
                                  f"'# newdoc' ({docs} seen)" if docs else
                                  f"{sentences:,} '# text' sentences in the first lines, no '# newdoc': "
                                  f"grouped 20 sentences to a document")


def _dataset(path: Path, code: str | None = None) -> tuple[dict, str]:
    split, others = {}, ""
    names = splits(path)
    if names is not None:   # a DatasetDict: read "train", else its first split
        split = {"split": training_split(names)}
        rest = [n for n in names if n != split["split"]]
        if rest:   # held-out splits may be someone's evaluation data: named, not read
            others = (f"; split {split['split']} read, not {', '.join(rest)} (a copy of this entry with "
                      f"split: NAME adds one)")
    ds = load_folder(path, split.get("split", "train"))
    table = ds.with_format("arrow")[:SAMPLE_RECORDS]
    settings, why = _table_settings(str(path), table, "hf", code)
    return {**settings, **split}, f"a `datasets` save_to_disk folder, {ds.num_rows:,} rows{others}; {why}"


CLASSIFIERS = {"text": _text, "jsonl": _jsonl, "parquet": _parquet, "arrow": _arrow, "csv": _csv,
               "conllu": _conllu}


def _no_suffix(path: Path, code: str | None, encoding: str = UTF8) -> tuple[dict, str]:
    """A file without a suffix (WikiExtractor writes ``AA/wiki_00``): JSON Lines when it starts with a JSON
    object that reads as JSON Lines, else text (in ``encoding``); binary content or bytes not in the encoding are
    an error (``_lines``)."""
    from pipeline.readers.jsonl import object_start

    if object_start(path) is not None:
        try:
            settings, why = _jsonl(path, code)
            return settings, f"no suffix; it starts with a JSON object, so format jsonl: {why}"
        except ConfigError:
            pass      # text that happens to start with "{"
    settings, why = _text(path, code, encoding)
    return settings, f"no suffix; its content is {'UTF-8' if encoding == UTF8 else encoding} text: {why}"


# what to do with a file that holds text in a form no reader takes (keyed by its suffix, compression aside)
_WIKI = ("A Wikipedia dump (MediaWiki XML): extract its articles first, e.g. `python -m wikiextractor.WikiExtractor "
         "FILE -o extracted`, then --source extracted/ (its <doc> files are read as they are). ")
_CONVERT = {"xml": _WIKI, "html": "Web pages: extract their main text first (e.g. trafilatura) into .txt or .jsonl. ",
            "htm": "Web pages: extract their main text first (e.g. trafilatura) into .txt or .jsonl. ",
            "warc": "A web archive: extract its pages' text first (e.g. datatrove's WarcReader with Trafilatura). ",
            "pdf": "A PDF: extract its text first (e.g. pdftotext) into a .txt file. ",
            "docx": "A Word document: save it as plain text (.txt) first. ",
            "epub": "An e-book: extract its text first (e.g. pandoc -t plain) into a .txt file. ",
            "7z": "A 7-Zip archive: extract it (7z x FILE), or repack it as .zip or .tar.gz, which are read in place. ",
            "rar": "A RAR archive: extract it (unrar x FILE), or repack it as .zip or .tar.gz, which are read in "
                   "place. "}


def classify(path: Path, code: str | None = None, encoding: str = UTF8) -> tuple[dict, str]:
    """(the ``sources`` settings for one file, the evidence); a ConfigError naming the file when it fits none.
    ``encoding``: the single-byte encoding of text and CSV files (``--encoding``; ``head.encoding_of``)."""
    fmt = format_of(path)
    if isinstance(path, Member) and fmt in ("parquet", "arrow"):
        raise ConfigError(f"{path}: a {fmt} file inside an archive; extract the archive (only line-based formats "
                          f"are read from inside archives) or remove it from the folder")
    if encoding != UTF8 and (fmt in ("text", "csv") or fmt is None and suffix(path) in ("", *COMPRESSED)):
        enc = encoding_of(path, encoding)
        settings, why = _no_suffix(path, code, enc) if fmt is None else CLASSIFIERS[fmt](path, code, enc)
        if settings["format"] not in ("text", "csv"):
            return settings, why
        if enc == UTF8:
            return settings, f"its first bytes are UTF-8 with non-ASCII characters, so not {encoding}; {why}"
        return {**settings, "encoding": enc}, why
    if fmt is None and suffix(path) in ("", *COMPRESSED):
        return _no_suffix(path, code)
    if fmt not in CLASSIFIERS:
        hint = _CONVERT.get(suffix(path).split(".")[1].lower(), "") if "." in suffix(path) else ""
        raise ConfigError(f"{path}: cannot tell what this file holds from its name (suffix "
                          f"{''.join(path.suffixes) or 'none'}); known: {KNOWN}. "
                          + (f"{hint}Or remove" if hint else "Convert it, remove")
                          + " it from the folder, or name the files to read with --source")
    if fmt in ("parquet", "arrow") and path.name.endswith(COMPRESSED):
        raise ConfigError(f"{path}: a compressed {fmt} file; decompress it (only line-based formats are read "
                          f"compressed)")
    return CLASSIFIERS[fmt](path, code)


def group(files: list[Path], datasets: list[Path], code: str | None = None, encoding: str = UTF8) -> list[Found]:
    """One entry per format and settings (files classified one by one; a dataset folder is an entry)."""
    by: dict[str, Found] = {}
    for f in files:
        settings, why = classify(f, code, encoding)
        key = json.dumps(settings, sort_keys=True)
        found = by.setdefault(key, Found(settings, [], why))
        found.files.append(f)
    out = merge_alike(list(by.values()), files)
    for found in out:
        alike = found.alike or len(found.files)
        if alike > 1 and found.why and found.why != "empty":   # the evidence is the first file's
            found.why = f"{found.files[0].name} (the first of {alike} files classified alike): {found.why}"
        plain = [f for f in found.files if isinstance(f, Path)]
        paths = globs(plain, files) or [str(f) for f in plain]
        found.paths = [(p, None) for p in paths] + entries([f for f in found.files if isinstance(f, Member)])
    for d in datasets:
        settings, why = _dataset(d, code)
        out.append(Found(settings, [d], why, [(str(d), None)]))
    return out


def detect(sources: list[str], code: str | None = None, encoding: str = UTF8) -> tuple[list[Found], LeftOut]:
    """The sources entries for --source arguments, each tallied; and the number of hidden files left out. ``code``:
    the language's code, which names its field in a record of several languages (``translation.sw``);
    ``encoding``: a single-byte encoding for text and CSV files that are not UTF-8 (``--encoding``)."""
    files, datasets, left = _inputs(sources)
    if not files and not datasets:
        raise ConfigError(f"--source {' '.join(sources)}: no files found")
    found = group(files, datasets, code, encoding)
    budget = [TOTAL_CHARS]
    for fd in found:
        fd.tally = tally(fd.settings, fd.files, budget)
    for fd in found:
        held = sorted({m.group(1).lower() for f in fd.files if (m := _HELD_OUT.search(f.name))})
        if held and len(fd.files) > 1:   # a Hub snapshot's data/test-*.parquet beside data/train-*.parquet
            fd.why += (f"; includes files named for the {'/'.join(held)} split: if they are evaluation data, "
                       f"narrow the path to the training files")
    return found, left


def render(found: list[Found], shown, left: LeftOut | None = None) -> str:
    """The ``sources:`` entries as YAML lines (indented two spaces), a comment above each; ``shown(path)``
    is how a path is written (relative to the data root where it lies under it)."""
    out = []
    left = left or LeftOut()
    if left.hidden:
        out.append(f"  # ({left.hidden} hidden file(s) left out, as source globs leave them out)\n")
    if left.documentation:
        out += [f"  #   {ln}\n" for ln in _wrap(f"(left out as documentation, not text to train on: "
                                               f"{', '.join(left.documentation)})")]
    if left.not_text:
        what = []
        for kind, names in left.not_text.items():
            some = sorted({Path(n).name for n in names})
            what.append(f"{len(names)} {kind}(s)" if kind == "lock file" else
                        f"{', '.join(some[:4])}{f' and {len(some) - 4} more' if len(some) > 4 else ''} ({kind}s)")
        out += [f"  #   {ln}\n" for ln in _wrap(f"(left out, not text: {'; '.join(what)})")]
    for fd in found:
        for path, members in fd.paths:
            entry = {"path": shown(Path(path)), **({"members": members} if members not in (None, "*") else {}),
                     **fd.settings}
            unit = "dataset folder(s)" if fd.settings["format"] == "hf" else "file(s)"
            what = fd.tally.describe(unit) if fd.tally else ""
            out.append(f"  # {fd.settings['format']}: {what}" + (f" (in {len(fd.paths)} entries)" if len(fd.paths) > 1
                                                                    else "") + "\n")
            out += [f"  #   {ln}\n" for ln in _wrap(fd.why)]
            text = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, default_flow_style=None)
            out += ["  " + ln + "\n" for ln in text.splitlines()]
    return "".join(out)


def _wrap(text: str, width: int = 100) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width) or [""]
