"""predictions.json: every scored prediction kept beside eval.json, and the paired comparisons across runs it
allows (the joint model against a member's monolingual model and random init)."""
from __future__ import annotations

import json
import math
import random

import numpy as np

from pipeline.evaluation import predictions as kept
from pipeline.evaluation.interval import interval, replicate_deltas
from pipeline.joint.card import comparison_warnings
from pipeline.joint.compare import task_rows
from pipeline.layout import Layout


def _runs(gold: list[str], accuracy: float, seed: int, seeds: int = 3) -> list[list[str]]:
    labels = sorted(set(gold))
    out = []
    for s in range(seeds):
        rng = random.Random(seed * 100 + s)
        out.append([g if rng.random() < accuracy else rng.choice(labels) for g in gold])
    return out


def _gold(n: int = 400) -> list[str]:
    rng = random.Random(7)
    return [rng.choice(["a", "b"]) for _ in range(n)]


def test_round_trip_is_compact_and_keeps_non_finite_regression_predictions(tmp_path):
    path = tmp_path / "predictions.json"
    recs = {"STS-B": kept.record("spearman", [0.5, 1.0, 4.0], {"pretrained": [[0.1, float("nan"), 3.0]]}),
            "CoLA": kept.record("mcc", ["x", "y"], {"pretrained": [["x", "x"]], "random_init": [["y", "y"]]}),
            "upos": kept.record("token_accuracy", [["NOUN", "VERB"]], {"pretrained": [[["NOUN", "NOUN"]]]})}
    kept.write(path, recs)
    text = path.read_text(encoding="utf-8")
    assert text.count("\n") == 1 and "NaN" not in text            # strict JSON: null for a diverged run
    back = kept.read(path)
    assert back["CoLA"] == recs["CoLA"] and back["upos"] == recs["upos"]
    assert math.isnan(back["STS-B"]["models"]["pretrained"][0][1]) and back["STS-B"]["gold"] == [0.5, 1.0, 4.0]
    # in memory (the joint model's records, never read back) the prediction stays NaN, as read() returns it
    assert math.isnan(recs["STS-B"]["models"]["pretrained"][0][1])
    deltas, why = kept.compare(recs["STS-B"], "pretrained", back["STS-B"], "pretrained")
    assert why is None and len(deltas) == 2000
    assert kept.path_beside(tmp_path / "eval.json") == path


def test_read_is_none_for_a_missing_or_other_version_file(tmp_path):
    assert kept.read(tmp_path / "none.json") is None
    (tmp_path / "p.json").write_text(json.dumps({"version": 99, "tasks": {}}), encoding="utf-8")
    assert kept.read(tmp_path / "p.json") is None
    (tmp_path / "q.json").write_text("{not json", encoding="utf-8")
    assert kept.read(tmp_path / "q.json") is None


def test_compare_pairs_two_runs_as_one_run_does_and_refuses_what_does_not_pair():
    gold = _gold()
    a = kept.record("accuracy", gold, {"pretrained": _runs(gold, 0.9, 1)})
    b = kept.record("accuracy", gold, {"pretrained": _runs(gold, 0.6, 2), "random_init": _runs(gold, 0.5, 3)})
    deltas, why = kept.compare(a, "pretrained", b, "random_init")
    assert why is None
    np.testing.assert_array_equal(deltas, replicate_deltas("accuracy", gold, a["models"]["pretrained"],
                                                           b["models"]["random_init"]))
    assert interval(deltas)["low"] > 0.1             # accuracy 0.95 vs 0.75 (chance hits included), 400 examples
    assert kept.compare(a, "pretrained", None, "random_init") == (None, "no predictions.json")
    assert kept.compare(a, "random_init", b, "random_init") == (None, "no predictions of random_init")
    other = kept.record("accuracy", gold[:-1], {"random_init": _runs(gold[:-1], 0.5, 3)})
    assert kept.compare(a, "pretrained", other, "random_init") == (None, "different scored examples")
    two = kept.record("accuracy", gold, {"random_init": _runs(gold, 0.5, 3, seeds=2)})
    assert kept.compare(a, "pretrained", two, "random_init") == (None, "3 vs 2 seeds")
    mcc = kept.record("mcc", gold, {"random_init": _runs(gold, 0.5, 3)})
    assert kept.compare(a, "pretrained", mcc, "random_init")[1] == "different metrics (accuracy vs mcc)"


def test_tagging_records_pair_on_the_words_both_tokenizers_scored():
    rng = random.Random(3)
    tags = ["NOUN", "VERB", "ADJ"]
    gold = [[rng.choice(tags) for _ in range(rng.randint(3, 12))] for _ in range(200)]
    short = [g[:5] if i % 10 == 0 else g for i, g in enumerate(gold)]      # another tokenizer: 20 cut sentences

    def runs(golds, accuracy, seed):
        r = random.Random(seed)
        return [[[t if r.random() < accuracy else r.choice(tags) for t in g] for g in golds] for _ in range(3)]
    a = kept.record("token_accuracy", gold, {"pretrained": runs(gold, 0.9, 1)})
    b = kept.record("token_accuracy", short, {"random_init": runs(short, 0.6, 2)})
    deltas, note = kept.compare(a, "pretrained", b, "random_init")
    words, both = sum(map(len, gold)), sum(map(len, short))
    assert note == f"{both} of {words} words both scored" and both < words
    cut = [[p[:len(s)] for p, s in zip(run, short)] for run in a["models"]["pretrained"]]
    np.testing.assert_array_equal(deltas, replicate_deltas("token_accuracy", short, cut, b["models"]["random_init"]))
    assert interval(deltas)["low"] > 0.1
    other = [g if i else ["X"] + g[1:] for i, g in enumerate(gold)]      # a different word, not a shorter sentence
    c = kept.record("token_accuracy", other, {"random_init": runs(other, 0.6, 2)})
    assert kept.compare(a, "pretrained", c, "random_init") == (None, "different scored examples")


def _member(root, m: str, gold: list[str], mono: list[list[str]], rnd: list[list[str]], keep: bool = True) -> None:
    from pipeline.evaluation.metrics import task_metrics
    from pipeline.evaluation.scoring import _summary

    def summary(runs):
        return _summary([{"seed": s, "metrics": task_metrics("news", "classification", p, gold)}
                         for s, p in enumerate(runs)])
    lay = Layout(root, m)
    lay.metrics_dir.mkdir(parents=True)
    entry = {"metric": "accuracy", "pretrained": summary(mono), "random_init": summary(rnd)}
    lay.eval_metrics.write_text(json.dumps({"tasks": {"news": entry}}), encoding="utf-8")
    if keep:
        kept.write(lay.eval_predictions, {"news": kept.record("accuracy", gold, {"pretrained": mono,
                                                                               "random_init": rnd})})
    return summary


def test_joint_rows_get_paired_intervals_from_the_members_kept_predictions(tmp_path):
    gold = _gold()
    summary = _member(tmp_path, "sw", gold, mono=_runs(gold, 0.9, 1), rnd=_runs(gold, 0.55, 2))
    _member(tmp_path, "tr", gold, mono=_runs(gold, 0.6, 3), rnd=_runs(gold, 0.6, 4), keep=False)
    joint_sw, joint_tr = _runs(gold, 0.56, 5), _runs(gold, 0.5, 6)
    scored = {m: {"tasks": {"news": {"metric": "accuracy", "pretrained": summary(runs)}}}
              for m, runs in (("sw", joint_sw), ("tr", joint_tr))}
    joint_predictions = {"sw": {"news": kept.record("accuracy", gold, {"pretrained": joint_sw})},
                         "tr": {"news": kept.record("accuracy", gold, {"pretrained": joint_tr})}}
    rows = {r["language"]: r for r in task_rows(tmp_path, Layout(tmp_path, "joint"), scored, joint_predictions)}

    sw = rows["sw"]                   # joint 0.56 vs mono 0.9: measurably below; vs random init 0.55: level
    assert sw["verdict_vs_monolingual"] == "below" and sw["joint_minus_monolingual_interval"]["high"] < 0
    assert sw["verdict_vs_random_init"] == "level" and sw["unpaired"] is None and sw["seeds"] == 3
    iv = sw["joint_minus_random_init_interval"]
    assert iv["low"] < 0 < iv["high"] and iv["low"] <= sw["joint_minus_random_init"] <= iv["high"]
    tr = rows["tr"]                   # tr kept no predictions: no interval, the verdict is the sign
    assert tr["joint_minus_monolingual_interval"] is None and tr["unpaired"] == "no predictions.json"
    assert tr["verdict_vs_monolingual"] == ("below" if tr["joint_minus_monolingual"] < 0 else "above")

    warnings = comparison_warnings({"tasks": list(rows.values())})
    assert any(w.startswith("the joint model scores below sw's monolingual model on sw news") and "95% interval" in w
               for w in warnings), warnings
    assert any("gained nothing measurable over random initialisation on sw news" in w for w in warnings), warnings
    assert not any("below random initialisation on sw news" in w for w in warnings), warnings
    # tr: the sign rule, no interval in the text
    tr_below_random = tr["joint"] < tr["random_init"]
    assert any(("below random initialisation on tr news" in w and "interval" not in w) for w in warnings) == tr_below_random


def test_comparisons_made_before_intervals_keep_the_sign_rule():
    old = {"tasks": [{"language": "sw", "task": "ner", "joint": 0.5, "monolingual": 0.6, "random_init": 0.55,
                      "joint_minus_monolingual": -0.1, "flops_ratio": 1.0, "equal_compute": True}]}
    warnings = comparison_warnings(old)
    assert warnings == ["the joint model scores below random initialisation on sw ner (-5.0 points)",
                        "the joint model scores below sw's monolingual model on sw ner (-10.0 points): for sw alone "
                        "that model is the better choice"]


def test_joint_scorecard_shows_the_intervals(tmp_path):
    from pipeline.joint.report import render
    gold = _gold()
    summary = _member(tmp_path, "sw", gold, mono=_runs(gold, 0.9, 1), rnd=_runs(gold, 0.5, 2))
    joint = _runs(gold, 0.9, 5)
    rows = task_rows(tmp_path, Layout(tmp_path, "j"), {"sw": {"tasks": {"news": {"metric": "accuracy",
                                                                               "pretrained": summary(joint)}}}},
                     {"sw": {"news": kept.record("accuracy", gold, {"pretrained": joint})}})
    md = render({"joint": "j", "members": ["sw"], "alpha": 0.3, "tasks": rows, "vocab": [], "pretrain": []})
    line = next(x for x in md.splitlines() if x.startswith("| sw | news |"))
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[7].startswith("[") and cells[9].startswith("[+")  # vs mono spans 0-ish; vs random init above 0
