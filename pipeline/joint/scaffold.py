"""`foundry new-joint NAME LANG...`: write corpora/<name>.yaml for a joint model and register it in joint/params.yaml.

Defaults, each explained in the file: alpha 0.3 (XLM-R, mT5); a vocabulary as large as the members'
together (at most 64000; each member's pieces can survive) with the smallest character coverage among
them (a large-inventory script needs < 1); the first member's shard, model and pre-training settings,
so the joint model costs what one monolingual model does: the comparison in its scorecard is at equal
compute (the joint model sees each language for a fraction of those steps).
"""
from __future__ import annotations

from pathlib import Path

import yaml

from pipeline.atomic import write_text
from pipeline.config import ConfigError, languages, load_language
from pipeline.config.joint import MEMBER_SLOTS, is_joint, load_joint, register_joint

VOCAB_MAX = 64_000


def _section(name: str, value: dict) -> str:
    body = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False).rstrip("\n")
    return f"{name}:\n" + "".join(f"  {line}\n" for line in body.splitlines()) if value else f"{name}: {{}}\n"


def render(name: str, members: list[str], root: Path, alpha: float = 0.3) -> str:
    cfgs = [load_language(m, root) for m in members]
    first = cfgs[0]
    vocab = {"size": min(VOCAB_MAX, sum(c.vocab.size for c in cfgs)), "model_type": first.vocab.model_type,
             "character_coverage": min(c.vocab.character_coverage for c in cfgs)}
    model = {"size": first.model.size, **first.model.model_dump(exclude_unset=True, exclude={"size"})}
    pretrain = first.pretrain.model_dump(exclude_unset=True)
    title = " + ".join(c.name or c.language for c in cfgs)
    return (f"# Joint model {name} ({title}) — ELECTRA Foundry joint (multilingual) configuration.\n"
            f"# Its corpus is the members' cleaned corpora, each approved by its own review; `foundry run {name}`\n"
            f"# runs every member's stages first, then the joint ones (joint/dvc.yaml; docs/multilingual.md).\n"
            f"joint: {name}\nname: {title!r}\n"
            f"members: [{', '.join(members)}]     # configured languages, at most {MEMBER_SLOTS}\n\n"
            f"sampling:\n  alpha: {alpha}                # language i sampled with p ∝ n_i^alpha (XLM-R/mT5: 0.3): "
            f"small languages upsampled\n  seed: 0\n\n"
            f"# as large as the members' vocabularies together, the smallest character coverage among them\n"
            + _section("vocab", vocab)
            + "\n# the first member's settings: the joint model costs what one monolingual model does (equal compute)\n"
            + _section("shard", first.shard.model_dump(exclude_unset=True))
            + _section("model", model) + _section("pretrain", pretrain)
            + "\n# the joint model is scored on every member's suite with the member's own settings\nevaluate: {}\n")


def new_joint(root: Path, name: str, members: list[str], *, alpha: float = 0.3, force: bool = False) -> Path:
    root = Path(root)
    path = root / "corpora" / f"{name}.yaml"
    if not (root / "joint" / "dvc.yaml").is_file():
        raise ConfigError(f"{root / 'joint' / 'dvc.yaml'}: not found; the joint stages live there (copy it from "
                          f"the ELECTRA Foundry repository)")
    if name in languages(root) or (path.is_file() and not is_joint(name, root)):
        raise ConfigError(f"{path}: {name!r} is a language; choose another name for the joint model")
    if path.is_file() and not force:
        raise ConfigError(f"{path}: exists; pass --force to overwrite it")
    if not 2 <= len(members) <= MEMBER_SLOTS or len(set(members)) != len(members):
        raise ConfigError(f"a joint model needs 2 to {MEMBER_SLOTS} distinct members (got {' '.join(members)})")
    known = languages(root)
    unknown = [m for m in members if m not in known or not (root / "corpora" / f"{m}.yaml").is_file()]
    if unknown:
        raise ConfigError(f"unknown member(s) {', '.join(unknown)}: not configured languages (params.yaml lists "
                          f"{', '.join(known) or 'none'}); `foundry new-language {unknown[0]}` adds one")
    write_text(path, render(name, members, root, alpha))
    register_joint(root, name, members)
    load_joint(name, root)   # what the stages will read: fails here, naming file and key, if it is wrong
    return path
