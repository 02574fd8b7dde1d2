"""Small pieces for the self-contained HTML reports (the data review page and the evaluation scorecard).

Every report is one file a person can open offline or mail around: inline CSS, plots embedded as base64
PNG, no external URL. This module holds what both pages need and nothing page-specific: escaping, a
table, a matplotlib figure turned into an inline image, and the page shell.
"""
from __future__ import annotations

import base64
import html
import io
import json

PAGE_END = "</body></html>\n"


def esc(x) -> str:
    """HTML-escaped text of ``x`` ("" for None)."""
    return html.escape("" if x is None else str(x))


def compact(x) -> str:
    """A value as one line of text: JSON for dicts and lists (keys sorted), "" for None."""
    if x is None:
        return ""
    if isinstance(x, (dict, list)):
        return json.dumps(x, ensure_ascii=False, sort_keys=True, default=str)
    return str(x)


def code_spans(text: str) -> str:
    """Markdown `code` spans as <code>, everything else escaped (for prose shared with a .md report)."""
    return "".join(f"<code>{html.escape(piece)}</code>" if i % 2 else html.escape(piece)
                   for i, piece in enumerate(text.split("`")))


def _cell(c, numeric: bool, raw: bool) -> str:
    if raw:
        return str(c)
    if numeric and isinstance(c, int):
        return f"{c:,}"
    return esc(c)


def table(headers: list, rows: list[list], num: set[int] = frozenset(), raw: set[int] = frozenset(), *,
          sections: bool = False, num_attr: str = ' class="num"') -> str:
    """An HTML table. Columns in ``num`` are right-aligned (``num_attr`` on their cells) with integers
    written with thousands separators; cells in ``raw`` columns are HTML already. ``sections`` wraps the
    header row in <thead> and the rest in <tbody>."""
    head = "<tr>" + "".join(f"<th>{esc(c)}</th>" for c in headers) + "</tr>"
    body = "".join("<tr>" + "".join(f"<td{num_attr if i in num else ''}>{_cell(c, i in num, i in raw)}</td>"
                                    for i, c in enumerate(r)) + "</tr>" for r in rows)
    if sections:
        return f"<table><thead>{head}</thead><tbody>{body}</tbody></table>"
    return f"<table>{head}{body}</table>"


def page_start(title: str, css: str) -> str:
    """The opening of a page up to and including <body> (end it with ``PAGE_END``)."""
    return (f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{esc(title)}</title>"
            f"<style>{css}</style></head><body>")


def pyplot():
    """matplotlib.pyplot on the Agg backend (no display; the stages run headless)."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    return plt


def png(fig, **savefig) -> bytes:
    """The figure as PNG bytes; closes it. ``savefig`` goes to ``Figure.savefig`` (dpi, bbox_inches, ...)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", **savefig)
    import matplotlib.pyplot as plt
    plt.close(fig)
    return buf.getvalue()


def reproducible_png(fig, dpi: int = 90) -> bytes:
    """PNG bytes that depend only on the figure: tight bounding box and no "Software" metadata, which
    would carry the matplotlib version into the report."""
    return png(fig, dpi=dpi, bbox_inches="tight", metadata={"Software": None})


def data_uri(png_bytes: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes).decode("ascii")


def figure(png_bytes: bytes | None, alt: str) -> str:
    """An inline <img> of the PNG, or a note saying there was nothing to plot."""
    if not png_bytes:
        return f'<p class="note">No data to plot ({esc(alt)}).</p>'
    return f'<img alt="{esc(alt)}" src="{data_uri(png_bytes)}">'


__all__ = ["esc", "compact", "code_spans", "table", "page_start", "PAGE_END", "pyplot", "png", "reproducible_png",
           "data_uri", "figure"]
