"""The review's headline for the terminal: what a person needs to decide, in a dozen lines.

``foundry run`` prints it when a run stops at the review gate (or ends before it, ``--until validate``):
documents kept and dropped by reason (``data/<lang>/clean/stats.json``), whether the language-ID model is
reliable for the language, the failed expectations (``data/<lang>/validation.json``), where the review
page is, and the exact command that comes next — which depends on the policy in force and on the decision
already recorded (``data/<lang>/review.json``). Reads only those files; a missing one becomes a line
saying so, never an error.
"""
from __future__ import annotations

import json
from dataclasses import dataclass

from pipeline.config import LanguageConfig
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.review import gate
from pipeline.review.clean_record import lid_calibration, load_stats


def counted(n: int, noun: str, verb: str = "") -> str:
    """``n`` with ``noun`` (and ``verb``, third person) agreeing: '1 document contains', '2 documents contain'.
    The review's nouns are all regular (document, expectation, character, line), so no inflection library."""
    one = n == 1
    words = f"{n:,} {noun}{'' if one else 's'}"
    if verb:
        words += " " + (verb + ("es" if verb.endswith(("s", "sh", "ch")) else "s") if one else verb)
    return words


@dataclass(frozen=True)
class GateState:
    """Where the corpus stands at the gate: ``state`` as :func:`gate.assess` names it (or 'unvalidated')."""
    state: str
    policy: str
    decision: dict | None
    corpus: str | None
    validation: dict | None

    @property
    def open(self) -> bool:
        """Whether the vocab stage may use the corpus (under ``auto`` a missing decision counts as approval)."""
        passed = bool(self.validation and self.validation.get("passed"))
        return passed and (self.state == "approved" or (self.state == "none" and self.policy == "auto"
                                                          and not self.decision))


def gate_state(layout: Layout, cfg: LanguageConfig) -> GateState:
    """The gate's state for the current corpus, from the files (nothing is written)."""
    policy = cfg.review.policy
    try:
        validation = json.loads(layout.validation.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        validation = None
    try:
        decision = gate.read_decision(layout)
        corpus = gate.corpus_hash(layout)
    except StageError:
        return GateState("unvalidated", policy, None, None, validation)
    if not isinstance(validation, dict) or validation.get("corpus", corpus) != corpus:
        return GateState("unvalidated", policy, decision, corpus, None)
    return GateState(gate.assess(decision, corpus, policy), policy, decision, corpus, validation)


def _documents(stats: dict) -> list[str]:
    if "documents_in" not in stats:
        return ["documents: no stats.json from the clean stage"]
    n_in, n_out = int(stats.get("documents_in") or 0), int(stats.get("documents_out") or 0)
    share = f" ({100 * n_out / n_in:.1f}%)" if n_in else ""
    dropped = sorted(((k, int(v)) for k, v in (stats.get("dropped") or {}).items() if v), key=lambda kv: -kv[1])
    why = (": " + ", ".join(f"{k} {v:,}" for k, v in dropped)) if dropped else ""
    lines = [f"documents: {n_out:,} kept of {n_in:,}{share}; {n_in - n_out:,} dropped{why}"]
    skipped = {k: v for k, v in (stats.get("skipped") or {}).items() if v}
    if skipped:
        lines.append("skipped input: " + ", ".join(f"{k} {v:,}" for k, v in skipped.items()))
    return lines


def _language_id(stats: dict) -> str:
    cal = lid_calibration(stats)
    if not cal or not cal.get("enabled", True):
        return "language ID: not used (clean.lid.enabled is false, or no calibration in stats.json)"
    median = (cal.get("score_quantiles") or {}).get("p50")
    detail = ", ".join(x for x in (f"median score {median:.3f}" if median is not None else "",
                                   f"threshold {cal['threshold_used']:g}" if cal.get("threshold_used") is not None
                                   else "") if x)
    if cal.get("model_reliable") is False:
        fallback = f"; fallback: {cal['fallback']}" if cal.get("fallback") else ""
        return (f"language ID: NOT reliable for this language ({detail}{fallback}) — language scores are a weak "
                f"signal here, read the samples before approving")
    return f"language ID: reliable ({detail})" if detail else "language ID: reliable"


def _expectations(validation: dict | None) -> str:
    if not validation:
        return "validation: not run for the current corpus"
    exps = [e for e in validation.get("expectations") or [] if isinstance(e, dict)]
    failed = [e for e in exps if not e.get("passed")]
    if not failed:
        return (f"validation: passed ({len(exps)}/{counted(len(exps), 'expectation', 'hold')})" if exps
                else "validation: passed")
    return (f"validation: FAILED {len(failed)} of {counted(len(exps), 'expectation')}: "
            + "; ".join(f"{e.get('name')} (observed {e.get('observed')}, threshold {e.get('threshold')})"
                        for e in failed))


def next_steps(lang: str, st: GateState) -> list[str]:
    """The exact commands that come next, for this state and policy."""
    approve = f"foundry approve {lang} --comment \"...\""
    reject = f"foundry reject {lang} --reason \"...\""
    if st.state == "unvalidated":
        return [f"next: foundry run {lang} --until validate   (validates the current corpus and builds the page)"]
    if st.state == "rejected-by-validation" or not (st.validation or {}).get("passed"):
        return [f"next: fix the data or corpora/{lang}.yaml (validate.*, clean.*), then foundry run {lang}",
                "      (an approval cannot overrule a failed validation)"]
    if st.state == "rejected":
        return [f"rejected by {gate.who(st.decision)}: {st.decision.get('comment') or '(no reason given)'}",
                f"next: fix the data or corpora/{lang}.yaml, or overrule: {approve}"]
    if st.open:
        return [f"decision: {(st.decision or {}).get('decision', 'auto-approved (implied)')} "
                f"(review.policy: {st.policy}); foundry run {lang} continues past the gate",
                f"to stop it: {reject}"]
    lines = []
    if st.state == "void":
        lines.append(f"the {st.decision.get('decision')} decision by {gate.who(st.decision)} was for another "
                     f"corpus ({gate.short(st.decision.get('corpus'))}): it is void")
    return lines + [f"approve:  {approve}", f"reject:   {reject}",
                    f"then:     foundry run {lang}   (continues from vocab)"]


def review_headline(layout: Layout, cfg: LanguageConfig) -> str:
    """The review's headline for the terminal (see the module docstring)."""
    lang = layout.lang
    st = gate_state(layout, cfg)
    stats = load_stats(layout)
    waiting = not st.open and st.state in ("none", "void")
    title = (f"Review needed: {lang} stopped before vocab (review.policy: {st.policy})" if waiting
             else f"Data review: {lang} (review.policy: {st.policy})")
    corpus = f"corpus {gate.short(st.corpus)}" if st.corpus else "no cleaned corpus"
    body = [*_documents(stats), _language_id(stats), _expectations(st.validation),
            f"review page: {layout.rel(gate.page_path(layout))}   ({corpus})", *next_steps(lang, st)]
    return "\n".join([title] + [f"  {line}" for line in body])
