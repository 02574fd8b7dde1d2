"""The bad-input suite (tests/bad_inputs.py) through the CLI: every kind ends in a clear message naming the file
(and line) with exit status 2, or in a counted skip in stats.json with exit status 0 — never a traceback, never
silent loss. The README's troubleshooting table is generated from the same registry."""
from __future__ import annotations

import re

import pytest

from tests.bad_inputs import BY_KIND, CASES, Project, markdown_table
from tests.conftest import REPO


def test_registry_has_enough_kinds():
    assert len(CASES) >= 30


@pytest.mark.parametrize("kind", [c.kind for c in CASES])
def test_bad_input_through_cli(tmp_path, kind):
    case = BY_KIND[kind]
    proj = Project(tmp_path / "proj")
    argv = case.make(proj)
    if case.expect.max_rss_mb:
        r, peak_mb = proj.run_peak_rss(argv)
        assert peak_mb < case.expect.max_rss_mb, f"peak RSS {peak_mb:.0f} MB"
    else:
        r = proj.run(argv)
    out = f"$ python -m {' '.join(argv)}\nexit {r.returncode}\n--- stderr\n{r.stderr[-4000:]}\n--- stdout\n" \
          f"{r.stdout[-2000:]}"
    assert "Traceback" not in r.stderr, out
    assert r.returncode == case.expect.code, out
    if case.expect.code == 2:
        msg = r.stderr
        assert "error:" in msg, out
        for needle in case.expect.needles:
            assert needle in msg, f"{needle!r} not in the message\n{out}"
        return
    stats = proj.stats()
    for reason, n in case.expect.skipped.items():
        assert stats["skipped"].get(reason) == n, (stats["skipped"], out)
        assert any("bad input skipped" in w for w in stats["warnings"]), stats["warnings"]
    for reason, n in case.expect.dropped.items():
        assert stats["dropped"].get(reason, 0) >= n, (stats["dropped"], out)
    assert stats["split_long_document"] >= case.expect.split
    # nothing lost silently: every document read is kept or dropped by reason
    assert stats["documents_in"] == stats["documents_out"] + sum(stats["dropped"].values())
    assert stats["documents_out"] > 0


def test_readme_troubleshooting_matches_registry():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    m = re.search(r"## Troubleshooting\n(.*?)(?=\n## )", readme, re.S)
    assert m, "README.md has no Troubleshooting section"
    assert markdown_table() in m.group(1), "regenerate the table: python -m tests.bad_inputs --markdown"
