"""What the row-based readers (parquet, arrow, hf) share: checking that the text columns exist and hold strings,
and turning a record batch into documents (``fields`` joined with a blank line, a null cell as "")."""
from __future__ import annotations

from typing import Iterator

from pipeline.errors import StageError
from pipeline.readers.common import RawDoc, SourceFile
from pipeline.readers.lines import split_text

BATCH_ROWS = 1024


def is_string(typ) -> bool:
    import pyarrow as pa

    return (pa.types.is_string(typ) or pa.types.is_large_string(typ)
            or getattr(pa.types, "is_string_view", lambda t: False)(typ))


def check_columns(where: str, schema, fields: list[str]) -> None:
    """A StageError naming ``where`` unless every field is a string column of ``schema`` (a pyarrow schema)."""
    names = schema.names
    for field in fields:
        if field not in names:
            shown = ", ".join(f"{n} ({schema.field(n).type})" for n in names)
            raise StageError(f"{where}: no column {field!r} (columns: {shown or 'none'}); "
                             f"set sources[].field in the language's YAML")
        typ = schema.field(field).type
        if not is_string(typ):
            raise StageError(f"{where}: column {field!r} has type {typ}, expected string")


def batch_documents(sf: SourceFile, batch, row: int, max_chars: int) -> Iterator[RawDoc]:
    """The documents of a record batch whose first row is ``row`` (columns: ``sf.source.text_fields``)."""
    cols = [batch.column(name).to_pylist() for name in sf.source.text_fields]
    for k, vals in enumerate(zip(*cols)):
        text = (vals[0] or "") if len(vals) == 1 else "\n\n".join(v for v in vals if v and v.strip())
        yield from split_text(text, sf.rel, row + k, max_chars)
