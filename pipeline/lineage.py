"""Lineage for model cards: git commit and the DVC hashes of each stage's outputs (from dvc.lock)."""
from __future__ import annotations

import subprocess
from pathlib import Path

import yaml


def git_commit(root: Path) -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                           capture_output=True, text=True, timeout=10).stdout.strip()
    return out.stdout.strip() + ("+dirty" if dirty else "")


def dvc_hashes(root: Path, lang: str, stages=("clean", "validate", "vocab", "shard")) -> dict:
    """md5 of each output of the language's upstream stages, as recorded in dvc.lock."""
    lock = root / "dvc.lock"
    if not lock.is_file():
        return {}
    data = yaml.safe_load(lock.read_text(encoding="utf-8")) or {}
    out = {}
    for stage in stages:
        entry = (data.get("stages") or {}).get(f"{stage}@{lang}") or {}
        for o in entry.get("outs") or []:
            out[o["path"]] = o.get("md5")
    return out
