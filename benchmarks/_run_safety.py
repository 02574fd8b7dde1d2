"""Concurrent runs and a full disk, on the throwaway demo project of :mod:`benchmarks.fault_injection`.

* :func:`concurrent_trial`: start several real ``foundry run`` processes at once (of one language, with
  ``--wait``, or of different languages) and, while they run, a ``foundry run`` and a ``python -m pipeline``
  without ``--wait`` on a busy language; then check that each stale stage ran in exactly one process, that
  no two pre-trainings overlapped, what the waiting and the refused runs printed, and that DVC is clean.
* :func:`full_disk_trial`: run a stage as DVC runs it (``python -m pipeline STAGE demo``) under a file size
  limit (``RLIMIT_FSIZE``, set in the child: no root, no loop device) below its largest output file; it must
  exit 2 with one line naming the output, leave every output absent or the previous version (never a
  half-written one) and no temp sibling; the rerun without the limit must complete with the outputs of an
  uninterrupted run.

``tests/test_concurrent_runs.py`` and ``tests/test_full_disk.py`` run these; ``python -m
benchmarks.fault_injection --concurrent --full-disk`` runs the trials for docs/reliability.md.
"""
from __future__ import annotations

import json
import os
import re
import resource
import subprocess
import sys
import time
from pathlib import Path

import yaml

from benchmarks import fault_injection as fi
from model.locks import Holder
from pipeline.locks import language_lock_path
from pipeline.stages import STAGES

# smaller than fault_injection.CONFIG where a concurrent run only repeats work: 8 pre-training steps
PRETRAIN_STEPS = 8


def add_language(proj: Path, lang: str, steps: int | None = None) -> None:
    """Register ``lang`` in the project with demo's config (same text, same settings: the same outputs)."""
    cfg = yaml.safe_load((proj / "corpora" / f"{fi.LANG}.yaml").read_text(encoding="utf-8"))
    cfg["language"], cfg["name"] = lang, f"Demo as {lang}"
    if steps is not None:
        cfg["pretrain"]["steps"] = steps
    (proj / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
    params = yaml.safe_load((proj / "params.yaml").read_text(encoding="utf-8"))
    params["languages"][lang] = dict(params["languages"][fi.LANG])
    (proj / "params.yaml").write_text(yaml.safe_dump(params), encoding="utf-8")


def set_steps(proj: Path, lang: str, steps: int) -> None:
    path = proj / "corpora" / f"{lang}.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["pretrain"]["steps"] = steps
    path.write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def make_project(tmp: Path, langs: tuple[str, ...] = (fi.LANG,)) -> Path:
    proj = fi.make_demo_project(Path(tmp))
    set_steps(proj, fi.LANG, PRETRAIN_STEPS)
    for lang in langs:
        if lang != fi.LANG:
            add_language(proj, lang, PRETRAIN_STEPS)
    env = fi._env(proj)
    for cmd in (["git", "add", "-A"], ["git", "commit", "-qm", "languages"]):
        subprocess.run(cmd, cwd=proj, env=env, check=True, capture_output=True)
    return proj


def start(proj: Path, args: list[str], name: str) -> tuple[subprocess.Popen, Path]:
    """``python -m flows.cli ARGS`` (or any ``-m`` module when ARGS start with ``-m``) with output to files."""
    out = proj.parent / "runs" / name
    out.parent.mkdir(exist_ok=True)
    cmd = [sys.executable, *(args if args[0] == "-m" else ["-m", "flows.cli", *args])]
    p = subprocess.Popen(cmd, cwd=proj, env=fi._env(proj), stdout=open(f"{out}.out", "w"),
                         stderr=open(f"{out}.err", "w"), text=True)
    return p, out


def ran_stages(stdout: str) -> set[str]:
    return set(re.findall(r"^\s+(\w+)\s+ran \(", stdout, flags=re.M))


def wait_for_holder(proj: Path, lang: str, pids: set[int], timeout: float = 600) -> Holder:
    deadline = time.time() + timeout
    while time.time() < deadline:
        h = Holder.read(language_lock_path(proj, lang))
        if h is not None and h.pid in pids:
            return h
        time.sleep(0.1)
    raise RuntimeError(f"no run took {lang} within {timeout} s")


def refused(proj: Path, args: list[str], name: str) -> dict:
    """Run a command that should find its language busy; its exit status, last stderr line, seconds."""
    t0 = time.perf_counter()
    p, out = start(proj, args, name)
    rc = p.wait(timeout=600)
    err = Path(f"{out}.err").read_text(encoding="utf-8").strip().splitlines()
    return {"cmd": " ".join(args), "rc": rc, "message": err[-1] if err else "", "lines": len(err),
            "seconds": round(time.perf_counter() - t0, 2)}


def stage_summary(proj: Path, lang: str, stage: str) -> dict:
    """The JSON summary line of the last run of a stage (``logs/LANG/STAGE.log``), {} when none."""
    log = proj / "logs" / lang / f"{stage}.log"
    lines = [ln for ln in log.read_text(encoding="utf-8").splitlines() if ln.startswith("{")] if log.is_file() else []
    return json.loads(lines[-1]) if lines else {}


def overlaps(spans: list[tuple[float, float]]) -> int:
    """How many pairs of (start, end) intervals overlap."""
    s = sorted(spans)
    return sum(1 for i in range(len(s)) for j in range(i + 1, len(s)) if s[j][0] < s[i][1])


def concurrent_trial(proj: Path, runs: list[str], name: str, stale: dict[str, list[str]]) -> dict:
    """Start one ``foundry run LANG --wait`` per entry of ``runs`` (0.3 s apart), and, once the first language
    is busy, a ``foundry run`` and a ``python -m pipeline`` of it without ``--wait``. ``stale``: per language,
    the stages expected to run (each exactly once, in one of its runs). Returns the measurements and the
    problems found."""
    t0 = time.perf_counter()
    procs = []
    for i, lang in enumerate(runs):
        procs.append((lang, *start(proj, ["run", lang, "--wait"], f"{name}-{i}-{lang}")))
        time.sleep(0.3)
    first = runs[0]
    holder = wait_for_holder(proj, first, {p.pid for lang, p, _ in procs if lang == first})
    busy = [refused(proj, ["run", first], f"{name}-refused-run"),
            refused(proj, ["-m", "pipeline", "clean", first], f"{name}-refused-stage")]
    results = []
    for lang, p, out in procs:
        rc = p.wait(timeout=1800)
        so = Path(f"{out}.out").read_text(encoding="utf-8")
        se = Path(f"{out}.err").read_text(encoding="utf-8")
        results.append({"lang": lang, "pid": p.pid, "rc": rc, "ran": sorted(ran_stages(so)),
                        # (printed to stderr; inside the flow Prefect's log_prints turns it into a log line)
                        "waited": bool(re.search(rf"\b{re.escape(lang)} is busy: .* is running it; waiting$", se, re.M)),
                        "waited_for_slot": "waiting for a pre-training slot" in se,
                        "stderr_tail": se[-1500:] if rc else ""})
    wall = time.perf_counter() - t0
    spans = [(s["slot_from"], s["slot_until"]) for lang in stale
             if "pretrain" in stale[lang] and (s := stage_summary(proj, lang, "pretrain")).get("slot_from")]
    res = {"name": name, "runs": runs, "wall_s": round(wall, 1), "holder": holder.describe(), "refused": busy,
           "results": results, "pretrain_spans": spans, "pretrain_overlaps": overlaps(spans),
           "dvc_clean": _dvc_clean(proj, list(stale))}
    res["problems"] = _problems(res, stale, holder)
    return res


def _dvc_clean(proj: Path, langs: list[str]) -> bool:
    """Whether ``dvc status`` calls every stage of these languages up to date."""
    r = fi.dvc(proj, "status", "--json", *[f"{s}@{lang}" for lang in langs for s in STAGES])
    return r.returncode == 0 and r.stdout.strip() in ("{}", "")


def _problems(res: dict, stale: dict[str, list[str]], holder: Holder) -> list[str]:
    out = []
    for r in res["results"]:
        if r["rc"] != 0:
            out.append(f"run of {r['lang']} (PID {r['pid']}) exited {r['rc']}: {r['stderr_tail']}")
    for lang, want in stale.items():
        counts = {s: sum(s in r["ran"] for r in res["results"] if r["lang"] == lang) for s in STAGES}
        wrong = {s: n for s, n in counts.items() if n != (1 if s in want else 0)}
        if wrong:
            out.append(f"{lang}: stages run this many times (expected once each of {want}): {wrong}")
        n_runs = sum(r["lang"] == lang for r in res["results"])
        waited = sum(r["waited"] for r in res["results"] if r["lang"] == lang)
        if waited != n_runs - 1:
            out.append(f"{lang}: {waited} of {n_runs} runs said they waited (expected {n_runs - 1})")
    if res["pretrain_overlaps"]:
        out.append(f"pre-trainings overlapped: {res['pretrain_spans']}")
    want = f"{res['runs'][0]} is busy: {holder.describe()} is running it; run again with --wait to wait for it"
    for b in res["refused"]:
        if b["rc"] != 2 or not b["message"].endswith(want) or b["lines"] != 1:
            out.append(f"`{b['cmd']}` on a busy language: exit {b['rc']}, {b['lines']} stderr line(s): {b['message']}")
    if not res["dvc_clean"]:
        out.append("dvc status not clean after the runs")
    return out


def slot_trial(proj: Path, langs: list[str], name: str = "slots") -> dict:
    """``python -m pipeline pretrain LANG`` for each of ``langs`` at once, as ``dvc repro`` runs it (no Prefect
    anywhere): the machine's pre-training slot lets one train at a time, and the others say they wait."""
    procs = [(lang, *start(proj, ["-m", "pipeline", "pretrain", lang], f"{name}-{i}-{lang}"))
             for i, lang in enumerate(langs)]
    results = []
    for lang, p, out in procs:
        rc = p.wait(timeout=1800)
        so = [ln for ln in Path(f"{out}.out").read_text(encoding="utf-8").splitlines() if ln.startswith("{")]
        se = Path(f"{out}.err").read_text(encoding="utf-8")
        waiting = [ln for ln in se.splitlines() if "waiting for a pre-training slot" in ln]
        results.append({"lang": lang, "rc": rc, "summary": json.loads(so[-1]) if so else {},
                        "waiting": waiting[0] if waiting else None, "stderr_tail": se[-1500:] if rc else ""})
    spans = [(r["summary"]["slot_from"], r["summary"]["slot_until"]) for r in results if r["summary"]]
    res = {"name": name, "langs": langs, "results": results, "spans": spans, "overlaps": overlaps(spans),
           "waited": sum(r["waiting"] is not None for r in results)}
    res["problems"] = [f"pretrain {r['lang']} exited {r['rc']}: {r['stderr_tail']}" for r in results if r["rc"]] + \
        ([f"pre-trainings overlapped: {spans}"] if res["overlaps"] or len(spans) != len(langs) else []) + \
        ([f"{res['waited']} of {len(langs)} said they waited for the slot"] if res["waited"] != len(langs) - 1 else [])
    return res


def _neutral(obj, lang: str):
    """JSON content without what names the language or measures time (paths keep their shape)."""
    if isinstance(obj, dict):
        return {k: _neutral(v, lang) for k, v in obj.items() if k != "language" and not fi.TIMING_KEYS.search(str(k))}
    if isinstance(obj, list):
        return [_neutral(v, lang) for v in obj]
    return re.sub(rf"\b(data|models|metrics|reports)/{re.escape(lang)}\b", r"\1/LANG", obj) if isinstance(obj, str) else obj


# records of the language's own config (its name, stop words, lid threshold) and the corpus hash they give
_NAMED = ("clean/stats.json", "/validation.json")


def output_files(proj: Path, lang: str, stages=STAGES) -> dict[str, bytes]:
    """The deterministic content of every output a later stage reads (and the scores), file by file, with the
    language's name taken out: two languages made from the same text with the same settings compare equal."""
    out = {}
    for stage in stages:
        for rel in fi.stage_outputs(proj, stage, lang):
            spec = fi.spec_for(rel, lang)
            if not (spec.consumed or rel.endswith("eval.json")) or not (proj / rel).exists():
                continue
            p = proj / rel
            for f in ([p] if p.is_file() else sorted(q for q in p.rglob("*") if q.is_file())):
                name = rel.replace(f"/{lang}/", "/LANG/") + ("" if f == p else "/" + f.relative_to(p).as_posix())
                if fi._match(f.name, spec.skip) or name.endswith(_NAMED):
                    continue
                data = f.read_bytes()
                if f.suffix == ".json":
                    obj = json.loads(data)
                    obj = obj["tasks"] if rel.endswith("eval.json") else obj   # the scores
                    data = json.dumps(_neutral(obj, lang), sort_keys=True).encode()
                out[name] = data
    return out


def differing_outputs(proj: Path, a: str, b: str) -> list[str]:
    fa, fb = output_files(proj, a), output_files(proj, b)
    return sorted(k for k in set(fa) | set(fb) if fa.get(k) != fb.get(k))


def _limit(nbytes: int):
    def preexec() -> None:
        resource.setrlimit(resource.RLIMIT_FSIZE, (nbytes, nbytes))
    return preexec


def largest_output_file(proj: Path, stage: str) -> int:
    sizes = [q.stat().st_size for rel in fi.stage_outputs(proj, stage) if (p := proj / rel).exists()
             for q in ([p] if p.is_file() else p.rglob("*")) if q.is_file()]
    return max(sizes, default=0)


def full_disk_trial(proj: Path, stage: str, lang: str = fi.LANG) -> dict:
    """Switch ``stage`` to its other variant, run it under a file size limit of half its largest output file,
    check what is left, free the limit and rerun (as DVC would), and compare with an uninterrupted run."""
    outs = fi.stage_outputs(proj, stage, lang)
    before = fi.snapshot(proj, stage)
    limit = max(4096, largest_output_file(proj, stage) // 2)
    fi.set_variant(proj, stage, "B")
    fi._clear_checkpoints(proj)
    t0 = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "pipeline", stage, lang], cwd=proj, env=fi._env(proj),
                       capture_output=True, text=True, timeout=1800, preexec_fn=_limit(limit))
    failed_s = time.perf_counter() - t0
    err = [ln for ln in r.stderr.strip().splitlines() if ln.startswith("error:")]
    after = fi.snapshot(proj, stage)
    temps = fi.temp_siblings(proj, outs)
    rr, rerun_s = fi.repro(proj, stage)
    ref = fi.snapshot(proj, stage)   # the new version, complete (a complete write before the failure equals it)
    states = {o: fi.classify(after[o], before[o], ref[o]) for o in outs}
    fi.set_variant(proj, stage, "A")
    rr2, _ = fi.repro(proj, stage)
    back = fi.snapshot(proj, stage)
    res = {"stage": stage, "limit_bytes": limit, "rc": r.returncode, "seconds_to_fail": round(failed_s, 1),
           "message": err[-1] if err else r.stderr.strip()[-500:], "error_lines": len(err), "states": states,
           "temps_left": temps, "rerun_rc": rr.returncode, "rerun_s": round(rerun_s, 1),
           "rerun_complete": all(v not in ("absent", "incomplete") for v in ref.values()) and
           fi.dvc_changed(proj, stage) is False,
           "back_to_a_equal": rr2.returncode == 0 and back == before}
    res["problems"] = _disk_problems(res, proj, stage)
    return res


def _disk_problems(res: dict, proj: Path, stage: str) -> list[str]:
    out = []
    if res["rc"] != 2 or res["error_lines"] != 1 or "disk full writing " not in res["message"]:
        out.append(f"{stage}: exit {res['rc']} under the file size limit, message: {res['message']}")
    # never half-written or other content: what a later stage reads is absent, previous or new and complete
    bad = {o: s for o, s in res["states"].items() if fi.spec_for(o).consumed and s not in ("absent", "previous", "new")}
    bad.update({o: s for o, s in res["states"].items() if s in ("incomplete", "other")})
    if bad:
        out.append(f"{stage}: outputs after the full disk: {bad}")
    if res["temps_left"]:
        out.append(f"{stage}: temp siblings left: {res['temps_left']}")
    if res["rerun_rc"] != 0 or not res["rerun_complete"]:
        out.append(f"{stage}: the rerun after freeing space failed ({res['rerun_rc']})")
    if not res["back_to_a_equal"]:
        out.append(f"{stage}: switching back to variant A did not give the outputs of the uninterrupted run")
    return out


# --------------------------------------------------------------------------------------------------
# the suites `python -m benchmarks.fault_injection --scenarios concurrent full-disk` runs, and their report
# --------------------------------------------------------------------------------------------------

def concurrent_suite(tmp: Path, repeats: int = 1, log=print) -> list[dict]:
    """Two runs of demo on a fresh clone; demo and en side by side (en fresh); then ``repeats`` times four runs
    of demo, two runs each of demo and en (pre-training and evaluate stale) and the pretrain stage of both at
    once without Prefect (:func:`slot_trial`)."""
    proj = make_project(Path(tmp) / "concurrent", (fi.LANG, "en"))
    every, model = list(STAGES), ["pretrain", "evaluate"]
    steps = {fi.LANG: PRETRAIN_STEPS, "en": PRETRAIN_STEPS}
    out: list[dict] = []

    def bump(langs: tuple[str, ...]) -> None:
        # a step count never used before (a finished checkpoint of it would make pre-training a no-op), the
        # same for every language bumped together so that their outputs can be compared
        new = max(steps.values()) + 2
        for lang in langs:
            steps[lang] = new
            set_steps(proj, lang, new)

    def same() -> bool | None:   # None: nothing to compare (en not run yet, or other settings)
        ran = (proj / "models" / "en" / "electra").is_dir()
        return differing_outputs(proj, fi.LANG, "en") == [] if ran and steps[fi.LANG] == steps["en"] else None

    def trial(name: str, runs: list[str], stale: dict[str, list[str]], bumped: tuple[str, ...] = ()) -> None:
        bump(bumped)
        r = concurrent_trial(proj, runs, name.replace(" ", "-"), stale)
        r.update(title=name, same_outputs=same())
        out.append(r)
        log(f"concurrent: {name}: {r['wall_s']} s, pre-training overlaps {r['pretrain_overlaps']}, "
            f"problems {r['problems'] or 'none'}")

    trial("2 runs of demo, fresh clone", [fi.LANG, fi.LANG], {fi.LANG: every})
    trial("demo and en at once (en fresh)", [fi.LANG, "en"], {fi.LANG: model, "en": every}, (fi.LANG, "en"))
    for _ in range(repeats):
        trial("4 runs of demo", [fi.LANG] * 4, {fi.LANG: model}, (fi.LANG,))
        trial("2 runs each of demo and en", [fi.LANG, "en", fi.LANG, "en"], {fi.LANG: model, "en": model},
              (fi.LANG, "en"))
        bump((fi.LANG, "en"))
        t0 = time.perf_counter()
        r = slot_trial(proj, [fi.LANG, "en"])
        r.update(title="pretrain stage of demo and en at once, no Prefect", wall_s=round(time.perf_counter() - t0, 1),
                 same_outputs=same())
        out.append(r)
        log(f"concurrent: {r['title']}: {r['wall_s']} s, overlaps {r['overlaps']}, waited {r['waited']}, "
            f"problems {r['problems'] or 'none'}")
    return out


def full_disk_suite(tmp: Path, stages: list[str], log=print) -> list[dict]:
    """Each stage in pipeline order: run it (variant A), then :func:`full_disk_trial`."""
    proj = fi.make_demo_project(Path(tmp) / "full-disk")
    out = []
    for s in STAGES[:max(STAGES.index(x) for x in stages) + 1]:
        r, _ = fi.repro(proj, s)
        fi._check_run(r, f"dvc repro -s {s}@{fi.LANG}")
        if s in stages:
            res = full_disk_trial(proj, s)
            out.append(res)
            log(f"full disk: {s}: limit {res['limit_bytes']} B, exit {res['rc']}, {res['message']}; "
                f"problems {res['problems'] or 'none'}")
    return out


def markdown(concurrent: list[dict], full_disk: list[dict]) -> str:
    lines = []
    if concurrent:
        lines += ["## Concurrent runs", "",
                  "| trial | runs | wall s | stale stages run (per run) | waited for the language | waited for a "
                  "pre-training slot | pre-trainings overlapping | refused without --wait (exit, s) | same outputs "
                  "demo/en | problems |", "|---|---|---:|---|---:|---:|---:|---|---|---:|"]
        for r in concurrent:
            if "spans" in r:   # a slot trial: the stage commands, no flow
                lines.append(f"| {r['title']} | {' '.join(r['langs'])} | {r['wall_s']} | "
                             f"{'; '.join(x['lang'] + ': pretrain' for x in r['results'] if not x['rc'])} | - | "
                             f"{r['waited']} | {r['overlaps']} | - | {r['same_outputs']} | {len(r['problems'])} |")
                continue
            ran = "; ".join(f"{x['lang']}: {','.join(x['ran']) or '-'}" for x in r["results"])
            refused = ", ".join(f"{b['rc']} in {b['seconds']}" for b in r["refused"])
            lines.append(f"| {r['title']} | {' '.join(r['runs'])} | {r['wall_s']} | {ran} | "
                         f"{sum(x['waited'] for x in r['results'])} | {sum(x['waited_for_slot'] for x in r['results'])} "
                         f"| {r['pretrain_overlaps']} | {refused} | {r['same_outputs']} | {len(r['problems'])} |")
        waits = [x["waiting"] for r in concurrent if "spans" in r for x in r["results"] if x["waiting"]]
        lines += ["", "Messages: " + concurrent[0]["refused"][0]["message"] + (f"; {waits[0]}" if waits else ""), ""]
    if full_disk:
        lines += ["## Full disk (file size limit)", "",
                  "| stage | limit | exit | seconds to fail | outputs after | temps left | rerun with room | back to A "
                  "equal | problems |", "|---|---:|---:|---:|---|---:|---|---|---:|"]
        for r in full_disk:
            states = ", ".join(f"{n} {s}" for s, n in fi._count(r["states"].values()).items())
            lines.append(f"| {r['stage']} | {r['limit_bytes']} B | {r['rc']} | {r['seconds_to_fail']} | {states} | "
                         f"{len(r['temps_left'])} | exit {r['rerun_rc']} in {r['rerun_s']} s | {r['back_to_a_equal']} | "
                         f"{len(r['problems'])} |")
        lines += [""] + [f"- {r['stage']}: `{r['message']}`" for r in full_disk] + [""]
    return "\n".join(lines)
