"""Typed schema for ``corpora/<lang>.yaml`` and the project settings in ``params.yaml``.

A language's YAML is the only place a user edits. Each top-level section is read by exactly the
stages that need it, and ``dvc.yaml`` lists those sections as the stage's ``params``, so changing a
knob re-runs only what depends on it:

    language, script, sources, clean -> clean        vocab    -> vocab
    validate, review                 -> validate      shard    -> shard
    model, pretrain                  -> pretrain      evaluate -> evaluate
"""
from __future__ import annotations

import glob
import os
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from model.sizes import SIZES

SCRIPTS = ("Latn", "Cyrl", "Arab", "Deva", "Hani", "Jpan", "Hang", "Kore", "Grek", "Hebr", "Thai",
           "Geor", "Taml", "Ethi", "Beng", "Armn")
DEFAULT_DATA_ROOT = "../shared/data"
# Top-level sections; each is a DVC param of the stage(s) that read it, so each must be present.
SECTIONS = ("language", "script", "sources", "clean", "validate", "review", "vocab", "shard", "model",
            "pretrain", "evaluate")


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the file, the key and what is allowed."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_default=True)


class Source(_Strict):
    path: str = Field(description="file, folder or glob; relative paths are under the data root "
                                  "(or the project when root=project)")
    format: Literal["text", "jsonl", "parquet", "conllu"] = "text"
    field: str = Field("text", description="JSON field (jsonl) or column (parquet) holding the text")
    root: Literal["data", "project"] = "data"


class LidSettings(_Strict):
    enabled: bool = True
    min_score: float = Field(0.5, ge=0.0, le=1.0)
    # fastText label to accept when it differs from the language code (e.g. 'zh' for 'zh-Hant').
    label: str | None = None


class CleanSettings(_Strict):
    min_chars: int = Field(100, ge=1)
    max_chars: int = Field(2_000_000, ge=1)
    min_script_share: float = Field(0.5, ge=0.0, le=1.0)
    lid: LidSettings = LidSettings()
    rows_per_shard: int = Field(50_000, ge=100)

    @model_validator(mode="after")
    def _bounds(self):
        if self.max_chars <= self.min_chars:
            raise ValueError(f"max_chars ({self.max_chars}) must be greater than min_chars ({self.min_chars})")
        return self


class ValidateSettings(_Strict):
    min_documents: int = Field(20, ge=1)
    min_chars: int | None = Field(None, ge=1, description="defaults to clean.min_chars")
    max_chars: int | None = Field(None, ge=1, description="defaults to clean.max_chars")
    min_script_share: float = Field(0.8, ge=0.0, le=1.0, description="mean share of the language's script")
    min_lid_score: float = Field(0.0, ge=0.0, le=1.0, description="every document's language score")
    mostly: float = Field(1.0, gt=0.0, le=1.0, description="fraction of rows an expectation must hold for")


class ReviewSettings(_Strict):
    policy: Literal["auto", "required"] = "auto"
    timeout_hours: float = Field(24.0, gt=0)


class VocabSettings(_Strict):
    size: int = Field(8000, ge=100, le=1_000_000)
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = Field(0.9995, gt=0.9, le=1.0)
    sample_documents: int = Field(200_000, ge=10, description="documents sampled to train the vocabulary")
    max_sentence_length: int = Field(8192, ge=256)
    seed: int = 0


class ShardSettings(_Strict):
    max_seq_length: int = Field(128, ge=16, le=4096)
    validation_fraction: float = Field(0.02, ge=0.0, lt=0.5)
    short_seq_prob: float = Field(0.05, ge=0.0, le=1.0)
    single_segment_prob: float = Field(0.1, ge=0.0, le=1.0)
    examples_per_shard: int = Field(20_000, ge=100)
    seed: int = 12345


class ModelSettings(_Strict):
    size: Literal["tiny", "small", "base", "large"] = "small"
    overrides: dict[str, float | int] = Field(default_factory=dict)

    @field_validator("overrides")
    @classmethod
    def _known(cls, v):
        allowed = set(SIZES["small"])
        bad = sorted(set(v) - allowed)
        if bad:
            raise ValueError(f"unknown override(s) {bad}; allowed: {sorted(allowed)}")
        return v

    def resolved(self) -> dict:
        return {**SIZES[self.size], **self.overrides}


class PretrainSettings(_Strict):
    objective: Literal["electra", "mlm"] = "electra"
    steps: int | None = Field(None, ge=1, description="defaults to the size's train_steps")
    batch_size: int | None = Field(None, ge=1)
    learning_rate: float | None = Field(None, gt=0)
    warmup_steps: int | None = Field(None, ge=0)
    mask_prob: float | None = Field(None, gt=0, lt=1)
    disc_weight: float = Field(50.0, gt=0)
    weight_decay: float = Field(0.01, ge=0)
    grad_accum: int = Field(1, ge=1)
    seed: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(1000, ge=1)
    eval_batches: int = Field(10, ge=0)


TaskType = Literal["classification", "pair_classification", "regression", "tagging"]


class TaskSettings(_Strict):
    name: str
    type: TaskType
    format: Literal["conllu", "glue", "tsv", "jsonl", "conll"]
    train: str
    dev: str | None = Field(None, description="scored split; when omitted, a seeded dev_fraction of train")
    dev_fraction: float = Field(0.2, gt=0, lt=1)
    split_seed: int = 0
    root: Literal["data", "project"] = "data"
    # glue/tsv/jsonl: column names (or indices for header-less TSV)
    text_a: str | int | None = None
    text_b: str | int | None = None
    label: str | int | None = None
    skip_header: bool = True
    epochs: float = Field(3, gt=0)
    batch_size: int = Field(32, ge=1)
    learning_rate: float | None = Field(None, gt=0, description="defaults by model size")
    max_length: int = Field(128, ge=8)
    max_train_examples: int | None = Field(None, ge=1)
    max_eval_examples: int | None = Field(None, ge=1)


class EvaluateSettings(_Strict):
    seeds: int = Field(3, ge=1, le=20)
    random_init_baseline: bool = True
    layerwise_lr_decay: float | None = Field(None, gt=0, le=1)
    tasks: list[TaskSettings] = Field(default_factory=list)


class LanguageConfig(_Strict):
    language: Annotated[str, Field(pattern=r"^[a-z]{2,8}(-[A-Za-z0-9]+)?$")]
    name: str = ""
    script: str
    sources: list[Source] = Field(min_length=1)
    clean: CleanSettings = CleanSettings()
    validate_: ValidateSettings = Field(ValidateSettings(), alias="validate")
    review: ReviewSettings = ReviewSettings()
    vocab: VocabSettings = VocabSettings()
    shard: ShardSettings = ShardSettings()
    model: ModelSettings = ModelSettings()
    pretrain: PretrainSettings = PretrainSettings()
    evaluate: EvaluateSettings = EvaluateSettings()

    model_config = ConfigDict(extra="forbid", validate_default=True, populate_by_name=True,
                              protected_namespaces=())

    @field_validator("script")
    @classmethod
    def _script(cls, v):
        if v not in SCRIPTS:
            raise ValueError(f"unknown script {v!r}; allowed ISO 15924 codes: {', '.join(SCRIPTS)}")
        return v

    # --- resolved values used by the stages -------------------------------------------------
    @property
    def validation(self) -> ValidateSettings:
        return self.validate_

    def pretrain_resolved(self) -> dict:
        """Model architecture and training budget with size defaults filled in."""
        size = self.model.resolved()
        p = self.pretrain
        return {
            **{k: size[k] for k in size if k not in ("learning_rate", "batch_size", "train_steps",
                                                     "warmup_steps", "mask_prob", "max_seq_length")},
            "size": self.model.size,
            "objective": p.objective,
            "steps": p.steps or int(size["train_steps"]),
            "batch_size": p.batch_size or int(size["batch_size"]),
            "learning_rate": p.learning_rate or float(size["learning_rate"]),
            "warmup_steps": p.warmup_steps if p.warmup_steps is not None else int(size["warmup_steps"]),
            "mask_prob": p.mask_prob or float(size["mask_prob"]),
            "disc_weight": p.disc_weight, "weight_decay": p.weight_decay, "grad_accum": p.grad_accum,
            "seed": p.seed, "device": p.device, "log_every": p.log_every,
            "checkpoint_every": p.checkpoint_every, "eval_batches": p.eval_batches,
        }


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
    return parse_language(path)


def parse_language(path: Path, strict: bool = False) -> LanguageConfig:
    """Parse and validate one language file. ``strict`` also requires every section to be present
    (the CLIs use it: DVC cannot track a parameter that is not in the file)."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(raw).__name__}")
    missing = [k for k in SECTIONS if k not in raw]
    if strict and missing and "language" in raw and "sources" in raw:
        raise ConfigError(f"{path}: section(s) {', '.join(missing)} missing — dvc.yaml tracks every section as "
                          f"a stage parameter, so each must be present (write e.g. `{missing[0]}: {{}}` to take "
                          f"the defaults)")
    try:
        cfg = LanguageConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_errors(path, e)) from None
    if cfg.language != path.stem:
        raise ConfigError(f"{path}: key 'language' is {cfg.language!r} but the file is named for {path.stem!r}")
    return cfg


def resolve_path(p: str, root_kind: str, root: Path) -> Path:
    base = root if root_kind == "project" else data_root(root)
    q = Path(os.path.expandvars(p))
    return q if q.is_absolute() else base / q


def resolve_sources(cfg: LanguageConfig, root: Path) -> list[tuple[Source, Path]]:
    """Every file the language's sources name, sorted, with its source entry.

    A source that matches nothing is an error naming the config file and the pattern.
    """
    out: list[tuple[Source, Path]] = []
    for i, src in enumerate(cfg.sources):
        pattern = resolve_path(src.path, src.root, root)
        if pattern.is_dir():
            files = sorted(p for p in pattern.rglob("*") if p.is_file())
        else:
            files = sorted(Path(p) for p in glob.glob(str(pattern), recursive=True) if Path(p).is_file())
        if not files:
            raise ConfigError(f"corpora/{cfg.language}.yaml: sources[{i}].path {src.path!r} matches no file "
                              f"(looked for {pattern})")
        out.extend((src, f) for f in files)
    return out
