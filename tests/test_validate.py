"""Validate stage (Great Expectations suite + Data Docs) on a corpus cleaned from real text."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")

from pipeline.review import gate  # noqa: E402
from pipeline.stages import clean, validate  # noqa: E402
from pipeline.errors import StageError  # noqa: E402
from pipeline.layout import Layout  # noqa: E402

SHARED = Path(os.environ.get("FOUNDRY_DATA_ROOT", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
SOURCE = "small/text/sw/flores200_devtest.txt"
CLEAN = {"min_chars": 50, "lid": {"min_score": 0.2}}


@pytest.fixture(scope="module")
def shared() -> Path:
    root = SHARED.resolve()
    if not (root / SOURCE).is_file():
        msg = f"shared data not found at {root} (set FOUNDRY_DATA_ROOT)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(msg)
        pytest.skip(msg)
    return root


def write_config(root: Path, shared: Path, validate_cfg: dict | None = None) -> None:
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {"sw": {}}}))
    cfg = {"language": "sw", "script": "Latn", "sources": [{"path": SOURCE}], "clean": CLEAN}
    if validate_cfg:
        cfg["validate"] = validate_cfg
    (root / "corpora" / "sw.yaml").write_text(yaml.safe_dump(cfg))


@pytest.fixture(scope="module")
def project(tmp_path_factory, shared) -> Path:
    root = tmp_path_factory.mktemp("proj")
    write_config(root, shared)
    clean.run("sw", root)
    return root


def load_report(root: Path) -> dict:
    return json.loads(Layout(root, "sw").validation.read_text(encoding="utf-8"))


def test_passes_on_clean_real_text(project, shared):
    write_config(project, shared)
    out = validate.run("sw", project)
    assert out["passed"] is True and out["failed"] == []
    report = load_report(project)
    assert report["passed"] is True
    names = [e["name"] for e in report["expectations"]]
    assert names == ["row_count", "columns", "text_not_null", "id_unique", "text_unique", "n_chars_between",
                     "lid_score_between", "script_share_mean"]
    for e in report["expectations"]:
        assert e["passed"] is True and "observed" in e and "threshold" in e
    by = {e["name"]: e for e in report["expectations"]}
    stats = json.loads(Layout(project, "sw").clean_stats.read_text())
    assert by["row_count"]["observed"] == stats["documents_out"] == report["metrics"]["documents"]
    assert by["n_chars_between"]["threshold"] == {"min": 50, "max": 2_000_000, "mostly": 1.0}
    assert by["n_chars_between"]["observed"]["min"] >= 50
    assert 0.8 <= by["script_share_mean"]["observed"] <= 1.0
    assert report["data_docs"] == "reports/sw/quality/index.html"
    index = project / report["data_docs"]
    assert index.is_file() and "<html" in index.read_text(encoding="utf-8").lower()
    assert not list(index.parent.parent.glob(".quality*"))  # atomic swap left nothing behind
    # the review page is built with the Data Docs, and the auto policy approves a passing corpus
    assert report["review_page"] == "reports/sw/quality/review.html"
    page = (project / report["review_page"]).read_text(encoding="utf-8")
    assert 'id="expectations"' in page and 'id="funnel"' in page and "data:image/png;base64," in page
    assert (index.parent / "review.md").is_file()
    assert report["corpus"] == gate.corpus_hash(Layout(project, "sw"))
    decision = json.loads(gate.decision_path(Layout(project, "sw")).read_text())
    assert decision["decision"] == "auto-approved" and decision["corpus"] == report["corpus"]
    assert out["decision"] == "auto-approved"
    # deterministic: the same corpus and settings give the same validation.json
    first = Layout(project, "sw").validation.read_bytes()
    validate.run("sw", project)
    assert Layout(project, "sw").validation.read_bytes() == first


def test_fails_on_impossible_thresholds(project, shared):
    write_config(project, shared, {"min_documents": 1_000_000, "min_lid_score": 0.99, "mostly": 0.95})
    out = validate.run("sw", project)  # returns normally
    assert out["passed"] is False
    report = load_report(project)
    assert report["passed"] is False
    assert report["failed"] == ["row_count", "lid_score_between"]
    by = {e["name"]: e for e in report["expectations"]}
    assert by["row_count"]["passed"] is False and by["row_count"]["threshold"] == {"min": 1_000_000}
    lid = by["lid_score_between"]
    assert lid["threshold"] == {"min": 0.99, "max": 1.0, "mostly": 0.95}
    assert lid["observed"]["unexpected_fraction"] > 0.05
    assert by["text_unique"]["passed"] is True
    assert (project / "reports/sw/quality/index.html").is_file()
    # the review page says so, and the decision records the rejection by validation
    page = (project / "reports/sw/quality/review.html").read_text(encoding="utf-8")
    assert "Validation failed" in page and page.count('class="fail"') == 2
    decision = json.loads(gate.decision_path(Layout(project, "sw")).read_text())
    assert decision["decision"] == "rejected-by-validation" and "row_count" in decision["comment"]


def test_length_threshold_and_strict_script_share(project, shared):
    # Swahili FLORES text is all Latin script: a required mean share of 1.0 still holds,
    # while a maximum of 60 characters per document cannot
    write_config(project, shared, {"min_script_share": 1.0, "max_chars": 60})
    out = validate.run("sw", project)
    assert out["passed"] is False
    report = load_report(project)
    assert report["failed"] == ["n_chars_between"]
    by = {e["name"]: e for e in report["expectations"]}
    assert by["n_chars_between"]["observed"]["max"] > 60
    assert by["script_share_mean"]["passed"] is True and by["script_share_mean"]["observed"] == 1.0


def test_no_clean_corpus(tmp_path, shared):
    write_config(tmp_path, shared)
    with pytest.raises(StageError, match=r"data/sw/clean: no cleaned corpus"):
        validate.run("sw", tmp_path)
