"""GLUE conventions: the ``download_glue_data.py`` TSV layout of each task and the ELECTRA fine-tuning
recipe's per-task defaults."""
from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pipeline.config import TaskSettings
from pipeline.errors import StageError

# GLUE conventions (download_glue_data.py layout). Columns by header name where there is a header.
GLUE_TASKS: dict[str, dict[str, Any]] = {
    "cola": dict(display="CoLA", type="classification", header=False, text_a=3, text_b=None, label=1),
    "sst2": dict(display="SST-2", type="classification", header=True, text_a="sentence", text_b=None,
                 label="label"),
    "mrpc": dict(display="MRPC", type="pair_classification", header=True, text_a="#1 String",
                 text_b="#2 String", label="Quality", swap=True),
    "stsb": dict(display="STS-B", type="regression", header=True, text_a="sentence1", text_b="sentence2",
                 label="score", epochs=10, swap=True, range=(0.0, 5.0)),
    "qqp": dict(display="QQP", type="pair_classification", header=True, text_a="question1",
                text_b="question2", label="is_duplicate"),
    "mnli": dict(display="MNLI", type="pair_classification", header=True, text_a="sentence1",
                 text_b="sentence2", label="gold_label"),
    "qnli": dict(display="QNLI", type="pair_classification", header=True, text_a="question",
                 text_b="sentence", label="label"),
    "rte": dict(display="RTE", type="pair_classification", header=True, text_a="sentence1",
                text_b="sentence2", label="label", epochs=10),
    "wnli": dict(display="WNLI", type="pair_classification", header=True, text_a="sentence1",
                 text_b="sentence2", label="label"),
}
# The fine-tuning recipe (Clark et al. 2020, Appendix / official configure_finetuning.py): 3 epochs,
# 10 for RTE and STS-B; MRPC and STS-B train on both segment orders (``double_unordered``); STS-B
# targets scaled to [0, 1] (``(y - 0) / 5``, official RegressionTask).
DEFAULT_EPOCHS = 3.0


def default_epochs(task: TaskSettings, glue_key: str | None) -> float:
    if task.epochs is not None:
        return float(task.epochs)
    return float(GLUE_TASKS.get(glue_key or "", {}).get("epochs", DEFAULT_EPOCHS))


def normalize_task_name(name: str) -> str | None:
    """GLUE key (``cola``, ``sst2``, ``stsb``...) for a task or folder name, or None."""
    k = re.sub(r"[^a-z0-9]", "", str(name).lower())
    for cand in (k, k.removeprefix("glue"), k.removesuffix("glue")):
        if cand in GLUE_TASKS:
            return cand
    return None


def glue_convention(task: TaskSettings, train_path: Path) -> tuple[str, dict]:
    """(GLUE key, convention) of a ``format: glue`` task, from its name or else its folder's name."""
    key = normalize_task_name(task.name) or normalize_task_name(train_path.parent.name)
    if key is None:
        known = ", ".join(v["display"] for v in GLUE_TASKS.values())
        raise StageError(f"task {task.name!r}: format glue, but neither the task name nor the folder "
                         f"{train_path.parent.name!r} is a GLUE task ({known}); use format: tsv with "
                         f"text_a/text_b/label columns")
    conv = GLUE_TASKS[key]
    want = conv["type"]
    ok = task.type == want or (want != "regression" and task.type in ("classification", "pair_classification"))
    if not ok:
        raise StageError(f"task {task.name!r}: GLUE {conv['display']} is a {want} task, but type is {task.type!r}")
    return key, conv
