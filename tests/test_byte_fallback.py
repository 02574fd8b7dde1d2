"""No character becomes [UNK]: every shipped language's vocabulary, trained by the vocab stage as its config says
(vocab.byte_fallback on by default), spells what it lacks in UTF-8 byte pieces, in SentencePiece and in the
exported Hugging Face tokenizer alike.

Real text for each of the 11 shipped languages: the stage trains on ../shared/data/small/text/<lang> and holds
documents out; the unknown rate is measured on those held-out documents (vocab_stats.json), on independent web
sentences of the language (langid/lingua_sentences, never seen in training) and on common symbols.
"""
from __future__ import annotations

import json

import pytest
import sentencepiece as spm
import yaml

from pipeline.stages import vocab as vocab_stage
from tests.conftest import REPO, require_shared
from tests.test_vocab import make_project, read_docs

SHIPPED = sorted(p.stem for p in (REPO / "corpora").glob("*.yaml") if p.stem != "demo")
# what the ~250 KB samples of small/text support (the shipped 8000 needs the full corpus); Han and kana
# and Hangul need room for their characters
SAMPLE_SIZE = {"zh": 3000, "ja": 2500, "ko": 2500}
SYMBOLS = ["😀 👍🏽 🇰🇪 ❤️ 🚀", "— – … « » „ “ ” ‘ ’ ‹ › ¿ ¡ § ¶ † ‡ • ° ± × ÷ ≠ ≤ ≥ ∞ √ ∑ ∫",
           "€ £ ¥ ₹ ₩ ₺ ₽ $ ¢ © ® ™ ‰ µ", "【注意】「テスト」『括弧』〜・ 。、", "→ ← ↑ ↓ ⇒ ★ ☆ ✓ ✗ ♪ ☺",
           "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 𐍈 𓀀 ꙮ", "math: ∀x∈ℝ, x²≥0; ½ ¼ ¾"]


def _shipped_vocab(lang: str) -> tuple[str, dict]:
    cfg = yaml.safe_load((REPO / "corpora" / f"{lang}.yaml").read_text(encoding="utf-8"))
    v = dict(cfg.get("vocab") or {})
    v["size"] = min(int(v.get("size", 8000)), SAMPLE_SIZE.get(lang, 1500))
    return cfg["script"], v


def _lingua(lang: str) -> list[str]:
    path = require_shared("langid", "lingua_sentences", f"{lang}.txt")
    return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.mark.parametrize("lang", SHIPPED)
def test_no_character_maps_to_unk(tmp_path, lang):
    from transformers import AutoTokenizer

    require_shared("small", "text", lang)
    script, vcfg = _shipped_vocab(lang)
    assert vcfg.get("byte_fallback", True), f"corpora/{lang}.yaml turns vocab.byte_fallback off"
    root = make_project(tmp_path, lang, read_docs(lang), vocab_cfg=vcfg, script=script)
    summary = vocab_stage.run(lang, root)
    folder = root / "models" / lang / "tokenizer"
    stats = json.loads((folder / "vocab_stats.json").read_text(encoding="utf-8"))
    assert stats["pieces"]["byte"] == 256 and stats["training"]["byte_fallback"] is True
    held = stats["held_out"]
    assert held["lines"] > 0 and held["unk_tokens"] == 0 and summary["unk_rate"] == 0

    sp = spm.SentencePieceProcessor(model_file=str(folder / "spm.model"))
    tok = AutoTokenizer.from_pretrained(str(folder))
    texts = _lingua(lang) + SYMBOLS
    ref = sp.encode(texts)
    got = tok(texts, add_special_tokens=False)["input_ids"]
    unk = [t for t, ids in zip(texts, ref) if sp.unk_id() in ids] + \
          [t for t, ids in zip(texts, got) if tok.unk_token_id in ids]
    assert not unk, f"{len(unk)} lines with [UNK], first: {unk[0]!r}"
    # the fast tokenizer keeps the byte fallback: same ids as SentencePiece, and the bytes decode back
    diff = [(t, r, g) for t, r, g in zip(texts, ref, got) if r != g]
    assert not diff, f"{len(diff)} of {len(texts)} differ, first: {diff[0]}"
    assert any(sp.is_byte(i) for ids in ref[-len(SYMBOLS):] for i in ids)  # the fallback did fire
    for t, ids in zip(SYMBOLS, got[-len(SYMBOLS):]):
        assert tok.decode(ids) == sp.decode(ids), t


def test_off_switch_gives_unk_back(tmp_path):
    """vocab.byte_fallback: false is the old behaviour (no byte pieces; an unseen emoji is [UNK])."""
    from transformers import AutoTokenizer

    require_shared("small", "text", "en")
    root = make_project(tmp_path, "en", read_docs("en")[:400], vocab_cfg={"size": 800, "byte_fallback": False})
    vocab_stage.run("en", root)
    folder = root / "models" / "en" / "tokenizer"
    stats = json.loads((folder / "vocab_stats.json").read_text(encoding="utf-8"))
    assert stats["pieces"]["byte"] == 0
    tok = AutoTokenizer.from_pretrained(str(folder))
    assert tok.unk_token_id in tok("🚀", add_special_tokens=False)["input_ids"]
