"""Each stage's code deps, computed from the source: what ``python -m pipeline STAGE LANG`` can execute.

A stage runs ``pipeline/stages/<stage>.py`` and everything that module imports, transitively, within the
project: ``import x``, ``from x import y`` (absolute or relative), imports inside functions,
``importlib.import_module("a.b")``, and, as every module of the package, ``import_module(f"a.b.{x}")``,
``import_module(f"{__name__}.{x}")`` and ``pkgutil.iter_modules(__path__)`` (a package loading its plug-ins,
like pipeline/readers/). Third-party modules (whatever does not resolve to a file of this project) end the
walk. ``if TYPE_CHECKING:`` blocks never run and are skipped.

dvc.yaml names that closure coarsely, so that it stays short and a new file in a library is covered without
an edit: a file of a library package (``pipeline/cleaning/dedup.py``) becomes the package's folder
(``pipeline/cleaning``); a module directly in a top-level package (``pipeline/shard.py``, ``model/data.py``)
and the stage modules themselves stay files (one folder for ``pipeline/stages`` would make every stage depend
on every other). ``pipeline/config`` is always listed: it holds the defaults the YAMLs leave out.

``python -m pipeline.codedeps`` prints each stage's list; ``--check`` compares with dvc.yaml (exit 1 on a
difference); ``--write`` replaces the code deps of every stage in dvc.yaml, keeping its other lines.
tests/test_dvc_deps.py holds dvc.yaml to it.
"""
from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

import yaml

from pipeline.joint import JOINT_STAGES
from pipeline.stages import STAGES

ALWAYS = ("pipeline/config",)
# the DAG files and the stages each declares (joint/dvc.yaml: the joint models', pipeline/joint/)
DVC_FILES = {"dvc.yaml": STAGES, "joint/dvc.yaml": JOINT_STAGES}
STAGE_PACKAGE = "pipeline/stages"   # its modules are listed one by one, never as a folder


def module_file(name: str, root: Path) -> Path | None:
    """The project file that defines module ``name`` (``a.b`` -> a/b.py or a/b/__init__.py), or None."""
    if not name:
        return None
    base = root.joinpath(*name.split("."))
    for cand in (base.with_suffix(".py"), base / "__init__.py"):
        if cand.is_file():
            return cand
    return None


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _nodes(tree: ast.AST, module_level: bool):
    """The statements and expressions that can import: all of them, or only those run at import time
    (module body, including its if/try/with blocks, not function or class bodies)."""
    stack = list(ast.iter_child_nodes(tree))
    while stack:
        node = stack.pop()
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            stack.extend(node.orelse)
            continue
        if module_level and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            continue
        yield node
        stack.extend(ast.iter_child_nodes(node))


def _from_base(node: ast.ImportFrom, package: str) -> str:
    if not node.level:
        return node.module or ""
    parts = package.split(".") if package else []
    return ".".join(parts[:len(parts) - (node.level - 1)] + ([node.module] if node.module else []))


def _imported(node: ast.AST, name: str, package: str, root: Path) -> list[Path]:
    """Project files one node imports by name. ``from pkg import a, b`` names the submodules a and b, and
    pkg itself only when some name is not a submodule (a package's __init__ runs anyway as a parent)."""
    if isinstance(node, ast.Import):
        names = [a.name for a in node.names]
    elif isinstance(node, ast.ImportFrom):
        base = _from_base(node, package)
        wanted = [f"{base}.{a.name}" if base else a.name for a in node.names]
        names = [n for n in wanted if module_file(n, root)]
        if len(names) < len(wanted):  # some name is an attribute of base (or `*`): base's own code
            names.append(base)
    elif isinstance(node, ast.Call) and _is_import_call(node.func) and node.args:
        return _dynamic(node.args[0], name, root)
    elif isinstance(node, ast.Call) and _is_discovery(node) and name == package:
        return package_modules(package, root)
    else:
        return []
    return [f for f in (module_file(n, root) for n in names) if f is not None]


def _is_import_call(f: ast.expr) -> bool:
    return (isinstance(f, ast.Attribute) and f.attr == "import_module") or \
        (isinstance(f, ast.Name) and f.id in ("import_module", "__import__"))


def _is_discovery(node: ast.Call) -> bool:
    """``pkgutil.iter_modules(__path__)`` (or walk_packages): a package importing its own modules by listing."""
    f = node.func
    return isinstance(f, ast.Attribute) and f.attr in ("iter_modules", "walk_packages") and bool(node.args) \
        and isinstance(node.args[0], ast.Name) and node.args[0].id == "__path__"


def _dynamic(arg: ast.expr, name: str, root: Path) -> list[Path]:
    """``import_module("a.b")`` -> a/b; ``import_module(f"a.b.{x}")`` or ``f"{__name__}.{x}"`` -> every
    module of package a.b (of this package); anything else cannot be resolved and names nothing."""
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
        f = module_file(arg.value, root)
        return [f] if f else []
    if not isinstance(arg, ast.JoinedStr) or not arg.values:
        return []
    head, prefix = arg.values[0], None
    if isinstance(head, ast.Constant) and isinstance(head.value, str):
        prefix = head.value
    elif isinstance(head, ast.FormattedValue) and isinstance(head.value, ast.Name) \
            and head.value.id in ("__name__", "__package__") and len(arg.values) > 1 \
            and isinstance(arg.values[1], ast.Constant) and str(arg.values[1].value).startswith("."):
        prefix = name + str(arg.values[1].value)
    if not prefix or "." not in prefix:
        return []
    return package_modules(prefix.rpartition(".")[0], root)


def package_modules(package: str, root: Path) -> list[Path]:
    """The modules and subpackages directly in a project package (what pkgutil.iter_modules lists)."""
    folder = root.joinpath(*package.split("."))
    if not (folder / "__init__.py").is_file():
        return []
    subs = list(folder.glob("*/__init__.py"))
    return sorted([p for p in folder.glob("*.py") if p.name != "__init__.py"] + subs)


def direct_imports(path: Path, root: Path, module_level: bool = False) -> set[Path]:
    """Project files named by the imports in ``path`` (the most specific module each import names)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    name = module_name(path, root)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    return {f for node in _nodes(tree, module_level) for f in _imported(node, name, package, root) if f != path}


def _with_parents(path: Path, root: Path) -> set[Path]:
    """A module and the __init__.py of every package above it (importing a.b.c runs a and a.b first)."""
    out = {path}
    d = path.parent
    while d != root and (d / "__init__.py").is_file():
        out.add(d / "__init__.py")
        d = d.parent
    return out


def closure(start: Path, root: Path) -> set[Path]:
    """Every project file that running ``start`` can execute."""
    seen: set[Path] = set()
    todo = [start]
    while todo:
        f = todo.pop()
        for g in _with_parents(f, root):
            if g not in seen:
                seen.add(g)
                todo.extend(direct_imports(g, root))
    return seen


def as_dep(path: Path, root: Path) -> str:
    """The dvc.yaml dep that covers a file: its library folder, or the file itself (see the docstring)."""
    rel = path.relative_to(root)
    if len(rel.parts) <= 2 or rel.parent.as_posix() == STAGE_PACKAGE:
        return rel.as_posix()
    return "/".join(rel.parts[:2])


def stage_deps(stage: str, root: Path) -> list[str]:
    """The code deps dvc.yaml should list for ``stage``: the stage module first, then sorted."""
    start = root / STAGE_PACKAGE / f"{stage}.py"
    deps = {as_dep(f, root) for f in closure(start, root)} | set(ALWAYS)
    first = f"{STAGE_PACKAGE}/{stage}.py"
    return [first] + sorted(deps - {first})


def is_code_dep(dep: str, root: Path) -> bool:
    """A dvc.yaml dep that is project source (not data, not ``${...}``): a .py file or a folder of one."""
    if "${" in dep:
        return False
    p = root / dep
    return dep.endswith(".py") or (p.is_dir() and any(p.glob("*.py")))


def declared_deps(dvc_yaml: Path, root: Path) -> dict[str, list[str]]:
    """Each stage's code deps as dvc.yaml declares them (``foreach`` stages: the ``do`` block)."""
    stages = yaml.safe_load(dvc_yaml.read_text(encoding="utf-8"))["stages"]
    out = {}
    for name, spec in stages.items():
        body = spec.get("do", spec)
        deps = [d if isinstance(d, str) else next(iter(d)) for d in body.get("deps", [])]
        out[name] = [d for d in deps if is_code_dep(d, root)]
    return out


def differences(root: Path) -> dict[str, dict[str, list[str]]]:
    """Per stage: code deps dvc.yaml (or joint/dvc.yaml) is missing and those it lists that the stage never imports."""
    out = {}
    for name, stages in DVC_FILES.items():
        declared = declared_deps(root / name, root) if (root / name).is_file() else {}
        for stage in stages:
            want, have = set(stage_deps(stage, root)), set(declared.get(stage, []))
            if want != have:
                out[stage] = {"missing": sorted(want - have), "extra": sorted(have - want)}
    return out


def rewrite(text: str, root: Path, stages=STAGES) -> str:
    """dvc.yaml with each stage's code-dep lines replaced by the computed list, where the first one was;
    every other line (data deps, comments, params, outs ...) is kept as it is."""
    lines = text.splitlines(keepends=True)
    out, stage, in_deps, placed, item_indent = [], None, False, False, 0
    for line in lines:
        stripped = line.strip()
        indent = len(line) - len(line.lstrip(" "))
        if stripped and not stripped.startswith("#"):
            if indent == 2 and stripped.endswith(":"):
                stage, in_deps = stripped[:-1], False
            elif stripped == "deps:":
                in_deps, placed, item_indent = True, False, indent + 2
                out.append(line)
                continue
            elif in_deps and indent < item_indent:
                in_deps = False
        if in_deps and stage in stages and stripped.startswith("- ") and indent == item_indent \
                and is_code_dep(stripped[2:].strip(), root):
            if not placed:
                out.extend(" " * item_indent + f"- {d}\n" for d in stage_deps(stage, root))
                placed = True
            continue
        out.append(line)
    return "".join(out)


def main(argv: list[str] | None = None) -> int:
    from pipeline.config import project_root

    ap = argparse.ArgumentParser(prog="python -m pipeline.codedeps", description=__doc__.splitlines()[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="compare with dvc.yaml; exit 1 on a difference")
    mode.add_argument("--write", action="store_true", help="replace the code deps in dvc.yaml")
    args = ap.parse_args(argv)
    root = project_root()
    if args.write:
        for name, stages in DVC_FILES.items():
            if (path := root / name).is_file():
                path.write_text(rewrite(path.read_text(encoding="utf-8"), root, stages), encoding="utf-8")
    if args.check or args.write:
        diff = differences(root)
        for stage, d in diff.items():
            print(f"{stage}: missing {d['missing'] or '-'}; extra {d['extra'] or '-'}")
        return 1 if diff else 0
    for stage in STAGES + JOINT_STAGES:
        print(f"{stage}:")
        for dep in stage_deps(stage, root):
            print(f"  - {dep}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
