"""Language configuration: every shipped config is valid; bad configs name the file, key and what is allowed."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from pipeline.config import SECTIONS, ConfigError, languages, load_language, parse_language, resolve_sources
from pipeline.scaffold import new_language
from tests.conftest import REPO, require_shared

SHIPPED = ["demo", "en", "de", "fi", "tr", "ru", "ar", "hi", "zh", "ja", "ko", "sw"]


def test_every_registered_language_has_a_valid_config():
    assert languages(REPO) == SHIPPED
    for lang in SHIPPED:
        cfg = load_language(lang, REPO)
        assert cfg.language == lang
        assert cfg.evaluate.tasks, f"{lang} has no evaluation task"


def test_shipped_sources_resolve_to_real_files():
    require_shared("text")
    for lang in SHIPPED:
        files = resolve_sources(load_language(lang, REPO), REPO)
        assert files and all(p.is_file() for _, p in files)


def test_shipped_text_sources_read_as_new_language_would():
    """Each shipped text file's `documents` setting is the one `foundry new-language` decides from its lines (a
    sentence-per-line news file read as blank-line blocks would be a few 100,000-character documents)."""
    require_shared("text")
    from pipeline.onboard.detect import classify

    for lang in SHIPPED:
        for source, path in resolve_sources(load_language(lang, REPO), REPO):
            if source.format == "text":
                settings, why = classify(path)
                assert settings.get("documents", "blank_line") == source.model_dump()["documents"], (lang, path, why)


def _write(tmp_path: Path, text: str, name="xx") -> Path:
    """Write a config; sections the text does not set are added empty (their defaults)."""
    present = set((yaml.safe_load(text) or {}) if not text.count("[1, 2") else {})
    text += "".join(f"{k}: {{}}\n" for k in SECTIONS if k not in present and k not in ("language", "script", "sources"))
    (tmp_path / "corpora").mkdir(exist_ok=True)
    p = tmp_path / "corpora" / f"{name}.yaml"
    p.write_text(text, encoding="utf-8")
    return p


BASE = "language: xx\nscript: Latn\nsources:\n  - path: a.txt\n"


def test_invalid_yaml_names_file_and_line(tmp_path):
    p = _write(tmp_path, BASE + "vocab:\n  size: [1, 2\n")
    with pytest.raises(ConfigError, match=r"xx\.yaml: line \d+, column \d+ invalid YAML"):
        parse_language(p)


def test_unknown_key_is_named(tmp_path):
    p = _write(tmp_path, BASE + "vocab:\n  sise: 100\n")
    with pytest.raises(ConfigError) as e:
        parse_language(p)
    assert "xx.yaml" in str(e.value) and "vocab.sise: unknown key" in str(e.value)


def test_bad_value_says_what_is_allowed(tmp_path):
    p = _write(tmp_path, BASE + "model:\n  size: huge\n")
    with pytest.raises(ConfigError) as e:
        parse_language(p)
    msg = str(e.value)
    assert "model.size" in msg and "'tiny'" in msg and "'large'" in msg and "huge" in msg


@pytest.mark.parametrize("body, key", [
    ("vocab:\n  size: 5\n", "vocab.size"),
    ("clean:\n  min_chars: 50\n  max_chars: 10\n", "clean"),
    ("clean:\n  lid:\n    min_score: 1.5\n", "clean.lid.min_score"),
    ("script: Klingon\n", "script"),
])
def test_nonsense_thresholds_rejected(tmp_path, body, key):
    text = BASE.replace("script: Latn\n", "") if body.startswith("script") else BASE
    p = _write(tmp_path, text + body)
    with pytest.raises(ConfigError, match=key.replace(".", r"\.")):
        parse_language(p)


def test_missing_required_key(tmp_path):
    p = _write(tmp_path, "language: xx\nscript: Latn\n")
    with pytest.raises(ConfigError, match="sources: required key is missing"):
        parse_language(p)


def test_missing_section_is_named(tmp_path):
    p = tmp_path / "xx.yaml"
    p.write_text(BASE + "vocab: {}\n")
    parse_language(p)  # the stage functions take defaults
    with pytest.raises(ConfigError, match=r"xx.yaml: section\(s\) clean, validate, review, shard, model, pretrain, "
                                          r"evaluate missing .* `clean: \{\}`"):
        parse_language(p, strict=True)


def test_file_name_must_match_language(tmp_path):
    p = _write(tmp_path, BASE.replace("xx", "yy"))
    with pytest.raises(ConfigError, match="named for 'xx'"):
        parse_language(p)


def test_unknown_language_lists_known_ones(tmp_path):
    _write(tmp_path, BASE)
    with pytest.raises(ConfigError, match="no configuration for language 'qq'; known: xx"):
        load_language("qq", tmp_path)


def test_missing_source_names_config_and_pattern(tmp_path):
    _write(tmp_path, BASE)
    (tmp_path / "params.yaml").write_text(f"data_root: {tmp_path}\nlanguages:\n  xx: {{raw: .}}\n")
    with pytest.raises(ConfigError, match=r"corpora/xx.yaml: sources\[0\]\.path 'a.txt' matches no file"):
        resolve_sources(load_language("xx", tmp_path), tmp_path)


def test_new_language_scaffold_is_script_aware(tmp_path):
    (tmp_path / "params.yaml").write_text("data_root: ../shared/data\nlanguages:\n  en: {raw: x, eval: y}\n")
    src = tmp_path / "raw"
    src.mkdir()
    (src / "a.txt").write_text("Habari ya leo.\n")
    p = new_language(tmp_path, "yo", sources=[str(src)])
    cfg = parse_language(p)
    assert cfg.script == "Latn" and cfg.vocab.character_coverage == 1.0 and cfg.clean.min_chars == 100
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    assert list(params["languages"]) == ["en", "yo"] and params["languages"]["yo"]["raw"] == str(src)
    assert [str(p) for _, p in resolve_sources(cfg, tmp_path)] == [str(src / "a.txt")]
    zh = parse_language(new_language(tmp_path, "zh"))
    assert zh.script == "Hani" and zh.clean.min_chars == 30 and zh.vocab.character_coverage == 0.9995
    with pytest.raises(ConfigError, match="already exists"):
        new_language(tmp_path, "zh")
    with pytest.raises(ConfigError, match="no default script"):
        new_language(tmp_path, "xqz")


def test_cli_bad_config_is_one_clear_line(tmp_path):
    _write(tmp_path, BASE + "vocab:\n  size: lots\n")
    (tmp_path / "params.yaml").write_text("languages:\n  xx: {raw: ., eval: .}\n")
    out = subprocess.run([sys.executable, "-m", "pipeline", "vocab", "xx"], cwd=tmp_path,
                         capture_output=True, text=True, env={**__import__("os").environ, "FOUNDRY_PROJECT": str(tmp_path)})
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
    assert "xx.yaml" in out.stderr and "vocab.size" in out.stderr


def test_keys_dvc_tracks_by_name_must_be_written(tmp_path):
    """dvc.yaml declares vocab.size / model.size by name (DVC's run cache drops keys called `size`); DVC
    fails on a declared parameter that is absent from the file, so the CLI's strict load names it first."""
    p = tmp_path / "xx.yaml"
    sections = "clean: {}\nvalidate: {}\nreview: {}\nvocab: {}\nshard: {}\nmodel: {size: tiny}\npretrain: {}\nevaluate: {}\n"
    p.write_text(BASE + sections)
    parse_language(p)  # the stage functions take defaults
    with pytest.raises(ConfigError, match=r"xx.yaml: key\(s\) vocab.size missing .*dvc.yaml tracks them by name"):
        parse_language(p, strict=True)
    p.write_text(BASE + sections.replace("vocab: {}", "vocab: {size: 2000}"))
    assert parse_language(p, strict=True).vocab.size == 2000
