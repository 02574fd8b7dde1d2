"""Fault injection: SIGKILL each stage at a random moment, then check nothing half-written is accepted.

In a throwaway git + DVC project (the ``demo`` language with tiny settings, built with
``tests.test_flow.make_project``), for each stage and trial:

1. switch the stage's own config section to the other of two variants (A <-> B), so the outputs on disk
   are a complete *previous* version that differs from the *new* one the run will produce;
2. run ``dvc repro -s STAGE@demo`` in a new session and SIGKILL every process of that session at a time
   drawn uniformly (seeded RNG) from ``[0, d]``, ``d`` = the stage's measured uninterrupted duration;
3. check the invariants:

   * **DVC does not accept it** — ``dvc status STAGE@demo`` reports the stage changed, unless every
     output already equals the new version (the run had finished);
   * **no later stage accepts it** — every output the next stages read (clean parts + ``stats.json``,
     ``validation.json``, tokenizer files, shard ``index.json`` + the Parquet files it lists,
     ``model.safetensors`` + ``config.json``, ...) is absent, the previous complete version, or the new
     complete version: never present but incomplete, never complete-looking with other content. One
     exception, DVC's own: before running a stage's command ``dvc repro`` deletes its outputs file by file
     (not atomically), so a kill inside that deletion leaves part of the previous version
     (``partly_removed``: fewer files, each byte-identical to the previous version's). That is accepted only
     when the kill landed in DVC (no stage command running) and ``dvc status`` reports the stage changed,
     so ``dvc repro`` / ``foundry run`` re-run it before any later stage;

4. rerun ``dvc repro -s STAGE@demo``: it succeeds, ``dvc status`` is clean, the outputs equal those of an
   uninterrupted run of the same variant (content digests; nondeterministic files such as Data Docs
   timestamps and throughput numbers are excluded, see ``OUTPUTS``), and no stale temp sibling
   (``.NAME.*.tmp`` / ``.NAME.old``) of an output is left behind.

``python -m benchmarks.fault_injection --trials 20`` writes ``benchmarks/results/fault_injection-<date>.{json,md}``;
``tests/test_fault_injection.py`` runs one trial per stage of the same code. ``--scenarios concurrent
full-disk`` adds (or, without ``kill``, runs instead) the trials of :mod:`benchmarks._run_safety`: several
``foundry run`` processes at once, and each stage under a file size limit. docs/reliability.md has the results.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import random
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import yaml

from model.atomic import write_text
from pipeline.stages import STAGES

REPO = Path(__file__).resolve().parents[1]
LANG = "demo"

# The demo language, shrunk so that every stage takes seconds (pretrain: 20 steps, evaluate: one seed).
CONFIG: dict = {
    "language": LANG, "name": "Demo (fault injection)", "script": "Latn",
    "sources": [{"path": "corpora/demo/text/*.txt", "format": "text"}],
    "clean": {"min_chars": 100, "max_chars": 100000, "min_script_share": 0.6,
              "lid": {"enabled": True, "min_score": 0.5, "label": "en"}},
    "validate": {"min_documents": 20, "min_script_share": 0.8, "mostly": 0.99},
    "review": {"policy": "auto"},
    "vocab": {"size": 1000, "model_type": "unigram", "character_coverage": 1.0},
    "shard": {"max_seq_length": 64},
    "model": {"size": "tiny"},
    "pretrain": {"steps": 20, "batch_size": 8, "learning_rate": 0.001, "warmup_steps": 2, "log_every": 5,
                 "checkpoint_every": 5, "eval_batches": 1, "device": "cpu"},
    "evaluate": {"seeds": 1, "random_init_baseline": False, "tasks": [{
        "name": "topic", "type": "classification", "format": "tsv", "train": "corpora/demo/task/train.tsv",
        "dev": "corpora/demo/task/dev.tsv", "text_a": "sentence", "label": "label", "epochs": 1,
        "max_length": 64, "max_train_examples": 120, "max_eval_examples": 60}]},
}

# Per stage, a knob of its own config section with two values: variant A and variant B. Each trial
# switches to the other, so "previous version" and "new version" of every output differ.
VARIANTS: dict[str, tuple[tuple[str, ...], object, object]] = {
    "clean": (("clean", "min_chars"), 100, 120),
    "validate": (("validate", "mostly"), 0.99, 0.98),
    "vocab": (("vocab", "size"), 1000, 900),
    "shard": (("shard", "max_seq_length"), 64, 48),
    "pretrain": (("pretrain", "steps"), 20, 18),
    "evaluate": (("evaluate", "tasks", 0, "max_train_examples"), 120, 100),
}


# --------------------------------------------------------------------------------------------------
# outputs: when is an output complete (what the next stage reads), and what is its content
# --------------------------------------------------------------------------------------------------

def _json_ok(p: Path, key: str | None = None) -> bool:
    try:
        obj = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return key is None or key in obj


def _parquet_ok(p: Path) -> bool:
    import pyarrow.parquet as pq
    try:
        pq.read_metadata(p)
        return True
    except Exception:  # noqa: BLE001 - any failure to read the footer means not a complete file
        return False


def _clean_complete(p: Path) -> bool:
    try:
        files = json.loads((p / "stats.json").read_text(encoding="utf-8"))["files"]
    except (OSError, ValueError, KeyError):
        return False
    return bool(files) and all(_parquet_ok(p / f) for f in files) and (p / "rejected.jsonl").is_file()


def _shards_complete(p: Path) -> bool:
    try:
        splits = json.loads((p / "index.json").read_text(encoding="utf-8"))["splits"]
    except (OSError, ValueError, KeyError):
        return False
    files = [f for s in splits.values() for f in s["files"]]
    return bool(files) and all(_parquet_ok(p / f) for f in files)


def _safetensors_ok(p: Path) -> bool:
    try:
        from safetensors import safe_open
        with safe_open(str(p), framework="pt") as f:
            return bool(list(f.keys()))
    except Exception:  # noqa: BLE001
        return False


def _electra_complete(p: Path) -> bool:
    return all(_json_ok(d / "config.json") and _safetensors_ok(d / "model.safetensors") for d in (p, p / "generator")) \
        and (p / "tokenizer.json").is_file()


TOKENIZER_FILES = ("spm.model", "spm.vocab", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json")
# Keys whose values are wall-clock measurements (or say whether a run was resumed): left out of content digests.
TIMING_KEYS = re.compile(r"(^|_)(seconds|per_s|per_second|time|started|ended|resumed_from_step)$")


@dataclass(frozen=True)
class OutSpec:
    consumed: bool                         # read by a later stage
    complete: Callable[[Path], bool]       # what that stage needs to accept it
    skip: tuple[str, ...] = ()             # files (globs, relative to the output) left out of the digest
    json_files: tuple[str, ...] = ()       # JSON files digested without TIMING_KEYS


# path templates as in dvc.yaml; an output missing here is digested whole and counted as not consumed
OUTPUTS: dict[str, OutSpec] = {
    "data/{lang}/clean": OutSpec(True, _clean_complete),
    "data/{lang}/validation.json": OutSpec(True, lambda p: _json_ok(p, "passed")),
    # Great Expectations Data Docs carry build timestamps: completeness only
    "reports/{lang}/quality": OutSpec(False, lambda p: (p / "index.html").is_file() and (p / "review.html").is_file(),
                                      skip=("*",)),
    "models/{lang}/tokenizer": OutSpec(True, lambda p: all((p / f).is_file() for f in TOKENIZER_FILES)
                                       and _json_ok(p / "tokenizer.json")),
    "data/{lang}/shards": OutSpec(True, _shards_complete),
    # the model card holds throughput and the git/DVC lineage at export time: the weights are compared
    "models/{lang}/electra": OutSpec(True, _electra_complete, skip=("README.md", "lineage.json")),
    "metrics/{lang}/pretrain.json": OutSpec(False, _json_ok, skip=("*",)),
    # DVCLive writes these as training goes (not atomically): DVC must flag them, no stage reads them
    "metrics/{lang}/pretrain_live/metrics.json": OutSpec(False, lambda p: p.exists(), skip=("*",)),
    "metrics/{lang}/pretrain_curve.tsv": OutSpec(False, lambda p: p.is_file(), skip=("*",)),
    "metrics/{lang}/pretrain_live/plots/metrics": OutSpec(False, lambda p: p.exists(), skip=("*",)),
    "reports/{lang}/scorecard.md": OutSpec(False, lambda p: p.is_file() and p.stat().st_size > 0, skip=("*",)),
    "metrics/{lang}/eval.json": OutSpec(False, lambda p: _json_ok(p, "tasks"), json_files=("",)),
    # the publish stage's folder: the model's files again, and a card holding the pretrain card's throughput
    "models/{lang}/hub": OutSpec(True, _electra_complete, skip=("README.md", "lineage.json")),
}


def _strip_timing(obj):
    if isinstance(obj, dict):
        return {k: _strip_timing(v) for k, v in obj.items() if not TIMING_KEYS.search(str(k))}
    if isinstance(obj, list):
        return [_strip_timing(v) for v in obj]
    return obj


def _match(rel: str, globs: tuple[str, ...]) -> bool:
    from fnmatch import fnmatch
    return any(fnmatch(rel, g) for g in globs)


def content_digest(path: Path, spec: OutSpec) -> str | None:
    """sha256 over the deterministic content of an output (None when it has none to compare)."""
    path = Path(path)
    files = [(path, "")] if path.is_file() else sorted(
        (q, q.relative_to(path).as_posix()) for q in path.rglob("*") if q.is_file())
    h = hashlib.sha256()
    n = 0
    for f, rel in files:
        if _match(rel or f.name, spec.skip):
            continue
        if rel in spec.json_files:
            try:
                data = json.dumps(_strip_timing(json.loads(f.read_text(encoding="utf-8"))), sort_keys=True).encode()
            except ValueError:
                data = f.read_bytes()
        else:
            data = f.read_bytes()
        h.update(rel.encode() + b"\0" + hashlib.sha256(data).digest())
        n += 1
    return h.hexdigest() if n else None


def stage_outputs(proj: Path, stage: str, lang: str = LANG) -> list[str]:
    """Every output path dvc.yaml names for the stage (outs, metrics, plots), for one language."""
    do = yaml.safe_load((proj / "dvc.yaml").read_text(encoding="utf-8"))["stages"][stage]["do"]
    paths = []
    for kind in ("outs", "metrics", "plots"):
        for o in do.get(kind) or []:
            p = o if isinstance(o, str) else next(iter(o))
            paths.append(p.replace("${key}", lang))
    return paths


def spec_for(path: str, lang: str = LANG) -> OutSpec:
    for tpl, spec in OUTPUTS.items():
        if tpl.format(lang=lang) == path:
            return spec
    return OutSpec(False, lambda p: p.exists())


def temp_siblings(proj: Path, paths: list[str]) -> list[str]:
    """Leftovers of atomic writes of these outputs: ``.NAME.*.tmp`` and ``.NAME.old`` beside them."""
    found = []
    for rel in paths:
        p = proj / rel
        if p.parent.is_dir():
            for q in p.parent.iterdir():
                if q.name.startswith(f".{p.name}.") and (q.name.endswith(".tmp") or q.name == f".{p.name}.old"):
                    found.append(q.relative_to(proj).as_posix())
    return sorted(found)


def file_digests(path: Path) -> dict[str, str]:
    """sha256 per file of an output (relative path -> digest)."""
    path = Path(path)
    if path.is_file():
        return {"": hashlib.sha256(path.read_bytes()).hexdigest()}
    if not path.is_dir():
        return {}
    return {q.relative_to(path).as_posix(): hashlib.sha256(q.read_bytes()).hexdigest()
            for q in sorted(path.rglob("*")) if q.is_file()}


def partly_removed(now: dict[str, str], before: dict[str, str]) -> bool:
    """Whether an output holds a strict subset of its previous files, each unchanged: what a kill inside
    DVC's deletion of the previous outputs leaves."""
    return len(now) < len(before) and all(before.get(rel) == d for rel, d in now.items())


def snapshot(proj: Path, stage: str) -> dict[str, str | None]:
    """Content digest of every output of the stage ("absent" / "incomplete" when so)."""
    out = {}
    for rel in stage_outputs(proj, stage):
        p, spec = proj / rel, spec_for(rel)
        if not p.exists():
            out[rel] = "absent"
        elif not spec.complete(p):
            out[rel] = "incomplete"
        else:
            out[rel] = content_digest(p, spec) or "complete"
    return out


def classify(state: str, previous: str, new: str) -> str:
    if state in ("absent", "incomplete"):
        return state
    if state == "complete":           # nothing deterministic to compare: complete is all one can say
        return "complete"
    if state == new:
        return "new"
    if state == previous:
        return "previous"
    return "other"


# --------------------------------------------------------------------------------------------------
# the throwaway project and the commands
# --------------------------------------------------------------------------------------------------

def set_variant(proj: Path, stage: str, which: str) -> None:
    cfg_path = proj / "corpora" / f"{LANG}.yaml"
    cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
    keys, a, b = VARIANTS[stage]
    node = cfg
    for k in keys[:-1]:
        node = node[k]
    node[keys[-1]] = a if which == "A" else b
    cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def make_demo_project(tmp: Path) -> Path:
    """A git + DVC copy of the project with the demo corpus as its data root and CONFIG as demo.yaml."""
    from tests.test_flow import make_project
    data = tmp / "data-root"
    shutil.copytree(REPO / "corpora" / "demo", data / "corpora" / "demo")
    return make_project(tmp, data, LANG, yaml.safe_dump(CONFIG, sort_keys=False),
                        "corpora/demo/text", "corpora/demo/task")


def _env(proj: Path) -> dict:
    from tests.test_flow import _env as flow_env
    env = flow_env(proj)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.setdefault("DVC_NO_ANALYTICS", "1")
    env.setdefault("GX_ANALYTICS_ENABLED", "false")
    env.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    return env


def dvc(proj: Path, *args: str, timeout: int = 900) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "dvc", *args], cwd=proj, env=_env(proj), capture_output=True,
                          text=True, timeout=timeout)


# --no-run-cache: DVC would otherwise restore a variant it has seen before from its run cache instead of
# running the stage
REPRO = ("repro", "-s", "--no-run-cache")


def repro(proj: Path, stage: str) -> tuple[subprocess.CompletedProcess, float]:
    t0 = time.perf_counter()
    r = dvc(proj, *REPRO, f"{stage}@{LANG}")
    return r, time.perf_counter() - t0


def dvc_changed(proj: Path, stage: str) -> bool | None:
    """True when ``dvc status`` reports the stage changed, False when up to date, None when it fails."""
    r = dvc(proj, "status", "--json", f"{stage}@{LANG}")
    if r.returncode != 0:
        return None
    try:
        st = json.loads(r.stdout.strip().splitlines()[-1] if r.stdout.strip() else "{}")
    except ValueError:
        return None
    return bool(st)


def _session_pids(sid: int) -> list[int]:
    pids = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[3]) == sid:       # fields: state ppid pgrp session ...
            pids.append(int(d.name))
    return pids


def _stage_running(sid: int) -> bool:
    for pid in _session_pids(sid):
        try:
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pipeline" in cmd and b"-m" in cmd:
            return True
    return False


def kill_session(proc: subprocess.Popen) -> None:
    """SIGKILL the process group and every other process of the session the command runs in."""
    for _ in range(5):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        pids = _session_pids(proc.pid)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if not [p for p in pids if p != proc.pid]:
            break
        time.sleep(0.05)
    proc.wait()
    # workers reparented to init leave the session only when they die: wait for them
    deadline = time.time() + 10
    while _session_pids(proc.pid) and time.time() < deadline:
        time.sleep(0.05)


def run_and_kill(proj: Path, stage: str, at: float) -> dict:
    """Start ``dvc repro -s STAGE@demo`` and SIGKILL its session ``at`` seconds later (if still running)."""
    p = subprocess.Popen([sys.executable, "-m", "dvc", *REPRO, f"{stage}@{LANG}"], cwd=proj,
                         env=_env(proj), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
    t0 = time.perf_counter()
    try:
        p.wait(timeout=at)
        return {"killed": False, "exit": p.returncode, "elapsed": round(time.perf_counter() - t0, 3),
                "phase": "finished"}
    except subprocess.TimeoutExpired:
        pass
    phase = "stage" if _stage_running(p.pid) else "dvc"
    kill_session(p)
    return {"killed": True, "exit": p.returncode, "elapsed": round(time.perf_counter() - t0, 3), "phase": phase}


# --------------------------------------------------------------------------------------------------
# trials
# --------------------------------------------------------------------------------------------------

@dataclass
class StageResult:
    stage: str
    duration_s: float = 0.0
    trials: list[dict] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    def summary(self) -> dict:
        t = self.trials
        kills = [x["kill_at"] for x in t]
        return {
            "stage": self.stage, "trials": len(t), "duration_s": round(self.duration_s, 2),
            "kill_at_s": {"min": round(min(kills), 2), "median": round(statistics.median(kills), 2),
                          "max": round(max(kills), 2)} if kills else None,
            "killed": sum(x["killed"] for x in t),
            "killed_in_stage": sum(x["phase"] == "stage" for x in t),
            "killed_mid_write": sum(bool(x["temps_after_kill"]) for x in t),
            "outputs_after_kill": _count(s for x in t for s in x["states"].values()),
            "dvc_flagged": sum(x["dvc_changed"] is True for x in t),
            "rwlock_repaired": sum(bool(x.get("rwlock_repaired")) for x in t),
            "rerun_ok": sum(x["rerun_ok"] for x in t),
            "rerun_s_median": round(statistics.median(x["rerun_s"] for x in t), 2) if t else None,
            "failures": len(self.failures),
        }


def _count(items) -> dict:
    out: dict[str, int] = {}
    for i in items:
        out[i] = out.get(i, 0) + 1
    return dict(sorted(out.items()))


def _clear_checkpoints(proj: Path) -> None:
    shutil.rmtree(proj / "checkpoints" / LANG, ignore_errors=True)


def _check_run(r: subprocess.CompletedProcess, what: str) -> None:
    if r.returncode != 0:
        raise RuntimeError(f"{what} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}")


def prepare(proj: Path, upto: str) -> None:
    """Run the pipeline (variant A everywhere) up to and including ``upto``."""
    for s in STAGES[:STAGES.index(upto) + 1]:
        r, _ = repro(proj, s)
        _check_run(r, f"dvc repro -s {s}@{LANG}")


def stage_trials(proj: Path, stage: str, trials: int, rng: random.Random, log=print) -> StageResult:
    """References for variants A and B (uninterrupted runs), then ``trials`` kill-and-rerun trials."""
    res = StageResult(stage)
    outs = stage_outputs(proj, stage)
    refs: dict[str, dict] = {}
    for which in ("A", "B"):
        set_variant(proj, stage, which)
        if which == "A" and dvc_changed(proj, stage) is False:
            refs[which] = snapshot(proj, stage)   # already run uninterrupted with variant A (prepare)
            continue
        if stage == "pretrain":
            _clear_checkpoints(proj)
        r, secs = repro(proj, stage)
        _check_run(r, f"reference run {stage} {which}")
        refs[which] = snapshot(proj, stage)
        bad = {k: v for k, v in refs[which].items() if v in ("absent", "incomplete")}
        if bad:
            raise RuntimeError(f"reference run {stage} {which}: outputs {bad}")
        if which == "B":
            res.duration_s = secs
    log(f"{stage}: uninterrupted run {res.duration_s:.1f} s")
    current = "B"
    for i in range(trials):
        target = "A" if current == "B" else "B"
        set_variant(proj, stage, target)
        if stage == "pretrain":
            _clear_checkpoints(proj)  # a fresh run: the rerun resumes only from what the killed run saved
        at = rng.uniform(0, res.duration_s)
        before = {o: file_digests(proj / o) for o in outs}
        k = run_and_kill(proj, stage, at)
        temps = temp_siblings(proj, outs)
        after = snapshot(proj, stage)
        states = {o: classify(after[o], refs[current][o], refs[target][o]) for o in outs}
        states = {o: "partly_removed" if st == "incomplete" and partly_removed(file_digests(proj / o), before[o])
                  else st for o, st in states.items()}
        changed = dvc_changed(proj, stage)
        # DVC rewrites .dvc/tmp/rwlock and dvc.lock in place; a kill inside either write corrupts it and every
        # later DVC command fails. The flows repair both before each DVC call (flows/dvclock.py); so does this
        # harness.
        repaired = False
        if changed is None:
            from flows.dvclock import repair
            for done in repair(proj):
                repaired = True
                log(f"{stage} #{i}: {done}")
            if repaired:
                changed = dvc_changed(proj, stage)
        problems = []
        for o, st in states.items():
            spec = spec_for(o)
            if spec.consumed and st in ("incomplete", "other"):
                problems.append(f"{o}: {st} after the kill (a later stage would read it)")
            elif spec.consumed and st == "partly_removed" and not (k["phase"] == "dvc" and changed is True):
                problems.append(f"{o}: partly removed after a kill in phase {k['phase']} with dvc status "
                                f"changed={changed}")
        if changed is None:
            problems.append("dvc status failed after the kill")
        elif changed is False and any(s not in ("new", "complete") for s in states.values()):
            problems.append(f"dvc status says up to date but outputs are {states}")
        elif changed is False and k["killed"] and k["phase"] == "stage":
            pass  # finished writing before the kill landed (all outputs new): fine
        rr, rsecs = repro(proj, stage)
        rerun = snapshot(proj, stage)
        rerun_ok = rr.returncode == 0
        if not rerun_ok:
            problems.append(f"rerun failed ({rr.returncode}): {rr.stderr.strip()[-1500:]}")
        else:
            diff = {o: rerun[o] for o in outs if rerun[o] != refs[target][o]}
            if diff:
                problems.append(f"rerun outputs differ from an uninterrupted run: {sorted(diff)}")
                rerun_ok = False
            if dvc_changed(proj, stage) is not False:
                problems.append("dvc status not clean after the rerun")
                rerun_ok = False
            left = temp_siblings(proj, outs)
            if left:
                problems.append(f"temp leftovers after the rerun: {left}")
                rerun_ok = False
        trial = {"trial": i, "variant": target, "kill_at": round(at, 3), **k, "temps_after_kill": temps,
                 "rwlock_repaired": repaired, "states": states, "dvc_changed": changed, "rerun_ok": rerun_ok, "rerun_s": round(rsecs, 2),
                 "problems": problems}
        res.trials.append(trial)
        res.failures += [f"{stage} trial {i}: {p}" for p in problems]
        log(f"{stage} #{i}: kill at {at:.2f}s ({k['phase']}) temps={len(temps)} "
            f"states={_count(states.values())} dvc_changed={changed} rerun={'ok' if rerun_ok else 'FAILED'}"
            + (f" problems={problems}" if problems else ""))
        current = target
    if current != "A":  # leave variant A in place for the stages after this one
        set_variant(proj, stage, "A")
        r, _ = repro(proj, stage)
        _check_run(r, f"restoring {stage} A")
    return res


def run_suite(tmp: Path, stages: list[str], trials: int, seed: int = 0, log=print,
              on_stage: Callable[[list[StageResult]], None] | None = None) -> list[StageResult]:
    proj = make_demo_project(Path(tmp))
    rng = random.Random(seed)
    last = max(stages, key=STAGES.index)
    first = min(stages, key=STAGES.index)
    if STAGES.index(first) > 0:
        prepare(proj, STAGES[STAGES.index(first) - 1])
    results = []
    for s in STAGES[STAGES.index(first):STAGES.index(last) + 1]:
        if s in stages:
            try:
                results.append(stage_trials(proj, s, trials, rng, log=log))
            except Exception as e:  # noqa: BLE001 - a harness failure of one stage is reported, not fatal
                log(f"{s}: {type(e).__name__}: {e}")
                res = StageResult(s, failures=[f"{s}: harness error: {type(e).__name__}: {str(e)[-1500:]}"])
                results.append(res)
                set_variant(proj, s, "A")
                r, _ = repro(proj, s)
                if r.returncode != 0:   # the project is unusable for the stages after this one: stop here
                    log(f"{s}: cannot restore variant A ({r.returncode}); stopping")
                    break
            if on_stage:
                on_stage(results)
        else:
            r, _ = repro(proj, s)
            _check_run(r, f"dvc repro -s {s}@{LANG}")
    return results


# --------------------------------------------------------------------------------------------------
# CLI and report
# --------------------------------------------------------------------------------------------------

def _markdown(r: dict) -> str:
    m = r["machine"]
    lines = [f"# Fault injection — {r['date']}", "",
             f"Machine: {m['platform']}, Python {m['python']}, CPU {m['cpu'] or 'unknown'}, "
             f"{m['cpu_count']} CPUs ({m['usable_cores']} usable), {m['memory_gb']} GB RAM; load average "
             f"{r['load'][0]}–{r['load'][1]} (shared machine).", "",
             f"`{r['command']}` — {r['wall_s'] / 60:.1f} min." + (
                 f" {r['trials']} kill trials per stage, seed {r['seed']}. Each trial switches the stage's config to "
                 "the other of two variants, runs `dvc repro -s STAGE@demo`, SIGKILLs its whole session at a uniform "
                 "random time in [0, uninterrupted duration], checks the invariants, reruns and compares with an "
                 "uninterrupted run (docs/reliability.md)." if r["stages"] else ""), ""]
    if not r.get("complete", True):
        lines += ["**Partial:** the run was still going when this was written; stages finished so far below.", ""]
    if r["stages"]:
        lines += _kill_table(r)
    from benchmarks._run_safety import markdown as safety_markdown
    lines += [safety_markdown(r.get("concurrent", []), r.get("full_disk", []))]
    fails = r["failures"]
    lines += ["**Failures:** " + ("none." if not fails else "")]
    lines += [f"- {f}" for f in fails[:50]]
    return "\n".join(lines) + "\n"


def _kill_table(r: dict) -> list[str]:
    lines = []
    lines += [
             "| stage | trials | run s | kill at s (min / median / max) | killed | in stage cmd | mid-write | "
             "outputs after kill | DVC flagged | rwlock repaired | rerun ok | rerun s | failures |",
             "|---|---:|---:|---|---:|---:|---:|---|---:|---:|---:|---:|---:|"]
    for s in r["stages"]:
        k = s["kill_at_s"] or {}
        outs = ", ".join(f"{n} {c}" for c, n in s["outputs_after_kill"].items())
        lines.append(f"| {s['stage']} | {s['trials']} | {s['duration_s']} | {k.get('min')} / {k.get('median')} / "
                     f"{k.get('max')} | {s['killed']} | {s['killed_in_stage']} | {s['killed_mid_write']} | {outs} | "
                     f"{s['dvc_flagged']} | {s.get('rwlock_repaired', 0)} | {s['rerun_ok']} | {s['rerun_s_median']} | {s['failures']} |")
    lines += ["", "*killed*: the run was still going when the kill landed; *in stage cmd*: the stage's own process "
              "(`python -m pipeline ...`) was running (else DVC was starting or committing); *mid-write*: an "
              "atomic temp sibling (`.NAME.*.tmp`, `.NAME.old`) was left by the kill; *outputs after kill*: each "
              "output path dvc.yaml names, as `previous` (the complete earlier version), `new` (complete, equal "
              "to an uninterrupted run), `absent`, `complete` (no deterministic content to compare, e.g. Data "
              "Docs), `incomplete` or `other`; *DVC flagged*: `dvc status` reported the stage changed; *rwlock "
              "repaired*: the kill corrupted `.dvc/tmp/rwlock` (or, since 2026-12-05, cut `dvc.lock` short) and "
              "`flows.dvclock` repaired it.", ""]
    return lines


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.fault_injection", description=__doc__.splitlines()[0])
    ap.add_argument("--trials", type=int, default=20, help="trials per stage")
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=STAGES)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"), help="folder for the .json and .md")
    ap.add_argument("--keep", action="store_true", help="keep the throwaway project")
    ap.add_argument("--name", default="fault_injection", help="result file name: NAME-<date>.{json,md}")
    ap.add_argument("--scenarios", nargs="+", default=["kill"], choices=["kill", "concurrent", "full-disk"],
                    help="kill: SIGKILL trials (--trials per stage); concurrent: several `foundry run` at once "
                         "(benchmarks/_run_safety.py); full-disk: each of --stages under a file size limit")
    ap.add_argument("--repeats", type=int, default=1, help="repeats of the 4-run concurrent trials")
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from benchmarks.clean_throughput import _machine

    tmp = Path(tempfile.mkdtemp(prefix="foundry-fault-"))
    os.environ.setdefault("PREFECT_HOME", str(tmp / "prefect"))
    t0 = time.time()
    loads = [os.getloadavg()[0]]
    date = dt.date.today().isoformat()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    machine = _machine()
    result: dict = {}

    def write(results: list[StageResult], done: bool = False) -> None:
        """(Re)write the results after every stage, so a long run's finished stages are kept."""
        loads.append(os.getloadavg()[0])
        result.update({
            "benchmark": "fault_injection", "date": date, "machine": machine, "seed": args.seed,
            "trials": args.trials, "command": "python -m benchmarks.fault_injection " + " ".join(argv or sys.argv[1:]),
            "complete": done, "wall_s": round(time.time() - t0, 1), "load": [round(min(loads), 2), round(max(loads), 2)],
            "stages": [r.summary() for r in results], "concurrent": extra.get("concurrent", []),
            "full_disk": extra.get("full_disk", []),
            "failures": [f for r in results for f in r.failures]
            + [f"{t.get('title', t.get('stage'))}: {p}" for k in ("concurrent", "full_disk") for t in extra.get(k, [])
               for p in t["problems"]],
            "trial_log": {r.stage: r.trials for r in results}})
        write_text(out / f"{args.name}-{date}.json", json.dumps(result, indent=2) + "\n")
        write_text(out / f"{args.name}-{date}.md", _markdown(result))

    from benchmarks import _run_safety as safety
    say = lambda m: print(m, flush=True)  # noqa: E731
    results: list[StageResult] = []
    extra: dict[str, list] = {}
    try:
        if "kill" in args.scenarios:
            results = run_suite(tmp, args.stages, args.trials, args.seed, log=say, on_stage=write)
        if "concurrent" in args.scenarios:
            extra["concurrent"] = safety.concurrent_suite(tmp, args.repeats, log=say)
            write(results)
        if "full-disk" in args.scenarios:
            extra["full_disk"] = safety.full_disk_suite(tmp, args.stages, log=say)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"project kept in {tmp}/proj")
    write(results, done=True)
    print(_markdown(result))
    print(f"wrote {out}/{args.name}-{date}.md and .json")
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
