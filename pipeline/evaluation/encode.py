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
    gives -100 to the other sub-tokens and to [CLS]/[SEP]; a sentence longer than ``max_length`` sub-tokens is
    cut at word ends into windows that fit, one feature each (``example``: the sentence's index in its split,
    so the windows' predictions are joined again for scoring), so every word is labelled and scored (a single
    word longer than a window keeps its first sub-tokens).
    """
    return (_encode_split(task, task.train, tokenizer, max_length, batch_size),
            _encode_split(task, task.dev, tokenizer, max_length, batch_size))


def windows(sub_tokens: list[int], limit: int) -> list[tuple[int, int]]:
    """Word ranges ``[a, b)`` of at most ``limit`` sub-tokens each (``sub_tokens``: per word), cut greedily at
    word ends; a word longer than ``limit`` is a range of its own."""
    out, start, total = [], 0, 0
    for w, n in enumerate(sub_tokens):
        if total + n > limit and w > start:
            out.append((start, w))
            start, total = w, 0
        total += n
    return out + [(start, len(sub_tokens))] if sub_tokens else [(0, 0)]


def _encode_tagged(task: TaskData, examples: list[Example], tokenizer, max_length: int,
                   batch_size: int) -> list[dict]:
    if not getattr(tokenizer, "is_fast", False):
        raise StageError("tagging tasks need a fast tokenizer (tokenizer.json) to align words and sub-tokens")
    sep_id = getattr(tokenizer, "sep_token_id", None)
    limit = max_length - tokenizer.num_special_tokens_to_add()
    feats: list[dict] = []
    index = {t: i for i, t in enumerate(task.labels or [])}
    for s in range(0, len(examples), batch_size):
        chunk = examples[s:s + batch_size]
        plain = tokenizer([ex.tokens for ex in chunk], is_split_into_words=True, add_special_tokens=False)
        pieces = []       # (example index in the split, first word, end word)
        for i, ex in enumerate(chunk):
            counts = [0] * len(ex.tokens)
            for w in plain.word_ids(i):
                if w is not None:
                    counts[w] += 1
            pieces += [(s + i, a, b) for a, b in windows(counts, limit)]
        enc = tokenizer([examples[e].tokens[a:b] for e, a, b in pieces], is_split_into_words=True,
                        truncation=True, max_length=max_length, return_token_type_ids=True)
        for i, (e, a, _) in enumerate(pieces):
            ids = list(enc["input_ids"][i])
            labels, prev = [], None
            for w in enc.word_ids(i):
                if w is None or w == prev:
                    labels.append(-100)
                else:
                    labels.append(index[examples[e].label[a + w]])
                if w is not None:
                    prev = w
            feats.append({"input_ids": ids, "token_type_ids": _type_ids(enc, i, ids, sep_id), "label": labels,
                          "example": e})
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
