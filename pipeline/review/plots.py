"""The review page's plots: PNG bytes (no metadata that would vary between runs), one function a plot."""
from __future__ import annotations

from pipeline.config import LanguageConfig
from pipeline.report_html import pyplot, reproducible_png
from pipeline.review.clean_record import lid_calibration


def plots(df, cfg: LanguageConfig, stats: dict, funnel: list[dict]) -> dict[str, bytes]:
    """PNGs keyed by name; a plot is left out when there is nothing to draw."""
    plt = pyplot()
    out: dict[str, bytes] = {}
    if len(df) and "n_chars" in df:
        fig = _lengths(plt, df, cfg)
        if fig is not None:
            out["lengths"] = reproducible_png(fig)
    if len(df) and "lid_score" in df:
        out["lid_scores"] = reproducible_png(_lid_scores(plt, df, cfg, stats))
    if len(df) and "script_share" in df:
        out["script_share"] = reproducible_png(_script_share(plt, df, cfg))
    if funnel:
        out["funnel"] = reproducible_png(_funnel(plt, funnel))
    return out


def _lengths(plt, df, cfg: LanguageConfig):
    import numpy as np
    from matplotlib.ticker import FuncFormatter

    n = df["n_chars"].to_numpy(dtype="float64")
    n = n[n > 0]
    if not len(n):
        return None
    v = cfg.validation
    vmin = v.min_chars if v.min_chars is not None else cfg.clean.min_chars
    fig, ax = plt.subplots(figsize=(7, 3))
    lo, hi = max(1.0, n.min()), max(n.max(), n.min() + 1)
    ax.hist(n, bins=np.geomspace(lo, hi * 1.001, 40), color="#4c72b0")
    ax.set_xscale("log")
    ax.xaxis.set_major_formatter(FuncFormatter(_plain))
    # matplotlib labels the minor ticks of a short log axis "2×10²" next to a major "100": plain numbers
    # there too, at 2 and 5 × 10^k only, and only when the axis spans under two decades (else they crowd)
    span = np.log10(max(hi, vmin) / max(1.0, min(lo, vmin)))
    ax.xaxis.set_minor_formatter(FuncFormatter(lambda x, pos: _plain(x, pos) if span < 2 and _leading(x) in (2, 5)
                                               else ""))
    ax.axvline(vmin, color="#c44e52", ls="--", label=f"min_chars {vmin}")
    ax.set_xlabel("characters per document (log scale)")
    ax.set_ylabel("documents")
    ax.legend(loc="upper right", fontsize=8)
    return fig


def _plain(x, _pos=None) -> str:
    return f"{x:,.0f}"


def _leading(x: float) -> int:
    """The leading digit of ``x`` > 0 (2 for 200, 5 for 0.05)."""
    import math
    return int(round(x / 10 ** math.floor(math.log10(x)), 6))


def _lid_scores(plt, df, cfg: LanguageConfig, stats: dict):
    import numpy as np

    v = cfg.validation
    s = df["lid_score"].to_numpy(dtype="float64")
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.hist(s, bins=np.linspace(0, 1, 41), color="#55a868")
    cal = lid_calibration(stats) or {}
    used = cal.get("threshold_used", cfg.clean.lid.min_score if cfg.clean.lid.enabled else None)
    if isinstance(used, (int, float)):
        ax.axvline(used, color="#c44e52", ls="--", label=f"clean threshold used {used:g}")
    if v.min_lid_score:
        ax.axvline(v.min_lid_score, color="#8172b2", ls=":", label=f"validate.min_lid_score {v.min_lid_score:g}")
    ax.set_xlabel("language-ID score of kept documents")
    ax.set_ylabel("documents")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(loc="upper left", fontsize=8)
    return fig


def _script_share(plt, df, cfg: LanguageConfig):
    import numpy as np

    s = df["script_share"].to_numpy(dtype="float64")
    fig, ax = plt.subplots(figsize=(7, 2.6))
    ax.hist(s, bins=np.linspace(0, 1, 41), color="#dd8452")
    ax.axvline(cfg.clean.min_script_share, color="#c44e52", ls="--",
               label=f"clean.min_script_share {cfg.clean.min_script_share:g}")
    ax.set_xlabel(f"share of letters in {cfg.script} script, per document")
    ax.set_ylabel("documents")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def _funnel(plt, funnel: list[dict]):
    import numpy as np

    labels, kept = [], []
    for step in funnel:
        labels.append(str(step.get("step", "?")))
        kept.append(float(step.get("documents_out") or 0))
    if funnel[0].get("documents_in") is not None:
        labels.insert(0, "input")
        kept.insert(0, float(funnel[0]["documents_in"]))
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(labels) + 0.8))
    y = np.arange(len(labels))[::-1]
    ax.barh(y, kept, color="#4c72b0")
    ax.set_yticks(y, labels)
    for yi, k in zip(y, kept):
        ax.text(k, yi, f" {int(k):,}", va="center", fontsize=8)
    ax.set_xlabel("documents remaining")
    return fig
