"""Shard stage: ELECTRA example building on real text, validation split, determinism, index.json."""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm
import yaml

from pipeline.stages import shard as shard_stage
from pipeline.stages import vocab as vocab_stage
from pipeline.sharding.builder import ExampleBuilder, split_long
from pipeline.sharding.split import doc_hash
from pipeline.errors import StageError

SHARED = Path(os.environ.get("FOUNDRY_DATA_ROOT", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
TEXT = SHARED / "small" / "text"
MAX = 64


def _need_text(lang: str) -> Path:
    folder = TEXT / lang
    if not any(folder.glob("*.txt")):
        if os.environ.get("CI") == "true":
            pytest.fail(f"real text missing: {folder} (set FOUNDRY_DATA_ROOT)")
        pytest.skip(f"real text not available at {folder} (set FOUNDRY_DATA_ROOT)")
    return folder


def read_docs(lang: str) -> list[tuple[str, str]]:
    docs = []
    for f in sorted(_need_text(lang).glob("*.txt")):
        cur: list[str] = []
        for line in f.read_text(encoding="utf-8").split("\n") + [""]:
            if line.strip():
                cur.append(line.strip())
            elif cur:
                docs.append((f.name, "\n".join(cur)))
                cur = []
    return docs


def doc_id(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:16]


def make_project(root: Path, lang: str, docs, vocab_cfg=None, shard_cfg=None, script="Latn",
                 parts: int = 2) -> Path:
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump({"data_root": str(SHARED.resolve()),
                                                      "languages": {lang: {"raw": "."}}}))
    cfg = {"language": lang, "script": script, "sources": [{"path": f"small/text/{lang}", "format": "text"}],
           "vocab": {"size": 1000, **(vocab_cfg or {})},
           "shard": {"max_seq_length": MAX, **(shard_cfg or {})}}
    (root / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    clean = root / "data" / lang / "clean"
    clean.mkdir(parents=True, exist_ok=True)
    for old in clean.glob("*.parquet"):
        old.unlink()
    texts = [t for _, t in docs]
    table = pa.table({
        "id": [doc_id(t) for t in texts], "text": texts, "source": [s for s, _ in docs],
        "lid_lang": [lang] * len(docs), "lid_score": pa.array([0.99] * len(docs), pa.float32()),
        "script_share": pa.array([1.0] * len(docs), pa.float32()),
        "n_chars": pa.array([len(t) for t in texts], pa.int32()),
    })
    step = -(-len(docs) // parts) if docs else 1
    for k in range(parts):
        pq.write_table(table.slice(k * step, step), clean / f"part-{k:05d}.parquet")
    (root / "data" / lang / "validation.json").write_text(json.dumps({"passed": True}))
    return root


def read_split(folder: Path, index: dict, split: str) -> list[tuple[list[int], list[int]]]:
    rows = []
    for name in index["splits"][split]["files"]:
        t = pq.read_table(folder / name)
        assert t.schema.field("input_ids").type == pa.list_(pa.int32())
        assert t.schema.field("token_type_ids").type == pa.list_(pa.int8())
        rows += list(zip(t.column("input_ids").to_pylist(), t.column("token_type_ids").to_pylist()))
    return rows


@pytest.fixture(scope="module")
def en_project(tmp_path_factory):
    docs = read_docs("en")
    root = make_project(tmp_path_factory.mktemp("shard_en"), "en", docs,
                        shard_cfg={"examples_per_shard": 300, "validation_fraction": 0.05})
    vocab_stage.run("en", root)
    summary = shard_stage.run("en", root)
    return root, docs, summary


def assert_well_formed(input_ids, type_ids, max_len=MAX):
    assert 3 <= len(input_ids) <= max_len and len(type_ids) == len(input_ids)
    assert input_ids[0] == 2 and input_ids[-1] == 3
    assert 0 not in input_ids                                    # no padding stored
    assert not {2, 4} & set(input_ids[1:])
    seps = [i for i, t in enumerate(input_ids) if t == 3]
    n_a = type_ids.count(0)
    assert type_ids == [0] * n_a + [1] * (len(type_ids) - n_a)
    if n_a == len(type_ids):                                     # single segment
        assert seps == [len(input_ids) - 1]
    else:                                                        # [CLS] A [SEP] | B [SEP]
        assert seps == [n_a - 1, len(input_ids) - 1] and n_a >= 3 and len(input_ids) - n_a >= 2


def test_examples_are_well_formed_and_index_matches(en_project):
    root, docs, summary = en_project
    folder = root / "data" / "en" / "shards"
    index = json.loads((folder / "index.json").read_text())
    assert {k: index[k] for k in ("max_seq_length", "vocab_size", "pad_id", "unk_id", "cls_id", "sep_id",
                                  "mask_id", "seed")} == \
        {"max_seq_length": MAX, "vocab_size": 1000, "pad_id": 0, "unk_id": 1, "cls_id": 2, "sep_id": 3,
         "mask_id": 4, "seed": 12345}
    assert index["padded"] is False
    listed = set(index["splits"]["train"]["files"]) | set(index["splits"]["validation"]["files"])
    assert listed | {"index.json"} == {p.name for p in folder.iterdir()}
    assert index["splits"]["train"]["files"][0] == "train-00000.parquet"
    assert len(index["splits"]["train"]["files"]) >= 3                   # 300 examples per shard
    for split in ("train", "validation"):
        rows = read_split(folder, index, split)
        info = index["splits"][split]
        assert len(rows) == info["examples"] > 0
        assert sum(len(r[0]) for r in rows) == info["tokens"]
        assert info["padding_fraction"] == pytest.approx(1 - info["tokens"] / (MAX * len(rows)), abs=1e-5)
        assert info["single_segment_examples"] == sum(1 not in t for _, t in rows)
        for ids, types in rows:
            assert_well_formed(ids, types)
        sizes = [pq.ParquetFile(folder / f).metadata.num_rows for f in info["files"]]
        assert all(s == 300 for s in sizes[:-1]) and 0 < sizes[-1] <= 300
    tr = index["splits"]["train"]
    assert tr["documents"] + index["splits"]["validation"]["documents"] == len(docs) == index["documents"]
    assert summary["train_examples"] == tr["examples"]
    # short lines, long paragraphs: some single-segment examples beyond the 10% draw, some short targets
    assert 0.05 < tr["single_segment_draws"] / tr["examples"] < 0.16
    assert tr["single_segment_examples"] >= tr["single_segment_draws"]
    assert tr["short_target_draws"] / tr["examples"] < 0.1


class SentenceIndex:
    """Which documents hold a sentence that a segment starts with (segments are whole sentences of
    one document, in document order; ELECTRA may put a later short sentence into A after B began)."""

    def __init__(self, sp, docs):
        self.by_first: dict[int, list[tuple[int, tuple]]] = {}
        for d, (_, text) in enumerate(docs):
            for line in sp.encode(text.split("\n")):
                for ids in split_long(line, MAX):  # long lines enter the builder as pieces
                    if ids:
                        self.by_first.setdefault(ids[0], []).append((d, tuple(ids[:MAX])))

    def owners(self, seg: list[int]) -> set[int]:
        seg = tuple(seg)
        return {d for d, s in self.by_first.get(seg[0], []) if seg[:len(s)] == s or s[:len(seg)] == seg}


def segments(ids, types):
    a = [t for t, y in zip(ids, types) if y == 0][1:-1]
    b = [t for t, y in zip(ids, types) if y == 1][:-1]
    return a, b


@pytest.fixture(scope="module")
def attributed(en_project):
    """(split, owners of A, owners of B) for every example of the en project."""
    root, docs, _ = en_project
    sp = spm.SentencePieceProcessor(model_file=str(root / "models" / "en" / "tokenizer" / "spm.model"))
    index_ = SentenceIndex(sp, docs)
    folder = root / "data" / "en" / "shards"
    index = json.loads((folder / "index.json").read_text())
    out = []
    for split in ("train", "validation"):
        for ids, types in read_split(folder, index, split):
            a, b = segments(ids, types)
            out.append((split, index_.owners(a), index_.owners(b) if b else None))
    return out


def test_segments_are_sentences_of_one_document(attributed):
    for split, own_a, own_b in attributed:
        assert own_a, "segment A does not start with a sentence of the corpus"
        if own_b is not None:
            assert own_a & own_b, "segments A and B come from different documents"


def test_validation_is_disjoint_from_train_at_document_level(en_project, attributed):
    _, docs, _ = en_project
    seen: dict[int, set[str]] = {}
    for split, own_a, own_b in attributed:
        owners = own_a & own_b if own_b is not None else own_a
        if len(owners) == 1:                      # unambiguous: attribute it to its document
            seen.setdefault(next(iter(owners)), set()).add(split)
    both = [d for d, s in seen.items() if len(s) > 1]
    assert not both, f"documents in both splits: {both}"
    val_docs = {d for d, s in seen.items() if s == {"validation"}}
    assert len(val_docs) >= 1 and len(seen) > 200
    # the assignment is a hash of the document id: independent of order and seed
    expected = {d for d, (_, t) in enumerate(docs) if doc_hash(doc_id(t)) < 0.05}
    assert val_docs <= expected


def test_rerun_is_byte_identical(en_project):
    root, _, _ = en_project
    folder = root / "data" / "en" / "shards"
    before = {p.name: p.read_bytes() for p in folder.iterdir()}
    shard_stage.run("en", root)
    assert before == {p.name: p.read_bytes() for p in folder.iterdir()}
    # another seed: other examples, same validation documents
    cfg_path = root / "corpora" / "en.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["shard"]["seed"] = 99
    cfg_path.write_text(yaml.safe_dump(cfg))
    try:
        shard_stage.run("en", root)
        index = json.loads((folder / "index.json").read_text())
        old = json.loads(before["index.json"])
        assert index["seed"] == 99
        assert before["train-00000.parquet"] != (folder / "train-00000.parquet").read_bytes()
        assert index["splits"]["validation"]["documents"] == old["splits"]["validation"]["documents"]
    finally:
        cfg["shard"]["seed"] = 12345
        cfg_path.write_text(yaml.safe_dump(cfg))
        shard_stage.run("en", root)


LATIN = re.compile(r"[A-Za-z]")
ARABIC = re.compile(r"[\u0600-\u06FF]")


def test_examples_never_mix_two_documents_real_text(tmp_path):
    """Alternate pure-Latin English and pure-Arabic documents: an example that crossed a
    document end would hold letters of both scripts."""
    en = [d for d in read_docs("en") if not re.search(r"[^\x00-\x7f]", d[1])][:120]
    ar = [d for d in read_docs("ar") if not LATIN.search(d[1])][:120]
    mixed = [d for pair in zip(en, ar) for d in pair]
    assert len(mixed) >= 150
    root = make_project(tmp_path, "xx", mixed, vocab_cfg={"size": 1500}, shard_cfg={"max_seq_length": 48})
    vocab_stage.run("xx", root)
    shard_stage.run("xx", root)
    sp = spm.SentencePieceProcessor(model_file=str(root / "models" / "xx" / "tokenizer" / "spm.model"))
    folder = root / "data" / "xx" / "shards"
    index = json.loads((folder / "index.json").read_text())
    n = 0
    for split in ("train", "validation"):
        for ids, types in read_split(folder, index, split):
            assert_well_formed(ids, types, 48)
            text = sp.decode([t for t in ids if t > 4])  # byte pieces (<0xE2>...) back to their characters
            assert not (LATIN.search(text) and ARABIC.search(text)), text
            n += 1
    assert n > 500


# --------------------------------------------------------------------------------------------
# the builder itself, on synthetic token ids (document d uses ids d*1000 + 10 ...)
# --------------------------------------------------------------------------------------------

def synthetic_docs(n_docs: int, seed: int = 0, long_every: int = 0):
    rng = random.Random(seed)
    docs = []
    for d in range(n_docs):
        sents = []
        for k in range(rng.randint(1, 60)):
            length = rng.randint(1, 14)
            if long_every and k % long_every == 0:
                length = rng.randint(60, 200)           # overlong sentences get truncated
            sents.append([d * 1000 + 10 + rng.randint(0, 900) for _ in range(length)])
        docs.append(sents)
    return docs


class ElectraReference:
    """ELECTRA's ExampleBuilder (build_pretraining_dataset.py), transcribed with a given RNG and
    pre-tokenized sentences instead of text lines."""

    def __init__(self, max_length, rng):
        self._rng = rng
        self._current_sentences, self._current_length = [], 0
        self._max_length = self._target_length = max_length

    def add_line(self, bert_tokids):
        if (not bert_tokids) and self._current_length != 0:    # empty lines separate docs
            return self._create_example()
        if not bert_tokids:
            return None
        self._current_sentences.append(bert_tokids)
        self._current_length += len(bert_tokids)
        if self._current_length >= self._target_length:
            return self._create_example()
        return None

    def _create_example(self):
        if self._rng.random() < 0.1:
            first_segment_target_length = 100000
        else:
            first_segment_target_length = (self._target_length - 3) // 2
        first_segment, second_segment = [], []
        for sentence in self._current_sentences:
            if (len(first_segment) == 0 or
                    len(first_segment) + len(sentence) < first_segment_target_length or
                    (len(second_segment) == 0 and
                     len(first_segment) < first_segment_target_length and
                     self._rng.random() < 0.5)):
                first_segment += sentence
            else:
                second_segment += sentence
        first_segment = first_segment[:self._max_length - 2]
        second_segment = second_segment[:max(0, self._max_length - len(first_segment) - 3)]
        self._current_sentences, self._current_length = [], 0
        if self._rng.random() < 0.05:
            self._target_length = self._rng.randint(5, self._max_length)
        else:
            self._target_length = self._max_length
        input_ids = [2] + first_segment + [3]
        segment_ids = [0] * len(input_ids)
        if second_segment:
            input_ids += second_segment + [3]
            segment_ids += [1] * (len(second_segment) + 1)
        return input_ids, segment_ids


def _build(builder_add, builder_end, docs):
    out = []
    for d, sents in enumerate(docs):
        for s in sents:
            ex = builder_add(s)
            if ex:
                out.append((d, ex))
        ex = builder_end()
        if ex:
            out.append((d, ex))
    return out


def test_builder_equals_electra_reference():
    docs = synthetic_docs(300, seed=1, long_every=7)
    ours = ExampleBuilder(MAX, random.Random(5))
    ref = ElectraReference(MAX, random.Random(5))
    a = _build(ours.add_sentence, ours.end_document, docs)
    b = _build(ref.add_line, lambda: ref.add_line([]), docs)
    assert a == b and len(a) > 1000
    assert ours.stats.sentences_truncated > 0


def test_builder_segment_statistics_and_document_boundaries():
    # long documents of short sentences: single-segment and short examples come from the draws
    rng = random.Random(2)
    docs = [[[d * 1000 + 10 + rng.randint(0, 900) for _ in range(rng.randint(2, 10))] for _ in range(300)]
            for d in range(100)]
    b = ExampleBuilder(MAX, random.Random(0), single_segment_prob=0.1, short_seq_prob=0.05)
    out = _build(b.add_sentence, b.end_document, docs)
    n = len(out)
    assert n >= 2000
    for d, (ids, types) in out:
        assert_well_formed(ids, types)
        content = [t for t in ids if t >= 10]
        assert {t // 1000 for t in content} == {d}, "example mixes documents"
    st = b.stats
    assert st.examples == n
    assert abs(st.single_segment_draws / n - 0.10) < 0.025
    assert abs(st.short_target_draws / n - 0.05) < 0.02
    # single-segment examples: the draw plus document ends with one sentence left
    assert abs(st.single_segment / n - 0.10) < 0.04
    short = sum(len(ids) < MAX - 14 for _, (ids, _) in out)     # short targets make short examples
    assert 0.01 < short / n < 0.09


def test_carry_keeps_every_token_that_truncation_drops():
    from collections import Counter
    docs = [[p for s in d for p in split_long(s, MAX)] for d in synthetic_docs(300, seed=3, long_every=9)]
    runs = {}
    for carry in (False, True):
        b = ExampleBuilder(MAX, random.Random(0), carry=carry)
        runs[carry] = (b.stats, _build(b.add_sentence, b.end_document, docs))
    (faithful, _), (carried, out) = runs[False], runs[True]
    assert faithful.content_tokens_in == carried.content_tokens_in
    assert faithful.content_tokens_out / faithful.content_tokens_in < 0.95     # ELECTRA's builder loses tails
    assert carried.content_tokens_out == carried.content_tokens_in           # carrying loses nothing
    per_doc: dict[int, Counter] = {}
    for d, (ids, types) in out:
        assert_well_formed(ids, types)
        per_doc.setdefault(d, Counter()).update(t for t in ids if t >= 10)
    assert all(per_doc[d] == Counter(t for s in sents for t in s) for d, sents in enumerate(docs) if sents)


def test_overflow_carry_on_real_text(tmp_path, en_spm, en_project):
    _, docs, _ = en_project
    folder = tmp_path / "data" / "en" / "shards"
    indexes, kept = {}, {}
    for overflow in ("truncate", "carry"):
        root = make_project(tmp_path, "en", docs, shard_cfg={"examples_per_shard": 300, "overflow": overflow})
        _with_tokenizer(root, en_spm)
        shard_stage.run("en", root)
        indexes[overflow] = index = json.loads((folder / "index.json").read_text())
        kept[overflow] = 0
        for ids, types in read_split(folder, index, "train"):
            assert_well_formed(ids, types)
            kept[overflow] += len(ids) - ids.count(2) - ids.count(3)
    truncate, carry = indexes["truncate"], indexes["carry"]
    assert "overflow" not in truncate and carry["overflow"] == "carry"   # the default's index is as before
    assert truncate["splits"]["train"]["tokens_dropped"] > 0 == carry["splits"]["train"]["tokens_dropped"]
    assert kept["carry"] == kept["truncate"] + truncate["splits"]["train"]["tokens_dropped"]


# --------------------------------------------------------------------------------------------
# small corpora and errors
# --------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def en_spm(en_project):
    return en_project[0] / "models" / "en" / "tokenizer"


def _with_tokenizer(root: Path, tok_dir: Path, lang: str = "en") -> None:
    dest = root / "models" / lang / "tokenizer"
    dest.mkdir(parents=True, exist_ok=True)
    (dest / "spm.model").write_bytes((tok_dir / "spm.model").read_bytes())


def test_tiny_corpus_still_gets_one_validation_document(tmp_path, en_spm):
    docs = read_docs("en")[:3]
    root = make_project(tmp_path, "en", docs, shard_cfg={"validation_fraction": 0.001}, parts=1)
    _with_tokenizer(root, en_spm)
    summary = shard_stage.run("en", root)
    index = json.loads((root / "data" / "en" / "shards" / "index.json").read_text())
    assert index["splits"]["validation"]["documents"] == 1 and index["splits"]["train"]["documents"] == 2
    assert index["validation_note"] and "note" in summary
    assert index["splits"]["validation"]["examples"] >= 1


def test_single_document_has_empty_validation(tmp_path, en_spm):
    root = make_project(tmp_path, "en", read_docs("en")[:1], parts=1)
    _with_tokenizer(root, en_spm)
    shard_stage.run("en", root)
    folder = root / "data" / "en" / "shards"
    index = json.loads((folder / "index.json").read_text())
    assert index["splits"]["train"]["examples"] >= 1
    val = index["splits"]["validation"]
    assert val["examples"] == 0 and val["files"] == ["validation-00000.parquet"]
    assert pq.read_table(folder / "validation-00000.parquet").num_rows == 0
    assert "too little data" in index["validation_note"]


def test_no_training_example_is_a_stage_error(tmp_path, en_spm):
    root = make_project(tmp_path, "en", [("a.txt", " \n  \n"), ("b.txt", "")], parts=1)
    _with_tokenizer(root, en_spm)
    with pytest.raises(StageError, match="no training example"):
        shard_stage.run("en", root)
    assert not (root / "data" / "en" / "shards").exists()


def test_missing_tokenizer_is_a_stage_error(tmp_path):
    root = make_project(tmp_path, "en", read_docs("en")[:5], parts=1)
    with pytest.raises(StageError, match=r"models/en/tokenizer/spm\.model"):
        shard_stage.run("en", root)


def test_long_lines_are_cut_into_pieces_not_truncated():
    line = list(range(10, 10 + 300))
    pieces = split_long(line, 64)
    assert [len(p) for p in pieces] == [30] * 10
    assert [t for p in pieces for t in p] == line  # nothing lost
    assert split_long(line[:61], 64) == [line[:61]]
