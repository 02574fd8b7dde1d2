"""The review gate: the decision about one corpus, and whether the vocab stage may use it.

``data/<lang>/review.json`` records who decided what about which corpus::

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
marks a corpus waiting for review). ``check_validation`` (validation passed, and ``require_approval``)
is what the vocab stage checks. Plain functions, no Prefect: the flow and the CLI call them.
"""
from __future__ import annotations

import getpass
import hashlib
import json
import os
from datetime import datetime, timezone
from pathlib import Path

from pipeline.atomic import write_json
from pipeline.config import LanguageConfig, load_language
from pipeline.errors import StageError
from pipeline.layout import Layout

APPROVED = "approved"
REJECTED = "rejected"
AUTO_APPROVED = "auto-approved"
REJECTED_BY_VALIDATION = "rejected-by-validation"
PENDING = "pending"
DECISIONS = (APPROVED, REJECTED, AUTO_APPROVED, REJECTED_BY_VALIDATION, PENDING)
HUMAN = (APPROVED, REJECTED)

# the review page and its summary, in the validate stage's quality folder (reports/<lang>/quality/)
PAGE = "review.html"
SUMMARY = "review.md"


def decision_path(layout: Layout) -> Path:
    return layout.root / "data" / layout.lang / "review.json"


def page_path(layout: Layout) -> Path:
    return layout.quality_dir / PAGE


def corpus_hash(layout: Layout) -> str:
    """Content hash of the cleaned corpus: the Parquet parts and stats.json, by name and bytes.

    Any change to the kept documents (or to the cleaning record) gives another hash, which voids a
    decision taken on the old corpus."""
    files = list(layout.clean_files())
    if layout.clean_stats.is_file():
        files.append(layout.clean_stats)
    if not files:
        raise StageError(f"{layout.rel(layout.clean_dir)}: no cleaned corpus; run the clean stage first")
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
    rel = layout.rel(path)
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
        "review_page": layout.rel(page_path(layout)),
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
    'auto-approved' under policy `auto`, 'pending' under `required`. Automatic decisions carry no
    timestamp, so rewriting one gives the same bytes."""
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
    rel_val = layout.rel(layout.validation)
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
    rel = layout.rel(decision_path(layout))
    raise StageError(f"{rel}: " + gate_message(layout.lang, cfg, decision, corpus, state)
                     .replace("Stopped before vocab.", "The vocab stage refuses to train on it.")
                     .replace("stopped before vocab.", "the vocab stage refuses to train on it."))


def check_validation(layout: Layout) -> dict:
    """Return validation.json's content; StageError unless it exists and says passed: true, and the
    current corpus has a valid review decision (``data/<lang>/review.json``: approved, or
    auto-approved under ``review.policy: auto``, for this very corpus)."""
    path = layout.validation
    rel = layout.rel(path)
    if not path.is_file():
        raise StageError(f"{rel}: not found; run the validate stage first "
                         f"(`python -m pipeline validate {layout.lang}`)")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"{rel}: not valid JSON ({e}); re-run the validate stage") from None
    if not isinstance(report, dict) or "passed" not in report:
        raise StageError(f"{rel}: has no 'passed' field; re-run the validate stage")
    if report.get("passed") is not True:
        failed = [str(e.get("name")) for e in report.get("expectations") or []
                  if isinstance(e, dict) and not e.get("passed", True)]
        detail = f" (failed: {', '.join(failed)})" if failed else ""
        raise StageError(f"{rel}: the corpus did not pass validation{detail}; the vocab stage refuses "
                         f"to train on it. Fix the data or corpora/{layout.lang}.yaml and re-run clean "
                         f"and validate (see {report.get('data_docs', 'the quality report')})")
    require_approval(layout, load_language(layout.lang, layout.root), report)
    return report
