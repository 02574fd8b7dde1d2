"""The Hub model card (pipeline/hubcard.py) read back offline with huggingface_hub: valid metadata (ISO language,
license from the config, library, pipeline tag, tags, model-index from eval.json), the sections a Hub user reads,
and the publish stage's place in the DAG. The card of a real run (the demo through `foundry run`) is checked in
tests/test_remote.py."""
from __future__ import annotations

import pytest
import yaml
from huggingface_hub import ModelCard, metadata_load
from huggingface_hub.repocard_data import model_index_to_eval_results

from pipeline.config import parse_language
from pipeline.hubcard import hub_datasets, intended_use, limitations, render, scores, training_data
from tests.conftest import REPO

PRETRAIN_CARD = "---\nlibrary_name: transformers\n---\n\n# ELECTRA-tiny (Swahili (sw))\n\nPre-trained with ELECTRA " \
                "Foundry.\n\n| | |\n|---|---|\n| size | tiny |\n\n## Lineage\n\n| key | value |\n|---|---|\n"
RESULT = {"tasks": {
    "ner": {"type": "tagging", "metric": "entity_f1", "scored_on": "ner/masakhaner2/swa/dev.txt", "delta": -0.02,
            "pretrained": {"median": 0.61234, "seeds": [0.6, 0.61234, 0.63]}, "random_init": {"median": 0.63}},
    "news": {"type": "classification", "metric": "accuracy", "scored_on": "news/dev.tsv", "delta": 0.05,
             "pretrained": {"median": 0.7, "seeds": [0.7]}, "random_init": {"median": 0.65}}}}
LINEAGE = {"dvc_hashes": {"data/sw/clean": "abc.dir", "model/sizes.py": "x"}, "dvc_lock_consistent": True,
           "git_commit": "1234567", "validation_passed": True,
           "review_decision": {"decision": "approved", "reviewer": "ana", "comment": "spot-checked",
                               "decided_at": "2026-12-03T21:06:52+00:00", "policy": "required"}}


def _cfg(tmp_path, lang="sw", card=None):
    cfg = yaml.safe_load((REPO / "corpora" / f"{lang}.yaml").read_text(encoding="utf-8"))
    if card is not None:
        cfg["card"] = card
    path = tmp_path / f"{lang}.yaml"
    path.write_text(yaml.safe_dump(cfg, allow_unicode=True), encoding="utf-8")
    return parse_language(path)


def _card(cfg, result, warnings=()):
    params = {"size": "tiny", "backbone": "convbert", "objective": "electra"}
    sections = [intended_use(cfg, params), limitations(list(warnings), params, 128, result),
                training_data(cfg, LINEAGE), scores("# Scorecard\n\n| topic | 1 |" if result else None)]
    return render(PRETRAIN_CARD, cfg, params, sections, result)


def test_card_metadata_is_valid_hub_metadata(tmp_path):
    cfg = _cfg(tmp_path, card={"license": "cc-by-nc-4.0"})
    path = tmp_path / "README.md"
    path.write_text(_card(cfg, RESULT, ["the pre-trained model scores below random initialisation on ner"]),
                    encoding="utf-8")
    meta = metadata_load(path)
    assert meta["language"] == ["sw"] and meta["license"] == "cc-by-nc-4.0"
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "feature-extraction"
    assert {"electra", "convbert", "replaced-token-detection"} <= set(meta["tags"])
    name, results = model_index_to_eval_results(meta["model-index"])
    assert name == "electra-tiny-sw"
    got = {r.dataset_type: r for r in results}
    assert got["ner"].task_type == "token-classification" and got["ner"].metric_type == "f1"
    assert got["ner"].metric_value == 0.6123 and "3 seeds" in got["ner"].metric_name
    assert got["news"].task_type == "text-classification" and got["news"].metric_value == 0.7
    card = ModelCard.load(path)  # parses and checks the front matter
    assert card.data.license == "cc-by-nc-4.0" and card.data.eval_results[0].metric_value in (0.6123, 0.7)
    text = card.text
    order = [text.index(h) for h in ("# ELECTRA-tiny", "## Intended use", "## Limitations", "## Training data",
                                     "## Scores", "## Training procedure", "## Lineage")]
    assert order == sorted(order)
    assert "**Warning:** the pre-trained model scores below random initialisation" in text
    assert "`data/sw/clean` | `abc.dir`" in text and "model/sizes.py" not in text.split("## Scores")[0]
    assert "**approved** by ana" in text and "spot-checked" in text
    assert "`text/sw/bible_nt.txt.gz` (text)" in text and "`tiny` model" in text
    assert "### Scorecard" in text  # the scorecard's headings one level down


def test_card_before_evaluation_and_default_license(tmp_path):
    cfg = _cfg(tmp_path)
    assert cfg.card.license == "other"
    path = tmp_path / "README.md"
    path.write_text(_card(cfg, None), encoding="utf-8")
    meta = metadata_load(path)
    assert meta["license"] == "other" and meta["license_name"] == "training-data-licenses"
    assert "model-index" not in meta
    text = ModelCard.load(path).text
    assert "Not evaluated" in text and "no license was chosen" in text


def test_demo_card_language_is_the_iso_code(tmp_path):
    cfg = _cfg(tmp_path, "demo")
    assert cfg.language == "demo" and cfg.iso_code == "en"  # from clean.lid.label
    path = tmp_path / "README.md"
    path.write_text(_card(cfg, None), encoding="utf-8")
    assert metadata_load(path)["language"] == ["en"]


def test_bad_license_is_a_config_error(tmp_path):
    from pipeline.config import ConfigError
    with pytest.raises(ConfigError, match="card.license"):
        _cfg(tmp_path, card={"license": "Apache 2.0"})


def test_publish_stage_is_the_only_reader_of_card():
    """Editing `card` (the license) re-runs publish only: no other stage lists it (publish depends on the whole
    config file: a `card` param would have to exist in every config), and publish writes its own output
    (models/<lang>/hub), never pretrain's folder."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text(encoding="utf-8"))["stages"]
    readers = [name for name, s in stages.items()
               for p in s["do"].get("params") or [] if isinstance(p, dict)
               for keys in p.values() if "card" in keys]
    assert readers == []
    config_deps = [name for name, s in stages.items() if "corpora/${key}.yaml" in s["do"].get("deps", [])]
    assert config_deps == ["publish"]
    pub = stages["publish"]["do"]
    assert pub["outs"][0] == "models/${key}/hub" and "models/${key}/electra" in pub["deps"]
    assert pub["outs"][1] == {"scores/${key}.json": {"cache": False}}  # dvc.yaml's top-level metrics folder
    assert "metrics/${key}/eval.json" in pub["deps"]
    assert all("models/${key}/hub" not in (s["do"].get("outs") or []) for n, s in stages.items() if n != "publish")


def test_card_shows_no_machine_paths(tmp_path):
    """dvc.lock names raw sources outside the project by their machine path (params.yaml's `raw`, absolute or
    ../shared/data/...): the published card and lineage.json show them relative to the data root instead."""
    from pipeline.hubcard import Places

    root, droot = tmp_path / "project", tmp_path / "shared" / "data"
    (droot / "text" / "sw").mkdir(parents=True)
    root.mkdir()
    places = Places(root, droot)
    lineage = {**LINEAGE, "dvc_hashes": {str(droot / "text" / "sw"): "r1.dir", "../shared/data/eval/sw": "e1.dir",
                                         "/elsewhere/corpus": "c1.dir", "data/sw/clean": "abc.dir"}}
    cfg = _cfg(tmp_path)
    params = {"size": "tiny", "backbone": "convbert", "objective": "electra"}
    pretrain_card = PRETRAIN_CARD + f"| dvc_hashes | {yaml.safe_dump(lineage['dvc_hashes'])} |\n"
    card = places.scrub(render(pretrain_card, cfg, params, [training_data(cfg, lineage, places)], None), lineage)
    assert str(tmp_path) not in card and "../shared" not in card and "/elsewhere" not in card, card
    assert "`$FOUNDRY_DATA_ROOT/text/sw` | `r1.dir`" in card and "`$FOUNDRY_DATA_ROOT/eval/sw` | `e1.dir`" in card
    assert "`(local)/corpus` | `c1.dir`" in card and "`data/sw/clean` | `abc.dir`" in card
    assert ModelCard(card).data.language == ["sw"]
    import json
    text = places.scrub(json.dumps(lineage), lineage)
    assert str(tmp_path) not in text and json.loads(text)["dvc_hashes"]["$FOUNDRY_DATA_ROOT/text/sw"] == "r1.dir"


def test_new_language_scaffold_shows_the_card_knob(tmp_path):
    """The scaffold carries a commented `card:` section; uncommented, it is a valid config the card uses."""
    import re

    from pipeline.scaffold import render as scaffold
    text = scaffold("sw")
    assert re.search(r"^# card:", text, re.M) and "#   license: apache-2.0" in text and "#   datasets:" in text
    path = tmp_path / "sw.yaml"
    path.write_text(re.sub(r"^# (card:|  )", r"\1", text, flags=re.M).replace("  license_name: my-terms", ""),
                    encoding="utf-8")
    cfg = parse_language(path)
    assert cfg.card.license == "apache-2.0" and cfg.card.language == "sw"
    assert cfg.card.datasets == ["HuggingFaceFW/fineweb-2"] and hub_datasets(cfg) == ["HuggingFaceFW/fineweb-2"]


def test_publish_stage_writes_no_machine_paths(tmp_path):
    """The publish stage on a model folder whose lineage names an absolute raw source under the data root and
    the project's own place: README.md and lineage.json of models/sw/hub show neither."""
    import json

    from pipeline.stages import publish

    root, droot = tmp_path / "project", tmp_path / "shared" / "data"
    (droot / "text" / "sw").mkdir(parents=True)
    (root / "corpora").mkdir(parents=True)
    (root / "corpora" / "sw.yaml").write_text((REPO / "corpora" / "sw.yaml").read_text(encoding="utf-8"),
                                              encoding="utf-8")
    (root / "params.yaml").write_text(yaml.safe_dump({"data_root": str(droot),
                                                      "languages": {"sw": {"raw": str(droot / "text" / "sw")}}}))
    model = root / "models" / "sw" / "electra"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    lineage = {**LINEAGE, "dvc_hashes": {str(droot / "text" / "sw"): "r1.dir", "data/sw/clean": "abc.dir"},
               "checkpoint": str(root / "checkpoints" / "sw")}
    (model / "lineage.json").write_text(json.dumps(lineage, indent=2))
    (model / "README.md").write_text(PRETRAIN_CARD + f"| dvc_hashes | {json.dumps(lineage['dvc_hashes'])} |\n")
    out = publish.run("sw", root)
    hub = root / "models" / "sw" / "hub"
    assert out["files"] == 3 and (hub / "config.json").is_file()
    for name in ("README.md", "lineage.json"):
        text = (hub / name).read_text(encoding="utf-8")
        assert str(tmp_path) not in text and "$FOUNDRY_DATA_ROOT/text/sw" in text, text
    assert json.loads((hub / "lineage.json").read_text())["checkpoint"] == "./checkpoints/sw"


def test_scores_summary_is_a_few_numbers():
    """scores/<lang>.json (dvc.yaml's top-level metrics): the final validation and the medians, nothing else."""
    from pipeline.stages.publish import scores_summary

    pre = {"steps": 600, "val_disc_auc": 0.75, "vocab_size": 3000, "train_loss": 1.0, "device": "cpu", "mfu": None}
    got = scores_summary(pre, RESULT)
    assert got["steps"] == 600 and got["val_disc_auc"] == 0.75 and "train_loss" not in got and "device" not in got
    assert got["tasks"]["ner"] == {"pretrained": 0.61234, "random_init": 0.63, "delta": -0.02}
    assert scores_summary(pre, None) == {"steps": 600, "val_disc_auc": 0.75, "vocab_size": 3000}
