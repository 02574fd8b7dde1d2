"""The data review: the review page (unit), the decision file and the approval gate.

The gate tests run the real flow (`python -m flows.cli run`) in a tiny temporary git + DVC project
against a real Prefect server (`prefect server start`, started once for this module and stopped in
teardown): the run pauses after validation, and `foundry approve/reject` resumes it through the API.
A timeout stops the run before vocab; a changed corpus voids an earlier approval; without a server
(Prefect's ephemeral one) a `required` language stops after validate and continues after
`foundry approve`.
"""
from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from pipeline.review import gate
from pipeline.review.corpus import load_corpus
from pipeline.review.expectations import corpus_metrics
from pipeline.review.page import build_pages
from pipeline.stages import validate as validate_stage
from pipeline.config import load_language
from pipeline.errors import StageError
from pipeline.layout import Layout
from tests.conftest import require_shared
from tests.test_flow import _env, make_project, ran_stages

# =============================================================================================
# unit: the review page and the decision file, on a small synthetic corpus
# =============================================================================================

GOOD = ("Kırmızı elma ağacının altında oturan çocuklar, akşam güneşi batarken eski bir şarkıyı "
        "hep birlikte söylediler ve sonra evlerine döndüler. ")


def _docs() -> list[str]:
    docs = []
    for i in range(30):
        lines = [f"Belge {i}: " + GOOD * (1 + i % 4)]
        if i % 3 == 0:
            lines.append("Copyright © 2024 Haber Sitesi. All rights reserved.")
        if i == 5:
            lines.append("Bu cÃ¼mlede bozuk kodlama var: Ã§ok gÃ¼zel â€™")
        docs.append("\n".join(lines))
    return docs


STATS_FULL = {
    "documents_in": 40, "documents_out": 30, "chars_in": 9000, "chars_out": 7000,
    "dropped": {"too_short": 6, "language": 4},
    "funnel": [
        {"step": "read", "documents_in": 40, "documents_out": 40, "chars_in": 9000, "chars_out": 9000,
         "dropped": {}},
        {"step": "length", "documents_in": 40, "documents_out": 34, "chars_in": 9000, "chars_out": 8000,
         "dropped": {"too_short": 6}},
        {"step": "language", "documents_in": 34, "documents_out": 30, "chars_in": 8000, "chars_out": 7000,
         "dropped": {"language": 4}},
    ],
    "skipped": {"binary_file": 1},
    "normalized": {"csv_unquoted_lines": 3},
    "sources": [{"path": "raw/a.txt", "sha256": "0" * 64, "documents": 40}],
    "lid": {"calibration": {"label": "xx", "model_reliable": False, "threshold_configured": 0.5,
                            "threshold_used": 0.1, "fallback": "script share only",
                            "why": "lid.176 scores held-out xx text below 0.3",
                            "score_quantiles": {"p10": 0.05, "p50": 0.2}}},
}
REJECTED = [
    {"reason": "too_short", "source": "raw/a.txt", "line": 12, "text": "Kısa satır."},
    {"reason": "language", "source": "raw/a.txt", "line": 40, "text": "This sentence is in English instead.",
     "lid_lang": "en", "lid_score": 0.93},
]


def make_unit_project(root: Path, *, stats: dict | None, rejected: list[dict] | None = None,
                      review_cfg: dict | None = None, docs: list[str] | None = None) -> Layout:
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump({"languages": {"xx": {}}}))
    cfg = {"language": "xx", "script": "Latn", "sources": [{"path": "raw/*", "root": "project"}],
           "clean": {"min_chars": 50}, "validate": {"min_documents": 10}, "review": review_cfg or {}}
    (root / "corpora" / "xx.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    write_corpus(root, docs or _docs(), stats, rejected)
    return Layout(root, "xx")


def write_corpus(root: Path, texts: list[str], stats: dict | None, rejected: list[dict] | None = None) -> None:
    clean = root / "data" / "xx" / "clean"
    clean.mkdir(parents=True, exist_ok=True)
    import hashlib
    pq.write_table(pa.table({
        "id": [hashlib.sha1(t.encode()).hexdigest()[:16] for t in texts], "text": texts,
        "source": ["raw/a.txt"] * len(texts), "lid_lang": ["xx"] * len(texts),
        "lid_score": pa.array([0.2 + 0.02 * (i % 30) for i in range(len(texts))], pa.float32()),
        "script_share": pa.array([0.97] * len(texts), pa.float32()),
        "n_chars": pa.array([len(t) for t in texts], pa.int32()),
    }), clean / "part-00000.parquet")
    if stats is not None:
        (clean / "stats.json").write_text(json.dumps(stats))
    if rejected:
        (clean / "rejected.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rejected))


def test_review_page_sections_self_contained_and_lid_banner(tmp_path):
    lay = make_unit_project(tmp_path, stats=STATS_FULL, rejected=REJECTED)
    out = validate_stage.run("xx", tmp_path)
    assert out["passed"] is True and out["lid_unreliable"] is True
    page = (lay.quality_dir / "review.html").read_text(encoding="utf-8")
    for section in ("expectations", "funnel", "distributions", "script-mix", "repeated-lines", "boilerplate",
                    "mojibake", "kept-samples", "rejected-samples", "sources", "decision"):
        assert f'id="{section}"' in page, section
    # the LID warning comes first, before the results
    assert 'id="lid-warning"' in page and "NOT reliable for xx" in page
    assert page.index('id="lid-warning"') < page.index('id="expectations"')
    assert "lid.176 scores held-out xx text below 0.3" in page
    # GX results: every expectation with observed vs threshold and pass/fail
    report = json.loads(lay.validation.read_text())
    for e in report["expectations"]:
        assert f"<td>{e['name']}</td>" in page
    assert page.count('class="pass"') == len(report["expectations"])
    # funnel steps, skipped inputs, rejected samples per reason, boilerplate and mojibake found
    for step in ("read", "length", "language"):
        assert f"<td>{step}</td>" in page
    assert "binary_file" in page
    assert "Normalisation changed: 3 lines written as quoted CSV fields unquoted" in page
    assert "Kısa satır." in page and "This sentence is in English instead." in page
    assert "Copyright © 2024 Haber Sitesi. All rights reserved." in page
    assert "cÃ¼mlede" in page and out["mojibake_documents"] == 1
    # right-to-left text (Arabic, Hebrew, ...) in samples and table cells is laid out by its own direction, line
    # by line: each line starts at the right, its final full stop on the left
    assert re.search(r"pre\.doc\{[^}]*unicode-bidi:plaintext", page)
    assert re.search(r"td\{[^}]*unicode-bidi:plaintext", page)
    # self-contained: plots are inline PNGs, nothing is fetched from the network
    imgs = re.findall(r"<img[^>]*>", page)
    assert len(imgs) >= 4
    for tag in imgs:
        assert 'src="data:image/png;base64,' in tag and "http://" not in tag and "https://" not in tag
    assert not re.search(r"<(script|link)[^>]+(src|href)=\"https?:", page)
    # the markdown summary (the flow's Prefect artifact) says the same in short
    md = (lay.quality_dir / "review.md").read_text(encoding="utf-8")
    assert "Language ID unreliable" in md and "Validation passed" in md and "foundry reject xx" in md
    # validation.json points at the page and names the corpus it validated
    assert report["review_page"] == "reports/xx/quality/review.html"
    assert report["corpus"] == gate.corpus_hash(lay)
    assert (lay.quality_dir / "index.html").is_file()       # the Data Docs are still there


def test_review_page_degrades_without_optional_stats(tmp_path):
    minimal = {"documents_in": 35, "documents_out": 30, "dropped": {"too_short": 5}}
    lay = make_unit_project(tmp_path, stats=minimal)
    cfg = load_language("xx", tmp_path)
    docs = load_corpus(lay)
    exps = [{"name": "row_count", "expectation": "expect_table_row_count_to_be_between", "column": None,
             "observed": 30, "threshold": {"min": 10}, "passed": False}]
    site = tmp_path / "site"
    site.mkdir()
    info = build_pages(cfg, docs, lay, site, expectations=exps, passed=False, corpus="sha256:abc",
                       metrics=corpus_metrics(docs.df))
    page = (site / "review.html").read_text(encoding="utf-8")
    assert info["lid_unreliable"] is False and 'id="lid-warning"' not in page
    assert "Validation failed" in page and 'class="fail"' in page
    assert "no per-step <code>funnel</code>" in page and "too_short: 5" in page
    assert "No <code>rejected.jsonl</code>" in page
    # and with no stats.json at all
    lay.clean_stats.unlink()
    build_pages(cfg, docs, lay, site, expectations=exps, passed=False, corpus="sha256:abc",
                metrics=corpus_metrics(docs.df))
    assert "No stats.json from the clean stage" in (site / "review.html").read_text(encoding="utf-8")



def test_review_page_summarises_thousands_of_source_files(tmp_path):
    """A folder of 3,000 one-document files: the Sources section gives totals per format and the files that kept
    the smallest share (the one whose documents were all dropped first), not 3,000 rows."""
    from pipeline.review.page import MAX_SOURCE_ROWS

    srcs = [{"path": f"crawl/{i:04d}.txt", "format": "text", "documents": 1, "documents_out": 1} for i in range(2999)]
    srcs.insert(1234, {"path": "crawl/broken.txt", "format": "text", "documents": 40, "documents_out": 0})
    srcs.append({"path": "news.jsonl", "format": "jsonl", "documents": 10, "documents_out": 9})
    lay = make_unit_project(tmp_path, stats={"documents_in": 3049, "documents_out": 3008, "dropped": {"language": 41},
                                             "sources": srcs})
    cfg = load_language("xx", tmp_path)
    docs = load_corpus(lay)
    site = tmp_path / "site"
    site.mkdir()
    build_pages(cfg, docs, lay, site, expectations=[], passed=True, corpus="sha256:abc",
                metrics=corpus_metrics(docs.df))
    page = (site / "review.html").read_text(encoding="utf-8")
    section = page[page.index('id="sources"'):page.index('id="decision"')]
    assert section.count("<tr>") <= MAX_SOURCE_ROWS, section.count("<tr>")
    assert re.search(r'<td>text</td><td class="num">3,000</td><td class="num">3,039</td><td class="num">2,999</td>',
                     section), section[:600]
    assert re.findall(r"<td>(crawl/[^<]+|news\.jsonl)</td>", section) == ["crawl/broken.txt", "news.jsonl"]
    assert "2 of 3,001 files lost documents" in section and "stats.json" in section

def test_decisions_follow_policy_corpus_and_validation(tmp_path):
    lay = make_unit_project(tmp_path, stats={"documents_in": 30, "documents_out": 30, "dropped": {}})
    cfg = load_language("xx", tmp_path)
    corpus = gate.corpus_hash(lay)
    passed = {"passed": True, "failed": []}
    # auto: approved automatically, without a timestamp (same corpus -> same bytes)
    d = gate.sync_decision(cfg, lay, passed, corpus)
    assert d["decision"] == "auto-approved" and d["decided_at"] is None and d["corpus"] == corpus
    first = gate.decision_path(lay).read_bytes()
    gate.sync_decision(cfg, lay, passed, corpus)
    assert gate.decision_path(lay).read_bytes() == first
    # a failed validation rejects it; passing again approves it again with the same bytes
    d = gate.sync_decision(cfg, lay, {"passed": False, "failed": ["row_count"]}, corpus)
    assert d["decision"] == "rejected-by-validation" and "row_count" in d["comment"]
    gate.sync_decision(cfg, lay, passed, corpus)
    assert gate.decision_path(lay).read_bytes() == first

    # required: an automatic approval is not enough, a person's is
    req = cfg.model_copy(update={"review": cfg.review.model_copy(update={"policy": "required"})})
    assert gate.assess(gate.read_decision(lay), corpus, "required") == "none"
    d = gate.sync_decision(req, lay, passed, corpus)
    assert d["decision"] == "pending"
    human = gate.make_decision(lay, req, gate.APPROVED, corpus, True, comment="ok", reviewer="ana")
    gate.write_decision(lay, human)
    assert gate.sync_decision(req, lay, passed, corpus) == human          # kept
    assert gate.assess(human, corpus, "required") == "approved"
    # another corpus: the approval is void (kept on disk so the gate can say whose it was)
    write_corpus(tmp_path, _docs()[:-1], {"documents_in": 29, "documents_out": 29, "dropped": {}})
    new = gate.corpus_hash(lay)
    assert new != corpus
    assert gate.sync_decision(req, lay, passed, new) == human
    assert gate.assess(human, new, "required") == "void"
    msg = gate.gate_message("xx", req, human, new, "void")
    assert "void" in msg and "ana" in msg and "foundry approve xx" in msg
    # ... and under auto the void approval is replaced by the automatic decision for the new corpus
    assert gate.sync_decision(cfg, lay, passed, new)["decision"] == "auto-approved"


def test_vocab_stage_requires_a_valid_approval(tmp_path):
    lay = make_unit_project(tmp_path, stats={"documents_in": 30, "documents_out": 30, "dropped": {}},
                            review_cfg={"policy": "required"})
    corpus = gate.corpus_hash(lay)
    lay.validation.write_text(json.dumps({"passed": True, "corpus": corpus, "expectations": []}))
    with pytest.raises(StageError, match=r"review\.json.*review required.*foundry approve xx"):
        gate.check_validation(lay)
    cfg = load_language("xx", tmp_path)
    gate.sync_decision(cfg, lay, {"passed": True})
    with pytest.raises(StageError, match="no decision for the current corpus"):
        gate.check_validation(lay)
    gate.write_decision(lay, gate.make_decision(lay, cfg, gate.REJECTED, corpus, True,
                                                    comment="too much spam", reviewer="ben"))
    with pytest.raises(StageError, match="rejected by ben.*too much spam"):
        gate.check_validation(lay)
    gate.write_decision(lay, gate.make_decision(lay, cfg, gate.APPROVED, corpus, True, reviewer="ben"))
    assert gate.check_validation(lay)["passed"] is True
    # the corpus changes: validation.json and the approval no longer match it
    write_corpus(tmp_path, _docs()[:-2], {"documents_in": 28, "documents_out": 28, "dropped": {}})
    with pytest.raises(StageError, match="re-run the validate stage"):
        gate.check_validation(lay)
    lay.validation.write_text(json.dumps({"passed": True, "corpus": gate.corpus_hash(lay), "expectations": []}))
    with pytest.raises(StageError, match="was for another corpus.*void"):
        gate.check_validation(lay)


def test_auto_policy_without_decision_file_is_accepted(tmp_path):
    # validation passed and policy auto: the automatic approval is implied (older projects, direct stage runs)
    lay = make_unit_project(tmp_path, stats=None)
    lay.validation.write_text(json.dumps({"passed": True}))
    assert gate.check_validation(lay)["passed"] is True
    gate.decision_path(lay).write_text("{not json")
    with pytest.raises(StageError, match="review.json: not valid JSON"):
        gate.check_validation(lay)


# =============================================================================================
# the gate, end to end through a real Prefect server
# =============================================================================================

TINY = """\
language: tr
name: Turkish
script: Latn
sources:
  - path: small/text/tr/*.txt
clean:
  min_chars: 100
  lid: {min_score: 0.5}
validate:
  min_documents: 20
  mostly: 0.99
review:
  policy: required
  timeout_hours: 1
vocab:
  size: 600
shard:
  max_seq_length: 32
model:
  size: tiny
pretrain:
  steps: 3
  batch_size: 8
  warmup_steps: 1
  log_every: 1
  checkpoint_every: 3
  eval_batches: 1
evaluate:
  seeds: 1
  tasks: []
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, body: dict | None = None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=10) as r:
        return json.load(r)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`prefect server start` on a free port with its own PREFECT_HOME; its API URL. Stopped at the end."""
    home = tmp_path_factory.mktemp("prefect-server")
    port = _free_port()
    url = f"http://127.0.0.1:{port}/api"
    env = {k: v for k, v in os.environ.items() if k != "PREFECT_API_URL"}
    env.update(PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    prefect = Path(sys.executable).with_name("prefect")
    log = open(home / "server.log", "w")
    proc = subprocess.Popen([str(prefect), "server", "start", "--host", "127.0.0.1", "--port", str(port),
                             "--no-ui", "--no-services"], env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        deadline = time.time() + 120
        while True:
            try:
                if _get(f"{url}/health") is True:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("prefect server did not start:\n" + (home / "server.log").read_text()[-3000:])
            time.sleep(0.5)
        yield url
    finally:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(timeout=10)
        log.close()


def _run_env(proj: Path, api: str | None) -> dict:
    env = _env(proj)
    env.pop("PREFECT_API_URL", None)
    if api:
        env["PREFECT_API_URL"] = api
    env["FOUNDRY_REVIEWER"] = "tester"
    return env


def foundry(proj: Path, api: str | None, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "flows.cli", *args], cwd=proj, env=_run_env(proj, api),
                          capture_output=True, text=True, timeout=timeout)


class Background:
    """`foundry run` in the background (its own process group), output to files (Prefect logs a lot)."""

    def __init__(self, proj: Path, api: str, *args: str):
        self.out = open(proj.parent / f"run-{time.time_ns()}.out", "w+")
        self.err = open(proj.parent / f"run-{time.time_ns()}.err", "w+")
        self.proc = subprocess.Popen([sys.executable, "-m", "flows.cli", "run", *args], cwd=proj,
                                     env=_run_env(proj, api), stdout=self.out, stderr=self.err, text=True,
                                     start_new_session=True)

    def stop(self) -> None:
        """Kill the run and the stage it started, if still running (a failed test must not leave a
        paused run waiting)."""
        if self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(timeout=30)

    def finish(self, timeout: int = 400) -> tuple[int, str, str]:
        try:
            rc = self.proc.wait(timeout=timeout)
        finally:
            self.stop()
        self.out.seek(0)
        self.err.seek(0)
        out, err = self.out.read(), self.err.read()
        self.out.close()
        self.err.close()
        return rc, out, err


@pytest.fixture
def background():
    """Start background runs through this; whatever is still running at teardown is killed."""
    runs: list[Background] = []

    def start(proj: Path, api: str, *args: str) -> Background:
        runs.append(Background(proj, api, *args))
        return runs[-1]
    yield start
    for r in runs:
        r.stop()


def wait_paused(api: str, proj: Path, run: Background, timeout: float = 300) -> dict:
    """Poll the API until this project's flow run is Paused; return it."""
    here = str(proj.resolve())
    deadline = time.time() + timeout
    while time.time() < deadline:
        if run.proc.poll() is not None:
            rc, out, err = run.finish()
            pytest.fail(f"run ended (rc {rc}) instead of pausing:\n{out[-2000:]}\n{err[-3000:]}")
        runs = _get(f"{api}/flow_runs/filter", {"flow_runs": {"state": {"type": {"any_": ["PAUSED"]}}},
                                                "sort": "START_TIME_DESC", "limit": 50, "offset": 0})
        mine = [r for r in runs if str(Path(r["parameters"].get("root", "")).resolve()) == here]
        if mine:
            return mine[0]
        time.sleep(1)
    run.stop()
    pytest.fail("the flow run never paused")


def _decision(proj: Path) -> dict:
    return json.loads((proj / "data/tr/review.json").read_text())


def _corpus(proj: Path) -> str:
    return gate.corpus_hash(Layout(proj, "tr"))


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> Path:
    require_shared("small", "text", "tr")
    shared = require_shared()
    return make_project(tmp_path_factory.mktemp("gate"), shared, "tr", TINY, "small/text/tr",
                        "small/ud/UD_Turkish-IMST")


@pytest.mark.slow
def test_required_pauses_and_approve_resumes(server, tiny, background):
    run = background(tiny, server, "tr")
    paused = wait_paused(server, tiny, run)
    assert paused["state"]["type"] == "PAUSED" and paused["parameters"]["lang"] == "tr"
    assert _decision(tiny)["decision"] == "pending"
    assert not (tiny / "models/tr/tokenizer").exists()          # nothing past the gate ran

    r = foundry(tiny, server, "approve", "tr", "--comment", "ok")
    assert r.returncode == 0, r.stderr
    assert "approved by tester" in r.stdout and "resumed foundry-tr" in r.stdout
    rc, out, err = run.finish()
    assert rc == 0, out[-2000:] + err[-3000:]
    assert ran_stages(out) >= {"vocab", "shard", "pretrain", "evaluate"}
    d = _decision(tiny)
    assert d["decision"] == "approved" and d["comment"] == "ok" and d["reviewer"] == "tester"
    assert d["corpus"] == _corpus(tiny) and d["validation_passed"] is True and d["decided_at"]
    # the approval is in the model's lineage: dvc.lock records review.json as a dep of vocab
    lock = yaml.safe_load((tiny / "dvc.lock").read_text())
    deps = {x["path"]: x for x in lock["stages"]["vocab@tr"]["deps"]}
    assert "data/tr/review.json" in deps
    # with the approval in place a second run neither pauses nor runs anything
    r = foundry(tiny, server, "run", "tr")
    assert r.returncode == 0, r.stderr[-3000:]
    assert ran_stages(r.stdout) == set() and "Review: approved by tester" in r.stdout


@pytest.mark.slow
def test_changed_corpus_voids_approval_and_reject_stops(server, tiny, background):
    if _decision(tiny).get("decision") != "approved":
        pytest.skip("needs the approval of test_required_pauses_and_approve_resumes")
    old = _decision(tiny)
    tok = tiny / "models/tr/tokenizer/spm.model"
    tok_mtime = tok.stat().st_mtime_ns
    cfg = tiny / "corpora/tr.yaml"
    cfg.write_text(cfg.read_text().replace("min_chars: 100", "min_chars: 300"))   # drops documents

    run = background(tiny, server, "tr")
    wait_paused(server, tiny, run)                # the old approval does not count for the new corpus
    assert _decision(tiny) == old and old["corpus"] != _corpus(tiny)
    # a stage of the paused run itself (its token, as the run hands it to its stages): the paused run holds tr,
    # so a stage run from outside it would be refused as busy (pipeline/locks.py) before the gate could speak
    from model.locks import Holder
    from pipeline.locks import language_lock_path, token_env
    holder = Holder.read(language_lock_path(tiny, "tr"))
    assert holder is not None and holder.token
    env = {**_run_env(tiny, None), token_env("tr"): holder.token}
    stage = subprocess.run([sys.executable, "-m", "pipeline", "vocab", "tr"], cwd=tiny,
                           env=env, capture_output=True, text=True, timeout=300)
    assert stage.returncode == 2 and "void" in stage.stderr and "another corpus" in stage.stderr, stage.stderr
    st = foundry(tiny, server, "status", "tr")
    assert "review    void" in st.stdout, st.stdout

    r = foundry(tiny, server, "reject", "tr", "--reason", "too many headlines")
    assert r.returncode == 0 and "resumed foundry-tr" in r.stdout, r.stdout + r.stderr
    rc, out, err = run.finish()
    assert rc == 2
    last = err.split("error:")[-1]
    assert "tr:" in last and "rejected by tester" in last and "too many headlines" in last
    assert "stopped before vocab" in last.lower() and "Traceback" not in last
    assert tok.stat().st_mtime_ns == tok_mtime                  # vocab did not run
    d = _decision(tiny)
    assert d["decision"] == "rejected" and d["corpus"] == _corpus(tiny)
    # the rejection stands: the next run stops at once, without pausing
    r = foundry(tiny, server, "run", "tr", timeout=300)
    assert r.returncode == 2 and "rejected by tester" in r.stderr.split("error:")[-1]


@pytest.mark.slow
def test_timeout_stops_before_vocab_then_ephemeral_server_flow(server, tmp_path):
    require_shared("small", "text", "tr")
    proj = make_project(tmp_path, require_shared(), "tr", TINY.replace("timeout_hours: 1", "timeout_hours: 0.002"),
                        "small/text/tr", "small/ud/UD_Turkish-IMST")
    # with a server: pauses, nobody answers within 0.002 h (7 s), the run stops before vocab
    t0 = time.time()
    r = foundry(proj, server, "run", "tr")
    assert r.returncode == 2, r.stdout[-2000:] + r.stderr[-3000:]
    last = r.stderr.split("error:")[-1]
    assert "tr: no review decision within 0.002 h" in last and "stopped before vocab" in last
    assert not (proj / "models/tr/tokenizer").exists()
    assert _decision(proj)["decision"] == "pending"
    assert time.time() - t0 < 300

    # without a server (ephemeral): a `required` language stops after validate with instructions
    r = foundry(proj, None, "run", "tr")
    assert r.returncode == 2
    head = r.stdout[r.stdout.index("Review needed"):]     # no error: the headline says what to do
    assert "reports/tr/quality/review.html" in head and "foundry approve tr" in head, r.stdout[-2000:]
    assert "error:" not in r.stderr and "stopped before vocab until the corpus is reviewed" in r.stderr
    assert "Traceback" not in r.stderr and not (proj / "models/tr/tokenizer").exists()
    # `foundry approve` just writes the file; the next run goes on past the gate
    r = foundry(proj, None, "approve", "tr", "--comment", "fine")
    assert r.returncode == 0 and "No Prefect server is configured" in r.stdout, r.stdout + r.stderr
    assert _decision(proj)["decision"] == "approved"
    r = foundry(proj, None, "run", "tr")
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert ran_stages(r.stdout) == {"vocab", "shard", "pretrain", "evaluate", "publish"}
    assert "No evaluation tasks are configured" in (proj / "reports/tr/scorecard.md").read_text()


def test_cli_refuses_to_approve_a_failed_or_unvalidated_corpus(tmp_path):
    lay = make_unit_project(tmp_path, stats={"documents_in": 30, "documents_out": 30, "dropped": {}})
    env = {**os.environ, "FOUNDRY_PROJECT": str(tmp_path), "PREFECT_HOME": str(tmp_path / ".prefect")}
    env.pop("PREFECT_API_URL", None)

    def cli(*a):
        return subprocess.run([sys.executable, "-m", "flows.cli", *a], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
    # the config needs every section for the CLI (strict)
    cfgp = tmp_path / "corpora/xx.yaml"
    cfg = yaml.safe_load(cfgp.read_text())
    cfg.update({k: {} for k in ("shard", "pretrain", "evaluate")})
    cfg.update(vocab={"size": 1000}, model={"size": "tiny"})  # dvc.yaml tracks these keys by name
    cfgp.write_text(yaml.safe_dump(cfg, allow_unicode=True))
    r = cli("approve", "xx")
    assert r.returncode == 2 and "nothing has been validated" in r.stderr and "Traceback" not in r.stderr
    lay.validation.write_text(json.dumps({"passed": False, "failed": ["row_count"], "corpus": gate.corpus_hash(lay)}))
    r = cli("approve", "xx")
    assert r.returncode == 2 and "failed validation (row_count)" in r.stderr
    lay.validation.write_text(json.dumps({"passed": True, "failed": [], "corpus": "sha256:old"}))
    r = cli("approve", "xx")
    assert r.returncode == 2 and "not for the current corpus" in r.stderr
    r = cli("reject", "xx")
    assert r.returncode == 2 and "--reason" in r.stderr


def test_mojibake_check_sees_a_single_byte_code_page_read_as_latin1():
    """Russian in Windows-1251 or KOI8-R read as Latin-1 is found; the shared text of Latin-script languages
    with many accented letters (de fi tr sw) gives no false alarm."""
    import gzip
    from pipeline.review.analysis import CODEPAGE_MARKER, _mojibake
    def lines(lang, n):
        path = require_shared("text", lang, "flores200_devtest.txt.gz")
        with gzip.open(path, "rt", encoding="utf-8") as f:
            return [ln.strip() for ln, _ in zip(f, range(n)) if ln.strip()]
    ru = lines("ru", 40)
    broken = [t.encode(cp, "replace").decode("latin-1") for t in ru[:10] for cp in ("cp1251", "koi8-r")]
    clean = [t for lang in ("de", "fi", "tr", "sw", "ru") for t in lines(lang, 400)]
    out = _mojibake(clean + broken, list(range(len(clean) + len(broken))), samples=3)
    assert out["documents"] == len(broken)
    assert out["markers"][0]["marker"] == CODEPAGE_MARKER
    assert all(int(ex["id"]) >= len(clean) for ex in out["examples"])


def test_corpus_is_held_without_its_text_and_duplicates_still_fail(tmp_path):
    """The validate stage keeps every column but the text, which it holds as a 64-bit hash (memory grows with
    documents, not with their text: benchmarks/corpus_scale.py); the review page reads back only the texts it
    scans and shows, across parts and row groups. Two copies of one text are still both unexpected for
    text_unique, and a null text for text_not_null."""
    texts = [f"Hati ya {i} ina maneno mengi ya kutosha kupita kipimo cha urefu wa chini kabisa." for i in range(60)]
    lay = make_unit_project(tmp_path, stats=None, docs=texts[:40])
    t = pq.read_table(lay.clean_dir / "part-00000.parquet")
    more = t.slice(0, 20).set_column(1, "text", pa.array(texts[40:58] + [texts[3], None]))
    more = more.set_column(0, "id", pa.array([f"more-{i}" for i in range(20)]))
    pq.write_table(more, lay.clean_dir / "part-00001.parquet", row_group_size=6)   # 4 row groups
    docs = load_corpus(lay)
    assert "text" not in docs.df.columns and str(docs.df["text_digest"].dtype) == "UInt64"
    assert str(docs.df["id"].dtype).startswith("string") and docs.df["text_digest"].isna().sum() == 1
    assert docs.texts([59, 0, 45, 39, 40]) == [None, texts[0], texts[45], texts[39], texts[40]]
    out = validate_stage.run("xx", tmp_path)
    by = {e["name"]: e for e in json.loads(lay.validation.read_text())["expectations"]}
    assert by["text_unique"]["column"] == "text_digest" and by["text_unique"]["observed"]["unexpected_count"] == 2
    assert not by["text_not_null"]["passed"] and not by["text_unique"]["passed"]
    assert set(out["failed"]) >= {"text_not_null", "text_unique"}
    page = (lay.quality_dir / "review.html").read_text(encoding="utf-8")
    shown = docs.texts(docs.df.sample(n=5, random_state=1).sort_index().index)   # the kept samples' rows
    assert all(x is None or x in page for x in shown) and sum(x is not None for x in shown) >= 4
