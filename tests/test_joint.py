"""A joint (multilingual) ELECTRA from several languages' approved corpora (issue 14).

The fast tests hold the configuration (typed, members checked, registered in joint/params.yaml) and the
alpha-smoothed sampling. The end-to-end test builds a joint model of Swahili, Turkish and Korean (Latin and
Hangul scripts) from the ``small/`` subsets through Prefect and DVC with tiny settings: a member waiting
for its review stops the joint model before its vocab, naming the member; after the approval everything
runs; a second run does nothing; a change to one member's corpus re-runs that member's stages and the
joint ones, and nothing of the other members.
"""
from __future__ import annotations

import json
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.codedeps import differences
from pipeline.config import ConfigError
from pipeline.config.joint import MEMBER_SLOTS, load_joint, register_joint, slots
from pipeline.joint import JOINT_STAGES
from pipeline.joint.sampling import probabilities, repeat_sample
from pipeline.tokenizer.corpus import take_chars
from pipeline.stages import STAGES
from tests.conftest import REPO, require_shared
from tests.test_flow import _env, foundry

MEMBERS = ("sw", "tr", "ko")

TINY = """\
vocab:
  size: {vocab}
  character_coverage: {coverage}
shard:
  max_seq_length: 64
model:
  size: tiny
pretrain:
  steps: 3
  batch_size: 8
  warmup_steps: 1
  log_every: 1
  checkpoint_every: 3
  eval_batches: 1
"""
TASK = """\
evaluate:
  seeds: 1
  threads_per_worker: 1
  tasks:
    - name: {name}
      type: {type}
      format: {format}
      train: {train}
{dev}      max_train_examples: 48
      max_eval_examples: 48
      epochs: 1
      max_length: 64
"""
LANGS = {
    "sw": dict(name="Swahili", script="Latn", vocab=1000, coverage=1.0, min_chars=100,
               task=dict(name="ner", type="tagging", format="conll", train="small/ner/masakhaner2/swa/dev.txt",
                         dev="      dev: small/ner/masakhaner2/swa/test.txt\n"), eval="small/ner/masakhaner2/swa"),
    "tr": dict(name="Turkish", script="Latn", vocab=1000, coverage=1.0, min_chars=100,
               task=dict(name="upos", type="tagging", format="conllu",
                         train="small/ud/UD_Turkish-IMST/tr_imst-ud-dev.conllu",
                         dev="      dev: small/ud/UD_Turkish-IMST/tr_imst-ud-test.conllu\n"),
               eval="small/ud/UD_Turkish-IMST"),
    "ko": dict(name="Korean", script="Hang", vocab=2000, coverage=0.9995, min_chars=50,
               task=dict(name="xnli", type="pair_classification", format="xnli", train="small/xnli/ko/dev.tsv",
                         dev=""), eval="small/xnli/ko"),
}


def _config(lang: str, policy: str) -> str:
    c = LANGS[lang]
    return (f"language: {lang}\nname: {c['name']}\nscript: {c['script']}\nsources:\n"
            f"  - path: raw/{lang}\n    root: project\nclean:\n  min_chars: {c['min_chars']}\n"
            f"validate:\n  min_documents: 20\n  mostly: 0.99\nreview:\n  policy: {policy}\n"
            + TINY.format(vocab=c["vocab"], coverage=c["coverage"]) + TASK.format(**c["task"]))


def _project(tmp: Path, shared: Path, required: str = "") -> Path:
    proj = tmp / "proj"
    proj.mkdir()
    for name in ("pipeline", "model", "flows"):
        shutil.copytree(REPO / name, proj / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "dvc.yaml", proj / "dvc.yaml")
    (proj / "joint").mkdir()
    for f in ("dvc.yaml", "params.yaml"):
        shutil.copy(REPO / "joint" / f, proj / "joint" / f)
    (proj / "corpora").mkdir()
    langs = {}
    for lang in MEMBERS:
        shutil.copytree(shared / "small" / "text" / lang, proj / "raw" / lang)
        (proj / "corpora" / f"{lang}.yaml").write_text(_config(lang, "required" if lang == required else "auto"))
        langs[lang] = {"raw": f"raw/{lang}", "eval": [str(shared / LANGS[lang]["eval"])] * 4}
    (proj / "params.yaml").write_text(yaml.safe_dump({"data_root": str(shared), "languages": langs}))
    (proj / ".gitignore").write_text("/logs/\n/checkpoints/\n/.prefect/\n__pycache__/\n")
    env = _env(proj)
    for cmd in (["git", "init", "-q"], [sys.executable, "-m", "dvc", "init", "-q"],
                ["git", "add", "-A"], ["git", "commit", "-qm", "init"]):
        subprocess.run(cmd, cwd=proj, check=True, env=env)
    return proj


def _ran(out: str) -> dict[str, set[str]]:
    """Per 'Stages for X:' block of `foundry run NAME`'s output, the stages that ran."""
    blocks = re.split(r"^Stages for (\w+):$", out, flags=re.M)
    return {blocks[i]: set(re.findall(r"^\s+(\w+)\s+ran \(", blocks[i + 1], flags=re.M))
            for i in range(1, len(blocks) - 1, 2)}


# --- fast: configuration and sampling ----------------------------------------------------------------

def test_smoothed_probabilities_upsample_the_small_language():
    p = probabilities({"big": 1_000_000, "small": 10_000}, 0.3)
    assert p["small"] > 10_000 / 1_010_000 * 10 and abs(sum(p.values()) - 1) < 1e-12
    assert probabilities({"a": 4, "b": 1}, 1.0) == {"a": 0.8, "b": 0.2}
    assert probabilities({"a": 4, "b": 1}, 0.0) == {"a": 0.5, "b": 0.5}
    rng = random.Random(0)
    picks = repeat_sample([0, 1, 2], 8, rng)          # two whole passes, then 2 of the 3
    assert len(picks) == 8 and all(picks.count(i) in (2, 3) for i in range(3))
    assert sum(1 for i in take_chars([0, 1], [10, 30], 100, rng) for _ in [0]) >= 4   # repeats to reach 100


def test_joint_config_is_typed_and_names_an_unknown_member(tmp_path):
    proj = tmp_path
    (proj / "corpora").mkdir()
    (proj / "params.yaml").write_text("languages:\n  sw: {raw: x, eval: [x, x, x, x]}\n  tr: {raw: x, eval: [x, x, x, x]}\n")
    for lang in ("sw", "tr"):
        (proj / "corpora" / f"{lang}.yaml").write_text(_config(lang, "auto"))
    body = "joint: duo\nmembers: [sw, {m}]\nsampling: {{alpha: {a}}}\nvocab: {{size: 2000}}\nshard: {{}}\n" \
           "model: {{size: tiny}}\npretrain: {{}}\nevaluate: {{}}\n"
    (proj / "corpora" / "duo.yaml").write_text(body.format(m="yo", a=0.3))
    register_joint(proj, "duo", ["sw", "yo"])
    with pytest.raises(ConfigError, match=r"members\[1\] 'yo' is not a configured language"):
        load_joint("duo", proj)
    (proj / "corpora" / "duo.yaml").write_text(body.format(m="tr", a=1.5))
    with pytest.raises(ConfigError, match=r"sampling\.alpha"):
        load_joint("duo", proj)
    (proj / "corpora" / "duo.yaml").write_text(body.format(m="tr", a=0.5))
    with pytest.raises(ConfigError, match=r"joints\.duo\.members .* padded to 8"):
        load_joint("duo", proj)                       # registered with yo, the file says tr
    register_joint(proj, "duo", ["sw", "tr"])
    cfg = load_joint("duo", proj)
    assert cfg.members == ["sw", "tr"] and cfg.sampling.alpha == 0.5 and cfg.pretrain_resolved()["size"] == "tiny"
    assert yaml.safe_load((proj / "joint/params.yaml").read_text())["joints"]["duo"]["members"] == slots(["sw", "tr"])
    assert len(slots(["sw", "tr"])) == MEMBER_SLOTS


def test_joint_plan_orders_the_members_stages_before_the_joint_ones():
    from flows.joint import joint_plan

    assert joint_plan() == (list(STAGES), list(JOINT_STAGES))
    assert joint_plan(until="validate") == (["clean", "validate"], [])
    assert joint_plan(start="joint_pretrain") == ([], ["joint_pretrain", "joint_evaluate", "joint_publish"])
    assert joint_plan(start="publish", until="joint_members") == (["publish"], ["joint_members"])
    with pytest.raises(ValueError, match="comes after"):
        joint_plan(start="joint_vocab", until="shard")


def test_joint_dvc_yaml_declares_the_joint_stages_and_their_code():
    stages = yaml.safe_load((REPO / "joint" / "dvc.yaml").read_text())["stages"]
    assert list(stages) == list(JOINT_STAGES)
    deps = stages["joint_members"]["do"]["deps"]
    assert [d for d in deps if d.endswith("/clean")] == [f"data/${{item.members.{i}}}/clean" for i in range(MEMBER_SLOTS)]
    assert [d for d in deps if d.endswith("/review.json")] == [f"data/${{item.members.{i}}}/review.json"
                                                                for i in range(MEMBER_SLOTS)]
    assert not {s: d for s, d in differences(REPO).items() if s in JOINT_STAGES}, "python -m pipeline.codedeps --write"


# --- end to end ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_joint_sw_tr_ko_end_to_end_noop_and_one_member_change(tmp_path):
    shared = require_shared("small", "text", "ko")
    shared = shared.parents[2]
    proj = _project(tmp_path, shared, required="ko")

    r = foundry(proj, "new-joint", "tri", "sw", "tr", "ko")
    assert r.returncode == 0, r.stderr
    cfg = load_joint("tri", proj)
    assert cfg.members == ["sw", "tr", "ko"] and cfg.sampling.alpha == 0.3 and cfg.vocab.size == 4000
    assert cfg.pretrain.steps == 3            # the first member's steps (equal FLOPs: docs/multilingual.md)
    subprocess.run(["git", "add", "-A"], cwd=proj, check=True, env=_env(proj))

    # ko waits for a person's review: the joint model stops before its vocab, naming ko
    r = foundry(proj, "run", "tri")
    assert r.returncode == 2, r.stdout[-3000:] + r.stderr[-3000:]
    assert "member ko is not approved" in r.stderr and "foundry approve ko" in r.stdout
    assert not (proj / "models/tri/tokenizer").exists() and (proj / "models/sw/electra").is_dir()
    r = foundry(proj, "approve", "ko", "--comment", "read it")
    assert r.returncode == 0, r.stderr

    r = foundry(proj, "run", "tri")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    ran = _ran(r.stdout)
    assert ran["tri"] == set(JOINT_STAGES) and ran["ko"] == set(STAGES[STAGES.index("vocab"):]) and not ran["sw"] | ran["tr"]
    _check_artifacts(proj)

    r = foundry(proj, "run", "tri")
    assert r.returncode == 0 and "Nothing to do" in r.stdout, r.stdout[-3000:] + r.stderr[-3000:]
    r = foundry(proj, "status", "tri")
    assert r.returncode == 0 and r.stdout.count("up to date") == len(JOINT_STAGES), r.stdout + r.stderr
    r = foundry(proj, "metrics", "tri")
    assert r.returncode == 0 and re.search(r"ko xnli .* \d\.\d\dx", r.stdout), r.stdout + r.stderr

    # one member's corpus changes: its stages and the joint ones re-run, nothing of the others
    sample = proj / "raw/tr/sample.txt"
    sample.write_text("\n".join(sample.read_text(encoding="utf-8").split("\n")[:-40]) + "\n", encoding="utf-8")
    status = subprocess.run([sys.executable, "-m", "dvc", "status"], cwd=proj, env=_env(proj), capture_output=True,
                            text=True).stdout
    assert "clean@tr" in status and not re.search(r"@(sw|ko):", status), status
    r = foundry(proj, "run", "tri", "--until", "validate")     # the members' corpora only, no joint stage
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    ran = _ran(r.stdout)
    assert ran["tr"] == {"clean", "validate"} and not ran["sw"] | ran["ko"] | ran["tri"], ran
    assert "left out (--from/--until)" in r.stdout
    r = foundry(proj, "status", "tri")
    assert re.search(r"joint_members\s+stale: ", r.stdout) and "downstream of a stale stage" in r.stdout, r.stdout
    r = foundry(proj, "run", "tri")
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-4000:]
    ran = _ran(r.stdout)
    assert ran["tr"] == set(STAGES) - {"clean", "validate"} and ran["tri"] == set(JOINT_STAGES), ran
    assert ran["sw"] == set() and ran["ko"] == set(), ran


def _check_artifacts(proj: Path) -> None:
    members = json.loads((proj / "data/tri/members.json").read_text())["members"]
    assert members["ko"]["review"]["decision"] == "approved" and members["sw"]["review"]["decision"] == "auto-approved"
    assert members["sw"]["share_smoothed"] > 0 and abs(sum(m["share_smoothed"] for m in members.values()) - 1) < 1e-5
    stats = json.loads((proj / "models/tri/tokenizer/vocab_stats.json").read_text())
    assert set(stats["languages"]) == set(MEMBERS)
    for lang in MEMBERS:
        held = stats["languages"][lang]["held_out"]
        assert held["tokens_per_word"] and held["unk_rate"] is not None
    index = json.loads((proj / "data/tri/shards/index.json").read_text())
    langs = index["languages"]
    assert set(langs) == set(MEMBERS) and sum(v["tokens_used"] for v in langs.values()) == index["splits"]["train"]["tokens"]
    assert set(index["validation_subsets"]) == set(MEMBERS)
    pre = json.loads((proj / "metrics/tri/pretrain.json").read_text())
    assert set(pre["val_subsets"]) == set(MEMBERS) and "disc_auc" in pre["val_subsets"]["ko"]
    comparison = json.loads((proj / "metrics/tri/eval.json").read_text())
    assert {(r["language"], r["task"]) for r in comparison["tasks"]} == {("sw", "ner"), ("tr", "upos"), ("ko", "xnli")}
    for row in comparison["tasks"]:
        assert row["joint"] is not None and row["monolingual"] is not None and row["random_init"] is not None
        # paired with the member's kept predictions (metrics/<m>/predictions.json); the two tokenizers fit
        # different numbers of a long sentence's words into max_length: tagging pairs on the words both scored
        assert row["unpaired"] is None and row["verdict_vs_random_init"] in ("above", "below", "level"), row
        for key in ("joint_minus_random_init_interval", "joint_minus_monolingual_interval"):
            assert row[key]["low"] <= row[key]["high"], row
        assert row["paired_on"] is None or re.fullmatch(r"\d+ of \d+ words both scored", row["paired_on"]), row
    scorecard = (proj / "reports/tri/scorecard.md").read_text()
    assert "| ko | xnli |" in scorecard and (proj / "reports/tri/scorecard.png").stat().st_size > 1000
    card = (proj / "models/tri/hub/README.md").read_text()
    for lang in MEMBERS:
        assert members[lang]["clean_md5"] in card and members[lang]["corpus"] in card
    assert "Review: **approved**" in card and "Review: **auto-approved**" in card
    from huggingface_hub import ModelCard
    meta = ModelCard(card).data
    assert meta.language == list(MEMBERS) and meta.license == "other" and meta.library_name == "transformers"
    assert {r.dataset_type for r in meta.eval_results} == {"sw-ner", "tr-upos", "ko-xnli"}
    model, hub = proj / "models/tri/electra", proj / "models/tri/hub"
    assert {p.relative_to(model) for p in model.rglob("*") if p.is_file()} == \
        {p.relative_to(hub) for p in hub.rglob("*") if p.is_file()}
