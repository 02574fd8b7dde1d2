"""The plateau warning: a discriminator that shows no learning (AUC < 0.55, replaced recall 0) after
``plateau_warning_steps`` is named once in the pre-training log, with what to do."""
from __future__ import annotations

import pytest
import torch

from model.plateau import PlateauWatch, advice, on_plateau, warning_step
from model.pretrain import pretrain
from model.settings import Settings
from pipeline.config.sections import PretrainSettings
from tests.test_model import tiny_params, write_shards

torch.set_num_threads(1)


def test_plateau_rule_and_default_step():
    assert on_plateau(0.50, 0.0) and on_plateau(0.549, 0)
    assert not on_plateau(0.56, 0.0) and not on_plateau(0.50, 0.01)
    assert not on_plateau(float("nan"), 0.0) and not on_plateau(None, 0.0)   # no replaced tokens seen: unknown
    assert warning_step(600) == 500 and warning_step(20_000) == 2000 and warning_step(600, 50) == 50
    # one knob, the same default wherever it is read: the config schema, the resolved params, the settings
    assert PretrainSettings().plateau_warning_steps is None
    assert Settings.resolve({"size": "tiny", "steps": 10_000}).plateau_warning_steps == 1000
    assert Settings.resolve({"size": "tiny", "steps": 10_000, "plateau_warning_steps": 7}).plateau_warning_steps == 7
    # the advice names the backbone switch only when the run does not use it already
    assert "convbert" in advice({"backbone": "electra", "local_init": "none", "steps": 600})
    assert "convbert" not in advice({"backbone": "convbert", "local_init": "prevnext", "steps": 600})


def test_watch_warns_once_and_not_for_mlm():
    said = []
    w = PlateauWatch({"steps": 100, "objective": "electra", "backbone": "electra"}, after=10)
    assert not w.check(5, {"disc_auc": 0.5, "replaced_recall": 0.0}, said.append)      # too early
    assert not w.check(10, {"disc_auc": 0.7, "replaced_recall": 0.0}, said.append)     # learning
    assert w.check(20, {"disc_auc": 0.5, "replaced_recall": 0.0}, said.append)
    assert not w.check(30, {"disc_auc": 0.5, "replaced_recall": 0.0}, said.append)     # once
    assert len(said) == 1 and "after 20 steps" in said[0] and "convbert" in said[0]
    mlm = PlateauWatch({"steps": 100, "objective": "mlm"}, after=1)
    assert not mlm.check(50, {"disc_auc": float("nan"), "replaced_recall": float("nan")}, said.append)


def test_pretraining_log_names_the_plateau_once(tmp_path, capsys):
    """A real run of the paper's backbone on tiny synthetic shards: after 2 steps its discriminator answers
    'original' everywhere, and the log says so once, with what to do."""
    shards = write_shards(tmp_path / "shards", n_train=96, n_val=16)
    p = tiny_params(steps=6, log_every=2, checkpoint_every=6, eval_batches=1, plateau_warning_steps=2,
                    disc_mlm_weight=0.0)  # the paper's objective (tiny's corrective MLM changes the first steps)
    pretrain(shards, None, tmp_path / "out", tmp_path / "ck", p, tmp_path / "m.json", tmp_path / "c.tsv")
    out = capsys.readouterr().out
    rows = [ln.split("\t") for ln in (tmp_path / "c.tsv").read_text().splitlines()]
    head = rows[0]
    stuck = [int(r[0]) for r in rows[1:] if int(r[0]) >= 2
             and on_plateau(float(r[head.index("disc_auc")]), float(r[head.index("replaced_recall")]))]
    if not stuck:
        pytest.skip("this run left the plateau within 2 steps; nothing to warn about")
    assert out.count("WARNING: the discriminator shows no learning") == 1, out
    assert f"after {stuck[0]} steps" in out and "model.backbone: convbert" in out
