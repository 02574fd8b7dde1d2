"""The Hub model card of a published model folder (``models/<lang>/hub/README.md``, the publish stage).

The card is the pretrain stage's README (what was trained, how, the lineage table) under Hub metadata and the
sections a Hub user reads first: intended use, limitations (with every warning about this model), training data
and, once evaluate ran, the scores. The metadata goes through huggingface_hub's ``ModelCardData`` and
``EvalResult`` (the library writes the YAML and the ``model-index``; ``tests/test_hubcard.py`` reads it back
with ``metadata_load`` and ``ModelCard``, offline).
"""
from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub import EvalResult, ModelCard, ModelCardData

from pipeline.config import LanguageConfig
from pipeline.evaluation.scoring import summary_of
from pipeline.evaluation.variants import PRETRAINED, RANDOM

# eval.json task types -> Hub task ids and names; our metric names -> Hub metric ids
HUB_TASKS = {"classification": ("text-classification", "Text Classification"),
             "pair_classification": ("text-classification", "Text Classification"),
             "regression": ("text-classification", "Text Classification (regression)"),
             "tagging": ("token-classification", "Token Classification")}
HUB_METRICS = {"accuracy": "accuracy", "token_accuracy": "accuracy", "entity_f1": "f1", "macro_f1": "f1",
               "f1": "f1", "mcc": "matthews_correlation", "pearson": "pearsonr", "spearman": "spearmanr"}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


# how a published file names the data root (its place differs per machine; the variable that sets it) and a
# place outside both the project and the data root (no angle brackets: Markdown would take them for a tag)
DATA_ROOT_LABEL = "$FOUNDRY_DATA_ROOT"
LOCAL_LABEL = "(local)"


@dataclass(frozen=True)
class Places:
    """Where the project and its data root lie on this machine, which a published file must not show: dvc.lock
    names raw sources outside the project by the path dvc.yaml gave them (``../shared/data/text/sw``, or
    absolute when params.yaml or FOUNDRY_DATA_ROOT is), and the lineage carries those names."""
    root: Path
    data_root: Path

    def public(self, path: str) -> str:
        """``path`` as a card shows it: project paths as they are, the data root's relative to it
        (``$FOUNDRY_DATA_ROOT/text/sw``), anything else by its last component (``(local)/corpus``)."""
        p = Path(path)
        if not p.is_absolute() and ".." not in p.parts:
            return p.as_posix()
        full = Path(os.path.normpath(p if p.is_absolute() else self.root / p))
        for base, label in ((self.data_root, DATA_ROOT_LABEL), (self.root, "")):
            for b in {Path(os.path.normpath(base)), base.resolve()}:
                for f in (full, full.resolve()):
                    if f == b or b in f.parents:
                        rel = f.relative_to(b).as_posix()
                        return f"{label}/{rel}".strip("/") if label else rel
        return f"{LOCAL_LABEL}/{full.name}"

    def lineage(self, lineage: dict) -> dict:
        """The lineage with its DVC-hash paths made public."""
        out = dict(lineage)
        if isinstance(out.get("dvc_hashes"), dict):
            out["dvc_hashes"] = {self.public(k): v for k, v in out["dvc_hashes"].items()}
        return out

    def scrub(self, text: str, lineage: dict) -> str:
        """``text`` (a README, lineage.json) with every machine path the lineage names replaced by its public
        form, then any remaining mention of the data root's or the project's absolute place."""
        paths = [k for k in (lineage.get("dvc_hashes") or {}) if self.public(k) != k]
        subs = {k: self.public(k) for k in paths}
        subs.update({str(b): DATA_ROOT_LABEL for b in {self.data_root, self.data_root.resolve()}})
        subs.update({str(b): "." for b in {self.root, self.root.resolve()}})
        for old in sorted(subs, key=len, reverse=True):  # longest first: a source before the root holding it
            text = text.replace(json.dumps(old)[1:-1], json.dumps(subs[old])[1:-1]).replace(old, subs[old])
        return text


def hub_datasets(cfg: LanguageConfig) -> list[str]:
    """``card.datasets``, else the sources that are Hub datasets (format hf). Local files have no Hub id:
    they are named in the Training data section instead."""
    if cfg.card.datasets is not None:
        return list(cfg.card.datasets)
    return [s.path for s in cfg.sources if s.format == "hf" and _HUB_ID.match(s.path)]


def eval_results(result: dict | None) -> list[EvalResult]:
    """One EvalResult per evaluated task: the pre-trained model's median over seeds."""
    out = []
    for name, t in ((result or {}).get("tasks") or {}).items():
        s = summary_of(t, PRETRAINED)
        if not s or s.get("median") is None:
            continue
        task_type, task_name = HUB_TASKS.get(t.get("type"), HUB_TASKS["classification"])
        metric = t.get("metric") or "accuracy"
        out.append(EvalResult(
            task_type=task_type, task_name=task_name, dataset_type=name,
            dataset_name=f"{name} ({t.get('scored_on') or t.get('dev') or 'dev'})", dataset_split="validation",
            metric_type=HUB_METRICS.get(metric, metric), metric_value=round(float(s["median"]), 4),
            metric_name=f"{metric} (median of {len(s.get('seeds') or [])} seeds)"))
    return out


def metadata(cfg: LanguageConfig, params: dict, result: dict | None,
             languages: list[str] | None = None) -> ModelCardData:
    """``languages``: the ISO codes of a model of several languages (a joint model's members); default the
    language's own."""
    backbone = params.get("backbone", "electra")
    tags = ["electra", backbone, "electra-foundry",
            "replaced-token-detection" if params.get("objective", "electra") == "electra" else "masked-lm"]
    license_extra = {}
    if cfg.card.license == "other":
        license_extra["license_name"] = cfg.card.license_name or "training-data-licenses"
    results = eval_results(result)
    lang = cfg.iso_code
    return ModelCardData(
        language=languages or ([lang] if lang else None), license=cfg.card.license, library_name="transformers",
        pipeline_tag="fill-mask" if params.get("objective") == "mlm" else "feature-extraction",
        datasets=hub_datasets(cfg) or None, tags=sorted(set(tags), key=tags.index),
        model_name=f"electra-{params.get('size', 'small')}-{cfg.language}" if results else None,
        eval_results=results or None, **license_extra)


def _split_title(body: str) -> tuple[str, str]:
    """(the title and the paragraph after it, the rest) of the pretrain card's body."""
    parts = body.lstrip("\n").split("\n\n", 2)
    return "\n\n".join(parts[:2]), (parts[2] if len(parts) > 2 else "")


def render(pretrain_card: str, cfg: LanguageConfig, params: dict, sections: list[str],
           result: dict | None, languages: list[str] | None = None) -> str:
    """The published README.md: Hub metadata, the pretrain card's title, ``sections`` (Markdown), the rest of
    the pretrain card. ``languages``: as :func:`metadata`'s."""
    body = ModelCard(pretrain_card).text  # the pretrain card without its front matter
    head, rest = _split_title(body)
    data = metadata(cfg, params, result, languages)
    text = "\n\n".join([head, *[s.strip("\n") for s in sections], "## Training procedure", rest.strip("\n")])
    return f"---\n{data.to_yaml()}\n---\n\n{text}\n"


def intended_use(cfg: LanguageConfig, params: dict) -> str:
    name = f"{cfg.name or cfg.language} ({cfg.iso_code or cfg.language})"
    lines = ["## Intended use", "",
             f"An encoder pre-trained on {name} text, to be fine-tuned: sentence and sentence-pair classification "
             "(`AutoModelForSequenceClassification`) and token classification such as POS tagging or NER "
             "(`AutoModelForTokenClassification`). The folder loads as it is (`AutoModel`, `AutoTokenizer`). "
             "`generator/` is the small masked-language model of pre-training (`pipeline(\"fill-mask\", "
             "model=\".../generator\")`), kept for continued pre-training and inspection, not a general-purpose "
             "language model. Not for text generation, and not for use without fine-tuning."]
    if params.get("size") == "tiny":
        lines += ["", "This is a `tiny` model: a CPU-sized configuration for trying the pipeline and the data. Expect "
                      "far lower scores than a `small` or `base` model pre-trained on a GPU; do not deploy it."]
    return "\n".join(lines)


def limitations(warnings: list[str], params: dict, max_seq_length: int | None, result: dict | None) -> str:
    """Every warning about this model first, then what holds for any model of this folder's kind."""
    lines = ["## Limitations", ""]
    lines += [f"- **Warning:** {w}" for w in warnings]
    positions = max(int(max_seq_length or 0), int(params.get("max_position_embeddings") or 0))
    if max_seq_length and positions > int(max_seq_length):
        lines.append(f"- Pre-trained on sequences of at most {max_seq_length} tokens: positions {max_seq_length}-"
                     f"{positions - 1} exist (as in the official ELECTRA checkpoints) but were never trained.")
    if result is None:
        lines.append("- Not evaluated: the evaluate stage had not run when this card was written.")
    elif result.get("tasks"):
        lines.append("- The scores below are this project's own fine-tuning runs (medians over seeds, on the "
                     "examples the language's config allows), not a benchmark submission.")
    lines.append("- The model carries the biases and gaps of its training text (below); the text was cleaned and "
                 "reviewed, not curated for any use.")
    return "\n".join(lines)


def training_data(cfg: LanguageConfig, lineage: dict, places: Places | None = None) -> str:
    """Sources, the license situation, the corpus's DVC hashes and the review decision (the full record is the
    Lineage table of the training procedure). With ``places``, paths outside the project as :meth:`Places.public`
    shows them."""
    if places is not None:
        lineage = places.lineage(lineage)
    lines = ["## Training data", "", f"Sources (`corpora/{cfg.language}.yaml`):", ""]
    lines += [f"- `{places.public(s.path) if places and s.format != 'hf' else s.path}` ({s.format})"
              for s in cfg.sources]
    lines += [""]
    if cfg.card.license == "other":
        lines += [f"License: no license was chosen for the model (`card.license` in `corpora/{cfg.language}.yaml`); "
                  "the licenses of the training sources apply.", ""]
    else:
        lines += [f"License: `{cfg.card.license}` (`card.license`); check that the training sources allow it.", ""]
    hashes = {p: h for p, h in (lineage.get("dvc_hashes") or {}).items()
              if not p.endswith(".py") and not p.startswith(("pipeline/", "model/"))}
    if hashes:
        lines += ["| data | DVC hash |", "|---|---|"] + [f"| `{p}` | `{h}` |" for p, h in sorted(hashes.items())]
        lines += ["", f"`dvc.lock` agrees with the files trained on: {lineage.get('dvc_lock_consistent')}; "
                      f"git commit `{lineage.get('git_commit') or 'unknown'}`.", ""]
    decision = lineage.get("review_decision")
    if isinstance(decision, dict):
        lines.append(f"Review: **{decision.get('decision')}** by {decision.get('reviewer') or 'unknown'} at "
                     f"{decision.get('decided_at') or '?'} (policy {decision.get('policy') or '?'})"
                     + (f": {decision['comment']}" if decision.get("comment") else "")
                     + f"; validation passed: {lineage.get('validation_passed')}.")
    else:
        lines.append(f"Review: {decision or 'no record in the model folder'}.")
    return "\n".join(lines)


def scores(scorecard_md: str | None) -> str:
    """The scorecard under the Scores heading (its headings two levels down: '# Scorecard' becomes a
    '### Scorecard' subsection), or a line saying it is not there yet."""
    if not scorecard_md:
        return "## Scores\n\nNot evaluated yet."
    out, fence = [], False
    for line in scorecard_md.splitlines():
        if line.lstrip().startswith("```"):
            fence = not fence
        out.append("##" + line if not fence and re.match(r"#{1,4} ", line) else line)
    return "## Scores\n\n" + "\n".join(out).strip("\n")
