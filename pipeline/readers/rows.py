"""What the row-based readers (parquet, arrow, hf) share: checking that the text columns exist and hold strings,
and turning a record batch into documents (``fields`` joined with a blank line, a null cell as "").

A field is a column name or a dotted path into struct columns: ``translation.sw`` is the ``sw`` member of a
``translation`` struct (how OPUS/NLLB-style translation datasets hold each language), as in JSONL."""
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


def field_type(schema, field: str):
    """The pyarrow type of a column, or of a dotted path into struct columns; None when there is none."""
    import pyarrow as pa

    if field in schema.names:
        return schema.field(field).type
    first, *rest = field.split(".")
    if first not in schema.names:
        return None
    typ = schema.field(first).type
    for part in rest:
        if not pa.types.is_struct(typ) or typ.get_field_index(part) < 0:
            return None
        typ = typ.field(part).type
    return typ


def columns(schema, fields: list[str]) -> list[str]:
    """The top-level columns to read for ``fields`` (a dotted path reads its struct column)."""
    return list(dict.fromkeys(f if f in schema.names else f.split(".")[0] for f in fields))


def check_columns(where: str, schema, fields: list[str]) -> None:
    """A StageError naming ``where`` unless every field is a string column (or struct member) of ``schema``."""
    for field in fields:
        typ = field_type(schema, field)
        if typ is None:
            shown = ", ".join(f"{n} ({schema.field(n).type})" for n in schema.names)
            raise StageError(f"{where}: no column {field!r} (columns: {shown or 'none'}); "
                             f"set sources[].field in the language's YAML")
        if not is_string(typ):
            raise StageError(f"{where}: column {field!r} has type {typ}, expected string")


def _values(batch, field: str) -> list:
    if field in batch.schema.names:
        return batch.column(field).to_pylist()
    import pyarrow.compute as pc

    first, *rest = field.split(".")
    col = batch.column(first)
    for part in rest:
        col = pc.struct_field(col, part)
    return col.to_pylist()


def batch_documents(sf: SourceFile, batch, row: int, max_chars: int) -> Iterator[RawDoc]:
    """The documents of a record batch whose first row is ``row`` (columns: ``sf.source.text_fields``)."""
    cols = [_values(batch, name) for name in sf.source.text_fields]
    for k, vals in enumerate(zip(*cols)):
        text = (vals[0] or "") if len(vals) == 1 else "\n\n".join(v for v in vals if v and v.strip())
        yield from split_text(text, sf.rel, row + k, max_chars)
