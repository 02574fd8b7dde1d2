"""The Great Expectations suite the validate stage runs over the cleaned corpus, and its Data Docs.

The suite runs in an ephemeral GX context (no project folder, no network, no analytics) and builds its
Data Docs into the folder it is given. Expectations (``validate`` section of ``corpora/<lang>.yaml``;
``mostly`` = validate.mostly where marked):

    row_count           table has >= validate.min_documents rows
    columns             the clean stage's columns are all present
    text_not_null       text is never null                 (on text_digest, a hash of each text: corpus.py)
    id_unique           id is unique
    text_unique         text is unique                     (on text_digest)         (mostly)
    n_chars_between     validate.min_chars <= n_chars <= validate.max_chars           (mostly)
                        (defaults: clean.min_chars / clean.max_chars)
    lid_score_between   validate.min_lid_score <= lid_score <= 1                      (mostly)
    script_share_mean   mean(script_share) >= validate.min_script_share

Each result is an entry for validation.json with a compact observed value (never the unexpected texts).
The Data Docs are then made to open offline (``offline_docs.make_offline``: vendored copies instead of CDNs).
"""
from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

from pipeline.config import LanguageConfig
from pipeline.review.corpus import DIGEST, FRAME_COLUMNS
from pipeline.review.offline_docs import make_offline

SITE_NAME = "quality"
DIGEST_NOTE = (f"{DIGEST} is a 64-bit hash (xxh3) of each document's text, null where the text is: the stage "
               "holds hashes, not texts, so that its memory grows with documents, not text")


def _quiet_gx():
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    for name in ("great_expectations", "great_expectations.core", "great_expectations.data_context"):
        logging.getLogger(name).setLevel(logging.ERROR)


def _specs(cfg: LanguageConfig):
    """(name, GX expectation, threshold) for each check."""
    import great_expectations.expectations as gxe

    v = cfg.validation
    vmin = v.min_chars if v.min_chars is not None else cfg.clean.min_chars
    vmax = v.max_chars if v.max_chars is not None else cfg.clean.max_chars
    m = v.mostly
    return [
        ("row_count", gxe.ExpectTableRowCountToBeBetween(min_value=v.min_documents),
         {"min": v.min_documents}),
        ("columns", gxe.ExpectTableColumnsToMatchSet(column_set=FRAME_COLUMNS, exact_match=False),
         {"required": FRAME_COLUMNS}),
        ("text_not_null", gxe.ExpectColumnValuesToNotBeNull(column=DIGEST, notes=DIGEST_NOTE), {"mostly": 1.0}),
        ("id_unique", gxe.ExpectColumnValuesToBeUnique(column="id"), {"mostly": 1.0}),
        ("text_unique", gxe.ExpectColumnValuesToBeUnique(column=DIGEST, mostly=m, notes=DIGEST_NOTE), {"mostly": m}),
        ("n_chars_between", gxe.ExpectColumnValuesToBeBetween(column="n_chars", min_value=vmin, max_value=vmax,
                                                               mostly=m),
         {"min": vmin, "max": vmax, "mostly": m}),
        ("lid_score_between", gxe.ExpectColumnValuesToBeBetween(column="lid_score", min_value=v.min_lid_score,
                                                                 max_value=1.0, mostly=m),
         {"min": v.min_lid_score, "max": 1.0, "mostly": m}),
        ("script_share_mean", gxe.ExpectColumnMeanToBeBetween(column="script_share",
                                                              min_value=v.min_script_share, max_value=1.0),
         {"min": v.min_script_share, "max": 1.0}),
    ]


def plain_value(x, digits: int = 6):
    """``x`` as a plain Python value for JSON: numpy scalars unwrapped, floats rounded to ``digits``."""
    try:
        import numpy as np
        if isinstance(x, np.generic):
            x = x.item()
    except ImportError:  # pragma: no cover
        pass
    return round(x, digits) if isinstance(x, float) else x


def _observed(name: str, df, result: dict):
    """A compact observed value for validation.json (never the unexpected texts themselves)."""
    if "observed_value" in result:
        obs = result["observed_value"]
        if isinstance(obs, (list, tuple)):
            return sorted(str(o) for o in obs)
        return plain_value(obs)
    out = {}
    if "unexpected_count" in result:
        out["unexpected_count"] = int(result["unexpected_count"])
        n = int(result.get("element_count") or 0)
        out["unexpected_fraction"] = round(out["unexpected_count"] / n, 6) if n else 0.0
    col = {"n_chars_between": "n_chars", "lid_score_between": "lid_score"}.get(name)
    if col and col in df.columns and len(df):
        out["min"] = plain_value(df[col].min())
        out["max"] = plain_value(df[col].max())
    return out


def corpus_metrics(df) -> dict:
    """Size, length, language-score and script-share figures of the corpus (validation.json's "metrics")."""
    if not len(df):
        return {"documents": 0}
    out = {"documents": int(len(df))}
    if "n_chars" in df:
        s = df["n_chars"]
        out.update(chars=int(s.sum()), n_chars_mean=round(float(s.mean()), 2),
                   n_chars_median=float(s.median()), n_chars_min=int(s.min()), n_chars_max=int(s.max()))
    if "lid_score" in df:
        s = df["lid_score"].astype("float64")
        out.update(lid_score_mean=round(float(s.mean()), 4), lid_score_p10=round(float(s.quantile(0.1)), 4),
                   lid_score_median=round(float(s.median()), 4))
    if "script_share" in df:
        out["script_share_mean"] = round(float(df["script_share"].astype("float64").mean()), 4)
    if "lid_lang" in df:
        vc = df["lid_lang"].value_counts()
        out["lid_lang"] = {str(k): int(c) for k, c in sorted(vc.items(), key=lambda kv: (-kv[1], kv[0]))[:10]}
    if "source" in df:
        vc = df["source"].value_counts()
        out["sources"] = {str(k): int(c) for k, c in sorted(vc.items())}
    return out


def _expectation_entries(specs, result, df) -> list[dict]:
    (vres,) = list(result.run_results.values())
    by_type: dict[tuple, object] = {}
    for r in vres.results:
        cfg_ = r.expectation_config
        by_type[(cfg_.type, cfg_.kwargs.get("column"))] = r

    expectations = []
    for name, exp, threshold in specs:
        r = by_type.get((exp.expectation_type, getattr(exp, "column", None)))
        entry = {"name": name, "expectation": exp.expectation_type,
                 "column": getattr(exp, "column", None), "threshold": threshold}
        if r is None:  # pragma: no cover - GX returns one result per expectation
            entry.update(passed=False, observed=None, error="no result from Great Expectations")
        else:
            entry["passed"] = bool(r.success)
            entry["observed"] = _observed(name, df, dict(r.result or {}))
            exc = r.exception_info or {}
            if exc.get("raised_exception"):
                entry["error"] = str(exc.get("exception_message"))[:500]
        expectations.append(entry)
    return expectations


def run_suite(cfg: LanguageConfig, df, site: Path) -> list[dict]:
    """Run the suite over ``df`` and build the Data Docs into ``site`` (its index.html), made to open
    offline; return one entry per expectation: name, expectation, column, threshold, passed, observed
    (and error)."""
    _quiet_gx()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import great_expectations as gx
        from great_expectations.checkpoint import UpdateDataDocsAction
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

    lang = cfg.language
    specs = _specs(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        site_config = {
            "class_name": "SiteBuilder",
            "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(site)},
            "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        }
        ctx = gx.get_context(mode="ephemeral", project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            data_docs_sites={SITE_NAME: site_config},
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            analytics_enabled=False,
        ))
        batch_def = (ctx.data_sources.add_pandas(f"{lang}_corpus")
                     .add_dataframe_asset("clean").add_batch_definition_whole_dataframe("all"))
        suite = ctx.suites.add(gx.ExpectationSuite(name=f"{lang}_clean_corpus"))
        for _, exp, _ in specs:
            suite.add_expectation(exp)
        vdef = ctx.validation_definitions.add(gx.ValidationDefinition(name=f"{lang}_clean", data=batch_def,
                                                                      suite=suite))
        checkpoint = ctx.checkpoints.add(gx.Checkpoint(
            name=f"{lang}_quality", validation_definitions=[vdef],
            actions=[UpdateDataDocsAction(name="data_docs", site_names=[SITE_NAME])],
            result_format={"result_format": "SUMMARY", "partial_unexpected_count": 5}))
        result = checkpoint.run(batch_parameters={"dataframe": df})
        entries = _expectation_entries(specs, result, df)
    make_offline(site)
    return entries
