"""DVC remote storage for `foundry push` / `foundry pull`.

A project that has no default DVC remote gets a local one: ``$FOUNDRY_REMOTE`` or
``~/.cache/electra-foundry/dvc-remote``, recorded in ``.dvc/config.local`` (machine-specific, not
committed). Teams configure S3/GCS/SSH the DVC way (`dvc remote add -d store s3://bucket/path`,
see README "Scale out"), and push/pull use it.
"""
from __future__ import annotations

import os
from pathlib import Path

from flows.dvcops import _LOCK, _repo

DEFAULT_REMOTE = Path("~/.cache/electra-foundry/dvc-remote")
LOCAL_NAME = "foundry-local"


def default_remote(root: Path) -> str:
    """Name of the default remote, configuring the local one when there is none."""
    with _LOCK, _repo(root) as repo:
        core = repo.config.get("core", {})
        if core.get("remote"):
            return core["remote"]
        url = Path(os.environ.get("FOUNDRY_REMOTE", DEFAULT_REMOTE)).expanduser().resolve()
        url.mkdir(parents=True, exist_ok=True)
        with repo.config.edit("local") as conf:
            conf.setdefault("remote", {})[LOCAL_NAME] = {"url": str(url)}
            conf.setdefault("core", {})["remote"] = LOCAL_NAME
        return LOCAL_NAME


def targets(langs: list[str] | None) -> list[str] | None:
    if not langs:
        return None
    from pipeline.stages import STAGES
    return [f"{s}@{lang}" for lang in langs for s in STAGES]


def push(root: Path, langs: list[str] | None = None) -> dict:
    remote = default_remote(root)
    with _LOCK, _repo(root) as repo:
        n = repo.push(targets=targets(langs), remote=remote)
    return {"remote": remote, "pushed": n}


def pull(root: Path, langs: list[str] | None = None) -> dict:
    remote = default_remote(root)
    with _LOCK, _repo(root) as repo:
        stats = repo.pull(targets=targets(langs), remote=remote)
    fetched = (stats.get("stats") or {}).get("fetched", 0)
    return {"remote": remote, "fetched": fetched, **{k: v for k, v in stats.items() if k != "stats"}}
