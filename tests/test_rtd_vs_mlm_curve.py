"""benchmarks.rtd_vs_mlm_curve: several rtd_vs_mlm runs of one language become one curve over compute."""
from __future__ import annotations

import json

import pytest

from benchmarks import rtd_vs_mlm_curve as curve


def _report(steps: int, electra: list[float], lr: float = 5e-4) -> dict:
    arm = lambda xs: {"median": sorted(xs)[len(xs) // 2], "seeds": xs}  # noqa: E731
    pair = lambda a, b: {"wins": sum(x > y for x, y in zip(a, b)), "seeds": len(a),  # noqa: E731
                         "mean_difference": sum(x - y for x, y in zip(a, b)) / len(a)}
    mlm, rnd = [0.70, 0.71, 0.69], [0.67, 0.66, 0.68]
    return {"date": "2026-12-04", "machine": {"cpu": "test cpu", "cores": 2, "torch": "2"},
            "command": f"python -m benchmarks.rtd_vs_mlm --langs tr --steps {steps} --work /tmp/w{steps} --out /home/u/r",
            "args": {"langs": ["tr"], "steps": steps, "warmup": steps // 10, "lr": lr, "seeds": 3, "tasks": ["upos"],
                     "conclusion": ""},
            "languages": [{"language": "tr", "corpus": {"train_tokens": 1000, "vocab_size": 4000},
                           "pretrain": {"electra": {"steps": steps, "total_flops": steps * 1.5e10, "tokens_seen": steps * 4000,
                                                    "val_disc_auc": 0.8, "val_replaced_recall": 0.3,
                                                    "val_last_layer_cosine": 0.4},
                                        "mlm": {"steps": int(steps * 1.26), "total_flops": steps * 1.5e10}},
                           "tasks": {"upos": {"metric": "token_accuracy", "electra": arm(electra), "mlm": arm(mlm),
                                              "random_init": arm(rnd), "electra_vs_mlm": pair(electra, mlm),
                                              "electra_vs_random": pair(electra, rnd), "mlm_vs_random": pair(mlm, rnd)}}}]}


def test_runs_become_one_curve_sorted_by_compute(tmp_path):
    paths = []
    for steps, scores in ((1000, [0.70, 0.72, 0.71]), (250, [0.22, 0.22, 0.35])):
        p = tmp_path / f"r{steps}.json"
        p.write_text(json.dumps(_report(steps, scores)))
        paths.append(p)
    points = curve.load_points(paths, "tr", "upos")
    assert [p["electra_steps"] for p in points] == [250, 1000]
    assert points[1]["epochs"] == pytest.approx(4000.0)
    assert all("/tmp" not in p["command"] and "/home" not in p["command"] for p in points)
    md = curve.render(points, "tr", "upos", "2026-12-04")
    rows = [ln for ln in md.splitlines() if ln.startswith("| 250 ") or ln.startswith("| 1000 ")]
    assert len(rows) == 2 and "22.0 | 70.0 | 67.0 | -43.7 (0/3)" in rows[0] and "(2/3)" in rows[1]

    assert curve.main([*map(str, paths), "--lang", "tr", "--task", "upos", "--out", str(tmp_path / "out"),
                       "--img", str(tmp_path / "img")]) == 0
    assert (tmp_path / "img" / "rtd_vs_mlm_curve-tr.png").stat().st_size > 10_000
    assert len(json.loads(next((tmp_path / "out").glob("*.json")).read_text())["points"]) == 2


def test_runs_that_differ_in_more_than_their_length_are_refused(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps(_report(250, [0.5, 0.5, 0.5])))
    b.write_text(json.dumps(_report(500, [0.5, 0.5, 0.5], lr=1e-3)))
    with pytest.raises(SystemExit, match="differs from the first run in \\['lr'\\]"):
        curve.load_points([a, b], "tr", "upos")
    with pytest.raises(SystemExit, match="no 'ner' results"):
        curve.load_points([a], "tr", "ner")
