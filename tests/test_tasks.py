"""pipeline.evaluation: task loaders on the real shared data, malformed-row errors, and encoding/alignment."""
from __future__ import annotations

import os
import unicodedata
from collections import Counter
from pathlib import Path

import pytest

from pipeline.config import TaskSettings
from pipeline.errors import StageError
from pipeline.evaluation.encode import encode
from pipeline.taskdata.formats.conllu import UPOS_TAGS
from pipeline.taskdata.formats.glue import normalize_task_name
from pipeline.taskdata.formats.registry import read_examples
from pipeline.taskdata.tasks import load_task

SHARED = Path(os.environ.get("FOUNDRY_DATA_ROOT", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
SMALL = SHARED / "small"


def _need_data():
    if not (SMALL / "glue").is_dir():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"shared data not found at {SHARED} (set FOUNDRY_DATA_ROOT)")
        pytest.skip(f"shared data not found at {SHARED} (set FOUNDRY_DATA_ROOT)")


@pytest.fixture
def data():
    _need_data()
    return SMALL


def task(**kw) -> TaskSettings:
    kw.setdefault("name", "t")
    return TaskSettings(**kw)


def load(tmp_path: Path, **kw):
    return load_task(task(**kw), tmp_path)


# --- real files ---------------------------------------------------------------------------------

GLUE = [  # (task, type, train count, dev count, labels)  counts from MANIFEST.md (small/ copies)
    ("CoLA", "classification", 2000, 1043, ["0", "1"]),
    ("SST-2", "classification", 2000, 872, ["0", "1"]),
    ("MRPC", "pair_classification", 2000, 408, ["0", "1"]),
    ("STS-B", "regression", 2000, 1500, None),
    ("RTE", "pair_classification", 1000, 277, ["entailment", "not_entailment"]),
    ("WNLI", "pair_classification", 635, 71, ["0", "1"]),
]


@pytest.mark.parametrize("name,ttype,n_train,n_dev,labels", GLUE)
def test_glue_counts(data, name, ttype, n_train, n_dev, labels):
    d = load_task(task(name=name, type=ttype, format="glue", train=str(data / f"glue/{name}/train.tsv"),
                       dev=str(data / f"glue/{name}/dev.tsv")), data)
    swapped = name in ("MRPC", "STS-B")  # A/B swap augmentation, as the official code (double_unordered)
    assert (len(d.train), len(d.dev)) == (n_train * (2 if swapped else 1), n_dev)
    assert d.swapped == (n_train if swapped else 0) and d.train_available == n_train
    if swapped:
        for ex, sw in zip(d.train[:n_train], d.train[n_train:]):
            assert (sw.text_a, sw.text_b, sw.label) == (ex.text_b, ex.text_a, ex.label)
    assert d.labels == labels
    assert d.glue_task == normalize_task_name(name)
    pair = ttype != "classification"
    assert all((ex.text_b is not None) == pair for ex in d.train + d.dev)
    assert all(ex.text_a for ex in d.train)


def test_glue_columns(data):
    g = lambda n, t: load_task(task(name=n, type=t, format="glue", train=str(data / f"glue/{n}/train.tsv"),  # noqa: E731
                                    dev=str(data / f"glue/{n}/dev.tsv")), data)
    cola = g("CoLA", "classification")  # no header: source, label, _, sentence
    assert cola.train[0].text_a == "Our friends won't buy this analysis, let alone the next one we propose."
    assert cola.train[0].label == "1" and cola.train[0].line == 1
    sst = g("SST-2", "classification")
    assert sst.train[0].text_a == "hide new secretions from the parental units" and sst.train[0].label == "0"
    mrpc = g("MRPC", "pair_classification")  # header starts with a BOM
    assert mrpc.train[0].label == "1" and mrpc.train[0].text_a.startswith("Amrozi accused his brother")
    assert mrpc.train[0].text_b.startswith("Referring to him as only")
    sts = g("STS-B", "regression")
    assert (sts.train[0].text_a, sts.train[0].text_b, sts.train[0].label) == \
        ("A plane is taking off.", "An air plane is taking off.", 5.0)
    assert all(0.0 <= ex.label <= 5.0 for ex in sts.train)


def test_glue_task_from_folder_and_overrides(data, tmp_path):
    # task name is not a GLUE name: the folder tells
    d = load_task(task(name="acceptability", type="classification", format="glue",
                       train=str(data / "glue/CoLA/train.tsv"), dev=str(data / "glue/CoLA/dev.tsv")), data)
    assert d.glue_task == "cola"
    with pytest.raises(StageError, match="regression"):
        load_task(task(name="STS-B", type="classification", format="glue", train=str(data / "glue/STS-B/train.tsv"),
                       dev=str(data / "glue/STS-B/dev.tsv")), data)
    with pytest.raises(StageError, match="not a GLUE task|neither"):
        load_task(task(name="foo", type="classification", format="glue", train=str(data / "xnli/en/dev.tsv"),
                       dev=str(data / "xnli/en/dev.tsv")), data)


def test_task_files_in_a_single_byte_encoding(tmp_path):
    """German WikiANN NER (CoNLL) in Latin-1 and a GLUE-style TSV and CSV of Russian XNLI-like pairs in cp1251 (as
    older tools wrote labelled data) read with the task's `encoding` exactly as their UTF-8 originals; without it,
    an error naming the line and the encoding to try."""
    wikiann = SHARED / "ner/wikiann/de/val.conllu"
    if not wikiann.is_file():
        _need_data()
        pytest.fail(f"{wikiann} missing")
    lines = wikiann.read_text(encoding="utf-8").split("\n")[:3000]
    text = "\n".join(ln for ln in lines if ln.encode("latin-1", "ignore").decode("latin-1") == ln) + "\n"
    assert any(ch in text for ch in "äöüß")
    (tmp_path / "ner-utf8.conll").write_text(text, encoding="utf-8")
    (tmp_path / "ner-latin1.conll").write_bytes(text.encode("latin-1"))
    kw = dict(type="tagging", format="conll", dev_fraction=0.3)
    want = load(tmp_path, train=str(tmp_path / "ner-utf8.conll"), **kw)
    got = load(tmp_path, train=str(tmp_path / "ner-latin1.conll"), encoding="latin-1", **kw)
    assert [e.tokens for e in got.train] == [e.tokens for e in want.train] and len(want.train) > 50
    assert [e.label for e in got.dev] == [e.label for e in want.dev]
    with pytest.raises(StageError, match=r"ner-latin1\.conll:\d+: not valid UTF-8 .*`encoding: cp1252`"):
        load(tmp_path, train=str(tmp_path / "ner-latin1.conll"), **kw)

    pairs = [("Кошка спит на диване.", "Животное отдыхает.", "entailment"),
             ("Поезд опоздал на час.", "Поезд пришёл вовремя.", "contradiction"),
             ("Она читает книгу.", "Она любит детективы.", "neutral")] * 10
    tsv = "premise\thypothesis\tlabel\n" + "".join(f"{a}\t{b}\t{c}\n" for a, b, c in pairs)
    csv_text = "premise,hypothesis,label\n" + "".join(f'"{a}","{b}",{c}\n' for a, b, c in pairs)
    for name, body, fmt in (("pairs.tsv", tsv, "tsv"), ("pairs.csv", csv_text, "csv")):
        (tmp_path / name).write_bytes(body.encode("cp1251"))
        kw = dict(type="pair_classification", format=fmt, text_a="premise", text_b="hypothesis", label="label")
        d = load(tmp_path, train=str(tmp_path / name), encoding="cp1251", **kw)
        assert sorted((e.text_a, e.text_b, e.label) for e in d.train + d.dev) == sorted(pairs)
        with pytest.raises(StageError, match=rf"{name}:2: not valid UTF-8 .*`encoding: ENC`, ENC its code page"):
            load(tmp_path, train=str(tmp_path / name), **kw)
    with pytest.raises(ValueError, match="not a single-byte encoding"):
        task(type="tagging", format="conll", train="x", encoding="utf-16")


def test_caps_spread_through_the_file_or_take_the_first(data):
    kw = dict(name="CoLA", type="classification", format="glue", train=str(data / "glue/CoLA/train.tsv"),
              dev=str(data / "glue/CoLA/dev.tsv"))
    full = load_task(task(**kw), data)
    d = load_task(task(**kw, max_train_examples=100, max_eval_examples=7), data)
    assert [e.text_a for e in d.train] == [full.train[i * 2000 // 100].text_a for i in range(100)]
    assert [e.text_a for e in d.dev] == [full.dev[i * 1043 // 7].text_a for i in range(7)]
    assert d.train[0].text_a == full.train[0].text_a and d.dev[-1].line < full.dev[-1].line
    assert (d.train_available, d.dev_available) == (2000, 1043)
    first = load_task(task(**kw, max_train_examples=100, max_eval_examples=7, subset="first"), data)
    assert [e.text_a for e in first.train] == [e.text_a for e in full.train[:100]]
    assert [e.text_a for e in first.dev] == [e.text_a for e in full.dev[:7]]


def test_all_keeps_every_example_and_other_words_are_rejected(data):
    """``all`` is an explicit "no cap": a count equal to today's split size would cap quietly if it grew."""
    kw = dict(name="CoLA", type="classification", format="glue", train=str(data / "glue/CoLA/train.tsv"),
              dev=str(data / "glue/CoLA/dev.tsv"))
    full = load_task(task(**kw), data)
    every = load_task(task(**kw, max_train_examples="all", max_eval_examples="all"), data)
    assert [e.text_a for e in every.train] == [e.text_a for e in full.train]
    assert [e.text_a for e in every.dev] == [e.text_a for e in full.dev] and len(every.dev) == 1043
    for bad in ("every", 0, -5):
        with pytest.raises(ValueError):
            task(**kw, max_eval_examples=bad)


def test_a_capped_xnli_file_keeps_every_genre(data):
    """XNLI files are sorted by genre (249 pairs each in dev, 501 in test): the shipped suites' first 500 scored
    test pairs were all face-to-face speech, their first 1000 training pairs (dev) five of the ten genres. A
    spread keeps all ten, and every label in about equal shares."""
    path = data / "xnli/sw/dev.tsv"
    genres = [ln.split("\t")[0] for ln in path.read_text(encoding="utf-8").splitlines()[1:]]
    kw = dict(name="xnli", type="pair_classification", format="xnli", train=str(path), dev=str(path),
              max_train_examples=1000, max_eval_examples=500)
    for subset, n_genres in (("first", 5), ("spread", 10)):
        d = load_task(task(**kw, subset=subset), data)
        line_genre = {i + 2: g for i, g in enumerate(genres)}   # file line of each example (header = line 1)
        assert len({line_genre[e.line] for e in d.dev}) == (3 if subset == "first" else 10), subset
        assert len({line_genre[e.line] for e in d.train}) == n_genres, subset
    counts = Counter(e.label for e in d.dev)
    assert max(counts.values()) - min(counts.values()) <= 0.1 * len(d.dev), counts


@pytest.mark.parametrize("lang,a,b", [("en", None, None), ("ko", None, None), ("zh", "text_a", "text_b"),
                                      ("sw", "sentence1_sw", "sentence2_sw")])
def test_xnli_tsv(data, lang, a, b):
    path = str(data / f"xnli/{lang}/dev.tsv")
    d = load_task(task(name=f"xnli-{lang}", type="pair_classification", format="tsv", train=path, dev=path,
                       text_a=a, text_b=b), data)
    assert len(d.train) == 2490
    assert d.labels == ["contradiction", "entailment", "neutral"]
    assert Counter(ex.label for ex in d.train) == {"contradiction": 830, "entailment": 830, "neutral": 830}
    assert d.notes and "same file" in d.notes[0]


def test_xnli_rows_aligned_across_languages(data):
    out = {}
    for lang in ("en", "sw"):
        path = str(data / f"xnli/{lang}/dev.tsv")
        out[lang] = load_task(task(type="pair_classification", format="tsv", train=path, dev=path), data)
    assert [e.label for e in out["en"].train] == [e.label for e in out["sw"].train]
    assert out["sw"].train[0].text_a == "Naye akasema, Mama, niko nyumbani."


def test_single_file_gets_a_seeded_disjoint_split(data):
    ud = data / "ud/UD_Turkish-IMST"
    t = task(type="tagging", format="conllu", train=str(ud / "tr_imst-ud-test.conllu"), dev_fraction=0.25)
    a, b = load_task(t, data), load_task(t, data)
    assert (len(a.train), len(a.dev)) == (825, 275)
    assert [e.tokens for e in a.dev] == [e.tokens for e in b.dev]  # deterministic
    train_lines = {e.line for e in a.train}
    assert not train_lines & {e.line for e in a.dev}  # disjoint by sentence
    other = load_task(task(type="tagging", format="conllu", train=t.train, dev_fraction=0.25, split_seed=1), data)
    assert [e.line for e in other.dev] != [e.line for e in a.dev]
    assert any("seeded split" in n for n in a.notes)


def test_ud_conllu(data):
    ud = data / "ud/UD_Turkish-IMST"
    d = load_task(task(type="tagging", format="conllu", train=str(ud / "tr_imst-ud-dev.conllu"),
                       dev=str(ud / "tr_imst-ud-test.conllu")), data)
    # MANIFEST: dev 1100 sentences / 10542 tokens, test 1100 / 10032 (integer-ID word lines)
    assert (len(d.train), sum(len(e.tokens) for e in d.train)) == (1100, 10542)
    assert (len(d.dev), sum(len(e.tokens) for e in d.dev)) == (1100, 10032)
    assert d.labels == sorted(UPOS_TAGS)
    assert all(len(e.tokens) == len(e.label) for e in d.train + d.dev)
    assert d.train[3].tokens == ["adı", "."] and d.train[3].label == ["NOUN", "PUNCT"]


def test_wikiann_conll_with_index_column(data):
    p = str(data / "ner/wikiann/de/test.conllu")
    d = load_task(task(type="tagging", format="conll", train=p, dev=p), data)
    assert (len(d.train), sum(len(e.tokens) for e in d.train)) == (2000, 19265)
    assert d.train[0].tokens == ["WEITERLEITUNG", "Hu", "(", "Xi’an", ")"]
    assert d.train[0].label == ["O", "B-LOC", "I-LOC", "I-LOC", "I-LOC"]
    assert d.labels == ["B-LOC", "B-ORG", "B-PER", "I-LOC", "I-ORG", "I-PER", "O"]
    with pytest.raises(StageError, match="format: conll"):  # .conllu name, but not CoNLL-U
        load_task(task(type="tagging", format="conllu", train=p, dev=p), data)


def test_panx_language_prefix_is_left_out(data, tmp_path):
    """WikiANN as Pan et al. and XTREME's PAN-X distribute it: `de:Hu<TAB>B-LOC`, files `train`/`dev` without a
    suffix. The `de:` on every token is left out (the tokens are the indexed WikiANN file's), a token that is
    itself a colon keeps it, and a file where only some tokens look like `xx:...` keeps them whole."""
    p = data / "ner/wikiann/de/test.conllu"
    want = load_task(task(type="tagging", format="conll", train=str(p), dev=str(p)), data)
    panx = "\n\n".join("\n".join(f"de:{t}\t{g}" for t, g in zip(e.tokens, e.label)) for e in want.train) + "\n"
    (tmp_path / "train").write_text(panx, encoding="utf-8")
    got = load(tmp_path, type="tagging", format="conll", train=str(tmp_path / "train"), dev=str(tmp_path / "train"))
    assert [(e.tokens, e.label) for e in got.train] == [(e.tokens, e.label) for e in want.train]
    assert any(":" in e.tokens for e in got.train)                     # `de::` read as the token `:`
    mixed = "ab:cd\tO\nnormal\tO\n\nde:Hu\tB-LOC\n"
    (tmp_path / "mixed.conll").write_text(mixed, encoding="utf-8")
    got = load(tmp_path, type="tagging", format="conll", train=str(tmp_path / "mixed.conll"),
               dev=str(tmp_path / "mixed.conll"))
    assert got.train[0].tokens == ["ab:cd", "normal"] and got.train[1].tokens == ["de:Hu"]


def test_masakhaner_conll(data):
    ner = data / "ner/masakhaner2/swa"
    d = load_task(task(type="tagging", format="conll", train=str(ner / "test.txt"), dev=str(ner / "dev.txt")), data)
    assert (len(d.train), sum(len(e.tokens) for e in d.train)) == (1883, 51179)
    assert (len(d.dev), sum(len(e.tokens) for e in d.dev)) == (942, 25251)
    assert d.dev[0].tokens[:3] == ["kuongezeka", "kwa", "kasi"]
    assert "B-DATE" in d.labels and "O" in d.labels



def test_csv_and_parquet_tasks_give_the_examples_of_the_original_files(data, tmp_path):
    """A labelled task as a spreadsheet's CSV (quoted cells with commas and quotes, a byte-order mark, CRLF) and
    as Parquet (a Hub snapshot's data/train-*.parquet), built from the shared MRPC and MasakhaNER files: the
    same examples as the originals read as glue / conll."""
    import csv
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    mrpc = data / "glue" / "MRPC"
    orig = load_task(task(type="pair_classification", format="glue", train=str(mrpc / "train.tsv"),
                          dev=str(mrpc / "dev.tsv")), data)
    pairs = {"train": orig.train, "dev": orig.dev}
    for split, exs in pairs.items():
        buf = io.StringIO()
        csv.writer(buf).writerows([["sentence1", "sentence2", "label"], *([e.text_a, e.text_b, e.label] for e in exs)])
        (tmp_path / f"{split}.csv").write_bytes(("\ufeff" + buf.getvalue()).encode("utf-8"))
        pq.write_table(pa.table({"sentence1": [e.text_a for e in exs], "sentence2": [e.text_b for e in exs],
                                 "label": [int(e.label) for e in exs]}), tmp_path / f"{split}.parquet")
    assert any("," in e.text_a and '"' in e.text_a for e in orig.train)      # quoting is exercised
    for fmt in ("csv", "parquet"):
        d = load_task(task(type="pair_classification", format=fmt, train=str(tmp_path / f"train.{fmt}"),
                           dev=str(tmp_path / f"dev.{fmt}")), tmp_path)
        for split in ("train", "dev"):
            got = [(e.text_a, e.text_b, e.label) for e in getattr(d, split)]
            assert got == [(e.text_a, e.text_b, e.label) for e in pairs[split]], (fmt, split)
        assert d.labels == orig.labels
    ner = data / "ner/masakhaner2/swa"
    tagged = load_task(task(type="tagging", format="conll", train=str(ner / "dev.txt"), dev=str(ner / "dev.txt")), data)
    pq.write_table(pa.table({"tokens": [e.tokens for e in tagged.train], "ner_tags": [e.label for e in tagged.train]}),
                   tmp_path / "ner.parquet")
    d = load_task(task(type="tagging", format="parquet", train=str(tmp_path / "ner.parquet"),
                       dev=str(tmp_path / "ner.parquet")), tmp_path)
    assert [(e.tokens, e.label) for e in d.train] == [(e.tokens, e.label) for e in tagged.train]
    (tmp_path / "bad.csv").write_text("sentence1,sentence2,label\n\"a, b\",c,1\nd,e\n", encoding="utf-8")
    with pytest.raises(StageError, match=r"bad.csv:3: expected 3 columns \(the header has 3\), found 2"):
        load_task(task(type="pair_classification", format="csv", train=str(tmp_path / "bad.csv"),
                       dev=str(tmp_path / "bad.csv")), tmp_path)
    with pytest.raises(StageError, match="tagging tasks need format conllu, conll, jsonl, parquet or hf, not csv"):
        load_task(task(type="tagging", format="csv", train=str(tmp_path / "bad.csv"), dev=str(tmp_path / "bad.csv")),
                  tmp_path)

def test_hub_parquet_class_ids_become_their_names(data, tmp_path):
    """A Hub snapshot's Parquet files hold ClassLabel ids (ints) and their names in the schema's ``huggingface``
    metadata: a tagging task of int tags (MasakhaNER dev as the Hub stores it) reads as the tag strings, a pair
    task's 0/1 as MRPC's names, and `--task` names them in its comment. Without the metadata ids stay ids, and an
    id outside the names is an error naming the file and row."""
    import datasets
    import pyarrow as pa
    import pyarrow.parquet as pq

    from pipeline.onboard.tasks import task_entry

    ner = data / "ner/masakhaner2/swa"
    tagged = load_task(task(type="tagging", format="conll", train=str(ner / "dev.txt"), dev=str(ner / "dev.txt")), data)
    names = tagged.labels
    feats = datasets.Features({"tokens": datasets.Sequence(datasets.Value("string")),
                               "ner_tags": datasets.Sequence(datasets.ClassLabel(names=names))})
    datasets.Dataset.from_dict({"tokens": [e.tokens for e in tagged.train],
                                "ner_tags": [[names.index(t) for t in e.label] for e in tagged.train]},
                               features=feats).to_parquet(str(tmp_path / "ner.parquet"))
    assert isinstance(pq.read_table(tmp_path / "ner.parquet").column("ner_tags")[0][0].as_py(), int)
    d = load_task(task(type="tagging", format="parquet", train=str(tmp_path / "ner.parquet"),
                       dev=str(tmp_path / "ner.parquet")), tmp_path)
    assert [(e.tokens, e.label) for e in d.train] == [(e.tokens, e.label) for e in tagged.train]
    mrpc = load_task(task(type="pair_classification", format="glue", train=str(data / "glue/MRPC/dev.tsv"),
                          dev=str(data / "glue/MRPC/dev.tsv")), data)
    hub = ["not_equivalent", "equivalent"]
    cols = {"sentence1": [e.text_a for e in mrpc.train], "sentence2": [e.text_b for e in mrpc.train],
            "label": [int(e.label) for e in mrpc.train]}
    datasets.Dataset.from_dict(cols, features=datasets.Features({
        "sentence1": datasets.Value("string"), "sentence2": datasets.Value("string"),
        "label": datasets.ClassLabel(names=hub)})).to_parquet(str(tmp_path / "mrpc.parquet"))
    d = load_task(task(type="pair_classification", format="parquet", train=str(tmp_path / "mrpc.parquet"),
                       dev=str(tmp_path / "mrpc.parquet")), tmp_path)
    assert [e.label for e in d.train] == [hub[int(e.label)] for e in mrpc.train] and d.labels == sorted(hub)
    entry, why = task_entry(f"mrpc={tmp_path / 'mrpc.parquet'}", str, tmp_path, tmp_path)
    assert entry["type"] == "pair_classification" and "2 labels (equivalent, not_equivalent)" in why, why
    pq.write_table(pa.table(cols), tmp_path / "plain.parquet")     # no metadata: the ids are the labels
    d = load_task(task(type="pair_classification", format="parquet", train=str(tmp_path / "plain.parquet"),
                       dev=str(tmp_path / "plain.parquet")), tmp_path)
    assert d.labels == ["0", "1"]
    table = pq.read_table(tmp_path / "mrpc.parquet")
    bad = table.set_column(2, "label", pa.array([5] + cols["label"][1:], pa.int64())).replace_schema_metadata(
        table.schema.metadata)
    pq.write_table(bad, tmp_path / "bad.parquet")
    with pytest.raises(StageError, match=r"bad.parquet row:1: label 5 in column 'label' is not one of its 2 class"):
        load_task(task(type="pair_classification", format="parquet", train=str(tmp_path / "bad.parquet"),
                       dev=str(tmp_path / "bad.parquet")), tmp_path)


# --- small hand-written files ----------------------------------------------------------------------

def write(path: Path, text: str) -> str:
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_tsv_generic_names_and_indices(tmp_path):
    tr = write(tmp_path / "tr.tsv", "id\tpremise\thypothesis\tgold\n1\ta b\tc\tyes\n2\td\te f\tno\n")
    d = load(tmp_path, type="pair_classification", format="tsv", train=tr, dev=tr, label="gold")
    assert [(e.text_a, e.text_b, e.label) for e in d.train] == [("a b", "c", "yes"), ("d", "e f", "no")]
    nh = write(tmp_path / "nh.tsv", "x\t0\thello\ny\t1\tworld\n")
    d = load(tmp_path, type="classification", format="tsv", train=nh, dev=nh, skip_header=False, text_a=2, label=1)
    assert [(e.text_a, e.label) for e in d.train] == [("hello", "0"), ("world", "1")]
    assert d.train[1].line == 2


def test_jsonl(tmp_path):
    tr = write(tmp_path / "tr.jsonl", '{"text_a": "a", "label": 1}\n\n{"text_a": "b", "label": 0}\n')
    d = load(tmp_path, type="classification", format="jsonl", train=tr, dev=tr)
    assert [(e.text_a, e.label, e.line) for e in d.train] == [("a", "1", 1), ("b", "0", 3)]
    tg = write(tmp_path / "tg.jsonl", '{"tokens": ["Ali", "geldi"], "tags": ["B-PER", "O"]}\n')
    d = load(tmp_path, type="tagging", format="jsonl", train=tg, dev=tg)
    assert d.train[0].tokens == ["Ali", "geldi"] and d.labels == ["B-PER", "O"]


def test_conllu_skips_ranges_and_empty_nodes(tmp_path):
    row = "{}\t{}\t_\t{}\t_\t_\t0\troot\t_\t_\n"
    text = ("# text = vámonos al mar\n" + row.format("1-2", "vámonos", "_") + row.format(1, "vamos", "VERB")
            + row.format(2, "nos", "PRON") + row.format("2.1", "x", "NOUN") + row.format("3-4", "al", "_")
            + row.format(3, "a", "ADP") + row.format(4, "el", "DET") + row.format(5, "mar", "NOUN") + "\n")
    p = write(tmp_path / "a.conllu", text)
    d = load(tmp_path, type="tagging", format="conllu", train=p, dev=p)
    assert d.train[0].tokens == ["vamos", "nos", "a", "el", "mar"]
    assert d.train[0].label == ["VERB", "PRON", "ADP", "DET", "NOUN"]


BAD = [  # (format, type, train text, dev text, file that is named, line, message)
    ("tsv", "classification", "sentence\tlabel\na\t0\nb\t1\textra\n", None, "tr", 3, "expected 2 tab-separated columns"),
    ("tsv", "classification", "sentence\tlabel\na\t0\nb\t1\n", "sentence\tlabel\nc\t0\nd\t2\n", "dev", 3, "'2' does not occur"),
    ("tsv", "classification", "sentence\tlabel\na\t0\nb\t\n", None, "tr", 3, "empty label"),
    ("tsv", "regression", "sentence1\tsentence2\tscore\na\tb\t1.5\nc\td\thigh\n", None, "tr", 3, "not a number"),
    ("tsv", "classification", "sentence\tgrade\na\t0\n", None, "tr", 1, "cannot tell which column is label"),
    ("glue", "classification", "gj04\t1\t\tok\ngj04\t0\n", None, "tr", 2, "expected 4 tab-separated columns"),
    ("jsonl", "classification", '{"text_a": "a", "label": 0}\n{"text_a": "b", "label": 1\n', None, "tr", 2, "invalid JSON"),
    ("jsonl", "classification", '{"text_a": "a", "label": 0}\n{"text": 3, "label": 1}\n', None, "tr", 2, "missing or not a string"),
    ("conllu", "tagging", "1\tA\ta\tNOUN\t_\t_\t0\troot\t_\t_\n2\tb\tb\tVERB\t_\t_\t1\tobj\n", None, "tr", 2, "expected 10"),
    ("conllu", "tagging", "1\tA\ta\tNOUN\t_\t_\t0\troot\t_\t_\nx\tb\tb\tVERB\t_\t_\t1\tobj\t_\t_\n", None, "tr", 2, "not an integer"),
    ("conllu", "tagging", "1\tA\ta\tNOUN\t_\t_\t0\troot\t_\t_\n2\tb\tb\tVERBB\t_\t_\t1\tobj\t_\t_\n", None, "tr", 2, "not a Universal POS tag"),
    ("conllu", "tagging", "1\tA\ta\tNOUN\t_\t_\t0\troot\t_\t_\n3\tb\tb\tVERB\t_\t_\t1\tobj\t_\t_\n", None, "tr", 2, "out of sequence"),
    ("conll", "tagging", "Ali B-PER\ngeldi\n", None, "tr", 2, "found 1 column"),
    ("conll", "tagging", "Ali B-PER\ngeldi O x\n", None, "tr", 2, "expected 2 columns"),
    ("conll", "tagging", "Ali B-PER\ngeldi O\n", "Ali B-LOC\n", "dev", 1, "'B-LOC' does not occur"),
]


@pytest.mark.parametrize("fmt,ttype,train,dev,which,line,msg", BAD)
def test_malformed_rows_name_file_and_line(tmp_path, fmt, ttype, train, dev, which, line, msg):
    ext = {"tsv": "tsv", "glue": "tsv", "jsonl": "jsonl", "conllu": "conllu", "conll": "txt"}[fmt]
    good_dev = {"tsv": "sentence\tlabel\na\t0\n", "glue": "gj04\t1\t\tok\n", "jsonl": '{"text_a": "a", "label": 0}\n',
                "conllu": "1\tA\ta\tNOUN\t_\t_\t0\troot\t_\t_\n", "conll": "Ali B-PER\n"}[fmt]
    if ttype == "regression":
        good_dev = "sentence1\tsentence2\tscore\na\tb\t1\n"
    (tmp_path / "glue_cola").mkdir()
    base = tmp_path / "glue_cola" if fmt == "glue" else tmp_path
    tr = write(base / f"tr.{ext}", train)
    dv = write(base / f"dev.{ext}", dev if dev is not None else good_dev)
    with pytest.raises(StageError) as e:
        load_task(task(name="CoLA" if fmt == "glue" else "t", type=ttype, format=fmt, train=tr, dev=dv), tmp_path)
    named = tr if which == "tr" else dv
    assert f"{named}:{line}:" in str(e.value)
    assert msg in str(e.value)


def test_missing_file_and_wrong_format_for_type(tmp_path):
    with pytest.raises(StageError, match="file not found"):
        load(tmp_path, type="classification", format="tsv", train="nope.tsv", dev="nope.tsv", root="project")
    p = write(tmp_path / "a.txt", "Ali B-PER\n")
    with pytest.raises(StageError, match="type: tagging"):
        load(tmp_path, type="classification", format="conll", train=p, dev=p)
    with pytest.raises(StageError, match="only one label"):
        q = write(tmp_path / "b.tsv", "sentence\tlabel\na\t0\nb\t0\n")
        load(tmp_path, type="classification", format="tsv", train=q, dev=q)


def test_invalid_utf8_names_line(tmp_path):
    p = tmp_path / "bad.tsv"
    p.write_bytes(b"sentence\tlabel\nok\t0\nbad \xff\t1\n")
    with pytest.raises(StageError, match=rf"{p}:3: not valid UTF-8"):
        read_examples(p, task(type="classification", format="tsv", train=str(p), dev=str(p)))


# --- encoding -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def spm_model(tmp_path_factory) -> Path:
    """A real SentencePiece unigram model trained on a few hundred Turkish lines, with the project's
    fixed special ids ([PAD]=0 [UNK]=1 [CLS]=2 [SEP]=3 [MASK]=4)."""
    _need_data()
    import sentencepiece as spm

    d = tmp_path_factory.mktemp("spm")
    lines = [ln for ln in (SMALL / "text/tr/sample.txt").read_text(encoding="utf-8").splitlines() if ln.strip()][:400]
    (d / "train.txt").write_text("\n".join(lines), encoding="utf-8")
    spm.SentencePieceTrainer.train(
        input=str(d / "train.txt"), model_prefix=str(d / "spm"), vocab_size=1200, model_type="unigram",
        hard_vocab_limit=False, pad_id=0, unk_id=1, bos_id=-1, eos_id=-1, pad_piece="[PAD]", unk_piece="[UNK]",
        user_defined_symbols=["[CLS]", "[SEP]", "[MASK]"], character_coverage=1.0, minloglevel=2)
    return d / "spm.model"


def _tokenizers_build(model_path: Path):
    """Unigram + NFKC + Metaspace + [CLS]/[SEP] template, assembled here with `tokenizers`."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = []
    for line in model_path.with_suffix(".vocab").read_text(encoding="utf-8").splitlines():
        piece, score = line.split("\t")
        vocab.append((piece, float(score)))
    tok = Tokenizer(models.Unigram(vocab, unk_id=1, byte_fallback=False))
    tok.normalizer = normalizers.NFKC()
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="always")
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="always")
    tok.post_processor = processors.TemplateProcessing(
        single="[CLS]:0 $A:0 [SEP]:0", pair="[CLS]:0 $A:0 [SEP]:0 $B:1 [SEP]:1",
        special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return tok


def _vocab_stage_build(model_path: Path):
    """The vocab stage's own SentencePiece -> tokenizer.json conversion (when that module is present)."""
    hf = pytest.importorskip("pipeline.tokenizer.hf")
    if not hasattr(hf, "build_fast_tokenizer"):
        pytest.skip("pipeline.tokenizer.hf.build_fast_tokenizer not available")
    return hf.build_fast_tokenizer(model_path)


@pytest.fixture(scope="module", params=["tokenizers", "vocab_stage"])
def tokenizer(request, spm_model, tmp_path_factory):
    """A fast HF tokenizer over the SentencePiece model, saved and re-loaded with AutoTokenizer."""
    from transformers import AutoTokenizer, PreTrainedTokenizerFast

    build = {"tokenizers": _tokenizers_build, "vocab_stage": _vocab_stage_build}[request.param]
    fast = PreTrainedTokenizerFast(tokenizer_object=build(spm_model), unk_token="[UNK]", pad_token="[PAD]",
                                   cls_token="[CLS]", sep_token="[SEP]", mask_token="[MASK]")
    out = tmp_path_factory.mktemp(f"tok-{request.param}")
    fast.save_pretrained(out)
    t = AutoTokenizer.from_pretrained(out)
    assert t.cls_token_id == 2 and t.sep_token_id == 3 and t.is_fast
    return t


def test_tagging_first_subtoken_alignment(data, tokenizer):
    ud = data / "ud/UD_Turkish-IMST"
    d = load_task(task(type="tagging", format="conllu", train=str(ud / "tr_imst-ud-dev.conllu"),
                       dev=str(ud / "tr_imst-ud-test.conllu"), max_train_examples=300, max_eval_examples=50), data)
    train_f, dev_f = encode(d, tokenizer, max_length=512)
    assert len(train_f) == 300 and len(dev_f) == 50
    checked_words = 0
    for ex, f in zip(d.train, train_f):
        ids, labels = f["input_ids"], f["label"]
        assert len(ids) == len(labels) == len(f["token_type_ids"])
        assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        assert labels[0] == -100 and labels[-1] == -100 and set(f["token_type_ids"]) == {0}
        pieces = tokenizer.convert_ids_to_tokens(ids)
        starts = [i for i, lab in enumerate(labels) if lab != -100]
        # one label per word, on the word's first sub-token, carrying the word's tag
        assert len(starts) == len(ex.tokens)
        assert [d.labels[labels[i]] for i in starts] == ex.label
        # Metaspace: each word starts with the '▁' marker, as in running text; later sub-tokens do not
        for i in starts:
            assert pieces[i].startswith("▁"), (ex.tokens, pieces)
        for i in range(1, len(ids) - 1):
            if labels[i] == -100:
                assert not pieces[i].startswith("▁"), (ex.tokens, pieces)
        # the sub-tokens between two word starts spell the word (where no piece is unknown)
        bounds = starts + [len(ids) - 1]
        for w, (a, b) in enumerate(zip(bounds, bounds[1:])):
            if tokenizer.unk_token_id not in ids[a:b]:
                assert "".join(pieces[a:b]).lstrip("▁") == unicodedata.normalize("NFKC", ex.tokens[w])
                checked_words += 1
    assert checked_words > 1000
    # The word-wise encoding equals the encoding of the running text for these sentences
    ex = d.train[3]
    assert train_f[3]["input_ids"] == tokenizer(" ".join(ex.tokens))["input_ids"]


def test_tagging_long_sentences_become_windows(data, tokenizer):
    """A sentence longer than max_length sub-tokens is cut at word ends into windows that fit, one feature each
    with its sentence's index; joined again, the windows label every word exactly as the untruncated encoding
    does, so no word goes unscored."""
    from pipeline.evaluation.encode import windows
    from pipeline.evaluation.scoring import _by_example

    p = str(data / "ner/masakhaner2/swa/dev.txt")
    d = load_task(task(type="tagging", format="conll", train=p, dev=p, max_train_examples=40), data)
    full, _ = encode(d, tokenizer, max_length=512)
    short, _ = encode(d, tokenizer, max_length=16)
    assert [f["example"] for f in full] == list(range(len(d.train)))
    assert len(short) > len(full) and sorted({f["example"] for f in short}) == list(range(len(d.train)))
    for f in short:
        assert len(f["input_ids"]) <= 16 and f["input_ids"][0] == tokenizer.cls_token_id
        assert f["input_ids"][-1] == tokenizer.sep_token_id
    joined = _by_example(short, [[x for x in f["label"] if x != -100] for f in short])
    assert joined == [[x for x in f["label"] if x != -100] for f in full]
    assert sum(map(len, joined)) == sum(len(ex.tokens) for ex in d.train)
    assert windows([3, 4, 5, 20, 1, 1], 8) == [(0, 2), (2, 3), (3, 4), (4, 6)]
    assert windows([], 8) == [(0, 0)] and windows([2, 2], 8) == [(0, 2)]


def test_pair_encoding_types_and_truncation(data, tokenizer):
    d = load_task(task(name="MRPC", type="pair_classification", format="glue",
                       train=str(data / "glue/MRPC/train.tsv"), dev=str(data / "glue/MRPC/dev.tsv"),
                       max_train_examples=20, max_eval_examples=5), data)
    train_f, dev_f = encode(d, tokenizer, max_length=40)
    assert len(dev_f) == 5
    for ex, f in zip(d.train, train_f):
        ids, tt = f["input_ids"], f["token_type_ids"]
        assert len(ids) <= 40 and f["label"] == d.labels.index(ex.label)
        assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
        sep = ids.index(tokenizer.sep_token_id)
        assert tt == [0] * (sep + 1) + [1] * (len(ids) - sep - 1)
        la = len(tokenizer(ex.text_a, add_special_tokens=False)["input_ids"])
        lb = len(tokenizer(ex.text_b, add_special_tokens=False)["input_ids"])
        ka, kb = sep - 1, len(ids) - sep - 2
        if la + lb + 3 <= 40:
            assert (ka, kb) == (la, lb)
        else:  # longest first: the longer segment is cut until it is no longer longer
            assert ka + kb == 37 and abs(ka - kb) <= 1 or (ka == la and kb < lb) or (kb == lb and ka < la)


def test_classification_and_regression_encoding(data, tokenizer):
    d = load_task(task(name="STS-B", type="regression", format="glue", train=str(data / "glue/STS-B/train.tsv"),
                       dev=str(data / "glue/STS-B/dev.tsv"), max_train_examples=10, max_eval_examples=10), data)
    train_f, _ = encode(d, tokenizer, max_length=64)
    assert [f["label"] for f in train_f] == pytest.approx([ex.label / 5.0 for ex in d.train])  # (y - 0) / 5
    assert isinstance(train_f[0]["label"], float) and d.num_labels == 1
    d = load_task(task(name="SST-2", type="classification", format="glue", train=str(data / "glue/SST-2/train.tsv"),
                       dev=str(data / "glue/SST-2/dev.tsv"), max_train_examples=10, max_eval_examples=10), data)
    train_f, _ = encode(d, tokenizer, max_length=64)
    assert all(set(f["token_type_ids"]) == {0} for f in train_f)
    assert train_f[0]["input_ids"] == tokenizer(d.train[0].text_a)["input_ids"]
    assert [f["label"] for f in train_f] == [int(ex.label) for ex in d.train]


# --- evaluate_model with a stand-in fine-tuner (eval.json / scorecard shape; no training) ----------

def test_evaluate_model_report(data, tokenizer, tmp_path, monkeypatch):
    import json
    import random

    from pipeline.config import EvaluateSettings
    from pipeline.evaluation.harness import ModelUnderTest, evaluate_model

    model_dir = tmp_path / "model"
    tokenizer.save_pretrained(model_dir)
    arch = {"model_type": "electra", "vocab_size": len(tokenizer), "hidden_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": 2, "intermediate_size": 512, "embedding_size": 128,
            "max_position_embeddings": 128}
    (model_dir / "config.json").write_text(json.dumps(arch), encoding="utf-8")
    calls = []

    def fake_finetune(init, task_type, num_labels, train, dev, hparams, arch=None):
        calls.append((init, task_type, num_labels, hparams["seed"], arch is not None, hparams))
        rng = random.Random(hparams["seed"] + (0 if init else 99))
        ok = 0.9 if init else 0.5
        preds, labels = [], []
        for f in dev:
            y = f["label"]
            if task_type == "tagging":
                g = [x for x in y if x != -100]
                preds.append([x if rng.random() < ok else rng.randrange(num_labels) for x in g])
                labels.append(g)
            elif task_type == "regression":
                preds.append(y + rng.gauss(0, 0.5 if init else 3))
                labels.append(y)
            else:
                preds.append(y if rng.random() < ok else rng.randrange(num_labels))
                labels.append(y)
        return {"predictions": preds, "labels": labels, "train_loss": 0.1, "seconds": 0.0, "steps": 1}

    tasks = [
        dict(name="CoLA", type="classification", format="glue", train="small/glue/CoLA/train.tsv",
             dev="small/glue/CoLA/dev.tsv", max_train_examples=30, max_eval_examples=40),
        dict(name="STS-B", type="regression", format="glue", train="small/glue/STS-B/train.tsv",
             dev="small/glue/STS-B/dev.tsv", max_train_examples=30, max_eval_examples=40, learning_rate=1e-4),
        dict(name="upos", type="tagging", format="conllu", train="small/ud/UD_Turkish-IMST/tr_imst-ud-dev.conllu",
             dev="small/ud/UD_Turkish-IMST/tr_imst-ud-test.conllu", max_train_examples=30, max_eval_examples=20,
             max_length=512),
    ]
    monkeypatch.setenv("FOUNDRY_DATA_ROOT", str(SHARED))
    res = evaluate_model(ModelUnderTest(model_dir), EvaluateSettings(tasks=tasks, seeds=3), tmp_path,
                         out_dir=tmp_path / "out", finetune_fn=fake_finetune)
    assert len(calls) == 3 * 2 * 3
    assert {c[3] for c in calls} == {0, 1, 2}
    assert all((c[0] is None) == c[4] for c in calls)  # random init gets arch, pretrained gets the folder
    assert all(c[5]["learning_rate"] == (1e-4 if c[1] == "regression" else 3e-4) for c in calls)
    assert all(c[5]["layerwise_lr_decay"] == 0.8 and c[5]["warmup_fraction"] == 0.1 for c in calls)
    assert res["model"]["size"] == "tiny"
    cola, sts, upos = res["tasks"]["CoLA"], res["tasks"]["STS-B"], res["tasks"]["upos"]
    assert (cola["metric"], sts["metric"], upos["metric"]) == ("mcc", "spearman", "token_accuracy")
    assert (cola["train_examples"], cola["dev_examples"], cola["dev_available"]) == (30, 40, 1043)
    assert cola["scored_on"] == "small/glue/CoLA/dev.tsv" and cola["trained_on"] == "small/glue/CoLA/train.tsv"
    for t in (cola, sts, upos):
        for kind in ("pretrained", "random_init"):
            s = t[kind]
            assert len(s["seeds"]) == 3 and s["median"] == sorted(s["seeds"])[1]
            assert s["all"][t["metric"]] == s["median"]
        assert t["delta"] == pytest.approx(t["pretrained"]["median"] - t["random_init"]["median"])
        assert t["delta"] > 0
        iv = t["delta_interval"]
        assert iv["low"] <= t["delta"] <= iv["high"] and iv["level"] == 0.95 and iv["replicates"] == 2000
        assert t["verdict"] == ("above" if iv["low"] > 0 else "level")
    avg_iv = res["average"]["delta_interval"]
    assert avg_iv["low"] <= res["average"]["delta"] <= avg_iv["high"]
    assert upos["dev_words_scored"] == upos["dev_words"] == sum(len(e.tokens) for e in load_task(
        task(type="tagging", format="conllu", train=str(SMALL / "ud/UD_Turkish-IMST/tr_imst-ud-dev.conllu"),
             dev=str(SMALL / "ud/UD_Turkish-IMST/tr_imst-ud-test.conllu"), max_eval_examples=20), tmp_path).dev)
    assert res["average"]["pretrained"] == pytest.approx(
        (cola["pretrained"]["median"] + sts["pretrained"]["median"] + upos["pretrained"]["median"]) / 3)
    on_disk = json.loads((tmp_path / "out" / "eval.json").read_text(encoding="utf-8"))
    assert on_disk["tasks"].keys() == res["tasks"].keys()
    card = (tmp_path / "out" / "scorecard.md").read_text(encoding="utf-8")
    assert ("| task | metric | pretrained median (seeds) | random init median (seeds) | delta | 95% interval | wins |"
            in card)
    assert "| CoLA | mcc |" in card and "30 of 2000" in card and "**average**" in card
    # every scored prediction is kept beside eval.json: the file alone re-derives each task's interval
    from pipeline.evaluation import predictions as kept
    from pipeline.evaluation.interval import interval
    text = (tmp_path / "out" / "predictions.json").read_text(encoding="utf-8")
    assert text.count("\n") == 1                              # compact: one line
    records = kept.read(tmp_path / "out" / "predictions.json")
    assert records.keys() == res["tasks"].keys()
    for name, t in res["tasks"].items():
        r = records[name]
        assert r["metric"] == t["metric"] and set(r["models"]) == {"pretrained", "random_init"}
        assert len(r["gold"]) == t["dev_examples"] and all(len(run) == len(r["gold"]) for run in r["models"]["pretrained"])
        deltas, why = kept.compare(r, "pretrained", r, "random_init")
        assert why is None and interval(deltas) == t["delta_interval"]
