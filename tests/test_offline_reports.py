"""Every HTML report the project makes opens offline (issue 13, item 6).

The review page, the Great Expectations Data Docs, the scorecard and `dvc plots show` are made for real
(the validate stage, the evaluation harness, DVC with the project's `.dvc/config`) and opened in headless
Chromium with the network off three ways: the browser context is offline, every host name resolves to
nothing and the proxy is a closed port. A page passes when it requested nothing but local files, every
request succeeded, no script failed, the screenshot is not blank, and what scripts draw is there (the Data
Docs index table, the Vega charts). The vendored files are checked against the hashes the CDN pages and
DVC name, without a browser.

The browser is Debian's Chromium (`apt-get install chromium`; .ci/run installs it when it can), driven
by Playwright's Python package (a dev dependency; its own browser download is not used). Without
Chromium, or with FOUNDRY_CHROMIUM naming a missing file, the browser tests skip with that reason.
"""
from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipeline.review import offline_docs
from tests.conftest import REPO

CHROMIUM = os.environ.get("FOUNDRY_CHROMIUM") or next(
    (p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
NO_BROWSER = (f"no Chromium ({CHROMIUM or 'chromium not on PATH'}; Debian: apt-get install chromium, or set "
              "FOUNDRY_CHROMIUM to a browser binary): the offline-report pages cannot be rendered")
needs_browser = pytest.mark.skipif(not (CHROMIUM and Path(CHROMIUM).is_file()), reason=NO_BROWSER)
LOCAL = ("file:", "data:", "about:", "blob:")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--proxy-server=http://127.0.0.1:9",
        "--host-resolver-rules=MAP * ~NOTFOUND"]


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install -e '.[dev]')")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        ctx = b.new_context(offline=True, viewport={"width": 1200, "height": 900})
        yield ctx
        ctx.close()
        b.close()


@dataclass
class Opened:
    page: object                                       # the Playwright page, still open
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def open_offline(ctx, path: Path, shots: Path | None = None) -> Opened:
    """Open ``path`` in the offline browser, check that it loaded only local files, all of them, ran
    its scripts without an error and shows something; return the open page for further checks."""
    page = ctx.new_page()
    o = Opened(page)
    page.on("request", lambda r: o.requests.append(r.url))
    page.on("requestfailed", lambda r: o.failed.append(f"{r.url}: {r.failure}"))
    page.on("pageerror", lambda e: o.errors.append(str(e)))
    page.goto(path.as_uri(), wait_until="load")
    page.wait_for_load_state("networkidle")
    assert [u for u in o.requests if not u.startswith(LOCAL)] == [], f"{path.name} asked the network"
    assert o.failed == [] and o.errors == [], path.name
    assert offline_docs.external_loads(path.read_text(encoding="utf-8")) == [], path.name
    png = page.screenshot(full_page=True)
    if shots is not None:
        (shots / f"{path.stem}.png").write_bytes(png)
    assert_not_blank(png, path.name)
    return o


def assert_not_blank(png: bytes, name: str) -> None:
    """At least 2% of the pixels differ from the most common colour (the background) and the page
    uses more than a handful of colours (text anti-aliasing, plots)."""
    from PIL import Image

    im = Image.open(io.BytesIO(png)).convert("RGB")
    colours = im.getcolors(maxcolors=1 << 24)
    background = max(colours)[0]
    total = im.width * im.height
    assert 1 - background / total > 0.02 and len(colours) > 20, f"{name} looks blank ({len(colours)} colours)"


# --- the review page and the Data Docs (the validate stage) ---------------------------------------------

@needs_browser
def test_review_page_and_data_docs_open_offline(tmp_path, browser):
    from pipeline.stages import validate as validate_stage
    from tests.test_review import REJECTED, STATS_FULL, make_unit_project

    lay = make_unit_project(tmp_path, stats=STATS_FULL, rejected=REJECTED)
    validate_stage.run("xx", tmp_path)
    site = lay.quality_dir
    pages = sorted(site.rglob("*.html"))
    assert {p.relative_to(site).parts[0] for p in pages} == {"index.html", "review.html", "expectations",
                                                             "validations"}
    for p in pages:
        open_offline(browser, p).page.close()

    review = open_offline(browser, site / "review.html").page
    sizes = review.eval_on_selector_all("img", "els => els.map(e => e.naturalWidth)")
    assert len(sizes) >= 4 and min(sizes) > 100                    # the inline PNG plots decoded
    review.close()

    index = open_offline(browser, site / "index.html").page
    # bootstrap-table drew the validation results from the page's data (empty without its script)
    rows = index.locator("table[data-toggle=table] tbody tr")
    assert rows.count() >= 1 and "xx_clean_corpus" in rows.first.inner_text()
    assert index.eval_on_selector("nav.navbar", "e => getComputedStyle(e).display") == "flex"    # Bootstrap CSS
    icon = "e => getComputedStyle(e, '::before').content"
    assert index.eval_on_selector(".fa-check-circle", icon) == '"\u2714"'                        # icons.css
    index.close()

    (validation,) = (site / "validations").rglob("*.html")
    page = open_offline(browser, validation).page
    assert page.locator("table .fa-check-circle").count() == 8           # one per expectation (bootstrap-table)
    page.get_by_text("Show more info...").click()                                         # Bootstrap's collapse
    page.get_by_text("Great Expectations Version").wait_for(state="visible", timeout=5000)
    page.close()


# --- the scorecard (the evaluation harness) ---------------------------------------------------------------

@needs_browser
def test_scorecard_opens_offline(tmp_path, browser, monkeypatch):
    from pipeline.config import EvaluateSettings
    from pipeline.evaluation.harness import ModelUnderTest, evaluate_model
    from tests.conftest import SHARED, require_shared
    from tests.test_evaluate import _fake_finetune, _fake_model

    require_shared("small")
    monkeypatch.setenv("FOUNDRY_DATA_ROOT", str(SHARED))
    tasks = [dict(name=n, type=t, format="glue", train=f"small/glue/{n}/train.tsv", dev=f"small/glue/{n}/dev.tsv",
                  max_train_examples=30, max_eval_examples=40)
             for n, t in (("CoLA", "classification"), ("STS-B", "regression"))]
    evaluate_model(ModelUnderTest(_fake_model(tmp_path)), EvaluateSettings(tasks=tasks, seeds=2), tmp_path,
                   finetune_fn=_fake_finetune, out_dir=tmp_path / "out")
    page = open_offline(browser, tmp_path / "out" / "scorecard.html").page
    assert page.eval_on_selector("img", "e => e.naturalWidth") > 300                       # the bar chart
    assert "CoLA" in page.inner_text("table")
    page.close()


# --- dvc plots show (DVC with the project's template) -----------------------------------------------------

def project_template() -> Path:
    """The HTML template the project's .dvc/config names, resolved as DVC resolves it (from .dvc/)."""
    from dvc.config import Config

    name = Config(dvc_dir=REPO / ".dvc", validate=False).get("plots", {}).get("html_template")
    assert name, ".dvc/config sets no plots.html_template: `dvc plots show` would load Vega from a CDN"
    return (REPO / ".dvc" / name).resolve()


def _dvc_project(root: Path) -> None:
    """A DVC project with the project's .dvc/config and template folder, the pre-training curve and two
    DVCLive series, plotted as dvc.yaml does."""
    subprocess.run([sys.executable, "-m", "dvc", "init", "--no-scm", "-q"], cwd=root, check=True,
                   env=dict(os.environ, DVC_NO_ANALYTICS="1"))
    shutil.copyfile(REPO / ".dvc" / "config", root / ".dvc" / "config")       # the project's DVC settings
    shutil.copytree(project_template().parent, root / ".dvc" / project_template().parent.name)
    m = root / "metrics" / "xx"
    (m / "pretrain_live" / "plots" / "metrics" / "train").mkdir(parents=True)
    rows = [(10 * i, 0.7 * 0.97 ** i + 0.2, 0.5 + 0.4 * (1 - 0.95 ** i)) for i in range(1, 40)]
    (m / "pretrain_curve.tsv").write_text("step\tdisc_loss\tdisc_auc\n"
                                          + "".join(f"{s}\t{l:.4f}\t{a:.4f}\n" for s, l, a in rows))
    for col, name in ((1, "disc_loss"), (2, "disc_auc")):
        (m / "pretrain_live" / "plots" / "metrics" / "train" / f"{name}.tsv").write_text(
            f"step\t{name}\n" + "".join(f"{r[0]}\t{r[col]:.4f}\n" for r in rows))
    (root / "dvc.yaml").write_text(
        "plots:\n  - metrics/xx/pretrain_curve.tsv:\n      x: step\n      y: disc_loss\n"
        "      title: Discriminator loss\n  - metrics/xx/pretrain_live/plots/metrics:\n      x: step\n")


@needs_browser
def test_dvc_plots_open_offline(tmp_path, browser):
    _dvc_project(tmp_path)
    subprocess.run([sys.executable, "-m", "dvc", "plots", "show", "-o", "plots_html"], cwd=tmp_path, check=True,
                   env=dict(os.environ, DVC_NO_ANALYTICS="1"), capture_output=True)
    out = tmp_path / "plots_html" / "index.html"
    assert "cdn." not in out.read_text(encoding="utf-8")
    page = open_offline(browser, out).page
    page.wait_for_function("document.querySelectorAll('.vega-embed canvas, .vega-embed svg.marks').length >= 3",
                           timeout=10000)
    sizes = page.eval_on_selector_all(".vega-embed canvas, .vega-embed svg.marks", "els => els.map(e => e.width)")
    assert len(sizes) == 3 and min(sizes) > 100          # the curve and the two DVCLive series, drawn by Vega
    page.close()


# --- the vendored files are the ones the CDN pages and DVC ask for (no browser needed) --------------------

def test_vendored_datadocs_files_are_the_published_ones():
    m = offline_docs.manifest()
    for f in m["files"]:
        data = (offline_docs.VENDOR / f["file"]).read_bytes()
        if f["sha256"]:
            assert hashlib.sha256(data).hexdigest() == f["sha256"], f["file"]
        if f["package"]:
            assert (offline_docs.VENDOR / f["license_file"]).is_file(), f["file"]
        if f["file"].endswith(".css"):
            assert offline_docs.external_loads(f"<style>{data.decode()}</style>") == [], f["file"]
    # GX's own templates pin two of them by Subresource Integrity hash: ours are those bytes
    templates = Path(__import__("great_expectations").__file__).parent / "render" / "view" / "templates"
    imports = (templates / "js_script_imports.j2").read_text(encoding="utf-8")
    pinned = re.findall(r'src="([^"]+)"\s+integrity="sha384-([^"]+)"', imports)
    assert len(pinned) >= 2
    by_url = {u: f for f in m["files"] for u in f["replaces"]}
    for url, sri in pinned:
        data = (offline_docs.VENDOR / by_url[url]["file"]).read_bytes()
        assert base64.b64encode(hashlib.sha384(data).digest()).decode() == sri, url
    # every address GX's installed templates load from is either vendored or deliberately dropped
    loads = set()
    for t in templates.glob("*.j2"):
        loads.update(re.findall(r'<(?:script|link)\b[^>]*\b(?:src|href)="(https?://[^"{]+)"', t.read_text()))
    assert loads and loads <= set(by_url) | set(m["dropped"]), sorted(loads - set(by_url) - set(m["dropped"]))


def test_dvc_template_inlines_the_vega_dvc_asks_for():
    from dvc_render.vega import VegaRenderer

    html = project_template().read_text(encoding="utf-8")
    assert html.count("{plot_divs}") == 1 and "{scripts}" not in html
    blocks = re.findall(r'<script data-vendored="(\S+) (\S+) sha256:(\w+)">\n(.*?)\n</script>', html, re.S)
    assert [b[0] for b in blocks] == ["vega@5.20.2", "vega-lite@5.2.0", "vega-embed@6.18.2"]
    for name, _, sha, js in blocks:
        assert hashlib.sha256(js.encode()).hexdigest() == sha, name
        assert f"npm/{name}\"" in VegaRenderer.SCRIPTS, f"DVC no longer asks for {name}: update the template"
    assert offline_docs.external_loads(html) == []
    assert html.count("Redistribution and use in source and binary forms") == 3   # the licences travel with it
