"""Clean-stage throughput per CPU-second against datatrove's own executor, byte-identity with an earlier
commit, and peak memory as the corpus grows.

    .venv/bin/python -m benchmarks.clean_throughput [--langs en ru zh] [--scale 10]
                                                    [--before REF | --revert COMMIT ...] [--no-datatrove]

For each language the shared text corpus (``text/<lang>/*.txt.gz``) is copied into a temporary project (1x),
and ``--scale`` times (10x: exact copies, so dedup keeps one, while every other step does its full work).
Each run is a fresh single process (``FOUNDRY_CLEAN_WORKERS=1``) measured by its user + system CPU time, so
the figures do not depend on how busy a shared machine is:

- **ours**: this tree's clean stage (``pipeline.stages.clean.run``), at 1x and at the larger scale;
- **datatrove**: ``benchmarks/_clean_datatrove.py`` - datatrove's ``LocalPipelineExecutor`` running the same
  filters with the same thresholds on the same documents (read from JSONL), datatrove's MinHash stages
  and Parquet writer, at 1x;
- **before**: the clean stage of an earlier code base on the same project and config, at 1x - ``--before REF``
  (a commit, checked out with ``git worktree``) or ``--revert COMMIT ...`` (this tree's HEAD with those
  commits' changes to ``pipeline/`` undone, e.g. the speed work, so that nothing else differs); its
  ``clean/`` output must equal ours file by file (SHA-256);
- **ours + calibration**: ours at 1x with the per-language threshold calibration on. The other runs set
  ``clean.calibration: false`` (the configured thresholds), as the byte-identity check needs the same
  thresholds on both sides.

Throughput is uncompressed input MB per CPU-second of the stage (``clean.run``: reading, normalisation,
filters, language ID, dedup, writing; not the interpreter's start-up). Peak RSS is the process's
``ru_maxrss``. Results go to ``benchmarks/results/clean_throughput-<date>.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import gzip
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from model.atomic import write_text

REPO = Path(__file__).resolve().parents[1]

_CHILD = r"""
import json, resource, sys
from pathlib import Path
from pipeline.stages import clean
r0 = resource.getrusage(resource.RUSAGE_SELF)
s = clean.run(sys.argv[1], Path(sys.argv[2]))
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"documents_in": s["documents_in"], "documents_out": s["documents_out"],
                  "cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, "rss_mb": r1.ru_maxrss / 1024}))
"""


def _machine() -> dict:
    from benchmarks._machine import cpu_model, usable_cores
    mem = None
    try:
        for ln in Path("/proc/meminfo").read_text().splitlines():
            if ln.startswith("MemTotal"):
                mem = round(int(ln.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu_model(),
            "cpu_count": os.cpu_count(), "usable_cores": usable_cores(), "memory_gb": mem}


def _make_project(tmp: Path, lang: str, copies: int, shared: Path) -> tuple[Path, float]:
    """A project whose language reads ``copies`` copies of the shared text. Returns (root, input MB)."""
    root = tmp / f"{lang}-x{copies}"
    src_files = sorted((shared / "text" / lang).glob("*.txt.gz"))
    size = 0
    for k in range(copies):
        d = root / "rawdata" / f"copy{k:02d}"
        d.mkdir(parents=True, exist_ok=True)
        for f in src_files:
            shutil.copyfile(f, d / f.name)     # copies: a source may not link outside the project
    for f in src_files:
        with gzip.open(f, "rb") as g:
            size += len(g.read())
    shipped = yaml.safe_load((REPO / "corpora" / f"{lang}.yaml").read_text(encoding="utf-8"))
    cfg = {k: shipped[k] for k in ("language", "name", "script", "clean") if k in shipped}
    cfg["sources"] = [{"path": "rawdata/*/*.txt.gz", "root": "project", "format": "text"}]
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    (root / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    (root / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {lang: {}}}))
    return root, size * copies / 1e6


def _child(args: list[str], code_root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root), "FOUNDRY_CLEAN_WORKERS": "1"}
    r = subprocess.run([sys.executable, *args], cwd=code_root, env=env, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args[:2])} failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _calibration(root: Path, lang: str, on: bool) -> None:
    path = root / "corpora" / f"{lang}.yaml"
    cfg = yaml.safe_load(path.read_text(encoding="utf-8"))
    cfg["clean"]["calibration"] = on
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")


def _clean(root: Path, lang: str, code_root: Path, calibration: bool = False) -> tuple[dict, dict[str, str]]:
    """Run the clean stage of ``code_root`` on the project; (measures, {file: sha256} of clean/)."""
    _calibration(root, lang, calibration)
    shutil.rmtree(root / "data", ignore_errors=True)
    m = _child(["-c", _CHILD, lang, str(root)], code_root)
    out = root / "data" / lang / "clean"
    hashes = {p.relative_to(out).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
              for p in sorted(out.rglob("*")) if p.is_file()}
    shutil.rmtree(root / "data", ignore_errors=True)
    return m, hashes


def _worktree(ref: str, tmp: Path, revert: list[str]) -> Path:
    path = tmp / "before"
    subprocess.run(["git", "worktree", "add", "--detach", str(path), ref], cwd=REPO, check=True,
                   capture_output=True)
    for c in revert[::-1]:   # newest first: their changes to pipeline/ undone in the working tree (no commit)
        # a file the commit added stays (later commits edited it, so its removal would not apply); once the
        # commit's other changes are undone nothing imports it
        added = subprocess.run(["git", "diff", "--name-only", "--diff-filter=A", f"{c}^", c, "--", "pipeline"],
                               cwd=path, check=True, capture_output=True, text=True).stdout.split()
        diff = subprocess.run(["git", "diff", f"{c}^", c, "--", "pipeline", *(f":(exclude){a}" for a in added)],
                              cwd=path, check=True, capture_output=True).stdout
        r = subprocess.run(["git", "apply", "-R", "-3"], input=diff, cwd=path, capture_output=True)
        if r.returncode != 0:
            raise SystemExit(f"--revert {c}: its changes to pipeline/ do not undo on {ref}:\n"
                             f"{r.stderr.decode(errors='replace')[-2000:]}")
    return path


def _row(lang: str, size: int, run: str, mb: float, m: dict) -> dict:
    return {"lang": lang, "size": size, "run": run, "input_mb": round(mb, 2), "documents_in": m["documents_in"],
            "documents_out": m["documents_out"], "cpu_s": round(m["cpu_s"], 2),
            "mb_per_cpu_s": round(mb / m["cpu_s"], 3), "rss_mb": round(m["rss_mb"], 1)}


def _language(lang: str, args, tmp: Path, before: Path | None) -> tuple[list[dict], dict]:
    shared = Path(args.data_root).resolve()
    rows: list[dict] = []
    root, mb = _make_project(tmp, lang, 1, shared)
    ours, ours_files = _clean(root, lang, REPO)
    rows.append(_row(lang, 1, "ours", mb, ours))
    summary: dict = {"lang": lang}
    with_cal, _ = _clean(root, lang, REPO, calibration=True)
    rows.append(_row(lang, 1, "ours + calibration", mb, with_cal))
    if not args.no_datatrove:
        work = tmp / f"dt-{lang}"
        base = _child(["-m", "benchmarks._clean_datatrove", lang, str(root), str(work)], REPO)
        shutil.rmtree(work, ignore_errors=True)
        rows.append(_row(lang, 1, "datatrove", mb, base))
        summary["vs_datatrove"] = round(base["cpu_s"] / ours["cpu_s"], 2)
    if before is not None:
        old, old_files = _clean(root, lang, before)
        rows.append(_row(lang, 1, "before", mb, old))
        summary["vs_before"] = round(old["cpu_s"] / ours["cpu_s"], 2)
        summary["byte_identical"] = old_files == ours_files
        summary["files_compared"] = len(ours_files)
    shutil.rmtree(root)
    if args.scale > 1:
        big, big_mb = _make_project(tmp, lang, args.scale, shared)
        m, _ = _clean(big, lang, REPO)
        rows.append(_row(lang, args.scale, "ours", big_mb, m))
        summary["rss_scaled_vs_1x"] = round(m["rss_mb"] / ours["rss_mb"], 2)
        summary["mb_per_cpu_s_scaled_vs_1x"] = round(rows[-1]["mb_per_cpu_s"] / rows[0]["mb_per_cpu_s"], 2)
        shutil.rmtree(big)
    for r in rows:
        print(json.dumps(r), flush=True)
    print(json.dumps(summary), flush=True)
    return rows, summary


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.clean_throughput", description=__doc__.splitlines()[0])
    ap.add_argument("--langs", nargs="+", default=["en", "ru", "zh"])
    ap.add_argument("--scale", type=int, default=10, help="the larger corpus: this many copies (1: none)")
    ap.add_argument("--before", help="a git commit whose clean stage must give the same output (and is timed)")
    ap.add_argument("--revert", nargs="+", default=[], help="the 'before' code base is HEAD with these commits' "
                    "changes to pipeline/ undone (instead of --before)")
    ap.add_argument("--no-datatrove", action="store_true", help="leave out the datatrove executor baseline")
    ap.add_argument("--data-root", default=os.environ.get("FOUNDRY_DATA_ROOT", str(REPO.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    rows, summaries = [], []
    load_start = _load()
    with tempfile.TemporaryDirectory(prefix="clean-bench-") as t:
        tmp = Path(t)
        before = _worktree(args.before or "HEAD", tmp, args.revert) if (args.before or args.revert) else None
        try:
            for lang in args.langs:
                r, s = _language(lang, args, tmp, before)
                rows += r
                summaries.append(s)
        finally:
            if before is not None:
                subprocess.run(["git", "worktree", "remove", "--force", str(before)], cwd=REPO, capture_output=True)
    date = dt.date.today().isoformat()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout
    result = {"benchmark": "clean_throughput", "date": date, "machine": _machine(), "scale": args.scale,
              "commit": head.strip(), "before": args.before, "reverted": args.revert, "rows": rows,
              "summary": summaries}
    result["load_average"] = {"start": load_start, "end": _load()}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / f"clean_throughput-{date}.json", json.dumps(result, indent=2) + "\n")
    write_text(out / f"clean_throughput-{date}.md", _markdown(result))
    print(f"wrote {out / f'clean_throughput-{date}.md'} and .json")
    return 0 if all(s.get("byte_identical", True) for s in summaries) else 1


def _before(r: dict) -> str:
    if r["reverted"]:
        return (f"the clean stage of `{r['before'] or r['commit']}` with the changes of commit(s) "
                f"{', '.join(f'`{c}`' for c in r['reverted'])} to `pipeline/` undone")
    return f"the clean stage of commit `{r['before']}`" if r["before"] else "not run"


def _load() -> float | None:
    """The 1-minute load average: how busy the machine was (CPU time, not wall time, is measured, but a busy
    machine's shared caches still slow a process)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _markdown(r: dict) -> str:
    m = r["machine"]
    f = lambda v: "—" if v is None else v  # noqa: E731
    lines = [f"# Clean-stage throughput — {r['date']}", "",
             f"Machine: {m['platform']}, Python {m['python']}, CPU {m['cpu'] or 'unknown'}, "
             f"{m['cpu_count']} CPUs ({m['usable_cores']} usable), {m['memory_gb']} GB RAM; 1-minute load average "
             f"{(r.get('load_average') or {}).get('start', '—')} at the start, {(r.get('load_average') or {}).get('end', '—')} "
             "at the end.", "",
             "Corpus: the shared `text/<lang>/*.txt.gz` (1x) and "
             f"{r['scale']} exact copies of it ({r['scale']}x). Every run is one process (`FOUNDRY_CLEAN_WORKERS=1`); "
             "MB/CPU-s = uncompressed input MB / (user + system CPU seconds of the stage). `ours` = this tree's "
             "clean stage; `datatrove` = datatrove's `LocalPipelineExecutor` running the same filters and thresholds "
             "and its MinHash stages on the same documents (`benchmarks/_clean_datatrove.py`); "
             f"`before` = {_before(r)} on the same project. `ours + calibration`: with the per-language "
             "threshold calibration on (every other run: `clean.calibration: false`, the same thresholds on both "
             f"sides of the byte-identity check). Code: commit `{r['commit']}`.", "",
             "| lang | size | run | input MB | docs in | docs out | CPU s | MB/CPU-s | peak RSS MB |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for x in r["rows"]:
        lines.append(f"| {x['lang']} | {x['size']}x | {x['run']} | {x['input_mb']} | {x['documents_in']} | "
                     f"{x['documents_out']} | {x['cpu_s']} | {x['mb_per_cpu_s']} | {x['rss_mb']} |")
    lines += ["", "| lang | ours vs datatrove (CPU) | ours vs before (CPU) | clean/ byte-identical to before "
              f"| MB/CPU-s {r['scale']}x vs 1x | peak RSS {r['scale']}x vs 1x |", "|---|---:|---:|---|---:|---:|"]
    for s in r["summary"]:
        same = s.get("byte_identical")
        check = "—" if same is None else f"{'yes' if same else 'NO'} ({s['files_compared']} files)"
        lines.append(f"| {s['lang']} | {f(s.get('vs_datatrove'))} | {f(s.get('vs_before'))} | {check} | "
                     f"{f(s.get('mb_per_cpu_s_scaled_vs_1x'))} | {f(s.get('rss_scaled_vs_1x'))} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
