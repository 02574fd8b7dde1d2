"""The shape the source keeps (issue 10): no module over 500 lines and no function over 80 in pipeline/, model/
and flows/, and no import cycle among the project's modules (imports run at import time)."""
from __future__ import annotations

import ast
from pathlib import Path

from pipeline.codedeps import direct_imports

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "model", "flows")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def _sources() -> list[Path]:
    return sorted(p for d in PACKAGES for p in (ROOT / d).rglob("*.py") if "__pycache__" not in p.parts)


def _rel(p: Path) -> str:
    return p.relative_to(ROOT).as_posix()


def test_no_module_over_500_lines():
    long = [f"{_rel(p)}: {n} lines" for p in _sources()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES]
    assert not long, f"modules over {MAX_MODULE_LINES} lines:\n" + "\n".join(long)


def test_no_function_over_80_lines():
    long = []
    for p in _sources():
        for node in ast.walk(ast.parse(p.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                n = node.end_lineno - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long.append(f"{_rel(p)}:{node.lineno} {node.name}: {n} lines")
    assert not long, f"functions over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(long)


def _cycles(graph: dict[Path, set[Path]]) -> list[list[Path]]:
    """One cycle (a path that returns to its start) per strongly connected group of modules (Tarjan)."""
    index: dict[Path, int] = {}
    low: dict[Path, int] = {}
    stack: list[Path] = []
    on_stack: set[Path] = set()
    groups: list[list[Path]] = []

    def visit(v: Path) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            group = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                group.append(w)
                if w == v:
                    break
            if len(group) > 1:
                groups.append(group)

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return [_one_cycle(graph, set(g)) for g in groups]


def _one_cycle(graph: dict[Path, set[Path]], group: set[Path]) -> list[Path]:
    """The shortest path from the group's first module back to itself, within the group (breadth first)."""
    start = min(group)
    paths = {start: [start]}
    todo = [start]
    while todo:
        v = todo.pop(0)
        for w in sorted(graph[v] & group):
            if w == start:
                return paths[v] + [start]
            if w not in paths:
                paths[w] = paths[v] + [w]
                todo.append(w)
    return sorted(group)


def test_no_import_cycle_among_project_modules():
    sources = set(_sources())
    graph = {p: direct_imports(p, ROOT, module_level=True) & sources for p in sources}
    cycles = [" -> ".join(_rel(p) for p in c) for c in _cycles(graph)]
    assert not cycles, "import cycles (module-level imports):\n" + "\n".join(cycles)


def test_cycle_check_finds_a_module_level_cycle_and_ignores_function_local_imports(tmp_path):
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from pkg import b\n")
    (pkg / "b.py").write_text("import pkg.a\n")
    (pkg / "c.py").write_text("def f():\n    from pkg import a\n")
    (pkg / "d.py").write_text("from pkg.c import f\n")   # c imports d nowhere at import time
    files = sorted(pkg.glob("*.py"))
    graph = {p: direct_imports(p, tmp_path, module_level=True) & set(files) for p in files}
    assert _cycles(graph) == [[pkg / "a.py", pkg / "b.py", pkg / "a.py"]]
