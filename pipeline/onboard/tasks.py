"""``foundry new-language --task NAME=TRAIN[,DEV]``: a labelled task's files turned into an ``evaluate.tasks``
entry, so that the first run ends with a scorecard.

The format comes from the file (``.conllu``; token-tag lines in ``.conll``/``.txt``/``.iob``/``.bio``, a file
without a suffix (PAN-X's ``train``) or a header-less two-column ``.tsv``; ``.tsv``/``.csv`` with a header;
``.jsonl``; ``.parquet``; a ``datasets`` ``save_to_disk`` folder; any of the line-based ones may be named inside a
.zip or tar archive, ``ARCHIVE/MEMBER``), the type from what it holds: tags per token -> tagging; a second text
column (``sentence2``, ``hypothesis``, ...) -> pair_classification; numeric labels with fractions -> regression;
else classification. The entry is then read with the evaluation's own loader (``load_task``), so a file it cannot
read is a one-line error naming the file and line, and the YAML comment gives what was read. Without a DEV file a
seeded share of TRAIN is scored. The shipped configs' CPU recipe is written: 10 epochs, at most 1000 training
examples per task (``max_train_examples: all`` trains on every one).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from pipeline.config import ConfigError

# the shipped configs' CPU-sized recipe (corpora/sw.yaml): at most 1000 training examples per task, trained
# 10 epochs (the GLUE default, 3, is ~94 steps on 1000 examples), scored on (nearly) the whole scored split
MAX_TRAIN, MAX_EVAL, EPOCHS = 1000, 5000, 10
_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_.-]*")
_SAMPLE = 500


def _head(path: Path, lines: int) -> list[str]:
    """The first lines of a file or an archive member (a byte-order mark dropped), without reading the rest."""
    import io
    from itertools import islice

    from pipeline.files import open_binary

    with io.TextIOWrapper(open_binary(_member(path)), encoding="utf-8-sig", errors="replace") as f:
        return [ln.rstrip("\r\n") for ln in islice(f, lines)]


def _member(path: Path):
    """The file to open for ``path``: itself, or the archive member it names (``ARCHIVE/MEMBER``)."""
    from pipeline.files import member_at

    return path if path.exists() else member_at(path) or path


def _conll_like(path: Path) -> bool:
    """Token-tag lines (2+ columns, the last a tag) in sentences separated by blank lines."""
    from pipeline.onboard.layout import conll_like

    return conll_like(_head(path, 2000))


def _records(path: Path, fmt: str, sep: str | None = None) -> list[dict]:
    """The first records of a tabular or JSON task file, as dicts (column name -> value)."""
    if fmt == "jsonl":
        out = [json.loads(ln) for ln in _head(path, 2 * _SAMPLE) if ln.strip()][:_SAMPLE]
        return [r for r in out if isinstance(r, dict)]
    if fmt == "parquet":
        import pyarrow.parquet as pq

        return pq.ParquetFile(path).read_row_group(0).slice(0, _SAMPLE).to_pylist()
    import csv
    import io

    from pipeline.files import open_binary

    with open_binary(_member(path)) as f:
        text = f.read(2_000_000).decode("utf-8-sig", errors="replace")
    if fmt == "tsv":
        rows = [ln.split("\t") for ln in text.splitlines()[: _SAMPLE + 1]]
    else:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=sep or ","))[: _SAMPLE + 1]
    return [dict(zip([h.strip() for h in rows[0]], r)) for r in rows[1:]] if rows else []


def _is_fraction(v) -> bool:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return False
    return f != int(f) if f == f and abs(f) != float("inf") else False


def _type(records: list[dict], label: str | None = None) -> str:
    from pipeline.taskdata.formats.tsv import _LABEL_NAMES, _TEXT_B_NAMES

    keys = list(dict.fromkeys(k for r in records for k in r))
    if any(isinstance(r.get("tokens"), list) for r in records):
        return "tagging"
    label = label or next((k for k in _LABEL_NAMES if k in keys), None)
    values = [r.get(label) for r in records] if label else []
    numeric = values and all(_is_number(v) for v in values)
    if numeric and any(_is_fraction(v) for v in values):
        return "regression"
    if any(k in keys or any(h.startswith(k + "_") for h in keys) for k in _TEXT_B_NAMES):
        return "pair_classification"
    return "classification"


def _is_number(v) -> bool:
    return _is_fraction(v) or str(v).strip().lstrip("-").replace(".", "", 1).isdigit()


def _columns(records: list[dict]) -> tuple[dict, str]:
    """``text_a`` and ``label`` chosen by content where no header name says (a header in the task's language:
    ``satz;kategorie``): text_a the non-numeric column with the longest values, label another column with 2 to
    50 distinct values (the fewest); ({}, "") when the names say or nothing fits."""
    from pipeline.taskdata.formats.tsv import _LABEL_NAMES, _TEXT_A_NAMES, _default_column

    keys = list(dict.fromkeys(k for r in records for k in r))
    if len(keys) < 2 or any(isinstance(r.get("tokens"), list) for r in records):
        return {}, ""
    mean = {k: sum(len(str(r.get(k, ""))) for r in records) / len(records) for k in keys}
    out, said = {}, []
    text_a = _default_column(_TEXT_A_NAMES, keys)
    texts = [k for k in keys if not all(_is_number(r.get(k)) for r in records)]
    if text_a is None and texts:
        text_a = out["text_a"] = max(texts, key=mean.get)
        said.append(f"text_a {text_a!r} (the longest text, {mean[text_a]:,.0f} characters on average)")
    if _default_column(_LABEL_NAMES, keys) is None and text_a is not None:
        distinct = {k: len({str(r.get(k)) for r in records}) for k in keys if k != text_a}
        fits = [k for k, n in distinct.items() if 2 <= n <= 50]
        if fits:
            label = out["label"] = min(fits, key=distinct.get)
            said.append(f"label {label!r} ({distinct[label]} values)")
    return out, (f"; columns chosen by their content (no header name says): {', '.join(said)}" if said else "")


def _glue_key(path: Path) -> str | None:
    """The GLUE task a file's folder is named for (download_glue_data.py's layout: MRPC/dev.tsv)."""
    from pipeline.taskdata.formats.glue import normalize_task_name

    return normalize_task_name(path.parent.name)


def _format(path: Path) -> str:
    from pipeline.readers.hf import is_dataset_folder

    name = path.name.lower()
    if is_dataset_folder(path):
        return "hf"
    if name.endswith(".conllu"):   # WikiANN's .conllu files hold CoNLL NER lines (index token tag)
        first = next((ln for ln in _head(path, 200) if ln.strip() and not ln.startswith("#")), "")
        return "conll" if first.count("\t") != 9 and _conll_like(path) else "conllu"
    if name.endswith(".jsonl"):
        return "jsonl"
    if name.endswith(".parquet"):
        return "parquet"
    # (no suffix: PAN-X's train, dev and test files)
    if (name.endswith((".tsv", ".txt", ".conll", ".iob", ".bio", ".iob2")) or "." not in name) and _conll_like(path):
        return "conll"
    if name.endswith(".csv"):
        return "csv"
    if name.endswith(".tsv") and _glue_key(path):
        return "glue"
    if name.endswith(".tsv"):
        header = set((_head(path, 1) or [""])[0].strip().split("\t"))
        return "masakhanews" if {"category", "headline", "text"} <= header else "tsv"   # headline + body
    raise ConfigError(f"{path}: cannot tell the task format from this file (known: .conllu; token-tag lines in "
                      f".conll/.txt/.tsv; .tsv/.csv with a header; .jsonl; .parquet; a datasets save_to_disk "
                      f"folder); write the task into evaluate.tasks by hand (docs/evaluation.md)")


def task_entry(spec: str, shown, root: Path, droot: Path, encoding: str | None = None) -> tuple[dict, str]:
    """(the ``evaluate.tasks`` entry for ``NAME=TRAIN[,DEV]``, a comment saying what was read). A relative path is
    looked for in the working directory, then under the data root ``droot`` (as the config writes it);
    ``shown(path)`` writes a path as the config will (relative to the data root when under it). ``encoding``
    (``--encoding``): the single-byte encoding of task files that are not UTF-8 (``_encoding``)."""
    from pipeline.config import TaskSettings
    from pipeline.errors import StageError
    from pipeline.taskdata.tasks import load_task

    name, eq, files = spec.partition("=")
    if not eq or not _NAME.fullmatch(name) or not files:
        raise ConfigError(f"--task {spec}: expected NAME=TRAIN or NAME=TRAIN,DEV (e.g. ner=data/train.conll,"
                          f"data/dev.conll)")
    given = [Path(p).expanduser() for p in files.split(",") if p]
    if len(given) > 2:
        raise ConfigError(f"--task {spec}: at most two files, TRAIN and DEV")
    paths = []
    for p in given:
        found = next((q.resolve() for q in (p, Path(droot) / p) if q.exists() or _in_archive(q)), None)
        if found is None:
            raise ConfigError(f"--task {name}: {p}: no such file or folder (looked in {Path.cwd()} and the data "
                              f"root {droot})")
        paths.append(found)
    fmt = _format(paths[0])
    entry: dict = {"name": name, "type": "tagging" if fmt in ("conll", "conllu") else "", "format": fmt,
                   "train": shown(paths[0])}
    if len(paths) == 2:
        entry["dev"] = shown(paths[1])
    if encoding and fmt not in ("hf", "parquet") and (enc := _encoding(name, paths, encoding)):
        entry["encoding"] = enc
    if fmt == "csv" and (sep := _delimiter(paths[0])):
        entry["delimiter"] = sep
    if fmt == "hf":
        entry.update(_hf(paths[0], dev_given=len(paths) == 2))
    elif fmt == "glue":
        from pipeline.taskdata.formats.glue import GLUE_TASKS

        entry["type"] = GLUE_TASKS[_glue_key(paths[0])]["type"]
    chosen = ""
    if not entry["type"] and fmt not in ("hf", "glue"):
        try:
            records = _records(paths[0], fmt, entry.get("delimiter"))
            columns, chosen = _columns(records) if fmt in ("csv", "tsv", "jsonl") else ({}, "")
            entry.update(columns)
            entry["type"] = _type(records, columns.get("label"))
        except (ValueError, OSError):   # unreadable: load_task below names the file and line
            entry["type"] = "classification"
    try:
        data = load_task({**entry, "train": str(paths[0]), **({"dev": str(paths[1])} if len(paths) == 2 else {})},
                         root)
    except (StageError, ConfigError, ValueError) as e:
        hint = "; or run new-language with --encoding ENC" if "not valid UTF-8" in str(e) and not encoding else ""
        raise ConfigError(f"--task {name} ({fmt}, {entry['type']}): {e}{hint}") from None
    n_train, n_dev = len(data.train) - data.swapped, len(data.dev)
    if n_train > MAX_TRAIN:
        entry["max_train_examples"] = MAX_TRAIN
    if n_dev > MAX_EVAL:
        entry["max_eval_examples"] = MAX_EVAL
    labels = "" if data.labels is None else (f", {len(data.labels)} labels ({', '.join(map(str, data.labels[:8]))}"
                                             f"{', ...' if len(data.labels) > 8 else ''})")
    capped = " (capped for CPU fine-tuning; all: every example)" if n_train > MAX_TRAIN or n_dev > MAX_EVAL else ""
    seeded = len(paths) == 1 and (fmt != "hf" or entry.get("dev_split") is None)
    split = f" (a seeded {TaskSettings.model_fields['dev_fraction'].default:.0%} of the training file)" if seeded else ""
    why = (f"{name}: {fmt}, {entry['type']}: {n_train:,} training and {n_dev:,} scored examples{split}"
           f"{labels}{capped}{_prefix_note(paths[0], fmt)}"
           + (f"; columns separated by {entry['delimiter']!r}" if "delimiter" in entry else "") + chosen)
    return entry, why


def _prefix_note(path: Path, fmt: str) -> str:
    """What the comment says of PAN-X's language prefix on every token (``taskdata/formats/conll.py``)."""
    from pipeline.taskdata.formats.conll import language_prefix

    if fmt != "conll":
        return ""
    prefix = language_prefix([ln.split("\t")[0].split()[0] for ln in _head(path, 2000) if ln.strip()])
    return f"; every token starts with {prefix!r} (WikiANN/PAN-X as distributed), left out" if prefix else ""


def _delimiter(path: Path) -> str | None:
    """A CSV task file's column separator when its header uses another than the comma."""
    from pipeline.config.sources import delimiter_of

    return delimiter_of((_head(path, 1) or [""])[0], ",")


def _in_archive(path: Path) -> bool:
    """Whether ``path`` names a member of an archive (``ARCHIVE/MEMBER``; a missing member is an error)."""
    from pipeline.errors import StageError
    from pipeline.files import member_at

    try:
        return member_at(path) is not None
    except StageError as e:
        raise ConfigError(str(e)) from None


def _encoding(name: str, paths: list[Path], encoding: str) -> str | None:
    """``encoding`` when the task's files hold bytes that are not UTF-8 (read in it, they are checked by
    ``load_task``), None when they are UTF-8 (or ASCII); a ConfigError when one file is UTF-8 with non-ASCII
    characters and the other is not (a task has one encoding)."""
    from pipeline.config.sources import UTF8
    from pipeline.onboard.head import encoding_of, head

    legacy = {p: not head(_member(p)).isascii() and encoding_of(_member(p), encoding) != UTF8 for p in paths}
    if len(set(legacy.values())) > 1:
        utf8 = next(p for p, v in legacy.items() if not v)
        raise ConfigError(f"--task {name}: {utf8} is UTF-8 and the other file is not; a task's files share one "
                          f"encoding: re-encode one (iconv -f {encoding} -t UTF-8)")
    return encoding if any(legacy.values()) else None


def _hf(path: Path, dev_given: bool) -> dict:
    """Type and splits of a ``save_to_disk`` task: train on ``train``, score ``validation`` (else ``test``, else a
    seeded share of train)."""
    from pipeline.readers.hf import load_folder, splits, training_split

    names = splits(path) or ["train"]
    train = training_split(names)
    ds = load_folder(path, train)
    out = {"type": _type(ds.select(range(min(_SAMPLE, ds.num_rows))).to_list()), "train_split": train}
    if not dev_given:
        out["dev_split"] = next((n for n in ("validation", "dev", "test") if n in names), None)
    return out


def tasks_yaml(entries: list[tuple[dict, str]]) -> str:
    """The ``tasks:`` block (indented under ``evaluate:``), a comment above each entry."""
    import yaml

    out = [f"  epochs: {EPOCHS}                # every task's unless it sets its own: the shipped CPU recipe "
           f"(docs/evaluation.md, \"Epochs\")\n", "  tasks:\n"]
    import textwrap

    for entry, why in entries:
        out += [f"    # {ln}\n" for ln in textwrap.wrap(why, 100)]
        text = yaml.safe_dump([entry], sort_keys=False, allow_unicode=True, default_flow_style=False)
        out += ["    " + ln + "\n" for ln in text.splitlines()]
    return "".join(out)
