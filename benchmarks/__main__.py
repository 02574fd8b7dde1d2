"""`python -m benchmarks` (`make bench`): list the benchmarks; `python -m benchmarks NAME [ARGS...]` runs one.

Each benchmark measures against a baseline in the same run, names the machine, and writes
``benchmarks/results/<name>-<date>.{md,json}``."""
from __future__ import annotations

import ast
import importlib
import sys
from pathlib import Path

HERE = Path(__file__).parent


def available() -> dict[str, str]:
    out = {}
    for p in sorted(HERE.glob("*.py")):
        if p.name.startswith("_"):
            continue
        doc = ast.get_docstring(ast.parse(p.read_text(encoding="utf-8"))) or ""
        out[p.stem] = doc.strip().splitlines()[0] if doc.strip() else ""
    return out


def main(argv: list[str]) -> int:
    names = available()
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__ + "\n")
        for n, d in names.items():
            print(f"  {n:<22} {d}")
        return 0
    if argv[0] not in names:
        print(f"error: no benchmark {argv[0]!r}; one of: {', '.join(names)}", file=sys.stderr)
        return 2
    mod = importlib.import_module(f"benchmarks.{argv[0]}")
    return int(mod.main(argv[1:]) or 0)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
