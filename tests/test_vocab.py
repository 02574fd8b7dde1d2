"""Vocab stage: SentencePiece training on real text, HF fast-tokenizer export, refusals."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import sentencepiece as spm
import yaml

from pipeline.tokenizer.corpus import choose_documents
from pipeline.stages import vocab as vocab_stage
from pipeline.errors import StageError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

SHARED = Path(os.environ.get("FOUNDRY_DATA_ROOT", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
TEXT = SHARED / "small" / "text"


def _need_text(lang: str) -> Path:
    folder = TEXT / lang
    if not any(folder.glob("*.txt")):
        if os.environ.get("CI") == "true":
            pytest.fail(f"real text missing: {folder} (set FOUNDRY_DATA_ROOT)")
        pytest.skip(f"real text not available at {folder} (set FOUNDRY_DATA_ROOT)")
    return folder


def read_docs(lang: str) -> list[tuple[str, str]]:
    """(source file, document text) from the real text: blank lines separate documents."""
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


def make_project(root: Path, lang: str, docs, vocab_cfg: dict | None = None, shard_cfg: dict | None = None,
                 passed: bool | None = True, script: str = "Latn") -> Path:
    (root / "corpora").mkdir(parents=True, exist_ok=True)
    (root / "params.yaml").write_text(yaml.safe_dump({"data_root": str(SHARED.resolve()),
                                                      "languages": {lang: {"raw": "."}}}))
    cfg = {"language": lang, "script": script,
           "sources": [{"path": f"small/text/{lang}", "format": "text"}],
           "vocab": {"size": 1000, **(vocab_cfg or {})},
           "shard": {"max_seq_length": 64, **(shard_cfg or {})}}
    (root / "corpora" / f"{lang}.yaml").write_text(yaml.safe_dump(cfg, allow_unicode=True))
    clean = root / "data" / lang / "clean"
    clean.mkdir(parents=True, exist_ok=True)
    texts = [t for _, t in docs]
    table = pa.table({
        "id": [hashlib.sha1(t.encode()).hexdigest()[:16] for t in texts],
        "text": texts,
        "source": [s for s, _ in docs],
        "lid_lang": [lang] * len(docs),
        "lid_score": pa.array([0.99] * len(docs), pa.float32()),
        "script_share": pa.array([1.0] * len(docs), pa.float32()),
        "n_chars": pa.array([len(t) for t in texts], pa.int32()),
    })
    half = len(docs) // 2          # two parts, as the clean stage writes them
    pq.write_table(table.slice(0, half), clean / "part-00000.parquet")
    pq.write_table(table.slice(half), clean / "part-00001.parquet")
    if passed is not None:
        (root / "data" / lang / "validation.json").write_text(json.dumps(
            {"passed": passed, "expectations": [{"name": "min_documents", "passed": passed}]}))
    return root


# one trained tokenizer per (language, model type), shared by the tests of this module
LANGS = {  # lang: (script, vocab settings that the small sample supports)
    "en": ("Latn", {"size": 1000}),
    "zh": ("Hani", {"size": 3000, "character_coverage": 0.995}),
    "ar": ("Arab", {"size": 1000}),
    "ko": ("Hang", {"size": 2000}),  # 1647 Hangul characters at coverage 0.9995, beside 256 byte pieces
    "hi": ("Deva", {"size": 1000}),
}


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    cache: dict = {}

    def get(lang: str, model_type: str = "unigram"):
        key = (lang, model_type)
        if key not in cache:
            script, vcfg = LANGS[lang]
            docs = read_docs(lang)
            root = make_project(tmp_path_factory.mktemp(f"{lang}_{model_type}"), lang, docs,
                                vocab_cfg={**vcfg, "model_type": model_type}, script=script)
            summary = vocab_stage.run(lang, root)
            cache[key] = (root, docs, summary)
        return cache[key]
    return get


def _lines(docs) -> list[str]:
    return [line for _, t in docs for line in t.split("\n")]


TRICKY = ["  leading  and   trailing  ", "tab\tinside", "\u3000全角　スペース", "ｆｕｌｌｗｉｄｔｈ ①② ﬁ",
          "no\u00a0break space", "😀😀 x 😀", "zero\u200bwidth", "e\u0301 combining", "   ", "",
          "digits 1234567890 3.14", "ALL CAPS and MiXeD", "ميم٣ ١٢٣", "हिन्दी।", "한국어 텍스트"]


@pytest.mark.parametrize("lang", list(LANGS))
def test_fast_tokenizer_ids_equal_sentencepiece(trained, lang):
    from transformers import AutoTokenizer

    root, docs, _ = trained(lang)
    folder = root / "models" / lang / "tokenizer"
    sp = spm.SentencePieceProcessor(model_file=str(folder / "spm.model"))
    tok = AutoTokenizer.from_pretrained(str(folder))
    lines = _lines(docs)
    assert len(lines) >= 200
    texts = lines + TRICKY
    ref = sp.encode(texts)
    got = tok(texts, add_special_tokens=False)["input_ids"]
    mismatches = [(t, r, g) for t, r, g in zip(texts, ref, got) if r != g]
    assert not mismatches, f"{len(mismatches)} of {len(texts)} differ, first: {mismatches[0]}"
    # with special tokens: [CLS] ids [SEP]
    one = tok(lines[0])
    assert one["input_ids"] == [2] + ref[0] + [3]
    assert one["token_type_ids"] == [0] * (len(ref[0]) + 2)


@pytest.mark.parametrize("lang", ["en", "ko"])
def test_bpe_export_matches_too(trained, lang):
    from transformers import AutoTokenizer

    root, docs, summary = trained(lang, "bpe")
    assert summary["model_type"] == "bpe"
    folder = root / "models" / lang / "tokenizer"
    sp = spm.SentencePieceProcessor(model_file=str(folder / "spm.model"))
    tok = AutoTokenizer.from_pretrained(str(folder))
    texts = _lines(docs)[:800] + TRICKY
    got = tok(texts, add_special_tokens=False)["input_ids"]
    bad = [t for t, r, g in zip(texts, sp.encode(texts), got) if r != g]
    assert not bad, f"{len(bad)} differ, e.g. {bad[:2]}"


def test_special_tokens_pairs_and_type_ids(trained):
    from transformers import AutoTokenizer

    root, docs, _ = trained("en")
    folder = root / "models" / "en" / "tokenizer"
    sp = spm.SentencePieceProcessor(model_file=str(folder / "spm.model"))
    assert [sp.id_to_piece(i) for i in range(5)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert sp.pad_id() == 0 and sp.unk_id() == 1 and sp.bos_id() == -1 and sp.eos_id() == -1
    # control symbols never come out of raw text in SentencePiece
    assert not {2, 3, 4} & set(sp.encode("[CLS] [SEP] [MASK] " + _lines(docs)[3]))

    tok = AutoTokenizer.from_pretrained(str(folder))
    assert (tok.pad_token_id, tok.unk_token_id, tok.cls_token_id, tok.sep_token_id, tok.mask_token_id) == \
        (0, 1, 2, 3, 4)
    assert tok.model_input_names == ["input_ids", "token_type_ids", "attention_mask"]
    a, b = _lines(docs)[:2]
    ia, ib = sp.encode(a), sp.encode(b)
    enc = tok(a, b)
    assert enc["input_ids"] == [2] + ia + [3] + ib + [3]
    assert enc["token_type_ids"] == [0] * (len(ia) + 2) + [1] * (len(ib) + 1)
    assert enc["attention_mask"] == [1] * (len(ia) + len(ib) + 3)
    batch = tok([a, "short"], padding=True)
    assert batch["input_ids"][1][-1] == 0 and batch["attention_mask"][1][-1] == 0
    # [MASK] typed in text is the mask token for the HF tokenizer (fill-mask needs that)
    assert tok("a [MASK] b", add_special_tokens=False)["input_ids"].count(4) == 1

    cfg = json.loads((folder / "tokenizer_config.json").read_text())
    assert cfg["tokenizer_class"] == "PreTrainedTokenizerFast" and cfg["model_max_length"] == 512
    stm = json.loads((folder / "special_tokens_map.json").read_text())
    assert stm["mask_token"] == "[MASK]" and stm["pad_token"] == "[PAD]"
    assert (folder / "spm.vocab").read_text(encoding="utf-8").splitlines()[4].startswith("[MASK]\t")


def test_vocab_stats(trained):
    root, _, summary = trained("en")
    stats = json.loads((root / "models" / "en" / "tokenizer" / "vocab_stats.json").read_text())
    assert stats["vocab_size"] == 1000 == summary["vocab_size"]
    assert stats["pieces"]["control"] == 4 and stats["pieces"]["unknown"] == 1
    held = stats["held_out"]
    assert stats["training"]["documents_held_out"] >= 1 and held["lines"] > 0
    assert 1.0 < held["tokens_per_word"] < 4.0
    assert 0 < held["tokens_per_char"] < 1
    assert 0 <= held["unk_rate"] < 0.05
    assert stats["training"]["documents_sampled"] + stats["training"]["documents_held_out"] \
        == stats["training"]["documents_total"]


def test_rerun_is_byte_identical_and_sampling_is_seeded(tmp_path):
    docs = read_docs("en")
    root = make_project(tmp_path / "p", "en", docs, vocab_cfg={"sample_documents": 150})
    folder = root / "models" / "en" / "tokenizer"
    vocab_stage.run("en", root)
    first = {p.name: p.read_bytes() for p in folder.iterdir()}
    vocab_stage.run("en", root)
    second = {p.name: p.read_bytes() for p in folder.iterdir()}
    assert set(first) == {"spm.model", "spm.vocab", "tokenizer.json", "tokenizer_config.json",
                          "special_tokens_map.json", "vocab_stats.json"}
    assert first == second
    # another seed samples other documents -> another model
    make_project(root, "en", docs, vocab_cfg={"sample_documents": 150, "seed": 7})
    vocab_stage.run("en", root)
    assert folder.joinpath("spm.model").read_bytes() != first["spm.model"]
    assert json.loads(folder.joinpath("vocab_stats.json").read_text())["training"]["documents_sampled"] == 150
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]   # no temp folders left


def test_refuses_when_validation_missing_or_failed(tmp_path):
    docs = read_docs("en")[:60]
    root = make_project(tmp_path, "en", docs, passed=None)
    with pytest.raises(StageError, match=r"data/en/validation\.json"):
        vocab_stage.run("en", root)
    make_project(root, "en", docs, passed=False)
    with pytest.raises(StageError, match=r"data/en/validation\.json.*did not pass.*min_documents"):
        vocab_stage.run("en", root)
    assert not (root / "models" / "en" / "tokenizer").exists()


def test_too_large_vocab_names_the_key_and_the_limit(tmp_path):
    docs = read_docs("en")[:60]
    root = make_project(tmp_path, "en", docs, vocab_cfg={"size": 50_000})
    with pytest.raises(StageError) as e:
        vocab_stage.run("en", root)
    msg = str(e.value)
    assert "corpora/en.yaml" in msg and "vocab.size" in msg and "50000" in msg
    assert "at most" in msg
    assert not (root / "models" / "en" / "tokenizer").exists()


def test_vocab_smaller_than_alphabet_is_a_stage_error(tmp_path):
    docs = read_docs("zh")[:80]
    root = make_project(tmp_path, "zh", docs, vocab_cfg={"size": 100, "character_coverage": 1.0}, script="Hani")
    with pytest.raises(StageError, match=r"corpora/zh\.yaml: vocab\.size is 100.*character_coverage"):
        vocab_stage.run("zh", root)


def test_choose_documents_is_deterministic_and_disjoint():
    a = choose_documents(1000, 300, seed=3)
    assert a == choose_documents(1000, 300, seed=3)
    train, held = a
    assert len(train) == 300 and len(held) == 20 and not set(train) & set(held)
    assert train == sorted(train)
    assert choose_documents(1, 10, 0) == ([0], [])


def test_sample_chars_caps_the_text_fed_to_sentencepiece(tmp_path):
    """`vocab.sample_chars` bounds the characters trained on (SentencePiece's memory grows ~20 bytes a character:
    benchmarks/corpus_scale.py): a seeded random subset of the sampled documents, reaching the cap by at most one
    document; under the cap the sample, and so the tokenizer, is what it was without it."""
    from pipeline.tokenizer.corpus import within_chars

    chars = [100 + (i * 37) % 900 for i in range(2000)]
    rows = list(range(0, 2000, 2))
    assert within_chars(rows, chars, 10 ** 9, seed=0) is rows
    capped = within_chars(rows, chars, 50_000, seed=0)
    assert capped == sorted(capped) and set(capped) < set(rows) and capped == within_chars(rows, chars, 50_000, 0)
    assert 50_000 <= sum(chars[r] for r in capped) < 50_000 + max(chars)
    assert capped[-1] > 1500 and capped[0] < 500          # spread over the corpus, not its start
    assert within_chars(rows, chars, 50_000, seed=1) != capped

    docs = read_docs("en")
    total = sum(len(t) for _, t in docs)
    root = make_project(tmp_path / "p", "en", docs)
    out = vocab_stage.run("en", root)
    assert out["characters_sampled"] == total - sum(len(docs[r][1]) for r in choose_documents(len(docs), 200_000, 0)[1])
    uncapped = (root / "models" / "en" / "tokenizer" / "spm.model").read_bytes()
    make_project(root, "en", docs, vocab_cfg={"sample_chars": total})              # above the sample: no change
    vocab_stage.run("en", root)
    assert (root / "models" / "en" / "tokenizer" / "spm.model").read_bytes() == uncapped
    make_project(root, "en", docs, vocab_cfg={"sample_chars": total // 4})
    out = vocab_stage.run("en", root)
    assert total // 4 <= out["characters_sampled"] < total // 4 + max(len(t) for _, t in docs)
    assert out["documents_sampled"] < len(docs) // 3
