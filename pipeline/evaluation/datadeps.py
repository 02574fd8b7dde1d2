"""The evaluate stage's data dependencies: params.yaml ``languages.<lang>.eval``.

DVC re-runs ``evaluate@<lang>`` when a file it depends on changes, so every file the language's
``evaluate.tasks`` read must lie under one of the paths DVC watches for it. A language's tasks often
come from several folders (en: GLUE + UD + XNLI; sw: XNLI + MasakhaNER + MasakhaNEWS), so ``eval`` is a
list. DVC 3 cannot interpolate a list of any length into a stage's ``deps`` (``${item.eval}`` with a
list value fails with "Cannot interpolate data of type 'list'"; treeverse/dvc#8171), so dvc.yaml names
a fixed number of slots, ``${item.eval.0}`` .. ``${item.eval.3}``, and every language lists exactly
:data:`EVAL_SLOTS` paths, repeating one to fill unused slots (a repeated dep is hashed twice, harmless).

Paths in params.yaml are relative to the project (like ``raw``); task files resolve as the evaluate
stage resolves them (``root: data`` under the data root, ``root: project`` under the project).
"""
from __future__ import annotations

import os
from pathlib import Path

from pipeline.config import ConfigError, load_language, load_params, resolve_path

EVAL_SLOTS = 4  # dvc.yaml: ${item.eval.0} .. ${item.eval.3}


def pad(paths: list[str]) -> list[str]:
    """``paths`` (1..EVAL_SLOTS distinct entries) filled to EVAL_SLOTS by repeating the last one."""
    out = list(dict.fromkeys(str(p) for p in paths))
    if not out:
        raise ConfigError("an evaluation dependency list needs at least one path")
    if len(out) > EVAL_SLOTS:
        raise ConfigError(f"at most {EVAL_SLOTS} evaluation data folders per language (dvc.yaml has {EVAL_SLOTS} "
                          f"slots); use a common parent folder for some of {out}")
    return out + [out[-1]] * (EVAL_SLOTS - len(out))


def declared(root: Path, lang: str) -> list[str]:
    """The language's ``eval`` entries in params.yaml, checked: a list of exactly EVAL_SLOTS paths."""
    entry = (load_params(root).get("languages") or {}).get(lang) or {}
    ev = entry.get("eval")
    where = f"{root / 'params.yaml'}: languages.{lang}.eval"
    if not isinstance(ev, list) or len(ev) != EVAL_SLOTS or not all(isinstance(p, str) and p for p in ev):
        raise ConfigError(f"{where} must be a list of exactly {EVAL_SLOTS} paths (the folders or files holding "
                          f"the language's evaluation data; repeat one to fill unused slots — dvc.yaml has "
                          f"{EVAL_SLOTS} slots because DVC cannot interpolate a list into deps), got {ev!r}")
    return ev


def task_files(root: Path, lang: str) -> list[tuple[str, Path]]:
    """(``evaluate.tasks[i].train``-style location, resolved path) of every file the tasks read."""
    cfg = load_language(lang, root)
    out = []
    for i, t in enumerate(cfg.evaluate.tasks):
        for key in ("train", "dev"):
            value = getattr(t, key)
            if not value:
                continue
            path = resolve_path(value, t.root, root)
            if t.format == "hf" and not path.exists():
                continue  # a hub dataset name: nothing on disk for DVC to watch
            out.append((f"evaluate.tasks[{i}] ({t.name}).{key}", path))
    return out


def _norm(p: Path | str, base: Path) -> str:
    # real paths on both sides: the data root may be (or pass through) a symlink, and the stage's
    # resolved task files and params.yaml's relative entries must compare equal all the same
    q = Path(os.path.expandvars(str(p))).expanduser()
    return os.path.realpath(q if q.is_absolute() else Path(base) / q)


def uncovered(root: Path, lang: str) -> list[tuple[str, str]]:
    """Task files outside every declared eval path: [(where in corpora/<lang>.yaml, path)]."""
    root = Path(root)
    deps = [_norm(p, root) for p in declared(root, lang)]
    missing = []
    for where, path in task_files(root, lang):
        f = _norm(path, root)
        if not any(f == d or f.startswith(d.rstrip(os.sep) + os.sep) for d in deps):
            missing.append((where, os.path.relpath(f, root)))
    return missing
