"""Peak memory and CPU time of the validate and vocab stages as the cleaned corpus grows, against an earlier
commit on the same data in the same run.

    .venv/bin/python -m benchmarks.corpus_scale [--lang en] [--scales 1 16 128] [--before REF]

The language's shared text (``text/<lang>``) is cleaned once by this tree's clean stage; the cleaned corpus is
then repeated ``--scales`` times into the ``data/<lang>/clean`` of a project per scale, every copy's texts made
distinct (`` #k`` appended, ``n_chars`` and ids to match), so the validate stage's uniqueness check and the
vocab stage's sample see that many distinct documents of the language's real lengths. Each stage runs in a fresh
process (its ``ru_maxrss`` is the peak RSS; user + system CPU seconds) for **ours** (this tree) and **before**
(``--before REF``, a ``git worktree``; default the commit before the one that stopped holding the corpus's text
in pandas). Checks in the same run: ``validation.json`` equal (but for the hashed text column's name,
``text_digest`` for ``text``), and the tokenizer files equal where the corpus is under ``vocab.sample_chars``.
Results go to ``benchmarks/results/corpus_scale-<date>.md`` and ``.json``.
"""
from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from benchmarks._machine import describe, write_results

REPO = Path(__file__).resolve().parents[1]
BEFORE = "9118c39"   # the last commit whose validate stage read every text into pandas and whose vocab had no cap

_CHILD = r"""
import json, resource, sys
from pathlib import Path
from pipeline.stages import validate, vocab
stage = {"validate": validate, "vocab": vocab}[sys.argv[1]]
r0 = resource.getrusage(resource.RUSAGE_SELF)
s = stage.run(sys.argv[2], Path(sys.argv[3]))
r1 = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"cpu_s": r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime, "rss_mb": r1.ru_maxrss / 1024,
                  "out": {k: v for k, v in s.items() if isinstance(v, (int, float, str, bool))}}))
"""


def _child(code_root: Path, stage: str, lang: str, root: Path) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code_root)}
    r = subprocess.run([sys.executable, "-c", _CHILD, stage, lang, str(root)], cwd=code_root, env=env,
                       capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{stage} ({code_root}) failed:\n{r.stderr[-3000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _cleaned(lang: str, tmp: Path, shared: Path) -> Path:
    """A project whose ``data/<lang>/clean`` is this tree's clean stage over the shared text."""
    from pipeline.stages import clean

    root = tmp / "clean"
    shipped = yaml.safe_load((REPO / "corpora" / f"{lang}.yaml").read_text(encoding="utf-8"))
    cfg = {k: v for k, v in shipped.items() if k not in ("evaluate", "card")}
    cfg["review"] = {**cfg.get("review", {}), "policy": "auto"}   # validate approves, so vocab may run
    (root / "corpora").mkdir(parents=True)
    (root / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    (root / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": {lang: {}}}))
    clean.run(lang, root)
    return root


def _scaled(base: Path, lang: str, copies: int, to: Path) -> tuple[Path, int, int]:
    """A copy of the project whose cleaned corpus is ``copies`` distinct copies; (root, documents, characters)."""
    import pyarrow as pa
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    shutil.copytree(base / "corpora", to / "corpora")
    shutil.copy(base / "params.yaml", to / "params.yaml")
    out = to / "data" / lang / "clean"
    out.mkdir(parents=True)
    src = base / "data" / lang / "clean"
    shutil.copy(src / "stats.json", out / "stats.json")
    shutil.copy(src / "rejected.jsonl", out / "rejected.jsonl")
    t = pa.concat_tables([pq.read_table(f) for f in sorted(src.glob("part-*.parquet"))])
    docs = chars = 0
    for k in range(copies):
        text = pc.binary_join_element_wise(t.column("text"), pa.array([str(k)] * t.num_rows), " #")
        cols = {c: t.column(c) for c in t.column_names}
        cols.update(text=text, n_chars=pc.cast(pc.utf8_length(text), t.schema.field("n_chars").type),
                    id=pc.binary_join_element_wise(t.column("id"), pa.array([str(k)] * t.num_rows), "-"))
        pq.write_table(pa.table(cols, schema=t.schema), out / f"part-{k:05d}.parquet", compression="zstd",
                       row_group_size=4096)
        docs += t.num_rows
        chars += pc.sum(cols["n_chars"]).as_py()
    return to, docs, chars


def _files(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _validation(root: Path, lang: str) -> str:
    return (root / "data" / lang / "validation.json").read_text(encoding="utf-8").replace('"text_digest"', '"text"')


def _run(code: dict[str, Path], lang: str, root: Path) -> dict:
    """Both code bases' validate then vocab on the project (each on its own copy); measures and checks."""
    out, seen = {}, {}
    for name, code_root in code.items():
        mine = root.parent / f"{root.name}-{name}"
        shutil.copytree(root, mine)
        out[name] = {stage: _child(code_root, stage, lang, mine) for stage in ("validate", "vocab")}
        seen[name] = (_validation(mine, lang), _files(mine / "models" / lang / "tokenizer"))
        shutil.rmtree(mine)
    if "before" in seen:
        out["validation_equal"] = seen["ours"][0] == seen["before"][0]
        out["tokenizer_equal"] = seen["ours"][1] == seen["before"][1]
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--lang", default="en")
    ap.add_argument("--scales", type=int, nargs="+", default=[1, 16, 128])
    ap.add_argument("--before", default=BEFORE, help="the earlier commit (git worktree); 'none' to leave it out")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    shared = Path(os.environ.get("FOUNDRY_DATA_ROOT", REPO.parent / "shared" / "data"))
    rows = []
    with tempfile.TemporaryDirectory(prefix="corpus-scale-") as t:
        tmp = Path(t)
        code = {"ours": REPO}
        if args.before != "none":
            subprocess.run(["git", "worktree", "add", "--detach", str(tmp / "before"), args.before], cwd=REPO,
                           check=True, capture_output=True)
            code["before"] = tmp / "before"
        try:
            base = _cleaned(args.lang, tmp, shared)
            for n in args.scales:
                root, docs, chars = _scaled(base, args.lang, n, tmp / f"x{n}")
                print(f"{args.lang} x{n}: {docs} documents, {chars / 1e6:.1f}M characters", flush=True)
                rows.append({"copies": n, "documents": docs, "characters": chars, **_run(code, args.lang, root)})
                shutil.rmtree(root)
        finally:
            if "before" in code:
                subprocess.run(["git", "worktree", "remove", "--force", str(code["before"])], cwd=REPO,
                               capture_output=True)
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True)
    result = {"machine": describe(), "date": dt.date.today().isoformat(), "commit": head.stdout.strip(),
              "before": None if args.before == "none" else args.before, "lang": args.lang, "rows": rows}
    write_results(args.out, f"corpus_scale-{result['date']}", result, _markdown(result))
    return 0


def _markdown(r: dict) -> str:
    lines = [f"# Validate and vocab as the corpus grows ({r['lang']})", "",
             f"Machine: {r['machine']}. Commit `{r['commit']}`; before: `{r['before']}`. Each stage in a fresh "
             "process; peak RSS (ru_maxrss) and user + system CPU seconds. `python -m benchmarks.corpus_scale`.", "",
             "| copies | documents | M chars | stage | ours RSS MB | before RSS MB | RSS ours / before | ours CPU-s | "
             "before CPU-s | same output |", "|---:|---:|---:|---|---:|---:|---:|---:|---:|---|"]
    for row in r["rows"]:
        for stage, same in (("validate", row.get("validation_equal")), ("vocab", row.get("tokenizer_equal"))):
            o, b = row["ours"][stage], row.get("before", {}).get(stage)
            ratio = f"{o['rss_mb'] / b['rss_mb']:.2f}" if b else "-"
            lines.append(f"| {row['copies']} | {row['documents']:,} | {row['characters'] / 1e6:.1f} | {stage} | "
                         f"{o['rss_mb']:.0f} | {b['rss_mb'] if b is None else round(b['rss_mb'])} | {ratio} | "
                         f"{o['cpu_s']:.1f} | {'-' if b is None else round(b['cpu_s'], 1)} | "
                         f"{'-' if same is None else ('yes' if same else 'no')} |")
    lines += ["", "Vocab: documents and characters sampled (ours), tokens per word on held-out text (ours / before):",
              ""]
    for row in r["rows"]:
        o, b = row["ours"]["vocab"]["out"], row.get("before", {}).get("vocab", {}).get("out", {})
        lines.append(f"- x{row['copies']}: {o.get('documents_sampled')} documents, "
                     f"{o.get('characters_sampled', 0) / 1e6:.1f}M characters; tokens/word {o.get('tokens_per_word')}"
                     f" / {b.get('tokens_per_word', '-')}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
