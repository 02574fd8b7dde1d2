"""The ``sources`` section: where a language's raw text is and how to read it (``pipeline/readers/<format>.py``
says what a document is for each format); and the encodings text files may be in (a source's or a task's
``encoding``: UTF-8 or a single-byte one), with the hint a file that is not UTF-8 gets."""
from __future__ import annotations

import codecs
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, model_validator

from pipeline.config.base import _Strict

UTF8 = "utf-8"


def single_byte(encoding: str) -> bool:
    """Whether every byte of ``encoding`` is one character and the first 128 are ASCII (Windows-1252, KOI8-R,
    ISO-8859-*, ...): then lines, blank lines and spaces are the same bytes as in UTF-8, and a work unit may
    start at any byte. Not UTF-16/32 or the multi-byte legacy encodings (Shift_JIS, GBK, Big5, EUC-KR)."""
    dec = codecs.getincrementaldecoder(encoding)(errors="replace")
    return (all(len(dec.decode(bytes([b]))) == 1 for b in range(256))
            and bytes(range(128)).decode(encoding, errors="replace") == "".join(map(chr, range(128))))


def legacy_hint(raw: bytes, via: str = "give its source `encoding: {}`") -> str:
    """How to read bytes that are not UTF-8: re-encode the file, or name its single-byte encoding (``via``, with
    ``{}`` for the encoding: a source's ``encoding``, new-language's ``--encoding``). Read as Windows-1252, a few
    accented letters among plain ones are Latin-1 text (``cp1252`` named); letters almost all accented are
    another script's code page (cp1251 or koi8-r Cyrillic, cp1253 Greek, ...)."""
    other = f"re-encode the file as UTF-8, or {via.format('ENC')}, ENC its code page (cp1251, koi8-r, cp1256, ...)"
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:
        return other
    letters = [ch for ch in text if ch.isalpha()]
    accented = sum(1 for ch in letters if ord(ch) > 127)
    if not accented or accented > len(letters) / 2:
        return other
    return ("re-encode the file as UTF-8 (it reads as Windows-1252/Latin-1: iconv -f CP1252 -t UTF-8 FILE > NEW), "
            f"or {via.format('cp1252')}")


def check_encoding(v: str) -> str:
    """``encoding``'s value: UTF-8, or a single-byte encoding by its codec name; a ValueError for anything else."""
    try:
        name = codecs.lookup(v).name
    except LookupError:
        raise ValueError(f"unknown encoding {v!r} (a Python codec name: cp1252, latin-1, cp1251, ...)") from None
    if name in (UTF8, "utf-8-sig"):
        return UTF8
    if not single_byte(name):
        raise ValueError(f"encoding {v!r} is not a single-byte encoding; convert the files to UTF-8 (iconv -f "
                         f"{v} -t UTF-8 FILE > NEW) and leave encoding out")
    return name


# a source's or a task's ``encoding`` (checked and written by its codec name)
Encoding = Annotated[str, AfterValidator(check_encoding)]


class GroupChars(_Strict):
    group_chars: int = Field(ge=100, description="consecutive lines grouped into documents of at most this "
                                                 "many characters (a blank line also ends one)")


# csv: the column separator when it is not the file suffix's (a comma for .csv, a tab for .tsv): ";" as spreadsheets
# write CSV in locales whose decimal mark is a comma, or "|"
Delimiter = Literal[",", ";", "\t", "|"]


def delimiter_of(header: str, suffix_sep: str) -> str | None:
    """The column separator of a CSV file whose header line uses another than its suffix's (``suffix_sep``):
    the one of , ; TAB | the header holds most of, when that is not the suffix's; None otherwise."""
    counts = {sep: header.count(sep) for sep in get_args(Delimiter)}
    best = max(counts, key=counts.get)
    return best if best != suffix_sep and counts[best] > counts[suffix_sep] else None


def delimiter_hint(header: list[str], setting: str, used: str = ",") -> str:
    """'; ... set SETTING' when a CSV header read with ``used`` as one column holds another separator, else ''."""
    sep = delimiter_of(header[0], used) if len(header) == 1 else None
    return f"; the header is one column holding {sep!r}: set {setting}: {sep!r}" if sep else ""


class Source(_Strict):
    """One entry of ``sources``."""
    path: str = Field(description="file, folder or glob (format hf: a save_to_disk folder, or a hub name; format "
                                  "tasks: names of evaluate.tasks, a glob); relative paths are under the data root "
                                  "(or the project when root=project)")
    format: Literal["text", "jsonl", "parquet", "arrow", "csv", "conllu", "hf", "tasks"] = "text"
    field: str = Field("text", description="JSON field (jsonl) or column (parquet, arrow, csv, hf) holding the text")
    fields: list[str] | None = Field(None, min_length=2, description="fields joined with a blank line into "
                                     "the document (e.g. [title, body]); replaces field")
    records: str | None = Field(None, min_length=1, description="jsonl: each file is one JSON object holding its "
                                "records in the array at this dotted path (articles, response.docs; 'item' steps "
                                "into an array's elements: data.item.paragraphs); '.': the object is itself the "
                                "one record (a page or article saved as JSON, one document per file)")
    # how lines of a text file become documents (text, and tasks' group_chars; how long a document may be is
    # clean.max_chars); doc_tags: WikiExtractor's <doc ...> ... </doc> articles
    documents: Literal["blank_line", "line", "doc_tags"] | GroupChars = "blank_line"
    line_ids: bool = Field(False, description="text: every line starts with an identifier and a tab (the Leipzig "
                           "Corpora Collection's -sentences.txt), left out of the text")
    split: str = Field("train", description="hf: the split of a DatasetDict folder or hub dataset")
    config: str | None = Field(None, description="hf hub dataset: its configuration name")
    root: Literal["data", "project"] = "data"
    members: str | None = Field(None, min_length=1, description="the files to read in archives the path names "
                                "(.zip, .tar, .tar.gz/.tgz, .tar.xz, .tar.bz2, .tar.zst), a glob whose * also matches "
                                "/ (*-sentences.txt); default every file. Archives are read in place, formats text, "
                                "jsonl, csv and conllu")
    delimiter: Delimiter | None = Field(None, description="csv: the column separator when not the suffix's (a "
                                        "comma for .csv, a tab for .tsv), e.g. ';' from a spreadsheet")
    encoding: Encoding = Field(UTF8, description="text, csv: the files' character encoding when it is not UTF-8, "
                               "a single-byte one (cp1252, latin-1, cp1251, koi8-r, cp1256, iso-8859-7, cp874, ...)")

    @model_validator(mode="after")
    def _layout(self):
        if self.line_ids and self.format != "text":
            raise ValueError(f"line_ids applies to format text only, not format {self.format}")
        if self.encoding != UTF8 and self.format not in ("text", "csv"):
            raise ValueError(f"encoding applies to formats text and csv only (format {self.format} is UTF-8)")
        if self.delimiter is not None and self.format != "csv":
            raise ValueError(f"delimiter applies to format csv only, not format {self.format}")
        if self.members is not None and self.format not in ("text", "jsonl", "csv", "conllu"):
            raise ValueError(f"members applies to formats text, jsonl, csv and conllu (read from archives), not "
                             f"format {self.format}")
        if self.records is not None and self.format != "jsonl":
            raise ValueError(f"records applies to format jsonl only (a JSON object's array of records), not "
                             f"format {self.format}")
        if self.format == "tasks":
            if self.documents in ("line", "doc_tags"):
                raise ValueError("format tasks: documents is {group_chars: N} (lines grouped into documents of "
                                 "at most N characters; default 1500)")
        elif self.documents != "blank_line" and self.format != "text":
            raise ValueError(f"documents applies to format text only (format {self.format}: one record, row or "
                             f"CoNLL-U document is one document)")
        return self

    @property
    def text_fields(self) -> list[str]:
        return list(self.fields or [self.field])
