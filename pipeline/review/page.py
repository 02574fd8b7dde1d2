"""The review page a person reads before approving a corpus: ``review.html`` (and ``review.md``).

``build_pages`` writes ``review.html`` (one self-contained file: inline CSS, plots as base64 PNG, no
external URL, so it opens offline and can be mailed around) and ``review.md`` (a short summary the flow
publishes as a Prefect markdown artifact) into the validate stage's ``reports/<lang>/quality/`` folder,
next to the Great Expectations Data Docs, inside the same atomic swap. It shows, in this order: a
prominent warning when ``stats.json`` says the language-ID model is not reliable for the language
(``lid.calibration.model_reliable: false``); the Great Expectations results (each expectation, observed
value vs threshold, pass/fail); the cleaning funnel (``funnel`` when the clean stage writes it, else the
totals and ``dropped`` counts) and ``skipped`` inputs; document-length, language-score and script-share
distributions; the script mix (letters by Unicode script); the most repeated lines; suspected boilerplate
and mojibake; samples of kept documents and of rejected documents per drop reason (``rejected.jsonl``,
when present); and the sources. Everything optional in ``stats.json`` degrades to a note when absent.
Each section is one function below, returning its HTML parts in page order.
"""
from __future__ import annotations

import re
from pathlib import Path

from pipeline.config import LanguageConfig
from pipeline.layout import Layout
from pipeline.report_html import PAGE_END, compact, esc, figure, page_start, table
from pipeline.review.analysis import CODEPAGE_MARKER
from pipeline.review.clean_record import funnel_rows, lid_calibration, lid_warning
from pipeline.review.content import ReviewContent, gather, snippet
from pipeline.review.corpus import Corpus
from pipeline.review.gate import PAGE, SUMMARY
from pipeline.review.headline import counted
from pipeline.review.summary import decision_hints, render_markdown
from pipeline.review.thresholds import section as thresholds_section

MAX_SOURCE_ROWS = 40   # more files than this: totals per format and the files that kept least

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;
color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}td{text-align:start;unicode-bidi:plaintext}th{background:#f3f3f3}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1b7a2e;font-weight:bold}.fail{color:#b00020;font-weight:bold}
.banner{border:3px solid #b00020;background:#fdecea;padding:.8em 1em;margin:1em 0;font-size:1.05em}
.warn{border:2px solid #b26a00;background:#fff4e0;padding:.4em 1em;margin:1em 0}
.ok{border:2px solid #1b7a2e;background:#eaf6ec;padding:.6em 1em;margin:1em 0}
.bad{border:2px solid #b00020;background:#fdecea;padding:.6em 1em;margin:1em 0}
.note{color:#666;font-size:.9em}pre.doc{white-space:pre-wrap;unicode-bidi:plaintext;background:#fafafa;
border:1px solid #e3e3e3;padding:.5em;max-height:18em;overflow:auto;font-size:.88em}
code{background:#f3f3f3;padding:0 .2em}
nav a{margin-right:.8em}img{max-width:100%}
"""

NAV = (("expectations", "Expectations"), ("funnel", "Funnel"), ("quality-thresholds", "Thresholds"),
       ("distributions", "Distributions"),
       ("script-mix", "Script mix"), ("repeated-lines", "Repeated lines"), ("boilerplate", "Boilerplate"),
       ("mojibake", "Mojibake"), ("kept-samples", "Kept samples"), ("rejected-samples", "Rejected samples"),
       ("sources", "Sources"), ("decision", "Decision"))


def build_pages(cfg: LanguageConfig, docs: Corpus, layout: Layout, site: Path, *, expectations: list[dict],
                passed: bool, corpus: str, metrics: dict) -> dict:
    """Write review.html and review.md into ``site`` (the quality folder being built) about ``docs`` (the
    corpus as ``corpus.load_corpus`` reads it; ``corpus``: its hash); return a summary."""
    c = gather(cfg, docs, layout, expectations=expectations, passed=passed, corpus=corpus, metrics=metrics)
    (Path(site) / PAGE).write_text(render_html(cfg, c), encoding="utf-8")
    (Path(site) / SUMMARY).write_text(render_markdown(cfg, c), encoding="utf-8")
    return {"lid_unreliable": lid_warning(cfg.language, c.stats) is not None,
            "mojibake_documents": c.facts["mojibake"]["documents"],
            "boilerplate_documents": c.facts["boilerplate"]["keyword_documents"],
            "repeated_lines": len(c.facts["repeated_lines"])}


def render_html(cfg: LanguageConfig, c: ReviewContent) -> str:
    title = f"Data review: {cfg.name} ({cfg.language})" if cfg.name else f"Data review: {cfg.language}"
    p = [page_start(title, CSS), f"<h1>{esc(title)}</h1>"]
    for section in (_header, _expectations, _funnel, _thresholds, _distributions, _script_mix, _repeated_lines,
                    _boilerplate, _mojibake, _samples, _decision):
        p += section(cfg, c)
    p.append(PAGE_END)
    return "\n".join(p)


def _header(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    """Corpus facts, warnings, the validation verdict and the navigation."""
    p = [f'<p class="note">Corpus <code>{esc(c.corpus)}</code> · {counted(c.facts["documents"], "document")} · '
         f'script {esc(cfg.script)} · review policy <b>{esc(cfg.review.policy)}</b></p>']
    warn = lid_warning(cfg.language, c.stats)
    if warn:
        p.append(f'<div class="banner" id="lid-warning"><b>⚠ Language ID unreliable.</b> {esc(warn)}</div>')
    notes = [w for w in (c.stats.get("warnings") or []) if isinstance(w, str)]
    if notes:
        p.append('<div class="warn" id="clean-warnings"><b>Warnings from the clean stage</b><ul>'
                 + "".join(f"<li>{esc(w)}</li>" for w in notes) + "</ul></div>")
    n = len(c.expectations)
    n_fail = sum(1 for e in c.expectations if not e.get("passed"))
    if c.passed:
        p.append(f'<div class="ok" id="status"><b>Validation passed</b>: '
                 f'{"the" if n == 1 else "all"} {counted(n, "expectation", "hold")}.</div>')
    else:
        p.append(f'<div class="bad" id="status"><b>Validation failed</b>: {n_fail} of {counted(n, "expectation")} '
                 f'{"does" if n_fail == 1 else "do"} not hold; the corpus cannot be approved until '
                 f'{"it does" if n_fail == 1 else "they do"}.</div>')
    p.append("<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in NAV) + "</nav>")
    return p


def _expectations(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    rows = []
    for e in c.expectations:
        mark = '<span class="pass">pass</span>' if e.get("passed") else '<span class="fail">FAIL</span>'
        extra = f" ({esc(e['error'])})" if e.get("error") else ""
        rows.append([e.get("name"), e.get("expectation"), e.get("column") or "", compact(e.get("observed")),
                     compact(e.get("threshold")), mark + extra])
    return ['<h2 id="expectations">Great Expectations results</h2>',
            table(["check", "expectation", "column", "observed", "threshold", "result"], rows, raw={5}),
            '<p class="note">Full Great Expectations Data Docs: <a href="index.html">index.html</a> '
            '(in this folder).</p>']


def _funnel(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    """The cleaning funnel, the drop reasons and the skipped inputs."""
    p = ['<h2 id="funnel">Cleaning funnel</h2>']
    funnel, detailed = funnel_rows(c.stats)
    if funnel:
        rows = [[s.get("step"), s.get("documents_in"), s.get("documents_out"), s.get("chars_in"),
                 s.get("chars_out"), ", ".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}"
                                               for k, v in (s.get("dropped") or {}).items() if v) or "—"]
                for s in funnel]
        p.append(table(["step", "documents in", "documents out", "chars in", "chars out", "dropped"], rows,
                       num={1, 2, 3, 4}))
        if not detailed:
            p.append('<p class="note">stats.json has no per-step <code>funnel</code>; totals shown.</p>')
        p.append(figure(c.images.get("funnel"), "documents remaining after each step"))
    else:
        p.append('<p class="note">No stats.json from the clean stage.</p>')
    changed = {k: v for k, v in (c.stats.get("normalized") or {}).items() if v}
    if changed:
        what = {"csv_unquoted_lines": "lines written as quoted CSV fields unquoted "
                                      "(<code>clean.normalize.csv_quotes</code>)"}
        p.append('<p class="note">Normalisation changed: ' + "; ".join(
            f"{v:,} {what.get(k, esc(k))}" for k, v in sorted(changed.items())) + ".</p>")
    dropped = c.stats.get("dropped") or {}
    if dropped and detailed:
        by_count = sorted(dropped.items(), key=lambda kv: -kv[1] if isinstance(kv[1], int) else 0)
        p.append(table(["drop reason", "documents"], [[k, v] for k, v in by_count], num={1}))
    skipped = c.stats.get("skipped")
    if isinstance(skipped, dict) and skipped:
        p.append("<h3>Skipped inputs</h3>")
        p.append(table(["kind", "count"], [[k, v] for k, v in sorted(skipped.items())], num={1}))
    return p


def _thresholds(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    """The quality thresholds per rule (English, starting, used) and the rules flagged (review/thresholds.py)."""
    return thresholds_section(c.stats)


def _distributions(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    """Document length and language-ID score: numbers, calibration and histograms."""
    m, stats = c.metrics, c.stats
    p = ['<h2 id="distributions">Distributions</h2>', "<h3>Document length</h3>"]
    if m.get("documents"):
        p.append(f'<p>{counted(m.get("chars", 0), "character")}; per document min {m.get("n_chars_min")}, median '
                 f'{m.get("n_chars_median")}, mean {m.get("n_chars_mean")}, max {m.get("n_chars_max")}.</p>')
    p.append(figure(c.images.get("lengths"), "document length histogram"))
    p.append("<h3>Language-ID score</h3>")
    cal = lid_calibration(stats)
    if cal:
        first = ["label", "model_reliable", "threshold_configured", "threshold_used", "fallback", "why"]
        keys = [k for k in first if k in cal] + sorted(k for k in cal if k not in first)
        p.append(table(["LID calibration", "value"], [[k, compact(cal[k])] for k in keys]))
    lid = stats.get("lid") or {}
    qrows = []
    for part in ("all", "kept"):
        q = lid.get(part)
        if isinstance(q, dict):
            qrows.append([part] + [q.get(k) for k in ("count", "min", "p05", "p10", "p50", "p90", "max")])
    if qrows:
        p.append(table(["documents", "count", "min", "p05", "p10", "p50", "p90", "max"], qrows,
                       num={1, 2, 3, 4, 5, 6, 7}))
    if c.facts.get("lid_labels"):
        p.append("<p>Predicted labels of kept documents: " + ", ".join(
            f"<code>{esc(x['label'])}</code> {x['documents']:,}" for x in c.facts["lid_labels"]) + "</p>")
    p.append(figure(c.images.get("lid_scores"), "language-ID score histogram"))
    return p


def _script_mix(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    sm = c.facts["script_mix"]
    return ['<h2 id="script-mix">Script mix</h2>',
            f'<p class="note">Letters by Unicode script over {counted(sm["characters"], "character")} of '
            f'{c.facts["scanned"]:,} scanned {"document" if c.facts["scanned"] == 1 else "documents"}; '
            f'{sm["other_non_space"]:,} other non-space {"character" if sm["other_non_space"] == 1 else "characters"} '
            f'(digits, punctuation, symbols). Expected script: {esc(cfg.script)}; mean per-document share '
            f'{esc(c.metrics.get("script_share_mean"))}.</p>',
            table(["script", "letters", "share"],
                  [[s["script"], s["letters"], f'{100 * s["share"]:.2f}%'] for s in sm["scripts"]], num={1, 2}),
            figure(c.images.get("script_share"), "script share histogram")]


def _table_or(note: str, headers: list[str], rows: list[list], num: set[int]) -> str:
    """The table, or the note (a paragraph) when there are no rows."""
    return table(headers, rows, num=num) if rows else f"<p>{note}</p>"


def _repeated_lines(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    facts = c.facts
    scanned_note = (f'<p class="note">Over {facts["scanned"]:,} of {counted(facts["documents"], "document")}'
                    + (" (a seeded sample)" if facts["scanned"] < facts["documents"] else "") + ".</p>")
    rows = [[snippet(r["line"], 200), r["documents"], f'{100 * r["share"]:.2f}%'] for r in facts["repeated_lines"]]
    return ['<h2 id="repeated-lines">Most repeated lines</h2>' + scanned_note,
            _table_or("No line appears in more than one document.", ["line", "documents", "share"], rows, {1, 2})]


def _boilerplate(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    b = c.facts["boilerplate"]
    rows = [[snippet(s["line"], 200), s["documents"], s["why"]] for s in b["lines"]]
    return ['<h2 id="boilerplate">Suspected boilerplate</h2>',
            f'<p>{counted(b["keyword_documents"], "document", "contain")} a line with a boilerplate word '
            f'(cookie, copyright, subscribe, URL, …); {counted(b["documents_mostly_repeated"], "document")} '
            f'{"is" if b["documents_mostly_repeated"] == 1 else "are"} at least half made of lines '
            f'shared by &ge; {counted(b["min_documents"], "document")}.</p>',
            _table_or("None found.", ["line", "documents", "why"], rows, {1})]


def _mojibake(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    mj = c.facts["mojibake"]
    p = ['<h2 id="mojibake">Suspected mojibake</h2>',
         f'<p>{counted(mj["documents"], "document")} ({100 * mj["share"]:.2f}%) '
         f'{"contains" if mj["documents"] == 1 else "contain"} a replacement character, a C1 '
         f'control, a byte sequence typical of UTF-8 decoded as Latin-1/CP1252 (e.g. <code>Ã©</code>, '
         f'<code>â€™</code>), or two words in a row made only of the letters À&ndash;ÿ, typical of a single-byte '
         f'code page such as Windows-1251 decoded as Latin-1 (marker <code>{esc(repr(CODEPAGE_MARKER))}</code>, '
         f'e.g. <code>Ñïåêòàêëü ïîñâÿùåí</code> for <code>Спектакль посвящён</code>).</p>']
    if mj["markers"]:
        p.append(table(["marker", "count"], [[repr(x["marker"]), x["count"]] for x in mj["markers"]], num={1}))
        for ex in mj["examples"]:
            p.append(f'<p class="note">{esc(ex["id"])}</p><pre class="doc">{esc(ex["context"])}</pre>')
    return p


def _samples(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    """Samples of kept documents, and of rejected documents by drop reason."""
    p = ['<h2 id="kept-samples">Samples of kept documents</h2>']
    if c.facts["kept_samples"]:
        for d in c.facts["kept_samples"]:
            p.append(f'<p class="note"><code>{esc(d.get("id"))}</code> · {esc(d.get("source"))} · lid '
                     f'{esc(d.get("lid_lang"))} {esc(d.get("lid_score"))} · script share {esc(d.get("script_share"))} '
                     f'· {esc(d.get("n_chars"))} chars</p><pre class="doc">{esc(snippet(d.get("text")))}</pre>')
    else:
        p.append("<p>No documents kept.</p>")
    p.append('<h2 id="rejected-samples">Samples of rejected documents, by reason</h2>')
    if not c.rejected:
        p.append('<p class="note">No <code>rejected.jsonl</code> from the clean stage: samples of rejected '
                 'documents are not available (the funnel has the counts).</p>')
    dropped = c.stats.get("dropped") or {}
    for reason in sorted(c.rejected):
        count = dropped.get(reason)
        p.append(f"<h3>{esc(reason)}" + (f" ({count:,} dropped)" if isinstance(count, int) else "") + "</h3>")
        for rec in c.rejected[reason]:
            where = f'{rec.get("source", "?")}' + (f':{rec["line"]}' if rec.get("line") is not None else "")
            extra = {k: v for k, v in rec.items() if k not in ("reason", "source", "line", "text")}
            p.append(f'<p class="note">{esc(where)}' + (f" · {esc(compact(extra))}" if extra else "")
                     + f'</p><pre class="doc">{esc(snippet(rec.get("text")))}</pre>')
    return p


def _decision(cfg: LanguageConfig, c: ReviewContent) -> list[str]:
    """The sources, then how to decide."""
    lang = cfg.language
    p = ['<h2 id="sources">Sources</h2>']
    srcs = c.stats.get("sources") or []
    if len(srcs) > MAX_SOURCE_ROWS:   # a folder of thousands of files: totals per format, then the worst files
        by_format: dict[str, list] = {}
        for s in srcs:
            t = by_format.setdefault(s.get("format") or "?", [0, 0, 0])
            t[0], t[1], t[2] = t[0] + 1, t[1] + (s.get("documents") or 0), t[2] + (s.get("documents_out") or 0)
        p.append(table(["format", "files", "documents read", "documents kept"],
                       [[f, *t] for f, t in sorted(by_format.items())], num={1, 2, 3}))
        lost = [s for s in srcs if (s.get("documents_out") or 0) < (s.get("documents") or 0)]
        worst = sorted(lost, key=lambda s: ((s.get("documents_out") or 0) / (s.get("documents") or 1),
                                            -(s.get("documents") or 0)))[:MAX_SOURCE_ROWS // 2]
        every = (f'every file: <code>sources</code> in <code>data/{esc(cfg.language)}/clean/stats.json</code>')
        p.append(f'<p class="note">{len(lost):,} of {len(srcs):,} files lost documents; '
                 + (f'the {len(worst)} that kept the smallest share ({every}):</p>' if worst else f'({every})</p>'))
        if worst:
            p.append(table(["path", "documents read", "documents kept"],
                           [[s.get("path"), s.get("documents"), s.get("documents_out", "")] for s in worst],
                           num={1, 2}))
    elif srcs:
        p.append(table(["path", "documents read", "documents kept"],
                       [[s.get("path"), s.get("documents"), s.get("documents_out", "")] for s in srcs], num={1, 2}))
    if srcs:
        tasks = [(name, t) for s in srcs for name, t in (s.get("tasks") or {}).items()]
        if tasks:   # a `format: tasks` source: the evaluation tasks' training text (pipeline/readers/tasks.py)
            p.append('<p class="note">Unlabeled text of the evaluation tasks\' training splits (no label, no scored '
                     'example: a line equal to a scored text is left out, as is a repeated line):</p>')
            p.append(table(["task", "trained on", "examples", "lines kept", "left out: scored", "left out: repeated"],
                           [[n, t.get("trained_on"), t.get("examples"), t.get("lines"), t.get("left_out_scored"),
                             t.get("left_out_repeated")] for n, t in tasks], num={2, 3, 4, 5}))
    elif c.facts.get("sources"):
        p.append(table(["source", "documents kept"], [[s["source"], s["documents"]] for s in c.facts["sources"]],
                       num={1}))
    p.append('<h2 id="decision">Decision</h2>')
    # the same words as review.md, for the policy in force and the validation's outcome
    p += ["<p>" + re.sub(r"`([^`]+)`", r"<code>\1</code>", esc(h)) + "</p>" for h in decision_hints(cfg, c.passed)]
    p.append(f'<p class="note">The decision goes to <code>data/{esc(lang)}/review.json</code> with the corpus hash '
             f'above; a changed corpus needs a new decision.</p>')
    return p
