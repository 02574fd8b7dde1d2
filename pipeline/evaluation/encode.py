"""Task data to the feature dicts ``model.finetune.finetune`` takes: ``input_ids``, ``token_type_ids``,
``label``."""
from __future__ import annotations

from pipeline.errors import StageError
from pipeline.taskdata.formats.base import Example
from pipeline.taskdata.tasks import TaskData


def _type_ids(enc: dict, i: int, ids: list[int], sep_id: int | None) -> list[int]:
    tt = enc.get("token_type_ids")
    if tt is not None:
        return list(tt[i])
    # Tokenizer without token types: segment B starts after the first [SEP].
    out, seg = [], 0
    for t in ids:
        out.append(seg)
        if t == sep_id and seg == 0:
            seg = 1
    return out


def encode(task: TaskData, tokenizer, max_length: int, batch_size: int = 1000) -> tuple[list[dict], list[dict]]:
    """Feature dicts for ``model.finetune.finetune``: ``input_ids``, ``token_type_ids``, ``label``.

    Pairs are truncated longest segment first. Tagging labels the first sub-token of each word and
    gives -100 to the other sub-tokens and to [CLS]/[SEP]; words cut off by ``max_length`` are not
    labelled (and so not scored).
    """
    return (_encode_split(task, task.train, tokenizer, max_length, batch_size),
            _encode_split(task, task.dev, tokenizer, max_length, batch_size))


def _encode_tagged(task: TaskData, examples: list[Example], tokenizer, max_length: int,
                   batch_size: int) -> list[dict]:
    if not getattr(tokenizer, "is_fast", False):
        raise StageError("tagging tasks need a fast tokenizer (tokenizer.json) to align words and sub-tokens")
    sep_id = getattr(tokenizer, "sep_token_id", None)
    feats: list[dict] = []
    index = {t: i for i, t in enumerate(task.labels or [])}
    for s in range(0, len(examples), batch_size):
        chunk = examples[s:s + batch_size]
        enc = tokenizer([ex.tokens for ex in chunk], is_split_into_words=True, truncation=True,
                        max_length=max_length, return_token_type_ids=True)
        for i, ex in enumerate(chunk):
            ids = list(enc["input_ids"][i])
            labels, prev = [], None
            for w in enc.word_ids(i):
                if w is None or w == prev:
                    labels.append(-100)
                else:
                    labels.append(index[ex.label[w]])
                if w is not None:
                    prev = w
            feats.append({"input_ids": ids, "token_type_ids": _type_ids(enc, i, ids, sep_id), "label": labels})
    return feats


def _encode_split(task: TaskData, examples: list[Example], tokenizer, max_length: int,
                  batch_size: int) -> list[dict]:
    if task.type == "tagging":
        return _encode_tagged(task, examples, tokenizer, max_length, batch_size)
    sep_id = getattr(tokenizer, "sep_token_id", None)
    feats: list[dict] = []
    index = {t: i for i, t in enumerate(task.labels or [])}
    for s in range(0, len(examples), batch_size):
        chunk = examples[s:s + batch_size]
        a = [ex.text_a for ex in chunk]
        has_b = [ex.text_b is not None for ex in chunk]
        if any(has_b) and not all(has_b):
            encs = [_encode_one(tokenizer, ex, max_length) for ex in chunk]
            for ex, (ids, tt) in zip(chunk, encs):
                feats.append({"input_ids": ids, "token_type_ids": tt, "label": _label_value(task, ex, index)})
            continue
        if all(has_b) and chunk:
            enc = tokenizer(a, [ex.text_b for ex in chunk], truncation="longest_first", max_length=max_length,
                            return_token_type_ids=True)
        else:
            enc = tokenizer(a, truncation=True, max_length=max_length, return_token_type_ids=True)
        for i, ex in enumerate(chunk):
            ids = list(enc["input_ids"][i])
            feats.append({"input_ids": ids, "token_type_ids": _type_ids(enc, i, ids, sep_id),
                          "label": _label_value(task, ex, index)})
    return feats


def _encode_one(tokenizer, ex: Example, max_length: int) -> tuple[list[int], list[int]]:
    if ex.text_b is None:
        enc = tokenizer(ex.text_a, truncation=True, max_length=max_length, return_token_type_ids=True)
    else:
        enc = tokenizer(ex.text_a, ex.text_b, truncation="longest_first", max_length=max_length,
                        return_token_type_ids=True)
    ids = list(enc["input_ids"])
    tt = enc.get("token_type_ids")
    if tt is None:
        tt = _type_ids({"token_type_ids": None}, 0, ids, getattr(tokenizer, "sep_token_id", None))
    return ids, list(tt)


def _label_value(task: TaskData, ex: Example, index: dict[str, int]):
    if task.type == "regression":
        if task.label_range is not None:  # official RegressionTask: (label - min) / max
            lo, hi = task.label_range
            return (float(ex.label) - lo) / hi
        return float(ex.label)
    return index[ex.label]
