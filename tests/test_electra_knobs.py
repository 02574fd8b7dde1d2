"""benchmarks/electra_knobs.py's record says how it was run: the full command line (every non-default argument)
and the fine-tuning specs it parsed. No training here: the benchmark's runs are in benchmarks/results/."""
from __future__ import annotations

import pytest

from benchmarks.electra_knobs import VARIANTS, command, finetune_specs, parser, render


def _rep(argv: list[str]) -> dict:
    a = parser().parse_args(argv)
    args = {k: v for k, v in vars(a).items() if k not in ("work", "out", "conclusion")}
    fine = {"topic@5": {"metric": "accuracy", "pretrained": 0.642, "pretrained_seeds": [0.642, 0.692],
                        "random_init": 0.542, "random_init_seeds": [0.567, 0.542], "wins": 2}}
    pre = {"val_disc_auc": 0.87, "val_replaced_recall": 0.43, "val_gen_loss_at_mask": 5.4,
           "val_last_layer_cosine": 0.29, "val_attention_entropy": 0.77}
    return {"lang": a.lang, "date": "2026-12-05", "machine": "test", "args": args, "conclusion": "",
            "variants": {v: {"pretrain": pre, "finetune": fine} for v in a.variants}}


def test_command_names_every_non_default_argument_and_only_those():
    argv = ["--variants", "lr-5e-4+corrective-5", "--steps", "2400", "--warmup", "240", "--batch-size", "16",
            "--epochs", "5", "--seeds", "5"]
    cmd = command(_rep(argv))
    assert cmd == ("python -m benchmarks.electra_knobs --variants lr-5e-4+corrective-5 --steps 2400 "
                   "--batch-size 16 --warmup 240 --epochs 5 --seeds 5")
    # the command rebuilds the same arguments
    assert vars(parser().parse_args(cmd.split()[3:])) == vars(parser().parse_args(argv))
    # defaults (all variants, epochs 5 20, lang demo) are left out
    assert command(_rep([])) == "python -m benchmarks.electra_knobs"
    assert set(vars(parser().parse_args([]))["variants"]) == set(VARIANTS)


def test_render_shows_the_command_and_the_paired_result():
    md = render(_rep(["--variants", "electra", "--seq-len", "64", "--epochs", "5"]))
    assert "Command: `python -m benchmarks.electra_knobs --variants electra --seq-len 64 --epochs 5`" in md
    assert "of 32 x 64-token rows" in md
    assert "| electra | 0.870 | 0.43 | 5.40 | 0.29 | 0.77 | 64.2 / 54.2, 2/2 |" in md


def test_finetune_specs_parse_and_refuse_unknown_keys():
    a = parser().parse_args(["--epochs", "5", "--finetune", "10:lr=1e-3", "5:lld=1"])
    assert finetune_specs(a) == [("5", 5.0, {}), ("10 lr=1e-3", 10.0, {"lr": 1e-3}), ("5 lld=1", 5.0, {"lld": 1.0})]
    with pytest.raises(SystemExit, match="only lr= and lld="):
        finetune_specs(parser().parse_args(["--finetune", "5:wd=0.1"]))
