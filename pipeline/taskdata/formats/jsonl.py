"""``jsonl``: one JSON object a line. Also turns a Hugging Face dataset row into an example (``hf``)."""
from __future__ import annotations

import json
from pathlib import Path

from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example, parse_label, read_lines


def _field(obj: dict, spec, fallbacks: tuple[str, ...]):
    if spec is not None:
        return str(spec), obj.get(str(spec))
    for f in fallbacks:
        if f in obj:
            return f, obj[f]
    return fallbacks[0], None


def read_jsonl(path: Path, task: TaskSettings) -> list[Example]:
    out = []
    for lineno, line in enumerate(read_lines(path, task.encoding), 1):
        if line.strip() == "":
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise StageError(f"{path}:{lineno}: invalid JSON ({e.msg.removesuffix(' at')} at column "
                             f"{e.colno})") from None
        if not isinstance(obj, dict):
            raise StageError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
        ex = from_record(obj, task, str(path), lineno)
        if ex is not None:
            out.append(ex)
    return out


def _tagged(obj: dict, task: TaskSettings, where: str, lineno: int) -> Example | None:
    tname, tokens = _field(obj, task.text_a, ("tokens", "words"))
    lname, tags = _field(obj, task.label, ("tags", "label", "labels", "ner_tags", "upos", "pos_tags"))
    if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
        raise StageError(f"{where}:{lineno}: field {tname!r} must be a list of strings")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise StageError(f"{where}:{lineno}: field {lname!r} must be a list of tag strings")
    if len(tokens) != len(tags):
        raise StageError(f"{where}:{lineno}: {len(tokens)} tokens but {len(tags)} tags")
    if not tokens:
        return None
    return Example(text_a=" ".join(tokens), tokens=list(tokens), label=list(tags), source=where, line=lineno)


def from_record(obj: dict, task: TaskSettings, where: str, lineno: int) -> Example | None:
    """One example from a JSON object / dataset row (None for an empty tagged sentence)."""
    if task.type == "tagging":
        return _tagged(obj, task, where, lineno)
    aname, a = _field(obj, task.text_a, ("text_a", "text", "sentence", "sentence1", "premise", "question"))
    bname, b = _field(obj, task.text_b, ("text_b", "sentence2", "hypothesis"))
    if task.type == "classification" and task.text_b is None:
        b = None
    lname, lab = _field(obj, task.label, ("label", "labels", "score", "gold_label"))
    if not isinstance(a, str):
        raise StageError(f"{where}:{lineno}: field {aname!r} is missing or not a string")
    if task.type == "pair_classification" and not isinstance(b, str):
        raise StageError(f"{where}:{lineno}: field {bname!r} is missing or not a string (pair task)")
    if b is not None and not isinstance(b, str):
        raise StageError(f"{where}:{lineno}: field {bname!r} is not a string")
    if lab is None or isinstance(lab, (list, dict)):
        raise StageError(f"{where}:{lineno}: field {lname!r} is missing or not a scalar label")
    if isinstance(lab, bool):
        lab = str(int(lab))
    label = parse_label(str(lab), task.type, where, lineno)
    return Example(text_a=a.strip(), text_b=b.strip() if isinstance(b, str) else None, label=label,
                   source=where, line=lineno)
