"""Typed schema of a joint (multilingual) model: ``corpora/<name>.yaml`` with ``members:``.

A joint model is configured like a language, minus the corpus sections: its corpus is the cleaned,
reviewed corpora of its ``members`` (languages already configured), mixed by ``sampling.alpha``
(language i drawn with probability proportional to n_i^alpha, n_i its size: XLM-R and mT5 use 0.3 and
0.3/0.7 to upsample small languages). ``vocab``, ``shard``, ``model`` and ``pretrain`` are the
language sections, read by the joint stages (``pipeline/stages/joint_*.py``); ``evaluate`` only says
how many processes fine-tune: each member's own suite (its ``evaluate`` section: tasks, seeds) is
what the joint model is scored on, so the numbers compare with the member's monolingual model. ``card``
(optional, as a language's) is the published card's license and datasets.

The joint models are registered in ``joint/params.yaml`` (the ``foreach`` of ``joint/dvc.yaml``): each
with its members in exactly ``MEMBER_SLOTS`` entries, the last one repeated to fill the unused slots,
because DVC cannot interpolate a list of any length into a stage's deps (as ``params.yaml``'s ``eval``).
"""
from __future__ import annotations

from pathlib import Path
from typing import Annotated

import yaml
from pydantic import Field, ValidationError, field_validator

from pipeline.config.project import _format_errors, _read_yaml, languages
from pipeline.config.sections import (CardSettings, ConfigError, LanguageConfig, ModelSettings, PretrainSettings,
                                      ShardSettings, VocabSettings, _Strict)

MEMBER_SLOTS = 8          # joint/dvc.yaml names this many member slots per joint stage
JOINT_PARAMS = "joint/params.yaml"
# the sections dvc.yaml tracks as the joint stages' params (each must be present, as for a language)
JOINT_SECTIONS = ("members", "sampling", "vocab", "shard", "model", "pretrain", "evaluate")


class SamplingSettings(_Strict):
    """How the members' corpora are mixed: p_i = n_i^alpha / sum_j n_j^alpha (n_i: characters of the cleaned
    corpus for the vocabulary sample, training tokens for the pre-training mixture). alpha 1 keeps the
    natural proportions, 0 gives every language the same share."""
    alpha: float = Field(0.3, ge=0.0, le=1.0)
    seed: int = 0


class JointEvaluateSettings(_Strict):
    """The joint model is fine-tuned on every member's suite with the member's own settings (tasks, seeds,
    learning rates), so its scores compare with the member's monolingual model and random init."""
    workers: int | None = Field(None, ge=1, description="fine-tuning processes on CPU (default: cores // threads)")
    threads_per_worker: int = Field(1, ge=1, le=64)


class JointConfig(_Strict):
    joint: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
    name: str = ""
    members: list[str] = Field(min_length=2, max_length=MEMBER_SLOTS)
    sampling: SamplingSettings = SamplingSettings()
    vocab: VocabSettings = VocabSettings()
    shard: ShardSettings = ShardSettings()
    model: ModelSettings = ModelSettings()
    pretrain: PretrainSettings = PretrainSettings()
    evaluate: JointEvaluateSettings = JointEvaluateSettings()
    # the Hub card (license, datasets), read by joint_publish only, as a language's `card` by publish
    card: CardSettings = CardSettings()

    model_config = {**_Strict.model_config, "protected_namespaces": ()}

    @field_validator("members")
    @classmethod
    def _unique(cls, v):
        dup = sorted({m for m in v if v.count(m) > 1})
        if dup:
            raise ValueError(f"members must be distinct; repeated: {', '.join(dup)}")
        return v

    # the same resolution as a language's (model size defaults under the pretrain section)
    pretrain_resolved = LanguageConfig.pretrain_resolved


def is_joint(name: str, root: Path) -> bool:
    """Whether corpora/<name>.yaml describes a joint model (it has ``members``)."""
    path = Path(root) / "corpora" / f"{name}.yaml"
    if not path.is_file():
        return False
    raw = _read_yaml(path)
    return isinstance(raw, dict) and "members" in raw


def joints(root: Path) -> dict[str, list[str]]:
    """The registered joint models (joint/params.yaml): name -> the member slots."""
    path = Path(root) / JOINT_PARAMS
    if not path.is_file():
        return {}
    raw = _read_yaml(path) or {}
    return {k: list((v or {}).get("members") or []) for k, v in (raw.get("joints") or {}).items()}


def slots(members: list[str]) -> list[str]:
    """The members as ``MEMBER_SLOTS`` entries for joint/params.yaml (the last repeated)."""
    return list(members) + [members[-1]] * (MEMBER_SLOTS - len(members))


def load_joint(name: str, root: Path) -> JointConfig:
    """Parse and check ``corpora/<name>.yaml``: typed sections, every member a configured language (a
    ConfigError names the unknown one), and joint/params.yaml's member slots matching the file."""
    root = Path(root)
    path = root / "corpora" / f"{name}.yaml"
    if not path.is_file():
        raise ConfigError(f"{path}: no configuration for joint model {name!r} "
                          f"(create one with `foundry new-joint {name} LANG LANG ...`)")
    raw = _read_yaml(path)
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings at the top level, got {type(raw).__name__}")
    try:
        cfg = JointConfig.model_validate(raw)
    except ValidationError as e:
        raise ConfigError(_format_errors(path, e).replace("invalid language configuration",
                                                          "invalid joint model configuration")) from None
    if cfg.joint != name:
        raise ConfigError(f"{path}: key 'joint' is {cfg.joint!r} but the file is named for {name!r}")
    missing = [k for k in JOINT_SECTIONS if k not in raw]
    if missing:
        raise ConfigError(f"{path}: section(s) {', '.join(missing)} missing — joint/dvc.yaml tracks every section "
                          f"as a stage parameter (write e.g. `{missing[0]}: {{}}` to take the defaults)")
    known = languages(root)
    for i, m in enumerate(cfg.members):
        if m not in known or not (root / "corpora" / f"{m}.yaml").is_file():
            raise ConfigError(f"{path}: members[{i}] {m!r} is not a configured language (languages in "
                              f"params.yaml with a corpora/<lang>.yaml: {', '.join(known) or 'none'}); "
                              f"`foundry new-language {m}` adds it")
        if is_joint(m, root):
            raise ConfigError(f"{path}: members[{i}] {m!r} is a joint model; members must be languages")
    registered = joints(root)
    if name not in registered:
        raise ConfigError(f"{root / JOINT_PARAMS}: joint model {name!r} is not registered under `joints` "
                          f"(`foundry new-joint {name} {' '.join(cfg.members)} --force` registers it)")
    if registered[name] != slots(cfg.members):
        raise ConfigError(f"{root / JOINT_PARAMS}: joints.{name}.members is {registered[name]} but "
                          f"corpora/{name}.yaml's members are {cfg.members}: it must list them in order, padded to "
                          f"{MEMBER_SLOTS} entries by repeating the last ({slots(cfg.members)}); "
                          f"`foundry new-joint {name} {' '.join(cfg.members)} --force` rewrites both")
    return cfg


def register_joint(root: Path, name: str, members: list[str]) -> Path:
    """Add (or replace) the joint model's entry in joint/params.yaml, keeping the others."""
    from pipeline.atomic import write_text

    path = Path(root) / JOINT_PARAMS
    current = joints(root)
    current[name] = slots(members)
    header = (f"# The joint (multilingual) models: each with its members in exactly {MEMBER_SLOTS} slots, the last "
              "repeated\n"
              "# (DVC cannot interpolate a list into a stage's deps); written by `foundry new-joint`.\n")
    body = yaml.safe_dump({"joints": {k: {"members": v} for k, v in current.items()}}, sort_keys=False,
                          default_flow_style=None)
    write_text(path, header + body)
    return path
