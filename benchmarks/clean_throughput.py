"""Clean-stage throughput and peak memory at 1x, 4x and 16x corpus size.

    .venv/bin/python -m benchmarks.clean_throughput [--langs sw] [--sizes 1 4 16] [--baseline-sizes 1 4]

For each language and size the shared text corpus (``text/<lang>/*.txt.gz``) is repeated N times (N copies
of every file under a temporary data root; the copies are exact duplicates, so dedup drops all but one,
while every other step does its full work) and ``python -m pipeline clean LANG`` runs in a fresh process:

- **parallel**: the stage as shipped (all cores: ``FOUNDRY_CLEAN_WORKERS`` unset);
- **baseline**: the same stage in a single process (``FOUNDRY_CLEAN_WORKERS=1``: tasks run inline, no pool),
  measured in the same run.

Throughput is uncompressed input megabytes per second of wall time, per core (divided by the processes that
worked), and per CPU-second (user + system time of the stage and its workers: the per-core figure that does
not depend on how busy a shared machine is; the load average during each run is recorded). Peak memory is ``ru_maxrss`` of the stage's main process and the largest of its worker
processes (each task records its process's ``ru_maxrss``). Results go to ``benchmarks/results/clean_throughput-<date>.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, os, resource, sys, time
from pathlib import Path
from pipeline.stages import clean
t = time.perf_counter()
summary = clean.run(sys.argv[1], Path(sys.argv[2]))
wall = time.perf_counter() - t
me = resource.getrusage(resource.RUSAGE_SELF)
# workers fork from a forkserver (not our children): each task records its CPU time and its process's peak RSS
pool = summary["workers"] > 1 and summary["tasks"] > 1
print(json.dumps({"wall_s": wall, "summary": summary,
                  "cpu_s": me.ru_utime + me.ru_stime + (summary["timings"]["task_cpu"] if pool else 0),
                  "main_rss_mb": me.ru_maxrss / 1024, "worker_rss_mb": summary["worker_rss_mb"]}))
"""


def _machine() -> dict:
    from benchmarks._machine import cpu_model, usable_cores
    cores, cpu = usable_cores(), cpu_model()
    mem = None
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal"):
                mem = round(int(ln.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    try:
        autogroup = Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip() == "1"
    except OSError:
        autogroup = None
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpu_count": os.cpu_count(), "usable_cores": cores, "memory_gb": mem, "sched_autogroup": autogroup}


def _make_project(tmp: Path, lang: str, copies: int, shared: Path) -> tuple[Path, int]:
    """A project whose language reads ``copies`` copies of the shared text. Returns (root, input bytes)."""
    root = tmp / f"{lang}-x{copies}"
    data = root / "rawdata"
    src_files = sorted((shared / "text" / lang).glob("*.txt.gz"))
    size = 0
    for k in range(copies):
        d = data / f"copy{k:02d}"
        d.mkdir(parents=True, exist_ok=True)
        for f in src_files:
            (d / f.name).symlink_to(f)
    for f in src_files:
        with gzip.open(f, "rb") as g:
            size += len(g.read())
    size *= copies
    shipped = yaml.safe_load((REPO / "corpora" / f"{lang}.yaml").read_text(encoding="utf-8"))
    cfg = {k: shipped[k] for k in ("language", "name", "script", "clean") if k in shipped}
    cfg["sources"] = [{"path": "rawdata/*/*.txt.gz", "root": "project", "format": "text"}]
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    (root / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    (root / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {lang: {}}}))
    return root, size


def _measure(root: Path, lang: str, workers: int | None) -> dict:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("FOUNDRY_CLEAN_WORKERS", None)
    if workers:
        env["FOUNDRY_CLEAN_WORKERS"] = str(workers)
    shutil.rmtree(root / "data", ignore_errors=True)
    load_before = os.getloadavg()[0]
    t = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", _CHILD, lang, str(root)], cwd=REPO, env=env, capture_output=True,
                       text=True)
    total = time.perf_counter() - t
    if r.returncode != 0:
        raise SystemExit(f"clean {lang} failed:\n{r.stderr[-3000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    out["process_s"] = total
    out["load_avg"] = round((load_before + os.getloadavg()[0]) / 2, 2)
    shutil.rmtree(root / "data", ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.clean_throughput", description=__doc__.splitlines()[0])
    ap.add_argument("--langs", nargs="+", default=["sw"])
    ap.add_argument("--sizes", nargs="+", type=int, default=[1, 4, 16])
    ap.add_argument("--baseline-sizes", nargs="+", type=int, default=[1, 4])
    ap.add_argument("--data-root", default=os.environ.get("FOUNDRY_DATA_ROOT", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    shared = Path(args.data_root).resolve()
    machine = _machine()
    cores = machine["usable_cores"]
    rows = []
    with tempfile.TemporaryDirectory(prefix="clean-bench-") as tmp:
        for lang in args.langs:
            for size in args.sizes:
                root, nbytes = _make_project(Path(tmp), lang, size, shared)
                mb = nbytes / 1e6
                for mode in (["baseline"] if size in args.baseline_sizes else []) + ["parallel"]:
                    m = _measure(root, lang, 1 if mode == "baseline" else None)
                    s = m["summary"]
                    procs = 1 if mode == "baseline" else min(cores, s["tasks"])
                    row = {"lang": lang, "size": size, "mode": mode, "input_mb": round(mb, 2),
                           "documents_in": s["documents_in"], "documents_out": s["documents_out"],
                           "tasks": s["tasks"], "processes": procs, "wall_s": round(m["wall_s"], 2),
                           "process_s": round(m["process_s"], 2),
                           "cpu_s": round(m["cpu_s"], 1),
                           "mb_per_s": round(mb / m["wall_s"], 3), "mb_per_s_per_core": round(mb / m["wall_s"] / procs, 3),
                           "mb_per_cpu_s": round(mb / m["cpu_s"], 3), "load_avg": m["load_avg"],
                           "main_rss_mb": round(m["main_rss_mb"], 1),
                           "worker_rss_mb": round(m["worker_rss_mb"], 1) if mode == "parallel" else None}
                    rows.append(row)
                    print(json.dumps(row), flush=True)

    ratios = []
    for lang in args.langs:
        by = {(r["size"], r["mode"]): r for r in rows if r["lang"] == lang}
        base1 = by.get((min(args.sizes), "parallel"))
        for size in args.sizes:
            p = by.get((size, "parallel"))
            b = by.get((size, "baseline"))
            ratios.append({
                "lang": lang, "size": size,
                "speedup_vs_baseline": round(b["wall_s"] / p["wall_s"], 2) if b else None,
                "parallel_efficiency": round(b["wall_s"] / p["wall_s"] / p["processes"], 2) if b else None,
                "per_core_vs_baseline": round(p["mb_per_s_per_core"] / b["mb_per_s_per_core"], 2) if b else None,
                "per_cpu_s_vs_baseline": round(p["mb_per_cpu_s"] / b["mb_per_cpu_s"], 2) if b else None,
                "throughput_vs_1x": round(p["mb_per_s"] / base1["mb_per_s"], 2),
                "main_rss_vs_1x": round(p["main_rss_mb"] / base1["main_rss_mb"], 2),
                "worker_rss_vs_1x": round(p["worker_rss_mb"] / base1["worker_rss_mb"], 2)
                if p["worker_rss_mb"] and base1["worker_rss_mb"] else None,
            })
    date = dt.date.today().isoformat()
    result = {"benchmark": "clean_throughput", "date": date, "machine": machine, "langs": args.langs,
              "sizes": args.sizes, "rows": rows, "ratios": ratios}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"clean_throughput-{date}.json").write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    (out / f"clean_throughput-{date}.md").write_text(_markdown(result), encoding="utf-8")
    print(f"wrote {out}/clean_throughput-{date}.md and .json")
    return 0


def _markdown(r: dict) -> str:
    m = r["machine"]
    lines = [f"# Clean-stage throughput — {r['date']}", "",
             f"Machine: {m['platform']}, Python {m['python']}, CPU {m['cpu'] or 'unknown'}, "
             f"{m['cpu_count']} CPUs ({m['usable_cores']} usable), {m['memory_gb']} GB RAM.", "",
             "Corpus: the shared `text/<lang>/*.txt.gz` repeated N times (exact copies: dedup keeps one, every "
             "other step does its full work). `baseline` = the same stage in one process "
             "(`FOUNDRY_CLEAN_WORKERS=1`), `parallel` = as shipped (all usable cores). Throughput = uncompressed "
             "input MB / wall s; per core = divided by the processes that worked; per CPU-s = input MB / (user + "
             "system CPU seconds of the stage and its workers), independent of machine load. RSS = peak resident "
             "memory of the main process and of the largest worker. Load = 1-minute load average during the run "
             "(the machine is shared).", "",
             "| lang | size | mode | input MB | docs in | docs out | tasks | procs | wall s | CPU s | MB/s "
             "| MB/s/core | MB/CPU-s | main RSS MB | worker RSS MB | load |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in r["rows"]:
        lines.append(f"| {x['lang']} | {x['size']}x | {x['mode']} | {x['input_mb']} | {x['documents_in']} | "
                     f"{x['documents_out']} | {x['tasks']} | {x['processes']} | {x['wall_s']} | {x['cpu_s']} | "
                     f"{x['mb_per_s']} | {x['mb_per_s_per_core']} | {x['mb_per_cpu_s']} | {x['main_rss_mb']} | "
                     f"{x['worker_rss_mb'] or '—'} | {x['load_avg']} |")
    loads = [x["load_avg"] for x in r["rows"]]
    if loads and max(loads) > m["usable_cores"]:
        cpu_r = [x["per_cpu_s_vs_baseline"] for x in r["ratios"] if x["per_cpu_s_vs_baseline"] is not None]
        big = max(r["ratios"], key=lambda x: x["size"])
        facts = (f" Per-CPU-second throughput of the parallel runs is {min(cpu_r)}–{max(cpu_r)} x the baseline's"
                 if cpu_r else "")
        facts += (f"; at {big['size']}x the input, peak RSS is {big['main_rss_vs_1x']} x (main process) and "
                  f"{big['worker_rss_vs_1x']} x (largest worker) that of 1x.")
        lines += ["", f"**Note.** The machine was busy with other work during the runs (load average "
                      f"{min(loads)}–{max(loads)} on {m['usable_cores']} cores)"
                  + (" and the kernel shares CPU time per session (`sched_autogroup_enabled = 1`): the worker "
                     "processes of one run share that run's slice instead of adding to it, so wall-clock speedup "
                     "over the single-process baseline cannot show here. MB/CPU-s (work per CPU second) and the "
                     "RSS columns are the load-independent figures." if m.get("sched_autogroup")
                     else ": wall-clock figures understate the speedup.") + facts]
    lines += ["", "Ratios (parallel run at each size):", "",
              "| lang | size | speedup vs baseline | parallel efficiency | per-core throughput vs baseline "
              "| MB/CPU-s vs baseline | throughput vs 1x | main RSS vs 1x | worker RSS vs 1x |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for x in r["ratios"]:
        f = lambda v: "—" if v is None else v  # noqa: E731
        lines.append(f"| {x['lang']} | {x['size']}x | {f(x['speedup_vs_baseline'])} | {f(x['parallel_efficiency'])} "
                     f"| {f(x['per_core_vs_baseline'])} | {f(x['per_cpu_s_vs_baseline'])} | {x['throughput_vs_1x']} "
                     f"| {x['main_rss_vs_1x']} "
                     f"| {f(x['worker_rss_vs_1x'])} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
