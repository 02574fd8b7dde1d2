"""Data review: the page a person reads before approving a corpus, and the approval decision itself.

Two halves, both plain functions (no Prefect here; the flow and the CLI call them):

**The review page.** ``build_pages`` writes ``review.html`` (one self-contained file: inline CSS, plots
as base64 PNG, no external URL, so it opens offline and can be mailed around) and ``review.md`` (a short
summary the flow publishes as a Prefect markdown artifact) into the validate stage's
``reports/<lang>/quality/`` folder, next to the Great Expectations Data Docs, inside the same atomic
swap. It shows, in this order: a prominent warning when ``stats.json`` says the language-ID model is
not reliable for the language (``lid.calibration.model_reliable: false``); the Great Expectations
results (each expectation, observed value vs threshold, pass/fail); the cleaning funnel (``funnel``
when the clean stage writes it, else the totals and ``dropped`` counts) and ``skipped`` inputs;
document-length, language-score and script-share distributions; the script mix (letters by Unicode
script); the most repeated lines; suspected boilerplate and mojibake; samples of kept documents and of
rejected documents per drop reason (``rejected.jsonl``, when present); and the sources. Everything
optional in ``stats.json`` degrades to a note when absent.

**The decision.** ``data/<lang>/review.json`` records who decided what about which corpus::

    {"decision": "approved" | "rejected" | "auto-approved" | "rejected-by-validation" | "pending",
     "comment", "reviewer", "decided_at" (UTC ISO 8601; null for the automatic ones),
     "corpus": "sha256:..." (corpus_hash of data/<lang>/clean), "validation_passed", "policy",
     "review_page": "reports/<lang>/quality/review.html"}

It is a dependency of the vocab stage in ``dvc.yaml`` (not an output of any stage: a person, the CLI
or the flow writes it), so the approval is part of every model's lineage. A decision applies to one
corpus: when ``data/<lang>/clean`` changes, the old decision is void and the corpus needs a new one.
With ``review.policy: auto`` the decision follows validation ("auto-approved" or
"rejected-by-validation", written without a timestamp so the same corpus and result give the same
file and DVC sees no change); with ``required`` only a person's "approved" opens the gate ("pending"
marks a corpus waiting for review). ``require_approval`` is what the vocab stage checks.
"""
from __future__ import annotations

import base64
import getpass
import hashlib
import html
import io
import json
import os
import re
import unicodedata
from collections import Counter
from datetime import datetime, timezone
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.config import LanguageConfig
from pipeline.errors import StageError
from pipeline.layout import Layout

APPROVED = "approved"
REJECTED = "rejected"
AUTO_APPROVED = "auto-approved"
REJECTED_BY_VALIDATION = "rejected-by-validation"
PENDING = "pending"
DECISIONS = (APPROVED, REJECTED, AUTO_APPROVED, REJECTED_BY_VALIDATION, PENDING)
HUMAN = (APPROVED, REJECTED)

PAGE = "review.html"
SUMMARY = "review.md"
TOP_LINES = 20
SCRIPT_MIX_CHARS = 2_000_000
SNIPPET = 600


# =============================================================================================
# the decision
# =============================================================================================

def decision_path(layout: Layout) -> Path:
    return layout.root / "data" / layout.lang / "review.json"


def page_path(layout: Layout) -> Path:
    return layout.quality_dir / PAGE


def _rel(path: Path, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def corpus_hash(layout: Layout) -> str:
    """Content hash of the cleaned corpus: the Parquet parts and stats.json, by name and bytes.

    Any change to the kept documents (or to the cleaning record) gives another hash, which voids a
    decision taken on the old corpus."""
    files = list(layout.clean_files())
    if layout.clean_stats.is_file():
        files.append(layout.clean_stats)
    if not files:
        raise StageError(f"{_rel(layout.clean_dir, layout.root)}: no cleaned corpus; run the clean stage first")
    total = hashlib.sha256()
    for f in sorted(files, key=lambda p: p.name):
        h = hashlib.sha256()
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                h.update(block)
        total.update(f"{f.name}\0{h.hexdigest()}\n".encode())
    return "sha256:" + total.hexdigest()


def short(corpus: str | None) -> str:
    return (corpus or "?").removeprefix("sha256:")[:12]


def read_decision(layout: Layout) -> dict | None:
    """review.json's content, None when absent; StageError when it is not a decision."""
    path = decision_path(layout)
    if not path.is_file():
        return None
    rel = _rel(path, layout.root)
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"{rel}: not valid JSON ({e}); delete it and decide again "
                         f"(`foundry approve {layout.lang}` / `foundry reject {layout.lang} --reason ...`)") from None
    if not isinstance(d, dict) or d.get("decision") not in DECISIONS:
        raise StageError(f"{rel}: 'decision' must be one of {', '.join(DECISIONS)}; delete it and decide again")
    return d


def assess(decision: dict | None, corpus: str, policy: str) -> str:
    """What a decision means for the current corpus and policy:
    'approved', 'rejected', 'rejected-by-validation', 'void' (taken on another corpus) or 'none'."""
    if not decision:
        return "none"
    if decision.get("corpus") != corpus:
        return "void"
    d = decision.get("decision")
    if d == APPROVED:
        return "approved"
    if d == AUTO_APPROVED:
        return "approved" if policy == "auto" else "none"   # `required` wants a person
    if d == REJECTED:
        return "rejected"
    if d == REJECTED_BY_VALIDATION:
        return "rejected-by-validation"
    return "none"                                          # pending


def who(decision: dict) -> str:
    at = f" at {decision['decided_at']}" if decision.get("decided_at") else ""
    return f"{decision.get('reviewer') or 'unknown'}{at}"


def default_reviewer() -> str:
    for var in ("FOUNDRY_REVIEWER",):
        if os.environ.get(var):
            return os.environ[var]
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database entry
        return "unknown"


def make_decision(layout: Layout, cfg: LanguageConfig, decision: str, corpus: str, validation_passed: bool,
                  comment: str = "", reviewer: str | None = None, timestamp: bool = True) -> dict:
    return {
        "language": layout.lang,
        "decision": decision,
        "comment": comment,
        "reviewer": reviewer if reviewer is not None else default_reviewer(),
        "decided_at": datetime.now(timezone.utc).replace(microsecond=0).isoformat() if timestamp else None,
        "corpus": corpus,
        "validation_passed": bool(validation_passed),
        "policy": cfg.review.policy,
        "review_page": _rel(page_path(layout), layout.root),
    }


def write_decision(layout: Layout, decision: dict) -> Path:
    path = decision_path(layout)
    write_json(path, decision)
    return path


def sync_decision(cfg: LanguageConfig, layout: Layout, validation: dict, corpus: str | None = None) -> dict:
    """Bring review.json in line with the current corpus, validation result and policy; return it.

    Keeps a person's approval or rejection of this corpus, and (under `required`, validation passed)
    a person's decision on an older corpus, which stays void but lets the gate say whose decision
    lapsed. Otherwise writes the automatic decision: 'rejected-by-validation' when validation failed,
    'auto-approved' under policy `auto`, 'pending' under `required`. Automatic decisions carry no timestamp, so rewriting one gives the same bytes."""
    corpus = corpus or corpus_hash(layout)
    passed = bool(validation.get("passed"))
    current = read_decision(layout)
    state = assess(current, corpus, cfg.review.policy)
    human = bool(current) and current.get("decision") in HUMAN
    if human and state in ("approved", "rejected"):
        return current
    if human and state == "void" and passed and cfg.review.policy == "required":
        return current      # kept, so the gate can say whose approval went void; it counts as none
    if not passed:
        wanted = REJECTED_BY_VALIDATION
        comment = "failed expectations: " + ", ".join(validation.get("failed") or [])
    elif cfg.review.policy == "auto":
        wanted, comment = AUTO_APPROVED, "review.policy is auto and every expectation passed"
    else:
        wanted, comment = PENDING, "review.policy is required: waiting for a person's decision"
    new = make_decision(layout, cfg, wanted, corpus, passed, comment=comment.strip(),
                        reviewer="foundry (automatic)", timestamp=False)
    if current != new:
        write_decision(layout, new)
    return new


def gate_message(lang: str, cfg: LanguageConfig, decision: dict | None, corpus: str, state: str) -> str:
    """Why the corpus may not be used yet, and what to do (the same text for the flow and vocab)."""
    page = f"reports/{lang}/quality/review.html"
    todo = (f"Review {page}, then `foundry approve {lang} --comment ...` (or `foundry reject {lang} "
            f"--reason ...`) and run again.")
    if state == "rejected":
        return (f"{lang}: the corpus ({short(corpus)}) was rejected by {who(decision)}: "
                f"{decision.get('comment') or '(no reason given)'}. Stopped before vocab. Fix the data or "
                f"corpora/{lang}.yaml (a changed corpus is reviewed again), or `foundry approve {lang}` to "
                f"overrule.")
    if state == "rejected-by-validation":
        return (f"{lang}: data validation failed ({decision.get('comment') or 'see the report'}); stopped "
                f"before vocab. Review {page} and reports/{lang}/quality/index.html, fix the corpus or "
                f"corpora/{lang}.yaml (validate.*), then run again.")
    if state == "void":
        return (f"{lang}: the {decision.get('decision')} decision by {who(decision)} was for another corpus "
                f"({short(decision.get('corpus'))}; now {short(corpus)}), so it is void: a changed corpus "
                f"needs a new review (review.policy: {cfg.review.policy}). " + todo)
    return (f"{lang}: review required (review.policy: {cfg.review.policy}) and there is no decision for the "
            f"current corpus ({short(corpus)}); stopped before vocab. " + todo)


def require_approval(layout: Layout, cfg: LanguageConfig, validation: dict | None = None) -> dict | None:
    """StageError unless the current corpus is approved (what the vocab stage checks).

    validation.json, when it records the corpus it validated, must be for the current corpus. Under
    policy `auto` a missing review.json is accepted (passing validation is the automatic approval;
    the flow and the validate stage write the file), under `required` it is not."""
    corpus = corpus_hash(layout)
    rel_val = _rel(layout.validation, layout.root)
    if validation and validation.get("corpus") and validation["corpus"] != corpus:
        raise StageError(f"{rel_val}: validated corpus {short(validation['corpus'])}, but "
                         f"data/{layout.lang}/clean is now {short(corpus)}; re-run the validate stage "
                         f"(`python -m pipeline validate {layout.lang}`)")
    decision = read_decision(layout)
    if decision is None and cfg.review.policy == "auto":
        return None
    state = assess(decision, corpus, cfg.review.policy)
    if state == "approved":
        return decision
    rel = _rel(decision_path(layout), layout.root)
    raise StageError(f"{rel}: " + gate_message(layout.lang, cfg, decision, corpus, state)
                     .replace("Stopped before vocab.", "The vocab stage refuses to train on it.")
                     .replace("stopped before vocab.", "the vocab stage refuses to train on it."))


# =============================================================================================
# the review page: analysis
# =============================================================================================

BOILERPLATE_RE = re.compile(
    r"(?:we|this (?:site|website)) uses? cookies|cookie (?:policy|settings|consent)|accept (?:all )?cookies|"
    r"copyright|©|all rights reserved|privacy policy|terms (?:of (?:use|service)|and conditions)|"
    r"click here|subscribe to|newsletter|sign (?:in|up)\b|log ?in\b|javascript|read more|share (?:this|on)\b|"
    r"follow us|powered by|skip to (?:main )?content|https?://|www\.",
    re.I)
_CP1252_HIGH = "€‚ƒ„…†‡ˆ‰Š‹ŒŽ‘’“”•–—˜™š›œžŸ"
MOJIBAKE_RE = re.compile(
    "\ufffd|[\u0080-\u009f]|Â[\u00a0-\u00bf]|"
    f"[ÃÄÅÐÑØÙàâ][\u00a1-\u00bf{_CP1252_HIGH}]")

_SCRIPT_NAMES = {"CJK": "Han", "HANGUL": "Hangul", "HIRAGANA": "Hiragana", "KATAKANA": "Katakana",
                 "LATIN": "Latin", "CYRILLIC": "Cyrillic", "ARABIC": "Arabic", "DEVANAGARI": "Devanagari",
                 "GREEK": "Greek", "HEBREW": "Hebrew", "THAI": "Thai", "GEORGIAN": "Georgian",
                 "TAMIL": "Tamil", "ETHIOPIC": "Ethiopic", "BENGALI": "Bengali", "ARMENIAN": "Armenian"}


def _script_of(ch: str, cache: dict) -> str:
    s = cache.get(ch)
    if s is None:
        if not ch.isalpha():
            s = ""
        else:
            name = unicodedata.name(ch, "")
            first = name.split(" ", 1)[0] if name else "UNKNOWN"
            s = _SCRIPT_NAMES.get(first, first.title())
        cache[ch] = s
    return s


def _scan_frame(df, n: int):
    """The documents scanned for lines, boilerplate, mojibake and script mix: all, or a seeded sample."""
    if len(df) <= n:
        return df
    return df.sample(n=n, random_state=0).sort_index()


def analyse(df, cfg: LanguageConfig) -> dict:
    """Statistics of the kept documents that the page shows (all JSON-friendly)."""
    r = cfg.review
    scan = _scan_frame(df, r.scan_documents)
    texts = [t for t in scan["text"].tolist() if isinstance(t, str)] if "text" in scan else []
    n_scan = len(texts)
    out: dict = {"documents": int(len(df)), "scanned": n_scan}

    # lines: in how many documents each appears
    line_docs: Counter = Counter()
    doc_lines: list[list[str]] = []
    for t in texts:
        lines = [ln.strip() for ln in t.split("\n") if ln.strip()]
        doc_lines.append(lines)
        line_docs.update(set(lines))
    repeated = [(ln, c) for ln, c in line_docs.most_common(TOP_LINES) if c >= 2]
    out["repeated_lines"] = [{"line": ln, "documents": c, "share": round(c / n_scan, 4)} for ln, c in repeated]

    # boilerplate: short lines shared by many documents, and lines with boilerplate words
    min_docs = max(3, int(0.01 * n_scan + 0.999))
    common = {ln for ln, c in line_docs.items() if c >= min_docs and len(ln) <= 300}
    suspects: dict[str, dict] = {}
    for ln in common:
        suspects[ln] = {"line": ln, "documents": line_docs[ln], "why": f"in >= {min_docs} documents"}
    kw: Counter = Counter()
    for ln, c in line_docs.items():
        if len(ln) <= 300 and BOILERPLATE_RE.search(ln):
            kw[ln] = c
    for ln, c in kw.most_common(TOP_LINES):
        word = BOILERPLATE_RE.search(ln).group(0).lower()
        if ln in suspects:
            suspects[ln]["why"] += f"; contains “{word}”"
        else:
            suspects[ln] = {"line": ln, "documents": c, "why": f"contains “{word}”"}
    mostly_common = sum(1 for lines in doc_lines if lines and sum(ln in common for ln in lines) * 2 >= len(lines))
    out["boilerplate"] = {
        "min_documents": min_docs,
        "lines": sorted(suspects.values(), key=lambda s: (-s["documents"], s["line"]))[:TOP_LINES],
        "keyword_documents": sum(1 for lines in doc_lines if any(BOILERPLATE_RE.search(ln) for ln in lines)),
        "documents_mostly_repeated": mostly_common,
    }

    # mojibake
    markers: Counter = Counter()
    examples = []
    bad_docs = 0
    ids = scan["id"].tolist() if "id" in scan else [""] * n_scan
    for i, t in enumerate(texts):
        hits = MOJIBAKE_RE.findall(t)
        if hits:
            bad_docs += 1
            markers.update(hits)
            if len(examples) < r.samples:
                m = MOJIBAKE_RE.search(t)
                a, b = max(0, m.start() - 60), min(len(t), m.end() + 60)
                examples.append({"id": str(ids[i]), "context": t[a:b], "marker": m.group(0)})
    out["mojibake"] = {"documents": bad_docs, "share": round(bad_docs / n_scan, 4) if n_scan else 0.0,
                       "markers": [{"marker": k, "count": v} for k, v in markers.most_common(15)],
                       "examples": examples}

    # script mix: letters by Unicode script over (up to) SCRIPT_MIX_CHARS characters of the scan
    cache: dict = {}
    letters: Counter = Counter()
    other = seen = 0
    for t in texts:
        for ch in t:
            s = _script_of(ch, cache)
            if s:
                letters[s] += 1
            elif not ch.isspace():
                other += 1
        seen += len(t)
        if seen >= SCRIPT_MIX_CHARS:
            break
    n_letters = sum(letters.values())
    out["script_mix"] = {
        "characters": seen, "letters": n_letters, "other_non_space": other,
        "scripts": [{"script": s, "letters": c, "share": round(c / n_letters, 4)}
                    for s, c in letters.most_common(12)],
    }

    if "lid_lang" in df and len(df):
        vc = df["lid_lang"].value_counts()
        out["lid_labels"] = [{"label": str(k), "documents": int(v)} for k, v in vc.head(10).items()]
    if "source" in df and len(df):
        vc = df["source"].value_counts()
        out["sources"] = [{"source": str(k), "documents": int(v)} for k, v in sorted(vc.items())]

    # samples of kept documents (seeded)
    keep = df.sample(n=min(r.samples, len(df)), random_state=1).sort_index() if len(df) and r.samples else df.iloc[:0]
    out["kept_samples"] = [
        {k: (_jsonable(row[k]) if k in row else None)
         for k in ("id", "source", "lid_lang", "lid_score", "script_share", "n_chars", "text")}
        for _, row in keep.iterrows()]
    return out


def _jsonable(x):
    try:
        import numpy as np
        if isinstance(x, np.generic):
            x = x.item()
    except ImportError:  # pragma: no cover
        pass
    return round(x, 4) if isinstance(x, float) else x


def load_stats(layout: Layout) -> dict:
    try:
        return json.loads(layout.clean_stats.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def load_rejected(layout: Layout, per_reason: int) -> dict[str, list[dict]]:
    """rejected.jsonl (written by the clean stage) grouped by reason, at most ``per_reason`` each."""
    path = layout.clean_dir / "rejected.jsonl"
    out: dict[str, list[dict]] = {}
    if not path.is_file():
        return out
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if not isinstance(rec, dict):
                continue
            reason = str(rec.get("reason") or "unknown")
            bucket = out.setdefault(reason, [])
            if len(bucket) < per_reason:
                bucket.append(rec)
    return out


def funnel_rows(stats: dict) -> tuple[list[dict], bool]:
    """The funnel: stats['funnel'] when the clean stage writes it, else one row from the totals.
    Returns (rows, detailed)."""
    funnel = stats.get("funnel")
    if isinstance(funnel, list) and funnel and all(isinstance(s, dict) for s in funnel):
        return funnel, True
    if "documents_in" in stats:
        return [{"step": "clean (all filters)", "documents_in": stats.get("documents_in"),
                 "documents_out": stats.get("documents_out"), "chars_in": stats.get("chars_in"),
                 "chars_out": stats.get("chars_out"), "dropped": stats.get("dropped") or {}}], False
    return [], False


def lid_calibration(stats: dict) -> dict | None:
    cal = (stats.get("lid") or {}).get("calibration")
    return cal if isinstance(cal, dict) else None


# =============================================================================================
# the review page: plots
# =============================================================================================

def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    import matplotlib.pyplot as plt
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def plots(df, cfg: LanguageConfig, stats: dict, funnel: list[dict]) -> dict[str, str]:
    """Base64 PNGs keyed by name; empty when there is nothing to plot."""
    import matplotlib
    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt
    import numpy as np

    out: dict[str, str] = {}
    v = cfg.validation
    if len(df) and "n_chars" in df:
        n = df["n_chars"].to_numpy(dtype="float64")
        n = n[n > 0]
        if len(n):
            fig, ax = plt.subplots(figsize=(7, 3))
            lo, hi = max(1.0, n.min()), max(n.max(), n.min() + 1)
            ax.hist(n, bins=np.geomspace(lo, hi * 1.001, 40), color="#4c72b0")
            ax.set_xscale("log")
            from matplotlib.ticker import FuncFormatter
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{x:,.0f}"))
            vmin = v.min_chars if v.min_chars is not None else cfg.clean.min_chars
            ax.axvline(vmin, color="#c44e52", ls="--", label=f"min_chars {vmin}")
            ax.set_xlabel("characters per document (log scale)")
            ax.set_ylabel("documents")
            ax.legend(loc="upper right", fontsize=8)
            out["lengths"] = _png(fig)
    if len(df) and "lid_score" in df:
        s = df["lid_score"].to_numpy(dtype="float64")
        fig, ax = plt.subplots(figsize=(7, 3))
        ax.hist(s, bins=np.linspace(0, 1, 41), color="#55a868")
        cal = lid_calibration(stats) or {}
        used = cal.get("threshold_used", cfg.clean.lid.min_score if cfg.clean.lid.enabled else None)
        if isinstance(used, (int, float)):
            ax.axvline(used, color="#c44e52", ls="--", label=f"clean threshold used {used:g}")
        if v.min_lid_score:
            ax.axvline(v.min_lid_score, color="#8172b2", ls=":", label=f"validate.min_lid_score {v.min_lid_score:g}")
        ax.set_xlabel("language-ID score of kept documents")
        ax.set_ylabel("documents")
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="upper left", fontsize=8)
        out["lid_scores"] = _png(fig)
    if len(df) and "script_share" in df:
        s = df["script_share"].to_numpy(dtype="float64")
        fig, ax = plt.subplots(figsize=(7, 2.6))
        ax.hist(s, bins=np.linspace(0, 1, 41), color="#dd8452")
        ax.axvline(cfg.clean.min_script_share, color="#c44e52", ls="--",
                   label=f"clean.min_script_share {cfg.clean.min_script_share:g}")
        ax.set_xlabel(f"share of letters in {cfg.script} script, per document")
        ax.set_ylabel("documents")
        ax.legend(loc="upper left", fontsize=8)
        out["script_share"] = _png(fig)
    if funnel:
        labels, kept = [], []
        for step in funnel:
            labels.append(str(step.get("step", "?")))
            kept.append(float(step.get("documents_out") or 0))
        if funnel and funnel[0].get("documents_in") is not None:
            labels.insert(0, "input")
            kept.insert(0, float(funnel[0]["documents_in"]))
        fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 0.8))
        y = np.arange(len(labels))[::-1]
        ax.barh(y, kept, color="#4c72b0")
        ax.set_yticks(y, labels)
        for yi, k in zip(y, kept):
            ax.text(k, yi, f" {int(k):,}", va="center", fontsize=8)
        ax.set_xlabel("documents remaining")
        out["funnel"] = _png(fig)
    return out


# =============================================================================================
# the review page: rendering
# =============================================================================================

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:1em 2em;
color:#222;line-height:1.4}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0;font-size:.92em}th,td{border:1px solid #ccc;padding:.25em .5em;
text-align:left;vertical-align:top}th{background:#f3f3f3}td.num{text-align:right;font-variant-numeric:tabular-nums}
.pass{color:#1b7a2e;font-weight:bold}.fail{color:#b00020;font-weight:bold}
.banner{border:3px solid #b00020;background:#fdecea;padding:.8em 1em;margin:1em 0;font-size:1.05em}
.warn{border:2px solid #b26a00;background:#fff4e0;padding:.4em 1em;margin:1em 0}
.ok{border:2px solid #1b7a2e;background:#eaf6ec;padding:.6em 1em;margin:1em 0}
.bad{border:2px solid #b00020;background:#fdecea;padding:.6em 1em;margin:1em 0}
.note{color:#666;font-size:.9em}pre.doc{white-space:pre-wrap;background:#fafafa;border:1px solid #e3e3e3;
padding:.5em;max-height:18em;overflow:auto;font-size:.88em}code{background:#f3f3f3;padding:0 .2em}
nav a{margin-right:.8em}img{max-width:100%}
"""


def _e(x) -> str:
    return html.escape("" if x is None else str(x))


def _compact(x) -> str:
    if x is None:
        return ""
    if isinstance(x, (dict, list)):
        return json.dumps(x, ensure_ascii=False, sort_keys=True, default=str)
    return str(x)


def _fmt_int(x) -> str:
    return f"{x:,}" if isinstance(x, int) else _e(x)


def _table(headers: list[str], rows: list[list], num: set[int] = frozenset(), raw: set[int] = frozenset()) -> str:
    h = "".join(f"<th>{_e(c)}</th>" for c in headers)
    body = []
    for r in rows:
        cells = []
        for i, c in enumerate(r):
            cls = ' class="num"' if i in num else ""
            cells.append(f"<td{cls}>{c if i in raw else (_fmt_int(c) if i in num else _e(c))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><tr>{h}</tr>{''.join(body)}</table>"


def _img(b64: str | None, alt: str) -> str:
    if not b64:
        return f'<p class="note">No data to plot ({_e(alt)}).</p>'
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{b64}">'


def _snippet(text: str | None, n: int = SNIPPET) -> str:
    t = text or ""
    return t if len(t) <= n else t[:n] + " …"


def lid_warning(lang: str, stats: dict) -> str | None:
    """The warning text when stats.json says the LID model is unreliable for the language."""
    cal = lid_calibration(stats)
    if not cal or cal.get("model_reliable") is not False:
        return None

    def sentence(t: str) -> str:
        t = str(t).strip()
        return t if t.endswith((".", "!", "?")) else t + "."

    model = f" ({cal['model']})" if cal.get("model") else ""
    label = f", label {cal['label']}" if cal.get("label") and cal.get("label") != lang else ""
    parts = [f"The language-ID model{model} is NOT reliable for {lang}{label}."]
    if cal.get("why"):
        parts.append(sentence(cal["why"]))
    if cal.get("threshold_used") is not None or cal.get("threshold_configured") is not None:
        parts.append(f"Threshold used {cal.get('threshold_used')} (configured {cal.get('threshold_configured')}"
                     + (f"; fallback: {cal['fallback']}" if cal.get("fallback") else "") + ").")
    parts.append("Language scores are a weak quality signal here: read the samples yourself before approving.")
    return " ".join(parts)


def render_html(cfg: LanguageConfig, layout: Layout, *, expectations: list[dict], passed: bool, corpus: str,
                stats: dict, facts: dict, images: dict[str, str], rejected: dict[str, list[dict]],
                metrics: dict) -> str:
    lang = cfg.language
    title = f"Data review: {cfg.name} ({lang})" if cfg.name else f"Data review: {lang}"
    p: list[str] = [f"<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{_e(title)}</title>"
                    f"<style>{CSS}</style></head><body>", f"<h1>{_e(title)}</h1>"]
    p.append(f'<p class="note">Corpus <code>{_e(corpus)}</code> · {facts["documents"]:,} documents · '
             f'script {_e(cfg.script)} · review policy <b>{_e(cfg.review.policy)}</b></p>')
    warn = lid_warning(lang, stats)
    if warn:
        p.append(f'<div class="banner" id="lid-warning"><b>⚠ Language ID unreliable.</b> {_e(warn)}</div>')
    notes = [w for w in (stats.get("warnings") or []) if isinstance(w, str)]
    if notes:
        p.append('<div class="warn" id="clean-warnings"><b>Warnings from the clean stage</b><ul>'
                 + "".join(f"<li>{_e(w)}</li>" for w in notes) + "</ul></div>")
    n_fail = sum(1 for e in expectations if not e.get("passed"))
    if passed:
        p.append(f'<div class="ok" id="status"><b>Validation passed</b>: all {len(expectations)} expectations '
                 f'hold.</div>')
    else:
        p.append(f'<div class="bad" id="status"><b>Validation failed</b>: {n_fail} of {len(expectations)} '
                 f'expectations do not hold; the corpus cannot be approved until they do.</div>')
    p.append("<nav>" + "".join(f'<a href="#{a}">{_e(t)}</a>' for a, t in (
        ("expectations", "Expectations"), ("funnel", "Funnel"), ("distributions", "Distributions"),
        ("script-mix", "Script mix"), ("repeated-lines", "Repeated lines"), ("boilerplate", "Boilerplate"),
        ("mojibake", "Mojibake"), ("kept-samples", "Kept samples"), ("rejected-samples", "Rejected samples"),
        ("sources", "Sources"), ("decision", "Decision"))) + "</nav>")

    # --- Great Expectations -----------------------------------------------------------------
    p.append('<h2 id="expectations">Great Expectations results</h2>')
    rows = []
    for e in expectations:
        ok = e.get("passed")
        mark = '<span class="pass">pass</span>' if ok else '<span class="fail">FAIL</span>'
        extra = f" ({_e(e['error'])})" if e.get("error") else ""
        rows.append([e.get("name"), e.get("expectation"), e.get("column") or "", _compact(e.get("observed")),
                     _compact(e.get("threshold")), mark + extra])
    p.append(_table(["check", "expectation", "column", "observed", "threshold", "result"], rows, raw={5}))
    p.append('<p class="note">Full Great Expectations Data Docs: <a href="index.html">index.html</a> '
             '(in this folder).</p>')

    # --- funnel -----------------------------------------------------------------------------
    p.append('<h2 id="funnel">Cleaning funnel</h2>')
    funnel, detailed = funnel_rows(stats)
    if funnel:
        rows = [[s.get("step"), s.get("documents_in"), s.get("documents_out"), s.get("chars_in"),
                 s.get("chars_out"), ", ".join(f"{k}: {v:,}" if isinstance(v, int) else f"{k}: {v}"
                                               for k, v in (s.get("dropped") or {}).items() if v) or "—"]
                for s in funnel]
        p.append(_table(["step", "documents in", "documents out", "chars in", "chars out", "dropped"], rows,
                        num={1, 2, 3, 4}))
        if not detailed:
            p.append('<p class="note">stats.json has no per-step <code>funnel</code>; totals shown.</p>')
        p.append(_img(images.get("funnel"), "documents remaining after each step"))
    else:
        p.append('<p class="note">No stats.json from the clean stage.</p>')
    dropped = stats.get("dropped") or {}
    if dropped and detailed:
        p.append(_table(["drop reason", "documents"], [[k, v] for k, v in sorted(dropped.items(), key=lambda kv: -kv[1] if isinstance(kv[1], int) else 0)], num={1}))
    skipped = stats.get("skipped")
    if isinstance(skipped, dict) and skipped:
        p.append("<h3>Skipped inputs</h3>")
        p.append(_table(["kind", "count"], [[k, v] for k, v in sorted(skipped.items())], num={1}))

    # --- distributions ----------------------------------------------------------------------
    p.append('<h2 id="distributions">Distributions</h2>')
    p.append("<h3>Document length</h3>")
    m = metrics
    if m.get("documents"):
        p.append(f'<p>{m.get("chars", 0):,} characters; per document min {m.get("n_chars_min")}, median '
                 f'{m.get("n_chars_median")}, mean {m.get("n_chars_mean")}, max {m.get("n_chars_max")}.</p>')
    p.append(_img(images.get("lengths"), "document length histogram"))
    p.append("<h3>Language-ID score</h3>")
    cal = lid_calibration(stats)
    if cal:
        first = ["label", "model_reliable", "threshold_configured", "threshold_used", "fallback", "why"]
        keys = [k for k in first if k in cal] + sorted(k for k in cal if k not in first)
        p.append(_table(["LID calibration", "value"], [[k, _compact(cal[k])] for k in keys]))
    lid = stats.get("lid") or {}
    qrows = []
    for part in ("all", "kept"):
        q = lid.get(part)
        if isinstance(q, dict):
            qrows.append([part] + [q.get(k) for k in ("count", "min", "p05", "p10", "p50", "p90", "max")])
    if qrows:
        p.append(_table(["documents", "count", "min", "p05", "p10", "p50", "p90", "max"], qrows,
                        num={1, 2, 3, 4, 5, 6, 7}))
    if facts.get("lid_labels"):
        p.append("<p>Predicted labels of kept documents: " + ", ".join(
            f"<code>{_e(x['label'])}</code> {x['documents']:,}" for x in facts["lid_labels"]) + "</p>")
    p.append(_img(images.get("lid_scores"), "language-ID score histogram"))

    # --- script mix -------------------------------------------------------------------------
    p.append('<h2 id="script-mix">Script mix</h2>')
    sm = facts["script_mix"]
    p.append(f'<p class="note">Letters by Unicode script over {sm["characters"]:,} characters of '
             f'{facts["scanned"]:,} scanned documents; {sm["other_non_space"]:,} other non-space characters '
             f'(digits, punctuation, symbols). Expected script: {_e(cfg.script)}; mean per-document share '
             f'{_e(m.get("script_share_mean"))}.</p>')
    p.append(_table(["script", "letters", "share"],
                    [[s["script"], s["letters"], f'{100 * s["share"]:.2f}%'] for s in sm["scripts"]], num={1, 2}))
    p.append(_img(images.get("script_share"), "script share histogram"))

    # --- repeated lines / boilerplate / mojibake --------------------------------------------
    scanned_note = (f'<p class="note">Over {facts["scanned"]:,} of {facts["documents"]:,} documents'
                    + (" (a seeded sample)" if facts["scanned"] < facts["documents"] else "") + ".</p>")
    p.append('<h2 id="repeated-lines">Most repeated lines</h2>' + scanned_note)
    if facts["repeated_lines"]:
        p.append(_table(["line", "documents", "share"], [[_snippet(r["line"], 200), r["documents"],
                                                          f'{100 * r["share"]:.2f}%'] for r in facts["repeated_lines"]],
                        num={1, 2}))
    else:
        p.append("<p>No line appears in more than one document.</p>")
    b = facts["boilerplate"]
    p.append('<h2 id="boilerplate">Suspected boilerplate</h2>')
    p.append(f'<p>{b["keyword_documents"]:,} documents contain a line with a boilerplate word (cookie, copyright, '
             f'subscribe, URL, …); {b["documents_mostly_repeated"]:,} documents are at least half made of lines '
             f'shared by &ge; {b["min_documents"]} documents.</p>')
    if b["lines"]:
        p.append(_table(["line", "documents", "why"], [[_snippet(s["line"], 200), s["documents"], s["why"]]
                                                       for s in b["lines"]], num={1}))
    else:
        p.append("<p>None found.</p>")
    mj = facts["mojibake"]
    p.append('<h2 id="mojibake">Suspected mojibake</h2>')
    p.append(f'<p>{mj["documents"]:,} documents ({100 * mj["share"]:.2f}%) contain a replacement character, a C1 '
             f'control or a byte sequence typical of UTF-8 decoded as Latin-1/CP1252 (e.g. <code>Ã©</code>, '
             f'<code>â€™</code>).</p>')
    if mj["markers"]:
        p.append(_table(["marker", "count"], [[repr(x["marker"]), x["count"]] for x in mj["markers"]], num={1}))
        for ex in mj["examples"]:
            p.append(f'<p class="note">{_e(ex["id"])}</p><pre class="doc">{_e(ex["context"])}</pre>')

    # --- samples ----------------------------------------------------------------------------
    p.append('<h2 id="kept-samples">Samples of kept documents</h2>')
    if facts["kept_samples"]:
        for d in facts["kept_samples"]:
            p.append(f'<p class="note"><code>{_e(d.get("id"))}</code> · {_e(d.get("source"))} · lid '
                     f'{_e(d.get("lid_lang"))} {_e(d.get("lid_score"))} · script share {_e(d.get("script_share"))} '
                     f'· {_e(d.get("n_chars"))} chars</p><pre class="doc">{_e(_snippet(d.get("text")))}</pre>')
    else:
        p.append("<p>No documents kept.</p>")
    p.append('<h2 id="rejected-samples">Samples of rejected documents, by reason</h2>')
    if rejected:
        for reason in sorted(rejected):
            recs = rejected[reason]
            count = dropped.get(reason)
            p.append(f"<h3>{_e(reason)}" + (f" ({count:,} dropped)" if isinstance(count, int) else "") + "</h3>")
            for rec in recs:
                where = f'{rec.get("source", "?")}' + (f':{rec["line"]}' if rec.get("line") is not None else "")
                extra = {k: v for k, v in rec.items() if k not in ("reason", "source", "line", "text")}
                p.append(f'<p class="note">{_e(where)}' + (f" · {_e(_compact(extra))}" if extra else "")
                         + f'</p><pre class="doc">{_e(_snippet(rec.get("text")))}</pre>')
    else:
        p.append('<p class="note">No <code>rejected.jsonl</code> from the clean stage: samples of rejected '
                 'documents are not available (the funnel has the counts).</p>')

    # --- sources and decision ---------------------------------------------------------------
    p.append('<h2 id="sources">Sources</h2>')
    srcs = stats.get("sources") or []
    if srcs:
        p.append(_table(["path", "documents read", "documents kept"],
                        [[s.get("path"), s.get("documents"), s.get("documents_out", "")] for s in srcs], num={1, 2}))
    elif facts.get("sources"):
        p.append(_table(["source", "documents kept"], [[s["source"], s["documents"]] for s in facts["sources"]],
                        num={1}))
    p.append('<h2 id="decision">Decision</h2>')
    p.append(f"<p>Policy <b>{_e(cfg.review.policy)}</b>. " + (
        "The run waits for a person's decision on this corpus (up to "
        f"{cfg.review.timeout_hours:g} h with a Prefect server), from the Prefect UI or:</p>"
        if cfg.review.policy == "required" else
        "The corpus is approved automatically when every expectation passes; a person can still decide:</p>"))
    p.append(f"<pre>foundry approve {_e(lang)} --comment \"...\"\nfoundry reject {_e(lang)} --reason \"...\"</pre>")
    p.append(f'<p class="note">The decision goes to <code>data/{_e(lang)}/review.json</code> with the corpus hash '
             f'above; a changed corpus needs a new decision.</p>')
    p.append("</body></html>\n")
    return "\n".join(p)


def _md_cell(x) -> str:
    return _compact(x).replace("|", "\\|").replace("\n", " ")


def render_markdown(cfg: LanguageConfig, *, expectations: list[dict], passed: bool, corpus: str, stats: dict,
                    facts: dict) -> str:
    lang = cfg.language
    lines = [f"# Data review: {lang}", ""]
    warn = lid_warning(lang, stats)
    if warn:
        lines += [f"> **⚠ Language ID unreliable.** {warn}", ""]
    for w in stats.get("warnings") or []:
        if isinstance(w, str) and w != (lid_calibration(stats) or {}).get("warning"):
            lines += [f"> clean: {w}", ""]
    n_fail = sum(1 for e in expectations if not e.get("passed"))
    lines += [f"**Validation {'passed' if passed else 'FAILED'}** ({len(expectations) - n_fail}/{len(expectations)} "
              f"expectations hold) · {facts['documents']:,} documents · corpus `{short(corpus)}` · "
              f"policy `{cfg.review.policy}`", "",
              "| check | observed | threshold | result |", "|---|---|---|---|"]
    for e in expectations:
        lines.append(f"| {e.get('name')} | {_md_cell(e.get('observed'))[:80]} | {_md_cell(e.get('threshold'))[:80]} | "
                     f"{'pass' if e.get('passed') else '**FAIL**'} |")
    funnel, _ = funnel_rows(stats)
    if funnel:
        lines += ["", "| step | documents in | documents out | dropped |", "|---|---|---|---|"]
        for s in funnel:
            dr = ", ".join(f"{k}: {v}" for k, v in (s.get("dropped") or {}).items() if v) or "—"
            lines.append(f"| {_md_cell(s.get('step'))} | {s.get('documents_in')} | {s.get('documents_out')} | "
                         f"{_md_cell(dr)} |")
    b, mj = facts["boilerplate"], facts["mojibake"]
    shared = sum(1 for s in b["lines"] if s["documents"] >= b["min_documents"])
    lines += ["", f"- suspected boilerplate: {b['keyword_documents']} documents with boilerplate words, "
                  f"{shared} lines shared by >= {b['min_documents']} documents",
              f"- suspected mojibake: {mj['documents']} documents ({100 * mj['share']:.2f}%)"]
    if facts["repeated_lines"]:
        top = facts["repeated_lines"][0]
        lines.append(f"- most repeated line ({top['documents']} documents): `{_snippet(top['line'], 80)}`"
                     .replace("|", "\\|"))
    lines += ["", f"Full review page: `reports/{lang}/quality/review.html` (Data Docs: "
                  f"`reports/{lang}/quality/index.html`).",
              f"Decide with `foundry approve {lang} --comment ...` or `foundry reject {lang} --reason ...`.", ""]
    return "\n".join(lines)


def build_pages(cfg: LanguageConfig, df, layout: Layout, site: Path, *, expectations: list[dict], passed: bool,
                corpus: str, metrics: dict) -> dict:
    """Write review.html and review.md into ``site`` (the quality folder being built); return a summary."""
    stats = load_stats(layout)
    facts = analyse(df, cfg)
    funnel, _ = funnel_rows(stats)
    images = plots(df, cfg, stats, funnel)
    rejected = load_rejected(layout, cfg.review.samples)
    page = render_html(cfg, layout, expectations=expectations, passed=passed, corpus=corpus, stats=stats,
                       facts=facts, images=images, rejected=rejected, metrics=metrics)
    (Path(site) / PAGE).write_text(page, encoding="utf-8")
    md = render_markdown(cfg, expectations=expectations, passed=passed, corpus=corpus, stats=stats, facts=facts)
    (Path(site) / SUMMARY).write_text(md, encoding="utf-8")
    return {"lid_unreliable": lid_warning(cfg.language, stats) is not None,
            "mojibake_documents": facts["mojibake"]["documents"],
            "boilerplate_documents": facts["boilerplate"]["keyword_documents"],
            "repeated_lines": len(facts["repeated_lines"])}
