"""What a ``foundry run`` will do, decided before Prefect starts: the stages it runs (``--from`` /
``--until``), whether a Prefect server is configured, and whether there is anything to do at all.

A run with nothing to do costs almost nothing: when no Prefect server is configured, the languages run on
threads (no Dask) and DVC says every requested stage of every requested language is up to date, ``foundry
run`` says so and prints what a run would print, without starting Prefect's ephemeral server (20-30 s of
a no-op run over the shipped languages; ``benchmarks/noop_run.py``). With a server the run goes through
Prefect as usual, so it shows in the UI.
"""
from __future__ import annotations

import os
from pathlib import Path

from pipeline.stages import STAGES


def select_stages(start: str | None = None, until: str | None = None) -> list[str]:
    """The stages from ``start`` to ``until`` (both included; default: all), in order."""
    for name, s in (("--from", start), ("--until", until)):
        if s is not None and s not in STAGES:
            raise ValueError(f"{name} {s!r}: not a stage; stages: {', '.join(STAGES)}")
    i = STAGES.index(start) if start else 0
    j = STAGES.index(until) if until else len(STAGES) - 1
    if i > j:
        raise ValueError(f"--from {start} comes after --until {until} (stages: {', '.join(STAGES)})")
    return list(STAGES[i:j + 1])


def api_url() -> str | None:
    """The Prefect API this process talks to, when one is configured (a persistent server that other
    processes can reach); None means the ephemeral server inside this process."""
    from prefect.settings import get_current_settings

    url = get_current_settings().api.url
    return str(url) if url else None


def may_have_server(cwd: Path | None = None) -> bool:
    """False only when no Prefect setting source names an API URL, read without importing Prefect (whose
    import alone takes 1-2 s): the environment, the profiles file, and prefect.toml / .env / pyproject.toml
    in the working directory. Any mention counts as a server (the run then goes through Prefect, which
    reads the settings exactly: :func:`api_url`), so this errs only towards the slow path."""
    if os.environ.get("PREFECT_API_URL"):
        return True
    home = Path(os.environ.get("PREFECT_HOME") or Path.home() / ".prefect").expanduser()
    profiles = Path(os.environ.get("PREFECT_PROFILES_PATH") or home / "profiles.toml").expanduser()
    here = Path(cwd or Path.cwd())
    for path, needle in ((profiles, "PREFECT_API_URL"), (here / ".env", "PREFECT_API_URL"),
                         (here / "prefect.toml", "url"), (here / "pyproject.toml", "tool.prefect")):
        try:
            if needle in path.read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


def stale_stages(root: Path, langs: list[str], stages: list[str]) -> set[str]:
    """Which of ``stages`` of ``langs`` DVC finds stale (``STAGE@LANG``): one status call over the whole
    DAG, taken in turn with the flows' DVC calls; further questions are answered from its snapshot."""
    from flows import dvcops

    with dvcops.dvc_turn(root):
        return set(dvcops.stale(Path(root), [f"{s}@{lang}" for lang in langs for s in stages]))
