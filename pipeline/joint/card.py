"""The joint model's Hub card, ``models/<name>/hub/README.md`` (the joint_publish stage).

Built from ``pipeline/hubcard.py``'s pieces as a language's card is (Hub metadata through huggingface_hub,
intended use, limitations, training data, the scorecard), with what differs for a model of several
languages: the metadata's ``language`` lists every member's ISO code and the model-index has one result per
member and task; the limitations name every comparison that is not at equal compute and every language
where the joint model scores measurably below its monolingual model or random init (95% interval of the
paired difference; level with random init is named too); the training data is the mixture
(alpha, probability and tokens used per language, each corpus's hash) followed by each member's sources,
corpus hash and review decision (``hubcard.training_data`` on the member, with the member's lineage taken
from ``data/<name>/members.json``: the corpus the joint model was trained on, not the member's model).
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from pipeline import hubcard
from pipeline.config import LanguageConfig
from pipeline.config.joint import JointConfig
from pipeline.config.sections import CardSettings, Source
from pipeline.lineage import dvc_hashes


@dataclass(frozen=True)
class CardSubject:
    """What ``pipeline/hubcard.py`` reads of a configuration (``language``, ``name``, ``iso_code``, ``card``,
    ``sources``), for a joint model: its name and ``card`` section, every member's sources. ``iso_code`` is
    None: the card's languages are the members' (``hubcard.metadata(languages=...)``)."""
    language: str
    name: str
    card: CardSettings
    sources: tuple[Source, ...]
    iso_code: str | None = None


def subject(cfg: JointConfig, members: dict[str, LanguageConfig]) -> CardSubject:
    names = ", ".join(c.name or m for m, c in members.items())
    return CardSubject(language=cfg.joint, name=cfg.name or names, card=cfg.card,
                       sources=tuple(s for c in members.values() for s in c.sources))


def iso_codes(members: dict[str, LanguageConfig]) -> list[str]:
    """Every member's ISO 639 code (a member without one has no place in the Hub's language list)."""
    return [c.iso_code for c in members.values() if c.iso_code]


def joint_result(comparison: dict | None) -> dict | None:
    """The joint model's results as one eval.json-like result (``hubcard.eval_results``' input): a task per
    member and task, named ``<member>-<task>``."""
    if comparison is None:
        return None
    return {"tasks": {f"{m}-{task}": entry for m, r in (comparison.get("results") or {}).items()
                      for task, entry in (r.get("tasks") or {}).items()}}


def _span(iv: dict | None) -> str:
    return "" if not iv else f"; 95% interval {100 * iv['low']:+.1f} to {100 * iv['high']:+.1f}"


def comparison_warnings(comparison: dict | None) -> list[str]:
    """A comparison not at equal compute; a language where the joint model is measurably below random init
    (or level with it: pre-training brought nothing measurable) or measurably below its monolingual model.
    "Measurably" is the paired 95% interval of the difference (``compare.task_rows``); a row without one (a
    member evaluated before predictions were kept) falls back to the difference's sign."""
    out = []
    for r in (comparison or {}).get("tasks") or []:
        where = f"{r['language']} {r['task']}"
        if r.get("equal_compute") is False:
            out.append(f"{where}: the monolingual model was pre-trained with {r['flops_ratio']:.2f}x the joint model's "
                       f"FLOPs, so that comparison is not at equal compute")
        d, iv = _verdict(r, "joint_minus_random_init", "verdict_vs_random_init", r.get("joint"), r.get("random_init"))
        if d == "below":
            out.append(f"the joint model scores below random initialisation on {where} "
                       f"({100 * (r['joint'] - r['random_init']):+.1f} points{_span(iv)})")
        elif d == "level" and iv:
            out.append(f"the joint model's pre-training gained nothing measurable over random initialisation on "
                       f"{where} ({100 * (r['joint'] - r['random_init']):+.1f} points{_span(iv)}: the interval "
                       f"spans 0)")
        d, iv = _verdict(r, "joint_minus_monolingual", "verdict_vs_monolingual", r.get("joint"), r.get("monolingual"))
        if d == "below":
            out.append(f"the joint model scores below {r['language']}'s monolingual model on {where} "
                       f"({100 * r['joint_minus_monolingual']:+.1f} points{_span(iv)}): for {r['language']} "
                       f"alone that model is the better choice")
    return out


def _verdict(r: dict, delta_key: str, verdict_key: str, a, b) -> tuple[str | None, dict | None]:
    """(above / below / level / None, interval) of a row's difference; rows of comparisons made before intervals
    were kept have neither key: the sign of a - b."""
    if verdict_key in r:
        return r[verdict_key], r.get(f"{delta_key}_interval")
    if a is None or b is None:
        return None, None
    return ("above" if a > b else "below" if a < b else "level"), None


def member_lineage(root: Path, m: str, record: dict, lineage: dict) -> dict:
    """A member's lineage for ``hubcard.training_data``: its cleaned corpus as members.json recorded it (and
    whether dvc.lock records the same), its review decision (approval implies validation passed:
    ``pipeline.joint.members.member_record`` checks both)."""
    path = f"data/{m}/clean"
    return {"dvc_hashes": {path: record["clean_md5"]}, "git_commit": lineage.get("git_commit"),
            "dvc_lock_consistent": dvc_hashes(Path(root), m, ("clean",)).get(path) == record["clean_md5"],
            "review_decision": record.get("review"), "validation_passed": True}


def training_data(root: Path, cfg: JointConfig, members: dict[str, LanguageConfig], record: dict,
                  lineage: dict, places: hubcard.Places | None = None) -> str:
    used = lineage.get("members") or {}
    lines = ["## Training data", "",
             f"The members' cleaned and reviewed corpora, mixed with alpha = {cfg.sampling.alpha} (language i "
             f"sampled with probability ∝ n_i^alpha; no example mixes languages):", "",
             "| language | probability | tokens used | corpus hash (`data/<lang>/clean`) |", "|---|---:|---:|---|"]
    for m in members:
        u = used.get(m) or {}
        lines.append(f"| {m} | {u.get('probability', '–')} | {u.get('tokens_used', '–')} "
                     f"| `{record['members'][m]['corpus']}` |")
    lines += [""]
    if cfg.card.license == "other":
        lines.append(f"License: no license was chosen for the model (`card.license` in `corpora/{cfg.joint}.yaml`); "
                     "the licenses of every member's training sources apply.")
    else:
        lines.append(f"License: `{cfg.card.license}` (`card.license` in `corpora/{cfg.joint}.yaml`); check that "
                     "every member's training sources allow it.")
    for m, mcfg in members.items():
        body = hubcard.training_data(mcfg, member_lineage(root, m, record["members"][m], lineage), places)
        # the member's own license line is about its own model's card: the joint model's is above
        kept = [ln for ln in body.split("\n")[1:] if not ln.startswith("License:")]
        lines += ["", f"### {mcfg.name or m} ({m})", *kept]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines))


def render(root: Path, cfg: JointConfig, members: dict[str, LanguageConfig], *, pretrain_card: str, params: dict,
           comparison: dict | None, scorecard_md: str | None, record: dict, lineage: dict,
           max_seq_length: int | None, places: hubcard.Places | None = None) -> str:
    """The joint model's README.md for the Hub (``places``: sources outside the project shown as
    ``hubcard.Places`` shows them; the caller scrubs the whole text as the language publish stage does)."""
    who, result = subject(cfg, members), joint_result(comparison)
    sections = [hubcard.intended_use(who, params),
                hubcard.limitations(comparison_warnings(comparison), params, max_seq_length, result),
                training_data(root, cfg, members, record, lineage, places), hubcard.scores(scorecard_md)]
    return hubcard.render(pretrain_card, who, params, sections, result, languages=iso_codes(members))
