"""What a run costs when there is nothing (or one knob's worth) to do, with every language registered.

    .venv/bin/python -m benchmarks.noop_run [--repeats 3] [--parallel 2] [--keep DIR]

A temporary git + DVC project holds the code, ``dvc.yaml``, every shipped ``corpora/<lang>.yaml`` (the demo
and the 11 languages) and ``params.yaml`` — the full DAG, 12 x 6 stages. So that the full run fits in minutes
on two cores, each language reads its ``small/text/<lang>/*.txt`` sample from the shared data (the demo its
own text), with ``vocab.size`` sized to that text the way ``foundry new-language`` does, ``pretrain.steps: 2``
and no evaluation tasks; every stage is the real stage and DVC tracks the same deps, params and outputs
(the evaluation data folders stay DVC dependencies of evaluate).

1. **full** (the baseline): ``foundry run --all --parallel P`` from nothing.
2. **no-op**: ``foundry run --all --parallel P`` again, ``--repeats`` times, every stage up to date, alternating
   with the same run with ``FOUNDRY_DVC_SNAPSHOT_TTL=0`` (one DVC status call per stage, as before
   ``flows/dvcops.py`` kept status snapshots). The
   time spent in DVC is the time the flows hold ``flows.dvcops``'s lock (status and commit calls); the rest
   is Prefect (ephemeral server, flow and task runs) and Python start-up. ``dvc status`` over the whole DAG
   (the CLI) is timed too.
3. **one knob**: ``pretrain.steps`` of the demo 2 -> 3, then ``foundry run --all``: only ``pretrain@demo`` and
   ``evaluate@demo`` may run.

Each figure is also given as a ratio to the full run measured in the same invocation. Results go to
``benchmarks/results/noop_run-<date>.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from benchmarks.clean_throughput import _machine
from model.atomic import write_text

REPO = Path(__file__).resolve().parents[1]
DVC_TARGET_S = 3.0

# Runs `foundry run ...` in-process and reports how long the flows held the DVC lock (dvcops._LOCK
# serialises every status/commit call, so the held time is the DVC time of the run).
_CHILD = r"""
import json, sys, threading, time
from flows import cli, dvcops

class TimedLock:
    def __init__(self, inner):
        self.inner, self.held, self.calls, self._t = inner, 0.0, 0, threading.local()
    def __enter__(self):
        self.inner.__enter__(); self._t.t0 = time.perf_counter(); return self
    def __exit__(self, *exc):
        self.held += time.perf_counter() - self._t.t0; self.calls += 1
        return self.inner.__exit__(*exc)
    def acquire(self, *a, **k): return self.inner.acquire(*a, **k)
    def release(self): return self.inner.release()

lock = dvcops._LOCK = TimedLock(dvcops._LOCK)
t = time.perf_counter()
rc = cli.main(sys.argv[1:])
wall = time.perf_counter() - t
print("@@RESULT " + json.dumps({"rc": rc, "wall_s": wall, "dvc_s": lock.held, "dvc_calls": lock.calls}))
"""


def _abs_data(p: str, shared: Path) -> str:
    return str(shared / p[len("../shared/data/"):]) if p.startswith("../shared/data/") else p


def make_project(tmp: Path, shared: Path) -> Path:
    from pipeline.scaffold import defaults_for, profile_sources, sized_defaults

    proj = tmp / "proj"
    proj.mkdir()
    for name in ("pipeline", "model", "flows"):
        shutil.copytree(REPO / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", proj / "dvc.yaml")
    shutil.copytree(REPO / "corpora" / "demo", proj / "corpora" / "demo")
    params = yaml.safe_load((REPO / "params.yaml").read_text(encoding="utf-8"))
    for lang, entry in params["languages"].items():
        cfg = yaml.safe_load((REPO / "corpora" / f"{lang}.yaml").read_text(encoding="utf-8"))
        if lang != "demo":
            files = sorted((shared / "small" / "text" / lang).glob("*.txt"))
            if not files:
                raise SystemExit(f"no small/text/{lang}/*.txt under {shared}")
            cfg["sources"] = [{"path": f"small/text/{lang}/*.txt", "format": "text"}]
            cov = defaults_for(cfg["script"])["character_coverage"]
            cfg["vocab"] = {**(cfg.get("vocab") or {}),
                            "size": sized_defaults(profile_sources(files), cov)["vocab_size"]}
            entry["raw"] = str(shared / "small" / "text" / lang)
        ev = entry.get("eval")
        entry["eval"] = [_abs_data(e, shared) for e in ev] if isinstance(ev, list) else _abs_data(ev, shared)
        cfg["review"] = {"policy": "auto"}
        cfg["pretrain"] = {"steps": 2, "batch_size": 8, "warmup_steps": 0, "log_every": 1,
                           "checkpoint_every": 2, "eval_batches": 1}
        cfg["evaluate"] = {"seeds": 1, "tasks": []}
        (proj / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True),
                                                      encoding="utf-8")
    params["data_root"] = str(shared)
    (proj / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    (proj / ".gitignore").write_text("/logs/\n/checkpoints/\n/.prefect/\n__pycache__/\n")
    env = _env(proj)
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=proj, check=True, env=env)
    return proj


def _env(proj: Path) -> dict:
    return {**os.environ, "FOUNDRY_PROJECT": str(proj), "PREFECT_HOME": str(proj / ".prefect"),
            "PYTHONPATH": str(proj), "DVC_NO_ANALYTICS": "1",
            "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
            "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost"}


def ran_stages(stdout: str) -> dict[str, list[str]]:
    out, lang = {}, None
    for line in stdout.splitlines():
        m = re.match(r"Stages for (\S+):", line)
        if m:
            lang = m.group(1)
            out[lang] = []
            continue
        m = re.match(r"\s+(\w+)\s+ran \(", line)
        if m and lang:
            out[lang].append(m.group(1))
    return {k: v for k, v in out.items() if v}


def foundry_run(proj: Path, args: list[str], **env) -> dict:
    load0 = os.getloadavg()[0]
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _CHILD, *args], cwd=proj, env={**_env(proj), **env},
                       capture_output=True, text=True, timeout=3600)
    process_s = time.perf_counter() - t
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("@@RESULT ")), None)
    if r.returncode != 0 or line is None:
        raise SystemExit(f"foundry {' '.join(args)} failed ({r.returncode}):\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}")
    res = json.loads(line.removeprefix("@@RESULT "))
    res.update(process_s=process_s, load_avg=round((load0 + os.getloadavg()[0]) / 2, 2),
               ran=ran_stages(r.stdout), stages_ran=sum(len(v) for v in ran_stages(r.stdout).values()))
    return {k: round(v, 3) if isinstance(v, float) else v for k, v in res.items()}


def dvc_status_cli(proj: Path) -> dict:
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-m", "dvc", "status"], cwd=proj, env=_env(proj), capture_output=True,
                       text=True)
    return {"wall_s": round(time.perf_counter() - t, 3), "rc": r.returncode,
            "up_to_date": "up to date" in r.stdout, "output": r.stdout.strip()[-500:]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.noop_run", description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--parallel", type=int, default=2)
    ap.add_argument("--data-root", default=os.environ.get("FOUNDRY_DATA_ROOT", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    ap.add_argument("--keep", help="build the project in this (new) folder and keep it")
    args = ap.parse_args(argv)
    shared = Path(args.data_root).resolve()
    machine = _machine()
    run_all = ["run", "--all", "--parallel", str(args.parallel)]
    tmp = Path(args.keep).resolve() if args.keep else Path(tempfile.mkdtemp(prefix="noop-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    try:
        proj = make_project(tmp, shared)
        langs = list(yaml.safe_load((proj / "params.yaml").read_text())["languages"])
        print(f"project {proj}: {len(langs)} languages ({', '.join(langs)})", flush=True)

        full = foundry_run(proj, run_all)
        print("full", json.dumps(full), flush=True)
        noop, per_stage = [], []
        for _ in range(args.repeats):  # interleaved: snapshots on (as shipped) and off (one call per stage)
            noop.append(foundry_run(proj, run_all))
            print("noop", json.dumps(noop[-1]), flush=True)
            per_stage.append(foundry_run(proj, run_all, FOUNDRY_DVC_SNAPSHOT_TTL="0"))
            print("noop, per-stage status", json.dumps(per_stage[-1]), flush=True)
        status = [dvc_status_cli(proj) for _ in range(args.repeats)]
        print("dvc status", json.dumps(status), flush=True)

        cfg_path = proj / "corpora" / "demo.yaml"
        cfg = yaml.safe_load(cfg_path.read_text(encoding="utf-8"))
        cfg["pretrain"]["steps"] = 3
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False, allow_unicode=True), encoding="utf-8")
        knob = foundry_run(proj, run_all)
        print("knob", json.dumps(knob), flush=True)
        after = foundry_run(proj, run_all)
        print("noop after knob", json.dumps(after), flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)

    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    noop_wall, noop_dvc = med([x["wall_s"] for x in noop]), med([x["dvc_s"] for x in noop])
    result = {
        "benchmark": "noop_run", "date": dt.date.today().isoformat(), "machine": machine,
        "languages": langs, "stages": len(langs) * 6, "parallel": args.parallel,
        "settings": "small/text samples, vocab sized by scaffold.sized_defaults, pretrain.steps 2, no eval tasks",
        "full": full, "noop": noop, "noop_per_stage_status": per_stage, "dvc_status_cli": status, "knob": knob, "noop_after_knob": after,
        "summary": {
            "full_wall_s": full["wall_s"], "full_stages_ran": full["stages_ran"],
            "noop_wall_s_median": noop_wall, "noop_dvc_s_median": noop_dvc,
            "noop_dvc_calls": noop[0]["dvc_calls"],
            "noop_stages_ran": max(x["stages_ran"] for x in noop + per_stage),
            "per_stage_wall_s_median": med([x["wall_s"] for x in per_stage]),
            "per_stage_dvc_s_median": med([x["dvc_s"] for x in per_stage]),
            "per_stage_dvc_calls": per_stage[0]["dvc_calls"],
            "noop_dvc_target_s": DVC_TARGET_S, "noop_dvc_within_target": noop_dvc <= DVC_TARGET_S,
            "dvc_status_cli_s_median": med([x["wall_s"] for x in status]),
            "knob_wall_s": knob["wall_s"], "knob_dvc_s": knob["dvc_s"], "knob_ran": knob["ran"],
            "knob_only_downstream": knob["ran"] == {"demo": ["pretrain", "evaluate"]},
            "noop_vs_full": round(noop_wall / full["wall_s"], 3),
            "knob_vs_full": round(knob["wall_s"] / full["wall_s"], 3),
        },
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    date = result["date"]
    write_text(out / f"noop_run-{date}.json", json.dumps(result, indent=2) + "\n")
    write_text(out / f"noop_run-{date}.md", _markdown(result))
    print(f"wrote {out}/noop_run-{date}.md and .json")
    return 0


def _markdown(r: dict) -> str:
    m, s = r["machine"], r["summary"]
    rows = [("full run (baseline)", r["full"])] + [(f"no-op #{i + 1}", x) for i, x in enumerate(r["noop"])] + \
        [(f"no-op #{i + 1}, one DVC status per stage (FOUNDRY_DVC_SNAPSHOT_TTL=0, as before snapshots)", x)
         for i, x in enumerate(r["noop_per_stage_status"])] + [("one knob: demo pretrain.steps 2 -> 3", r["knob"]), ("no-op after the knob", r["noop_after_knob"])]
    lines = [f"# No-op and one-knob re-run cost — {r['date']}", "",
             f"Machine: {m['platform']}, Python {m['python']}, CPU {m['cpu'] or 'unknown'}, "
             f"{m['cpu_count']} CPUs ({m['usable_cores']} usable), {m['memory_gb']} GB RAM.", "",
             f"Project: {len(r['languages'])} languages ({', '.join(r['languages'])}), {r['stages']} stages, "
             f"`foundry run --all --parallel {r['parallel']}`; {r['settings']} (see the module docstring). "
             "DVC s = time the flows held the DVC lock (every status/commit call); the rest of the wall time is "
             "Prefect (ephemeral server start-up, flow and task runs) and Python. Load = 1-minute load average "
             "(the machine is shared).", "",
             "| run | stages run | wall s | DVC s | DVC calls | vs full run | load |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, x in rows:
        lines.append(f"| {name} | {x['stages_ran']} | {x['wall_s']} | {x['dvc_s']} | {x['dvc_calls']} | "
                     f"{round(x['wall_s'] / r['full']['wall_s'], 3)} | {x['load_avg']} |")
    st = r["dvc_status_cli"]
    lines += ["", f"`dvc status` (CLI, whole DAG, everything up to date): "
                  f"{', '.join(str(x['wall_s']) for x in st)} s.", "",
              f"- No-op: median {s['noop_wall_s_median']} s wall ({s['noop_vs_full']} x the full run), of which "
              f"{s['noop_dvc_s_median']} s in DVC ({s['noop_dvc_calls']} calls) — target <= {s['noop_dvc_target_s']} s: "
              f"{'met' if s['noop_dvc_within_target'] else 'NOT met'}; stages run: {s['noop_stages_ran']}. "
              f"With one DVC status call per stage (snapshots off): {s['per_stage_wall_s_median']} s wall, "
              f"{s['per_stage_dvc_s_median']} s in DVC ({s['per_stage_dvc_calls']} calls).",
              f"- One knob: {s['knob_wall_s']} s wall ({s['knob_vs_full']} x the full run); stages run: "
              f"{', '.join(f'{k}: {v}' for k, v in s['knob_ran'].items()) or 'none'}"
              f" ({'only the stages downstream of the knob' if s['knob_only_downstream'] else 'UNEXPECTED'})."]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
