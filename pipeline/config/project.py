"""The project around the language files: params.yaml (languages, data root), finding and loading
``corpora/<lang>.yaml`` with errors that name file and key, and resolving source and task paths."""
from __future__ import annotations

import glob
import os
from fnmatch import fnmatchcase
from pathlib import Path

import yaml
from pydantic import ValidationError

from pipeline.config.sections import DEFAULT_DATA_ROOT, SECTIONS, ConfigError, LanguageConfig, Source


# --- project settings (params.yaml) -----------------------------------------------------------

def project_root() -> Path:
    """The project folder: FOUNDRY_PROJECT if set, else the nearest parent holding params.yaml."""
    env = os.environ.get("FOUNDRY_PROJECT")
    if env:
        return Path(env).resolve()
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "params.yaml").is_file() and (p / "corpora").is_dir():
            return p
    return here


def load_params(root: Path) -> dict:
    path = root / "params.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: not found (the project's params.yaml lists the languages)")
    return _read_yaml(path) or {}


def data_root(root: Path) -> Path:
    """FOUNDRY_DATA_ROOT, else params.yaml's data_root, else ../shared/data; relative to the project."""
    env = os.environ.get("FOUNDRY_DATA_ROOT")
    if env:
        return Path(env).resolve()
    try:
        val = load_params(root).get("data_root", DEFAULT_DATA_ROOT)
    except ConfigError:
        val = DEFAULT_DATA_ROOT
    return (root / val).resolve()


def languages(root: Path) -> list[str]:
    langs = load_params(root).get("languages") or {}
    return list(langs)


def _read_yaml(path: Path):
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 at byte {e.start}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{path}:{where} invalid YAML: {getattr(e, 'problem', e)}") from None


def _format_errors(path: Path, err: ValidationError) -> str:
    lines = [f"{path}: invalid language configuration"]
    for e in err.errors():
        key = ".".join(str(x) for x in e["loc"]) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            msg = "unknown key"
        elif e["type"] == "literal_error":
            msg = f"{msg}" 
        lines.append(f"  - {key}: {msg} (got {e.get('input')!r})" if e["type"] != "missing"
                     else f"  - {key}: required key is missing")
    return "\n".join(lines)


def load_language(lang: str, root: Path | None = None, strict: bool = False) -> LanguageConfig:
    root = root or project_root()
    path = root / "corpora" / f"{lang}.yaml"
    if not path.is_file():
        known = sorted(p.stem for p in (root / "corpora").glob("*.yaml"))
        raise ConfigError(f"{path}: no configuration for language {lang!r}; known: {', '.join(known) or 'none'}"
                          f" (create one with `foundry new-language {lang}`)")
    return parse_language(path, strict=strict)


# Parameters dvc.yaml declares by their dotted name (besides whole sections), so they must be in the file.
DOTTED_PARAMS = (("vocab", "size"), ("model", "size"))


def parse_language(path: Path, strict: bool = False) -> LanguageConfig:
    """Parse and validate one language file. ``strict`` also requires every section to be present
    (the CLIs use it: DVC cannot track a parameter that is not in the file)."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(raw).__name__}")
    try:
        cfg = LanguageConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_errors(path, e)) from None
    missing = [k for k in SECTIONS if k not in raw]   # checked after the values, whose errors say more
    if strict and missing:
        raise ConfigError(f"{path}: section(s) {', '.join(missing)} missing — dvc.yaml tracks every section as "
                          f"a stage parameter, so each must be present (write e.g. `{missing[0]}: {{}}` to take "
                          f"the defaults)")
    absent = [f"{sec}.{key}" for sec, key in DOTTED_PARAMS if not isinstance(raw.get(sec), dict) or key not in raw[sec]]
    if strict and not missing and absent:
        raise ConfigError(f"{path}: key(s) {', '.join(absent)} missing — dvc.yaml tracks them by name (DVC's run "
                          f"cache ignores keys called `size`), so they must be written out, e.g. "
                          f"`vocab: {{size: 8000}}` and `model: {{size: tiny}}`")
    if cfg.language != path.stem:
        raise ConfigError(f"{path}: key 'language' is {cfg.language!r} but the file is named for {path.stem!r}")
    return cfg


def resolve_path(p: str, root_kind: str, root: Path) -> Path:
    base = root if root_kind == "project" else data_root(root)
    q = Path(os.path.expandvars(p))
    return q if q.is_absolute() else base / q


def tasks_matching(pattern: str, tasks) -> list:
    """The tasks of a suite whose name a ``format: tasks`` source's path names (a glob), in suite order."""
    return [t for t in tasks if fnmatchcase(t.name, pattern)]


def resolve_sources(cfg: LanguageConfig, root: Path) -> list[tuple[Source, Path]]:
    """Every file the language's sources name, sorted, with its source entry.

    A source that matches nothing is an error naming the config file and the pattern. A relative path stays
    inside its root (the data root, or the project with ``root: project``): one that leads outside it with
    ``..`` or through a symbolic link is an error (an absolute path may name any place). A broken symbolic
    link among the matches is an error too, rather than a file silently left out.
    """
    out: list[tuple[Source, Path]] = []
    for i, src in enumerate(cfg.sources):
        where = f"corpora/{cfg.language}.yaml: sources[{i}].path {src.path!r}"
        if src.format == "tasks":   # names of evaluate.tasks, not files (pipeline/readers/tasks.py)
            names = [t.name for t in tasks_matching(src.path, cfg.evaluate.tasks)]
            if not names:
                raise ConfigError(f"{where} (format tasks) names no task of evaluate.tasks (tasks: "
                                  f"{', '.join(t.name for t in cfg.evaluate.tasks) or 'none'})")
            out.append((src, Path(f"tasks:{src.path}")))
            continue
        pattern = resolve_path(src.path, src.root, root)
        named = Path(os.path.abspath(root if src.root == "project" else data_root(root)))
        base = named.resolve()
        confined = not Path(os.path.expandvars(src.path)).is_absolute()
        what = "the project" if src.root == "project" else "the data root"
        if confined and not (_inside(Path(os.path.normpath(pattern)), named)
                             or _inside(Path(os.path.normpath(pattern)), base)):
            raise ConfigError(f"{where} leads outside {what} {base}; relative paths must stay inside it (write an "
                              f"absolute path to read from elsewhere)")
        if src.format == "hf":   # a save_to_disk folder is one source; any other name is a hub dataset
            out.append((src, pattern if pattern.is_dir() else Path(src.path)))
            continue
        if pattern.is_dir():
            found = sorted(pattern.rglob("*"))
        else:
            found = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True))
        files = []
        for f in found:
            if f.is_symlink() and not f.exists():
                raise ConfigError(f"{where}: {_shown(f, named)} is a broken symbolic link (to {os.readlink(f)}); "
                                  f"fix or remove it")
            if not f.is_file():
                continue
            if confined and not _inside(f.resolve(), base):
                raise ConfigError(f"{where}: {_shown(f, named)} is a symbolic link to {f.resolve()}, outside {what} "
                                  f"{base}; copy the file in, or name its real location with an absolute path")
            files.append(f)
        if not files:
            raise ConfigError(f"{where} matches no file (looked for {pattern})")
        out.extend((src, f) for f in files)
    return out


def _inside(path: Path, base: Path) -> bool:
    return path == base or base in path.parents


def _shown(path: Path, base: Path) -> str:
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)
