"""Data review: the page a person reads before approving a corpus, and the approval gate itself.

    gate.py          review.json (the decision and the corpus hash it applies to), the policy, and the check
                     the vocab stage makes (validation passed and the corpus approved)
    expectations.py  the Great Expectations suite the validate stage runs, and the corpus metrics
    page.py          review.html, one function per section (summary.py: review.md)
    content.py       what the page shows, gathered: analysis.py (statistics of the kept documents),
                     plots.py (histograms, funnel), clean_record.py (the clean stage's stats.json, rejected.jsonl)

No Prefect here: the validate stage, the flow and the CLI call these functions.
"""
