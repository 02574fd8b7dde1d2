"""``tasks``: the unlabeled text of the evaluation tasks' training splits, as pre-training text (task-adaptive
pre-training, Gururangan et al. 2020) — never a scored example.

``sources[].path`` names tasks of ``evaluate.tasks``: a name, or a glob over the names (``"*"``: every task).
Each training split is read by the evaluation's own loader (``pipeline.taskdata.tasks.load_task``) before any
``max_train_examples`` cap (the whole split is text; no label is read into the corpus), so a seeded split gives
exactly the training side the scorecard trains on. An example gives one line per text (a pair: two lines; a
tagged sentence: its tokens joined by spaces). A line is left out when it equals a text scored by any task of
the suite (contamination) or an earlier line of this source (a premise XNLI pairs with three hypotheses);
both are counted in stats.json (``sources[].tasks``). Lines, in suite order, are grouped into documents of at
most ``group_chars`` characters (default 1500), as a text source's ``documents: {group_chars: N}`` groups
them (``lines.Blocker``); a line longer than ``clean.max_chars`` is cut into kept pieces. The source is one
work-unit segment.

The clean stage's DVC params are not ``evaluate.tasks`` (a fine-tuning knob would re-clean every language's
corpus), so a change of a task's files or splits does not re-run clean by itself: the evaluate stage checks
the sha256 recorded in stats.json against the text the source gives now (:func:`stale`) and stops with the
command that re-cleans, before a model trained on text that may now be scored is scored."""
from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Iterator

from pipeline.config import tasks_matching
from pipeline.readers.common import RAISE, BadInput, RawDoc, Segment, SourceFile
from pipeline.readers.lines import Blocker

FORMAT = "tasks"
SUFFIXES = ()
LINE_BASED = False
GROUP_CHARS = 1500
_MEMO: dict[str, tuple[list[str], dict]] = {}


def _texts(ex) -> tuple[str, ...]:
    return (" ".join(ex.tokens),) if ex.tokens else tuple(x for x in (ex.text_a, ex.text_b) if x)


def task_lines(sf: SourceFile) -> tuple[list[str], dict]:
    """(lines, per-task counts) of the source; computed once per process."""
    from pipeline.taskdata.tasks import load_task   # the evaluation's readers (light: no torch)

    key = sf.rel + "\0" + sf.root + "\0" + "\0".join(t.model_dump_json() for t in sf.suite)
    if key in _MEMO:
        return _MEMO[key]
    uncapped = {"max_train_examples": None, "max_eval_examples": None}
    root = Path(sf.root)
    datas = {t.name: load_task(t.model_copy(update=uncapped), root) for t in sf.suite}
    scored = {x for d in datas.values() for ex in d.dev for x in _texts(ex)}
    seen: set[str] = set()
    lines: list[str] = []
    counts: dict[str, dict] = {}
    for t in tasks_matching(sf.source.path, sf.suite):
        d = datas[t.name]
        c = counts[t.name] = {"trained_on": d.trained_on, "examples": d.train_available, "lines": 0,
                              "left_out_scored": 0, "left_out_repeated": 0}
        for ex in d.train[: d.train_available]:        # not the swapped copies MRPC/STS-B train on
            for line in _texts(ex):
                if line in scored:
                    c["left_out_scored"] += 1
                elif line in seen:
                    c["left_out_repeated"] += 1
                else:
                    seen.add(line)
                    lines.append(line)
                    c["lines"] += 1
    _MEMO[key] = lines, counts
    return lines, counts


def sha256(sf: SourceFile) -> str:
    """The sha256 of the source's lines (what it feeds the corpus), not of any one file."""
    h = hashlib.sha256()
    for line in task_lines(sf)[0]:
        h.update(line.encode("utf-8") + b"\n")
    return h.hexdigest()


def read(sf: SourceFile, max_chars: int, start: int = 0, end: int | None = None, first_line: int = 1,
         bad: BadInput = RAISE) -> Iterator[RawDoc]:
    b = Blocker(sf.rel, max_chars, getattr(sf.source.documents, "group_chars", None) or GROUP_CHARS)
    for i, line in enumerate(task_lines(sf)[0], 1):
        yield from b.add(i, line)
    yield from b.end()


def plan(sf: SourceFile, file_index: int, task_bytes: int) -> list[Segment]:
    return [Segment(file_index, 0, -1, 1, sum(len(x) + 1 for x in task_lines(sf)[0]))]


def stale(cfg, root: Path, stats: dict) -> str | None:
    """Why the corpus's task text is not what its ``format: tasks`` sources give now (None: it is)."""
    from pipeline.readers.common import source_files

    recorded = {e.get("path"): e.get("sha256") for e in stats.get("sources") or []}
    for sf in source_files(cfg, Path(root)):
        if sf.source.format == FORMAT and recorded.get(sf.rel) != sha256(sf):
            return (f"corpora/{cfg.language}.yaml: the source {{format: tasks, path: {sf.source.path!r}}} gives "
                    f"other text than the corpus was cleaned from (evaluate.tasks or its files changed since); "
                    f"the corpus may hold text that is scored now: re-clean with `dvc repro --force clean@"
                    f"{cfg.language}`, then `foundry run {cfg.language}`")
    return None
