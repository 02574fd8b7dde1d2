"""Quality thresholds calibrated per language (pipeline/cleaning/calibration.py), on real text.

Swahili news as a user brings it (MasakhaNEWS: a headline line and a body often cut mid-sentence) loses most
of its articles to FineWeb's English ``line_punct_ratio`` threshold; calibration must keep them while the
junk the filters exist for (menus, repeated calls to action, keyword stuffing, tables, link lists) is still
dropped. Also: the rule values mirror datatrove's filters, calibration is deterministic, an override wins,
``calibration: off`` changes nothing, and stats.json and the review page carry the table and the flags.
"""
from __future__ import annotations

import csv
import html
import json
import random
from pathlib import Path

import pytest
import yaml

from pipeline.cleaning import calibration
from pipeline.cleaning import rulestats as rs
from pipeline.cleaning.normalize import normalize
from pipeline.cleaning.quality import DEFAULTS, build_filters, resolved_thresholds
from pipeline.cleaning.segment import default_segmenter, tokenizer
from pipeline.config import LanguageConfig
from pipeline.stages import clean as clean_stage
from tests.conftest import require_shared
from tests.test_clean_quality import flores, output, project, spam_docs, write_docs


def news(n: int = 300) -> list[str]:
    """MasakhaNEWS Swahili training articles: headline line + body."""
    path = require_shared("classification", "masakhanews", "swa", "train.tsv")
    with open(path, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    return [f"{r['headline'].strip()}\n{r['text'].strip()}" for r in rows[:n]]


def _cfg(lang: str, script: str, clean: dict | None = None) -> LanguageConfig:
    return LanguageConfig.model_validate({"language": lang, "script": script, "sources": [{"path": "x"}],
                                          "clean": clean or {}})


@pytest.mark.parametrize("lang,script", [("en", "Latn"), ("sw", "Latn"), ("zh", "Hani")])
def test_rule_values_decide_as_datatrove_filters_do(lang, script):
    """doc_stats + first_failure reproduce datatrove's verdicts, at our thresholds and at datatrove's own
    (stricter: most rules fire somewhere), so the calibrated numbers are the ones the filters compare."""
    seg = default_segmenter(script)
    docs = [normalize(d) for d in flores(lang)][:150] + spam_docs("Hani" if script == "Hani" else "Latn", 20,
                                                                  random.Random(1))
    strict = {"gopher_repetition": {"top_n_grams": {2: 0.2, 3: 0.18, 4: 0.16}},
              "fineweb_quality": {"char_duplicates_ratio": 0.01, "line_punct_thr": 0.9},
              "gopher_quality": {"min_doc_words": 50, "max_non_alpha_words_ratio": 0.8, "max_avg_word_length": 5}}
    fired = set()
    for quality in ({}, strict):
        cfg = _cfg(lang, script, {"quality": quality})
        th = resolved_thresholds(cfg)
        filters = build_filters(cfg, seg)
        for d in docs:
            ours = rs.first_failure(rs.doc_stats(d, tokenizer(seg), th), th)
            assert ours == filters.first_failure(d), d[:200]
            fired.add(ours)
    assert len(fired) >= 6   # the comparison covered many rules, not only "passes"


def _news_project(tmp: Path, clean: dict) -> Path:
    rng = random.Random(5)
    write_docs(tmp / "raw" / "news.txt", news())
    write_docs(tmp / "raw" / "junk.txt", spam_docs("Latn", 40, rng))
    return project(tmp, "sw", [{"path": "raw/news.txt", "root": "project"},
                               {"path": "raw/junk.txt", "root": "project"}], "Latn",
                   {"min_chars": 50, "lid": {"enabled": False}, **clean})


def _kept(rows: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in rows:
        out[r["source"]] = out.get(r["source"], 0) + 1
    return out


def test_calibration_keeps_news_without_final_punctuation_and_still_drops_junk(tmp_path):
    n_news = len(news())
    fixed = _news_project(tmp_path / "fixed", {"calibration": False})
    clean_stage.run("sw", fixed)
    rows_f, stats_f = output(fixed, "sw")
    cal = _news_project(tmp_path / "cal", {})
    clean_stage.run("sw", cal)
    rows_c, stats_c = output(cal, "sw")

    punct_f = {s["step"]: s for s in stats_f["funnel"]}["fineweb_quality"]["dropped"].get("line_punct_ratio", 0)
    punct_c = {s["step"]: s for s in stats_c["funnel"]}["fineweb_quality"]["dropped"].get("line_punct_ratio", 0)
    assert punct_f > 0.15 * n_news                       # the English threshold drops much clean news ...
    assert punct_c <= 0.02 * n_news                      # ... calibrated, almost none
    assert _kept(rows_c)["raw/news.txt"] >= 0.95 * n_news > _kept(rows_f)["raw/news.txt"]
    for rows in (rows_f, rows_c):                        # junk is dropped either way
        assert _kept(rows).get("raw/junk.txt", 0) <= 2

    rec = stats_c["quality_calibration"]
    row = {r["rule"]: r for r in rec["rules"]}["fineweb_quality.line_punct_thr"]
    assert row["english"] == 0.12 and row["base"] == 0.12 and row["by"] == "calibrated" and row["used"] < 0.12
    assert row["drop_share_base"] > 0.15 and row["drop_share_used"] <= 0.02
    assert stats_c["resolved"]["quality"]["fineweb_quality"]["line_punct_thr"] == row["used"]
    assert rec["enabled"] and rec["source"] == "corpus sample" and rec["documents"] > 300 and not rec["flags"]
    # calibration off: the starting thresholds exactly, recorded as such
    assert stats_f["quality_calibration"]["enabled"] is False
    assert stats_f["resolved"]["quality"] == json.loads(json.dumps(resolved_thresholds(_cfg("sw", "Latn"))))


def test_calibration_is_deterministic_and_an_override_wins():
    texts = [normalize(d) for d in news(250)]
    seg = default_segmenter("Latn")
    a = calibration.calibrate(_cfg("sw", "Latn"), seg, texts, source="t")
    b = calibration.calibrate(_cfg("sw", "Latn"), seg, list(texts), source="t")
    assert json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)
    o = calibration.calibrate(_cfg("sw", "Latn", {"quality": {"fineweb_quality": {"line_punct_thr": 0.12}}}),
                              seg, texts, source="t")
    row = {r["rule"]: r for r in o["rules"]}["fineweb_quality.line_punct_thr"]
    assert row["by"] == "override" and row["used"] == 0.12
    assert o["thresholds"]["fineweb_quality"]["line_punct_thr"] == 0.12
    # the override keeps dropping the news: flagged, with samples of what it drops alone
    flag = next(f for f in o["flags"] if f["rule"] == "fineweb_quality.line_punct_thr")
    assert flag["alone_drop_share"] > 0.05 and flag["samples"] and flag["samples"][0]["text"]
    # English keeps the English thresholds (they fit)
    en = calibration.calibrate(_cfg("en", "Latn"), seg, [normalize(d) for d in flores("en")], source="t")
    assert en["thresholds"]["fineweb_quality"] == DEFAULTS["alphabetic"]["fineweb_quality"]
    assert en["thresholds"]["gopher_repetition"] == DEFAULTS["alphabetic"]["gopher_repetition"]


def test_stats_and_review_page_carry_thresholds_and_flags(tmp_path):
    """A real clean (an override that keeps the English line_punct threshold: flagged) then the validate stage:
    the review page shows the per-rule table and the flag with sample documents."""
    from pipeline.layout import Layout
    from pipeline.stages import validate as validate_stage

    proj = _news_project(tmp_path, {"quality": {"fineweb_quality": {"line_punct_thr": 0.12}}})
    cfg = yaml.safe_load((proj / "corpora" / "sw.yaml").read_text())
    cfg["validate"] = {"min_documents": 10, "mostly": 0.9}
    (proj / "corpora" / "sw.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    clean_stage.run("sw", proj)
    _, stats = output(proj, "sw")
    rules = {r["rule"]: r for r in stats["quality_calibration"]["rules"]}
    assert rules["fineweb_quality.line_punct_thr"]["by"] == "override"
    assert [f["rule"] for f in stats["quality_calibration"]["flags"]] == ["fineweb_quality.line_punct_thr"]
    validate_stage.run("sw", proj)
    page = (Layout(proj, "sw").quality_dir / "review.html").read_text(encoding="utf-8")
    assert 'id="quality-thresholds"' in page and 'id="threshold-flags"' in page
    assert "<td>fineweb_quality.line_punct_thr</td>" in page and "<td>override</td>" in page
    sample = stats["quality_calibration"]["flags"][0]["samples"][0]["text"]
    assert html.escape(sample.split("\n")[0]) in page


def test_reference_text_calibrates_instead_of_the_corpus(tmp_path):
    """clean.calibration.reference: the thresholds come from that text (here the news alone), recorded as such;
    its content is part of the work folder's fingerprint."""
    proj = _news_project(tmp_path, {"calibration": {"reference": {"path": "raw/news.txt", "root": "project"}}})
    clean_stage.run("sw", proj)
    _, stats = output(proj, "sw")
    rec = stats["quality_calibration"]
    assert rec["source"] == "reference: raw/news.txt" and rec["documents"] == len(news())
    row = {r["rule"]: r for r in rec["rules"]}["fineweb_quality.line_punct_thr"]
    assert row["by"] == "calibrated" and row["used"] < 0.12
