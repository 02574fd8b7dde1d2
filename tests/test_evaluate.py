"""The evaluate stage end to end on small real data: parallel runs equal serial ones, reference models of
another architecture, the Hugging Face datasets / MasakhaNEWS / XNLI loaders, the ELECTRA recipe's
defaults, the shipped suites, the scorecards (Markdown, HTML, Prefect rows, DVC metrics) and
`foundry evaluate`."""
from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
import yaml

from pipeline.config import ConfigError, EvaluateSettings, TaskSettings, parse_language
from pipeline.errors import StageError
from pipeline.taskdata.formats.glue import default_epochs
from pipeline.evaluation.harness import ModelUnderTest
from pipeline.evaluation.scorecard import lr_cell
from pipeline.taskdata.tasks import load_task
from tests.conftest import REPO, SHARED, require_shared

SMALL_UD = "small/ud/UD_Turkish-IMST"


# --- fixtures: a tiny ELECTRA with a real SentencePiece tokenizer, and a tiny BERT ----------------

def _spm_tokenizer(out: Path, vocab_size: int = 800):
    import sentencepiece as spm
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    text = require_shared("small", "text", "tr", "sample.txt").read_text(encoding="utf-8")
    lines = [ln for ln in text.splitlines() if ln.strip()][:400]
    work = out.parent / (out.name + "-spm")
    work.mkdir(parents=True, exist_ok=True)
    (work / "train.txt").write_text("\n".join(lines), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(work / "train.txt"), model_prefix=str(work / "spm"), vocab_size=vocab_size, model_type="unigram",
        hard_vocab_limit=False, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, pad_piece="[PAD]", unk_piece="[UNK]",
        user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], character_coverage=1.0, minloglevel=2)
    vocab = [(p, float(s)) for p, s in (ln.split("\t") for ln in
                                         (work / "spm.vocab").read_text(encoding="utf-8").splitlines())]
    tok = Tokenizer(models.Unigram(vocab, unk_id=1, byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, unk_token="[UNK]", pad_token="[PAD]", cls_token="[CLS]",
                                   sep_token="[SEP]", mask_token="[MASK]")
    fast.save_pretrained(out)
    return fast


@pytest.fixture(scope="module")
def tiny_electra(tmp_path_factory) -> Path:
    """An ELECTRA discriminator folder (random weights, 2 x 32) with its tokenizer."""
    import torch
    from transformers import ElectraConfig, ElectraForPreTraining

    out = tmp_path_factory.mktemp("models") / "electra"
    tok = _spm_tokenizer(out)
    cfg = ElectraConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                        intermediate_size=64, embedding_size=32, max_position_embeddings=128, pad_token_id=0)
    torch.manual_seed(0)
    ElectraForPreTraining(cfg).save_pretrained(out)
    return out


@pytest.fixture(scope="module")
def tiny_bert(tmp_path_factory) -> Path:
    """A BERT folder (WordPiece tokenizer, one token type only, like RoBERTa): another architecture."""
    import torch
    from transformers import BertConfig, BertModel, BertTokenizerFast

    out = tmp_path_factory.mktemp("models") / "bert"
    out.mkdir()
    text = require_shared("small", "text", "tr", "sample.txt").read_text(encoding="utf-8")
    words = sorted({w for w in re.findall(r"\w+|[^\w\s]", text.lower())})[:1500]
    chars = sorted({c for w in words for c in w})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + chars + [f"##{c}" for c in chars] + words
    (out / "vocab.txt").write_text("\n".join(dict.fromkeys(vocab)) + "\n", encoding="utf-8")
    tok = BertTokenizerFast(vocab_file=str(out / "vocab.txt"), do_lower_case=True)
    tok.save_pretrained(out)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=32, num_hidden_layers=3, num_attention_heads=2,
                     intermediate_size=64, max_position_embeddings=128, type_vocab_size=1)
    torch.manual_seed(0)
    BertModel(cfg).save_pretrained(out)
    return out


def _upos(n_train=48, n_dev=24, **kw) -> dict:
    return dict(name="upos", type="tagging", format="conllu", train=f"{SMALL_UD}/tr_imst-ud-dev.conllu",
                dev=f"{SMALL_UD}/tr_imst-ud-test.conllu", max_train_examples=n_train, max_eval_examples=n_dev,
                max_length=128, epochs=1, batch_size=16, **kw)


def _mrpc(**kw) -> dict:
    return dict(name="MRPC", type="pair_classification", format="glue", train="small/glue/MRPC/train.tsv",
                dev="small/glue/MRPC/dev.tsv", max_train_examples=24, max_eval_examples=16, max_length=48,
                epochs=1, batch_size=16, **kw)


@pytest.fixture
def data_root(monkeypatch) -> Path:
    require_shared("small")
    monkeypatch.setenv("FOUNDRY_DATA_ROOT", str(SHARED))
    return SHARED


# --- parallel = serial; real fine-tuning ---------------------------------------------------------

def test_parallel_runs_equal_serial_runs(tiny_electra, data_root, tmp_path):
    from pipeline.evaluation.harness import evaluate_model

    kw = dict(tasks=[_upos(), _mrpc()], seeds=2, threads_per_worker=1)
    model = ModelUnderTest(tiny_electra, device="cpu")
    serial = evaluate_model(model, EvaluateSettings(workers=1, **kw), tmp_path)
    parallel = evaluate_model(model, EvaluateSettings(workers=2, **kw), tmp_path)
    assert serial["settings"]["workers"] == 1 and parallel["settings"]["workers"] == 2
    for name in ("upos", "MRPC"):
        for kind in ("pretrained", "random_init"):
            a, b = serial["tasks"][name][kind], parallel["tasks"][name][kind]
            assert a["seed_scores"] == b["seed_scores"], (name, kind)
            assert [r["train_loss"] for r in a["runs"]] == [r["train_loss"] for r in b["runs"]]
    up = serial["tasks"]["upos"]
    assert 0.0 <= up["pretrained"]["median"] <= 1.0 and up["metric"] == "token_accuracy"
    assert up["dev_words_scored"] == up["dev_words"]
    # MRPC follows the recipe: training doubled with swapped segments
    assert serial["tasks"]["MRPC"]["swapped"] == 24 and serial["tasks"]["MRPC"]["train_examples"] == 48


def test_small_evaluations_run_in_this_process_unless_workers_is_set(tiny_electra, data_root, tmp_path,
                                                                      monkeypatch):
    """Runs too small to repay starting worker processes go one after another in the stage's process (same
    numbers); an explicit evaluate.workers, or runs above the threshold, keep the processes."""
    from pipeline.evaluation import jobs
    from pipeline.evaluation.harness import evaluate_model

    monkeypatch.setattr(jobs.cores, "available", lambda: 2)
    kw = dict(tasks=[_upos()], seeds=1, threads_per_worker=1)
    model = ModelUnderTest(tiny_electra, device="cpu")
    auto = evaluate_model(model, EvaluateSettings(**kw), tmp_path)
    assert auto["settings"]["workers"] == 1 and "this process" in auto["settings"]["workers_note"]
    asked = evaluate_model(model, EvaluateSettings(workers=2, **kw), tmp_path)
    assert asked["settings"]["workers"] == 2 and "workers_note" not in asked["settings"]
    assert auto["tasks"]["upos"]["pretrained"]["seed_scores"] == asked["tasks"]["upos"]["pretrained"]["seed_scores"]
    monkeypatch.setattr(jobs, "IN_PROCESS_FLOPS", 0.0)
    big = evaluate_model(model, EvaluateSettings(**kw), tmp_path)
    assert big["settings"]["workers"] == 2 and "workers_note" not in big["settings"]


def test_run_flops_count_every_training_epoch_and_the_scored_examples_once():
    from pipeline.evaluation.jobs import run_flops

    arch = {"hidden_size": 64, "num_hidden_layers": 2, "intermediate_size": 128, "embedding_size": 32}
    train, dev = [{"input_ids": [1] * 10}] * 4, [{"input_ids": [1] * 10}] * 2
    one = run_flops(arch, train, [], 1)
    assert one > 0 and run_flops(arch, train, [], 3) == 3 * one and run_flops(arch, train + train, [], 1) == 2 * one
    assert run_flops(arch, train, dev, 1) == one + one / 3 / 2     # a scored example: one forward pass
    assert run_flops({k: v for k, v in arch.items() if k != "embedding_size"}, train, [], 1) > 0   # BERT-like
    assert run_flops({"dim": 64, "n_layers": 2}, train, dev, 1) == float("inf")   # unknown: never in-process


def test_reference_model_of_another_architecture(tiny_electra, tiny_bert, data_root, tmp_path):
    """A BERT folder (AutoModel, WordPiece, no token types) fine-tuned with the same harness."""
    from pipeline.evaluation.harness import evaluate_model
    from pipeline.evaluation.scorecard import render_scorecard, scorecard_rows

    res = evaluate_model(ModelUnderTest(tiny_electra, device="cpu"),
                         EvaluateSettings(tasks=[_upos(), _mrpc()], seeds=1, workers=1,
                                          references=[{"name": "bert-ref", "path": str(tiny_bert)}]),
                         tmp_path, out_dir=tmp_path / "out")
    ref = res["references"]["bert-ref"]
    assert ref["model_type"] == "bert" and ref["size"] == "small" and "size_note" in ref
    for name in ("upos", "MRPC"):
        s = res["tasks"][name]["references"]["bert-ref"]
        assert len(s["seeds"]) == 1 and 0.0 <= s["median"] <= 1.0
    # every word scored with the BERT tokenizer too (first sub-token labelling)
    assert res["tasks"]["upos"]["references"]["bert-ref"]["dev_words_scored"] == res["tasks"]["upos"]["dev_words"]
    assert "bert-ref" in res["average"]["references"]
    card = render_scorecard(res)
    assert "bert-ref median (seeds)" in card and "`" + ref["path"] + "`" in card
    rows = scorecard_rows(res)
    assert [r["task"] for r in rows] == ["upos", "MRPC", "average"] and "bert-ref" in rows[0]


def test_layerwise_lr_of_a_bert_backbone(tiny_bert):
    from model.finetune import ElectraFinetuner, load_backbone
    from model.optim import layerwise_param_groups

    m = ElectraFinetuner(load_backbone(tiny_bert), 2, per_token=False)
    d, L = 0.5, 3
    by_name = {n: g["base_lr"] for g in layerwise_param_groups(m, 1.0, d, 0.0) for n in g["names"]}
    assert by_name["head.weight"] == 1.0
    assert by_name["electra.embeddings.word_embeddings.weight"] == pytest.approx(d ** (L + 2))
    assert by_name["electra.encoder.layer.2.output.dense.weight"] == pytest.approx(d ** 2)  # top layer, official
    assert by_name["electra.encoder.layer.0.attention.self.query.bias"] == pytest.approx(d ** (L + 1))
    assert by_name["electra.pooler.dense.weight"] == pytest.approx(d)
    assert not m.use_token_types  # type_vocab_size 1: token_type_ids are not passed


def test_tagging_head_has_no_dropout_sequence_head_has(tiny_electra):
    from model.finetune import ElectraFinetuner, load_backbone

    assert ElectraFinetuner(load_backbone(tiny_electra), 3, per_token=True).dropout.p == 0.0
    assert ElectraFinetuner(load_backbone(tiny_electra), 3, per_token=False).dropout.p == pytest.approx(0.1)


# --- loaders ----------------------------------------------------------------------------------------

def _save_hf(tmp_path: Path) -> Path:
    from datasets import ClassLabel, Dataset, DatasetDict, Features, List, Value

    cls = Features({"sentence": Value("string"), "label": ClassLabel(names=["neg", "pos"])})
    tag = Features({"tokens": List(Value("string")), "ner_tags": List(ClassLabel(names=["O", "B-PER", "I-PER"]))})
    rows = [("iyi bir film", 1), ("kötü bir film", 0), ("harika", 1), ("berbat", 0), ("güzel", 1)]
    DatasetDict({
        "train": Dataset.from_dict({"sentence": [r[0] for r in rows], "label": [r[1] for r in rows]}, features=cls),
        "validation": Dataset.from_dict({"sentence": ["iyi", "kötü"], "label": [1, 0]}, features=cls),
    }).save_to_disk(str(tmp_path / "sent"))
    DatasetDict({
        "train": Dataset.from_dict({"tokens": [["Ali", "geldi"], ["Ayşe", "Yılmaz", "gitti"]],
                                    "ner_tags": [[1, 0], [1, 2, 0]]}, features=tag),
    }).save_to_disk(str(tmp_path / "ner"))
    Dataset.from_dict({"sentence1": ["a", "b", "c"], "sentence2": ["x", "y", "z"], "score": [0.5, 4.0, 2.5]}
                      ).save_to_disk(str(tmp_path / "sts"))
    return tmp_path


def test_hf_datasets_from_disk(tmp_path):
    root = _save_hf(tmp_path)
    d = load_task(dict(name="sent", type="classification", format="hf", train="sent", root="project"), root)
    assert [(e.text_a, e.label) for e in d.train][:2] == [("iyi bir film", "pos"), ("kötü bir film", "neg")]
    assert len(d.dev) == 2 and d.labels == ["neg", "pos"]
    assert d.trained_on.endswith("sent[train]") and d.scored_on.endswith("sent[validation]")
    d = load_task(dict(name="ner", type="tagging", format="hf", train="ner", dev="ner", dev_split="train",
                       root="project"), root)
    assert d.train[1].tokens == ["Ayşe", "Yılmaz", "gitti"] and d.train[1].label == ["B-PER", "I-PER", "O"]
    d = load_task(dict(name="sts", type="regression", format="hf", train="sts", dev_split=None, dev_fraction=0.34,
                       root="project"), root)  # a single Dataset: seeded split
    assert (len(d.train), len(d.dev)) == (2, 1) and isinstance(d.train[0].label, float)
    with pytest.raises(StageError, match="no split 'test'"):
        load_task(dict(name="sent", type="classification", format="hf", train="sent", dev_split="test",
                       root="project"), root)
    with pytest.raises(StageError, match="single split"):
        load_task(dict(name="sts", type="regression", format="hf", train="sts", root="project"), root)


def test_hf_hub_name_needs_network(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(StageError, match="needs network access"):
        load_task(dict(name="sst2", type="classification", format="hf", train="glue", hf_config="sst2",
                       root="project"), tmp_path)


def test_hf_only_keys_are_rejected_elsewhere():
    with pytest.raises(ValueError, match="only apply to format hf"):
        TaskSettings(name="t", type="classification", format="tsv", train="a.tsv", dev_split="validation")


def test_masakhanews_and_xnli(data_root):
    news = load_task(dict(name="news", type="classification", format="masakhanews",
                          train="classification/masakhanews/swa/train.tsv",
                          dev="classification/masakhanews/swa/test.tsv"), data_root)
    assert (len(news.train), len(news.dev)) == (350, 476)
    assert news.labels == sorted((data_root / "classification/masakhanews/swa/labels.txt")
                                 .read_text().split())
    assert all('"' not in e.text_a[:1] for e in news.train)  # CSV quoting removed
    assert news.train[0].text_a.startswith("Virusi vya corona: Makubaliano")  # headline, then the body
    xnli = load_task(dict(name="xnli", type="pair_classification", format="xnli", train="xnli/sw/dev.tsv",
                          dev="xnli/sw/test.tsv"), data_root)
    assert (len(xnli.train), len(xnli.dev)) == (2490, 5010)
    assert xnli.trained_on == "xnli/sw/dev.tsv" and xnli.scored_on == "xnli/sw/test.tsv"
    with pytest.raises(StageError, match="pair_classification"):
        load_task(dict(name="x", type="classification", format="xnli", train="xnli/sw/dev.tsv"), data_root)


# --- the recipe ---------------------------------------------------------------------------------------

def test_suite_epochs_fill_every_task_that_sets_none():
    """``evaluate.epochs`` is every task's epochs unless the task sets its own; without it the recipe's
    defaults apply (3; 10 for RTE) - and the shipped CPU-sized language suites set 10 (en's CoLA, SST-2 and QNLI:
    4000 examples for 3 epochs; XNLI all of its dev set, ``all``, docs/evaluation.md)."""
    task = dict(type="pair_classification", format="glue", train="x")
    s = EvaluateSettings(epochs=10, tasks=[dict(task, name="RTE"), dict(task, name="MRPC"),
                                           dict(task, name="CoLA", epochs=2)])
    assert [default_epochs(t, k) for t, k in zip(s.tasks, ("rte", "mrpc", "cola"))] == [10, 10, 2]
    s = EvaluateSettings(tasks=[dict(task, name="RTE"), dict(task, name="MRPC")])
    assert [default_epochs(t, k) for t, k in zip(s.tasks, ("rte", "mrpc"))] == [10, 3]
    with pytest.raises(ValueError):
        EvaluateSettings(epochs=0)
    for lang in ("en", "sw", "tr"):
        cfg = parse_language(REPO / "corpora" / f"{lang}.yaml")
        three = {"CoLA", "SST-2", "QNLI"} if lang == "en" else set()
        assert cfg.evaluate.epochs == 10, lang
        assert all(t.epochs == (3 if t.name in three else 10) for t in cfg.evaluate.tasks), lang
        caps = {t.name: t.max_train_examples for t in cfg.evaluate.tasks}
        assert caps == {t.name: 4000 if t.name in three else "all" if t.name == "xnli" else 1000
                        for t in cfg.evaluate.tasks}, lang


def test_recipe_defaults(data_root, tmp_path):
    from pipeline.evaluation.harness import evaluate_model

    def t(name, ttype="pair_classification"):
        return TaskSettings(name=name, type=ttype, format="glue", train=f"small/glue/{name}/train.tsv",
                            dev=f"small/glue/{name}/dev.tsv")
    assert default_epochs(t("RTE"), "rte") == 10 and default_epochs(t("STS-B", "regression"), "stsb") == 10
    assert default_epochs(t("MRPC"), "mrpc") == 3
    assert default_epochs(TaskSettings(name="RTE", type="pair_classification", format="glue", train="x",
                                       epochs=2), "rte") == 2
    sts = load_task(dict(name="STS-B", type="regression", format="glue", train="small/glue/STS-B/train.tsv",
                         dev="small/glue/STS-B/dev.tsv", max_train_examples=10, max_eval_examples=5), data_root)
    assert sts.label_range == (0.0, 5.0) and sts.swapped == 10
    rte = load_task(dict(name="RTE", type="pair_classification", format="glue", train="small/glue/RTE/train.tsv",
                         dev="small/glue/RTE/dev.tsv", max_train_examples=10), data_root)
    assert rte.swapped == 0 and len(rte.train) == 10

    seen = {}

    def fake(init, task_type, num_labels, train, dev, hp, arch=None):
        seen.setdefault(task_type, hp)
        if task_type == "regression":
            return {"predictions": [f["label"] for f in dev], "labels": [f["label"] for f in dev]}
        return {"predictions": [f["label"] for f in dev], "labels": [f["label"] for f in dev]}

    model = _fake_model(tmp_path)
    res = evaluate_model(ModelUnderTest(model),
                         EvaluateSettings(tasks=[dict(name="STS-B", type="regression", format="glue",
                                                      train="small/glue/STS-B/train.tsv",
                                                      dev="small/glue/STS-B/dev.tsv",
                                                      max_train_examples=20, max_eval_examples=30)], seeds=1),
                         tmp_path, finetune_fn=fake)
    hp = seen["regression"]
    assert (hp["epochs"], hp["batch_size"], hp["warmup_fraction"], hp["weight_decay"]) == (10, 32, 0.1, 0.0)
    assert (hp["learning_rate"], hp["layerwise_lr_decay"]) == (3e-4, 0.8)  # tiny follows small
    assert hp["bias_correction"] is False                                  # the official optimizer
    # predictions come back on the 0..5 scale: perfect predictions give a correlation of 1
    assert res["tasks"]["STS-B"]["pretrained"]["all"]["pearson"] == pytest.approx(1.0)
    assert lr_cell(res["tasks"]["STS-B"]["hparams"]) == "0.0003"
    seen.clear()
    res = evaluate_model(ModelUnderTest(model),
                         EvaluateSettings(tasks=[dict(name="STS-B", type="regression", format="glue",
                                                      train="small/glue/STS-B/train.tsv", bias_correction=True,
                                                      dev="small/glue/STS-B/dev.tsv",
                                                      max_train_examples=20, max_eval_examples=30)], seeds=1),
                         tmp_path, finetune_fn=fake)
    assert seen["regression"]["bias_correction"] is True
    assert lr_cell(res["tasks"]["STS-B"]["hparams"]) == "0.0003 (bias-corrected Adam)"   # said in the scorecard


def _fake_model(tmp_path: Path) -> Path:
    """A model folder with a config and a tokenizer only (for stand-in fine-tuners)."""
    from transformers import BertTokenizerFast

    d = tmp_path / "fake-model"
    if (d / "config.json").is_file():
        return d
    d.mkdir()
    (d / "vocab.txt").write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + list("abcdefgh")) + "\n")
    BertTokenizerFast(vocab_file=str(d / "vocab.txt")).save_pretrained(d)
    (d / "config.json").write_text(json.dumps({"model_type": "electra", "vocab_size": 13, "hidden_size": 128,
                                               "num_hidden_layers": 2, "num_attention_heads": 2,
                                               "intermediate_size": 512, "embedding_size": 128,
                                               "max_position_embeddings": 128}))
    return d


# --- the shipped suites ------------------------------------------------------------------------------

SUITES = {  # language -> task names in its corpora/<lang>.yaml
    "en": {"CoLA", "SST-2", "MRPC", "STS-B", "RTE", "QNLI", "WNLI", "upos", "xnli"},
    "de": {"upos", "ner"}, "ru": {"upos", "ner"}, "sw": {"xnli", "ner", "news"},
    "zh": {"upos", "xnli"}, "ko": {"upos", "xnli"}, "tr": {"upos"}, "fi": {"upos"}, "ar": {"upos"},
    "hi": {"upos"}, "ja": {"upos"},
}


@pytest.mark.parametrize("lang", sorted(SUITES))
def test_shipped_suites_load(lang, data_root):
    cfg = parse_language(REPO / "corpora" / f"{lang}.yaml")
    ev = cfg.evaluate
    assert {t.name for t in ev.tasks} == SUITES[lang]
    assert ev.seeds >= 3
    for t in ev.tasks:
        assert t.max_train_examples and t.max_eval_examples, f"{lang}/{t.name}: CPU-sized caps"
        d = load_task(t, REPO)
        assert d.train and d.dev
        if not t.dev:
            assert "seeded split" in " ".join(d.notes)
        if t.format in ("xnli",) or "wikiann" in t.train:
            assert t.note, f"{lang}/{t.name}: say what is trained on and scored"
    if lang == "en":
        assert ev.average == ["CoLA", "SST-2", "MRPC", "STS-B", "RTE", "QNLI"]  # GLUE without WNLI
        assert "GLUE" in (ev.average_name or "")


def test_config_validation():
    with pytest.raises(ValueError, match="average names unknown"):
        EvaluateSettings(tasks=[TaskSettings(name="a", type="classification", format="tsv", train="x")],
                         average=["b"])
    with pytest.raises(ValueError, match="unique"):
        EvaluateSettings(references=[{"name": "random_init", "path": "x"}])
    with pytest.raises(ValueError, match="label_range"):
        TaskSettings(name="a", type="classification", format="tsv", train="x", label_range=(0, 5))


# --- scorecards -----------------------------------------------------------------------------------------

def _fake_finetune(init, task_type, num_labels, train, dev, hp, arch=None):
    import random

    rng = random.Random(hp["seed"] * 7 + (0 if init else 1))
    ok = 0.9 if init else 0.6
    preds, labels = [], []
    for f in dev:
        y = f["label"]
        if task_type == "tagging":
            g = [x for x in y if x != -100]
            preds.append([x if rng.random() < ok else rng.randrange(num_labels) for x in g])
            labels.append(g)
        elif task_type == "regression":
            preds.append(y + rng.gauss(0, 0.1 if init else 1))
            labels.append(y)
        else:
            preds.append(y if rng.random() < ok else rng.randrange(num_labels))
            labels.append(y)
    return {"predictions": preds, "labels": labels, "train_loss": 0.5, "seconds": 0.01, "steps": 3}


def test_scorecards_metrics_and_rows(data_root, tmp_path):
    from pipeline.evaluation.harness import evaluate_model
    from pipeline.evaluation.scorecard import scorecard_rows

    tasks = [dict(name=n, type=tt, format="glue", train=f"small/glue/{n}/train.tsv", dev=f"small/glue/{n}/dev.tsv",
                  max_train_examples=30, max_eval_examples=40)
             for n, tt in (("CoLA", "classification"), ("STS-B", "regression"), ("WNLI", "pair_classification"))]
    res = evaluate_model(ModelUnderTest(_fake_model(tmp_path)),
                         EvaluateSettings(tasks=tasks, seeds=3, average=["CoLA", "STS-B"], average_name="GLUE score"),
                         tmp_path, finetune_fn=_fake_finetune, out_dir=tmp_path / "out")
    avg = res["average"]
    assert avg["tasks"] == ["CoLA", "STS-B"] and avg["name"] == "GLUE score"
    assert avg["pretrained"] == pytest.approx((res["tasks"]["CoLA"]["pretrained"]["median"]
                                               + res["tasks"]["STS-B"]["pretrained"]["median"]) / 2)
    cola = res["tasks"]["CoLA"]
    assert cola["paired"]["seeds"] == 3 and cola["paired"]["wins"] == 3
    assert set(cola["pretrained"]["seed_scores"]) == {"0", "1", "2"}
    # DVC metrics: numeric leaves reachable through dicts (lists are ignored by `dvc metrics`)
    on_disk = json.loads((tmp_path / "out" / "eval.json").read_text())
    assert isinstance(on_disk["tasks"]["CoLA"]["pretrained"]["median"], float)
    assert isinstance(on_disk["tasks"]["CoLA"]["pretrained"]["seed_scores"]["2"], float)
    assert isinstance(on_disk["average"]["pretrained"], float)
    md = (tmp_path / "out" / "scorecard.md").read_text()
    assert "| **average** | GLUE score |" in md and "3/3" in md
    assert "x2 swapped" in md  # STS-B doubled
    page = (tmp_path / "out" / "scorecard.html").read_text()
    m = re.search(r"data:image/png;base64,([A-Za-z0-9+/=]+)", page)
    assert m and base64.b64decode(m.group(1))[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<table>" in page and "http" not in page.replace("http-equiv", "")  # self-contained
    # a corpus holding the tasks' training text (a `format: tasks` source) is said on the card, never assumed
    from pipeline.evaluation.scorecard import render_scorecard
    assert "Pre-training corpus" not in render_scorecard(res)
    res["model"]["corpus_task_text"] = ["*"]
    assert "Pre-training corpus: also the unlabeled text of the training splits of the tasks `*`" \
        in render_scorecard(res)
    rows = scorecard_rows(res)
    assert rows[0]["task"] == "CoLA" and rows[0]["pretrained"] == round(100 * cola["pretrained"]["median"], 1)
    assert rows[-1]["task"] == "average" and rows[-1]["metric"] == "GLUE score"
    assert all(set(r) == set(rows[0]) for r in rows)


# --- foundry evaluate --------------------------------------------------------------------------------------

def _project(tmp_path: Path, model: Path) -> Path:
    proj = tmp_path / "proj"
    (proj / "corpora").mkdir(parents=True)
    (proj / "params.yaml").write_text(yaml.safe_dump({"data_root": str(SHARED), "languages": {"tr": {}}}))
    cfg = {"language": "tr", "name": "Turkish", "script": "Latn", "sources": [{"path": "small/text/tr"}],
           "model": {"size": "tiny"},
           "evaluate": {"seeds": 2, "workers": 1, "tasks": [_upos(n_train=24, n_dev=12), _mrpc()]}}
    (proj / "corpora" / "tr.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    return proj


def test_cli_evaluate(tiny_electra, data_root, tmp_path, monkeypatch, capsys):
    from pipeline.evaluation.cli import cli_evaluate

    proj = _project(tmp_path, tiny_electra)
    monkeypatch.setenv("FOUNDRY_PROJECT", str(proj))
    monkeypatch.chdir(proj)
    rc = cli_evaluate(["tr", "--model", str(tiny_electra), "--task", "upos", "--seeds", "1"])
    out = capsys.readouterr().out
    assert rc == 0, out
    where = proj / "reports" / "tr" / "evaluate" / "electra"
    assert "# Scorecard: Turkish (tr): electra" in out and "| upos | token_accuracy |" in out
    assert f"reports/tr/evaluate/electra/scorecard.md" in out
    res = json.loads((where / "eval.json").read_text())
    assert list(res["tasks"]) == ["upos"] and res["settings"]["seeds"] == 1
    assert (where / "scorecard.html").is_file()
    assert cli_evaluate(["tr", "--model", str(tiny_electra), "--task", "nope"]) == 2
    assert "no evaluation task(s) nope" in capsys.readouterr().err
    assert cli_evaluate(["tr", "--model", str(tmp_path / "missing"), "--out", str(tmp_path / "o")]) == 2
    assert "config.json" in capsys.readouterr().err


def test_foundry_evaluate_subcommand_calls_cli_evaluate(monkeypatch):
    import flows.cli
    import pipeline.evaluation.cli

    got = []
    monkeypatch.setattr(pipeline.evaluation.cli, "cli_evaluate", lambda argv: got.append(argv) or 0)
    assert flows.cli.main(["evaluate", "--model", "m", "tr", "--task", "upos"]) == 0
    assert got == [["--model", "m", "tr", "--task", "upos"]]
