"""What every benchmark report names the machine by (the CPU model and the cores this process may use)."""
from __future__ import annotations

import os
import platform
from pathlib import Path


def cpu_model() -> str:
    try:
        for ln in Path("/proc/cpuinfo").read_text().splitlines():
            if ln.startswith("model name"):
                return ln.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or ""


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def describe() -> str:
    """One line naming the machine and the software: CPU, usable cores, platform, Python, torch."""
    import torch
    return (f"{cpu_model()}, {usable_cores()} usable cores, {platform.platform()}, Python {platform.python_version()}, "
            f"torch {torch.__version__}")


def write_results(out: str | Path, stem: str, result: dict, markdown: str) -> Path:
    """``<out>/<stem>.json`` and ``.md``, each written atomically; returns the stem's path."""
    import json

    from model.atomic import write_text
    path = Path(out) / stem
    write_text(path.with_suffix(".json"), json.dumps(result, indent=1) + "\n")
    write_text(path.with_suffix(".md"), markdown)
    print(f"wrote {path}.md and .json")
    return path
