"""review.md: the short summary of the review page that the flow publishes as a Prefect markdown artifact."""
from __future__ import annotations

from pipeline.config import LanguageConfig
from pipeline.report_html import compact
from pipeline.review.clean_record import funnel_rows, lid_calibration, lid_warning
from pipeline.review.content import ReviewContent, snippet
from pipeline.review.gate import short


def _md_cell(x) -> str:
    return compact(x).replace("|", "\\|").replace("\n", " ")


def render_markdown(cfg: LanguageConfig, c: ReviewContent) -> str:
    lang, expectations, stats, facts = cfg.language, c.expectations, c.stats, c.facts
    lines = [f"# Data review: {lang}", ""]
    warn = lid_warning(lang, stats)
    if warn:
        lines += [f"> **⚠ Language ID unreliable.** {warn}", ""]
    for w in stats.get("warnings") or []:
        if isinstance(w, str) and w != (lid_calibration(stats) or {}).get("warning"):
            lines += [f"> clean: {w}", ""]
    n_fail = sum(1 for e in expectations if not e.get("passed"))
    lines += [f"**Validation {'passed' if c.passed else 'FAILED'}** ({len(expectations) - n_fail}/{len(expectations)} "
              f"expectations hold) · {facts['documents']:,} documents · corpus `{short(c.corpus)}` · "
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
        lines.append(f"- most repeated line ({top['documents']} documents): `{snippet(top['line'], 80)}`"
                     .replace("|", "\\|"))
    lines += ["", f"Full review page: `reports/{lang}/quality/review.html` (Data Docs: "
                  f"`reports/{lang}/quality/index.html`).", *decision_hints(cfg, c.passed), ""]
    return "\n".join(lines)


def decision_hints(cfg: LanguageConfig, passed: bool) -> list[str]:
    """What comes next for this corpus under the review policy in force (review.md and review.html's
    Decision section; Markdown code spans). The terminal's version, which also knows the decision recorded
    since, is ``pipeline.review.headline.next_steps``."""
    lang, policy = cfg.language, cfg.review.policy
    approve, reject = f"`foundry approve {lang} --comment ...`", f"`foundry reject {lang} --reason ...`"
    if not passed:
        return [f"Validation failed: `foundry run {lang}` stops before vocab under any review.policy, and an "
                f"approval cannot overrule a failed validation. Fix the data or `corpora/{lang}.yaml` "
                f"(`validate.*`, `clean.*`), then run `foundry run {lang}` again."]
    if policy == "auto":
        return [f"Review policy `auto`: every expectation holds, so the corpus is approved automatically and "
                f"`foundry run {lang}` goes on to training. To stop it: {reject}."]
    return [f"Review policy `required`: `foundry run {lang}` stops before vocab until a person decides: {approve} "
            f"or {reject} (with a Prefect server the paused run waits up to {cfg.review.timeout_hours:g} h and "
            f"resumes). Without one, the next `foundry run {lang}` continues from vocab after an approval."]
