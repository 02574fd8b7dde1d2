"""The review page's and review.md's hints agree with the review policy in force and the validation's outcome:
under `auto` a passed corpus goes on to training (no "decide with foundry approve"), under `required` the run
waits for `foundry approve/reject`, and a failed validation is fixed, never approved. Built by the real
validate stage (Great Expectations) on a small synthetic corpus."""
from __future__ import annotations

import re

import pytest

from pipeline.stages import validate as validate_stage
from tests.test_review import make_unit_project

STATS = {"documents_in": 30, "documents_out": 30, "dropped": {}}


def _texts(lay) -> tuple[str, str]:
    md = (lay.quality_dir / "review.md").read_text(encoding="utf-8")
    html = (lay.quality_dir / "review.html").read_text(encoding="utf-8")
    decision = html[html.index('id="decision"'):]
    return md, re.sub(r"<[^>]+>", "", decision)   # the Decision section's words, tags removed


@pytest.mark.parametrize("policy", ["auto", "required"])
def test_hints_follow_the_policy(tmp_path, policy):
    lay = make_unit_project(tmp_path, stats=STATS, review_cfg={"policy": policy})
    assert validate_stage.run("xx", tmp_path)["passed"] is True
    for text in _texts(lay):
        assert f"Review policy {policy}" in text.replace("`", ""), text[-800:]
        assert "foundry reject xx --reason" in text
        if policy == "auto":
            assert "approved automatically" in text and "goes on to training" in text
            assert "foundry approve" not in text and "Decide with" not in text
        else:
            assert "stops before vocab until a person decides" in text and "foundry approve xx --comment" in text
            assert "approved automatically" not in text


@pytest.mark.parametrize("policy", ["auto", "required"])
def test_a_failed_validation_is_fixed_not_approved(tmp_path, policy):
    lay = make_unit_project(tmp_path, stats=STATS, review_cfg={"policy": policy},
                            docs=["Too short to pass a 200-document minimum, but long enough to be kept. " * 2] * 12)
    (tmp_path / "corpora" / "xx.yaml").write_text((tmp_path / "corpora" / "xx.yaml").read_text()
                                                  .replace("min_documents: 10", "min_documents: 200"))
    assert validate_stage.run("xx", tmp_path)["passed"] is False
    for text in _texts(lay):
        assert "Validation failed" in text and "an approval cannot overrule a failed validation" in text
        assert "foundry approve" not in text and "approved automatically" not in text
        assert "foundry run xx" in text and "validate.*" in text


def test_counts_agree_with_their_nouns(tmp_path):
    """A one-document corpus: the page and the terminal headline say '1 document', never '1 documents'."""
    from pipeline.config import load_language
    from pipeline.review.headline import review_headline

    doc = "A single document that is long enough to be kept by the clean stage's minimum of fifty characters."
    lay = make_unit_project(tmp_path, stats={"documents_in": 1, "documents_out": 1, "dropped": {}}, docs=[doc])
    validate_stage.run("xx", tmp_path)
    html = re.sub(r"<[^>]+>", "", (lay.quality_dir / "review.html").read_text(encoding="utf-8"))
    head = review_headline(lay, load_language("xx", tmp_path))
    for text in (html, head):
        assert not re.search(r"\b1 (document|expectation|character|line)s\b", text), text
    assert re.search(r"\b1 document\b", html) and "1 documents" not in html
    assert re.search(r"\b1 document contains\b|\b0 documents contain\b", html), html
