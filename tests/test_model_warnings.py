"""pipeline.evaluation.warnings: a pre-trained model below or level with random init is named in the warnings."""
from __future__ import annotations

import json

from pipeline.evaluation.warnings import model_warnings
from pipeline.layout import Layout


def _eval(tmp_path, deltas: dict[str, float]) -> None:
    tasks = {name: {"metric": "accuracy", "pretrained": {"median": 0.5 + d}, "random_init": {"median": 0.5},
                    "delta": d} for name, d in deltas.items()}
    path = Layout(tmp_path, "xx").eval_metrics
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"tasks": tasks}), encoding="utf-8")


def test_below_and_level_tasks_are_warned_about_and_gains_are_not(tmp_path):
    _eval(tmp_path, {"topic": 0.0, "ner": -0.05, "upos": 0.03})
    out = model_warnings(tmp_path, "xx")
    assert out == ["the pre-trained model scores below random initialisation on ner (-5.0) (reports/xx/scorecard.md)",
                   "pre-training gained nothing measurable over random initialisation on topic (+0.0) (reports/xx/scorecard.md)"]


def test_a_model_above_random_init_everywhere_gets_no_warning(tmp_path):
    _eval(tmp_path, {"topic": 0.01, "upos": 0.03})
    assert model_warnings(tmp_path, "xx") == []
