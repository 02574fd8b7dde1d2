"""The review page's "Quality thresholds" section: the per-language calibration the clean stage recorded
(``stats.json`` ``quality_calibration``, ``pipeline/cleaning/calibration.py``) and the rules flagged for
dropping more than ``flag_share`` of the documents every other rule keeps, with sample documents."""
from __future__ import annotations

from pipeline.report_html import compact, esc, table

SNIPPET = 600


def _pct(x) -> str:
    return f"{100 * x:.1f}%" if isinstance(x, (int, float)) else ""


def section(stats: dict) -> list[str]:
    cal = stats.get("quality_calibration")
    p = ['<h2 id="quality-thresholds">Quality thresholds</h2>']
    if not isinstance(cal, dict) or not cal:
        return p + ['<p class="note">stats.json records no quality-threshold calibration (the script class\'s '
                    'thresholds were used; <code>resolved.quality</code> has them).</p>']
    if not cal.get("enabled"):
        return p + ['<p class="note">Calibration is off (<code>clean.calibration: off</code>): the script '
                    'class\'s thresholds and the config\'s overrides were used as they are.</p>']
    share = cal.get("dropped_share") or {}
    p.append(f'<p>Calibrated on {cal.get("documents", 0):,} documents ({esc(cal.get("source"))}). Rule: '
             f'{esc(cal.get("rule"))} (tail {_pct(cal.get("tail"))}). The quality filters drop '
             f'{_pct(share.get("base"))} of them at the starting thresholds and {_pct(share.get("used"))} at the '
             f'thresholds used.</p>')
    if cal.get("note"):
        p.append(f'<p class="note">{esc(cal["note"])}</p>')
    rows = [[r.get("rule"), r.get("check"), compact(r.get("english")), compact(r.get("base")),
             compact(r.get("used")), r.get("by"), _pct(r.get("drop_share_base")), _pct(r.get("drop_share_used")),
             _pct(r.get("alone_drop_share"))] for r in cal.get("rules") or []]
    if rows:
        p.append(table(["rule", "check", "English", "start", "used", "by", "drops (start)", "drops (used)",
                        "drops alone"], rows, num={6, 7, 8}))
        p.append('<p class="note">"drops": share of the calibration documents failing the rule; "drops alone": '
                 'of the documents every other rule keeps, the share this rule drops. "by": english / '
                 'script_class (starting value kept), calibrated, override (<code>clean.quality</code>), '
                 'fixed (length bounds), disabled.</p>')
    p += _flags(cal)
    return p


def _flags(cal: dict) -> list[str]:
    flags = cal.get("flags") or []
    limit = _pct(cal.get("flag_share"))
    if not flags:
        return [f'<div class="ok" id="threshold-flags">No rule drops more than {limit} of the documents every '
                f'other rule keeps.</div>']
    p = [f'<div class="warn" id="threshold-flags"><b>{len(flags)} rule(s) drop more than {limit} of the '
         f'documents every other rule keeps</b>: clean text of this language may be what they remove. Read the '
         f'samples; override the threshold under <code>clean.quality</code> if they are good text.</div>']
    for f in flags:
        p.append(f"<h3>{esc(f.get('rule'))} ({esc(f.get('check'))}, threshold {esc(compact(f.get('used')))}): "
                 f"{_pct(f.get('alone_drop_share'))}, {f.get('documents', 0):,} documents</h3>")
        for s in f.get("samples") or []:
            text = s.get("text") or ""
            p.append(f'<p class="note">value {esc(s.get("value"))}</p><pre class="doc">'
                     f'{esc(text[:SNIPPET] + (" …" if len(text) > SNIPPET else ""))}</pre>')
    return p
