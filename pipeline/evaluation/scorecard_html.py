"""``scorecard.html``: the scorecard as one self-contained page, the Markdown tables as HTML and a bar
chart of the task scores embedded as a PNG (``pipeline/report_html.py`` holds the shared pieces)."""
from __future__ import annotations

import html

from pipeline.evaluation.representations import collapse_notes
from pipeline.evaluation.scorecard import (all_metrics_rows, average_cells, columns, heading, intro, lr_cell,
                                          task_cells)
from pipeline.evaluation.scoring import average_of, summary_of
from pipeline.report_html import code_spans, data_uri, png, pyplot, table

_CSS = ("body{font-family:sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;"
        "padding:4px 8px}th{background:#f3f3f3}td.n{text-align:right}code{font-size:13px}")


def _chart_png(result: dict) -> bytes | None:
    """Grouped bars: task medians per model (x100), with each seed as a dot."""
    tasks = result["tasks"]
    if not tasks:
        return None
    plt = pyplot()
    cols = columns(result)
    names = list(tasks) + ["average"]
    width = 0.8 / len(cols)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.1 * len(names) * max(1, len(cols)) ** 0.5 + 2), 4.0), dpi=100)
    for ci, (key, head) in enumerate(cols):
        xs, ys = [], []
        for i, n in enumerate(names):
            if n == "average":
                val = average_of(result["average"], key)
                seeds = []
            else:
                s = summary_of(tasks[n], key)
                val = s["median"] if s else None
                seeds = s["seeds"] if s else []
            x = i - 0.4 + width * (ci + 0.5)
            if val is not None:
                xs.append(x)
                ys.append(100 * val)
            if seeds:
                ax.scatter([x] * len(seeds), [100 * v for v in seeds], s=9, color="black", zorder=3, alpha=0.6)
        ax.bar(xs, ys, width=width * 0.95, label=head)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels([f"{n}\n({tasks[n]['metric']})" if n in tasks else n for n in names], fontsize=8)
    ax.set_ylabel("score x100 (median over seeds; dots: seeds)")
    ax.axhline(0, color="grey", linewidth=0.8)
    ax.legend(fontsize=8)
    ax.set_title(f"Scorecard: {heading(result)}")
    fig.tight_layout()
    return png(fig)


def _table(rows: list[list[str]], numeric_from: int | None = None) -> str:
    """rows[0] is the header; columns from ``numeric_from`` on are right-aligned."""
    num = set(range(numeric_from, len(rows[0]))) if numeric_from is not None else set()
    return table(rows[0], rows[1:], num=num, sections=True, num_attr=" class='n'")


def _trained_and_scored(result: dict) -> str:
    rows = [["task", "type", "trained on", "train examples", "scored on", "scored examples", "lr", "epochs",
             "batch", "max length"]]
    for name, v in result["tasks"].items():
        hp = v["hparams"]
        n_orig = v["train_examples"] - v.get("swapped", 0)
        tr = f"{n_orig} of {v['train_available']}" + (" (x2 swapped)" if v.get("swapped") else "")
        rows.append([name, v["type"], v["trained_on"], tr, v["scored_on"],
                     f"{v['dev_examples']} of {v['dev_available']}", lr_cell(hp),
                     f"{hp['epochs']:g}", str(hp["batch_size"]), str(hp["max_length"])])
    return _table(rows)


def render_scorecard_html(result: dict) -> str:
    """A self-contained HTML scorecard: the Markdown tables as HTML and an embedded PNG bar chart."""
    esc = html.escape
    head = heading(result)
    parts = ["<!doctype html>", "<html><head><meta charset='utf-8'>", f"<title>Scorecard: {esc(str(head))}</title>",
             f"<style>{_CSS}</style>", "</head><body>", f"<h1>Scorecard: {esc(str(head))}</h1>"]
    for para in "\n".join(intro(result)).split("\n\n"):
        parts.append(f"<p>{code_spans(para)}</p>")
    chart = _chart_png(result)
    if chart:
        parts.append(f"<img alt='bar chart of the task scores' style='max-width:100%' src='{data_uri(chart)}'>")
    tasks = result["tasks"]
    if not tasks:
        parts.append("<p>No evaluation tasks are configured (<code>evaluate.tasks</code>), so nothing was "
                     "fine-tuned or scored.</p></body></html>")
        return "\n".join(parts)
    cols = columns(result)
    rows = [["task", "metric"] + [f"{h} median (seeds)" for _, h in cols] + ["delta", "95% interval", "wins"]]
    rows += [task_cells(name, v, cols) for name, v in tasks.items()]
    rows.append(["average"] + average_cells(result["average"], cols) + [""])
    parts.append(_table(rows, numeric_from=2))
    parts.append("<h2>What was trained and scored</h2>")
    parts.append(_trained_and_scored(result))
    notes = collapse_notes(result) + [(n, note) for n, v in tasks.items() for note in v.get("notes", [])]
    if notes:
        parts.append("<h2>Notes</h2><ul>" + "".join(f"<li><b>{esc(n)}</b>: {esc(note)}</li>" for n, note in notes)
                     + "</ul>")
    parts.append("<h2>All metrics (medians over seeds, x100)</h2>")
    parts.append(_table([["task", "model", "metrics"]] + all_metrics_rows(result, cols)))
    parts.append("</body></html>")
    return "\n".join(parts)
