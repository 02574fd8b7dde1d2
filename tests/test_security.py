"""Security rules, each with a test: safetensors for weights, torch.load(weights_only=True), no
trust_remote_code, yaml.safe_load only, no shell command strings."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from pipeline.config import ConfigError, parse_language
from tests.conftest import REPO

CODE = [p for d in ("pipeline", "model", "flows", "benchmarks") for p in (REPO / d).rglob("*.py")]


def _grep(pattern: str) -> list[str]:
    rx = re.compile(pattern)
    return [f"{p.relative_to(REPO)}:{i}: {line.strip()}" for p in CODE
            for i, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1) if rx.search(line)]


def test_code_exists():
    assert len(CODE) > 15


def test_torch_load_always_weights_only():
    calls = _grep(r"torch\.load\(")
    assert calls, "expected checkpoint loading code"
    bad = [c for c in calls if "weights_only=True" not in c]
    assert not bad, bad


def test_no_trust_remote_code():
    assert not _grep(r"trust_remote_code\s*=\s*True")


def test_yaml_safe_load_only():
    assert not _grep(r"yaml\.(load|unsafe_load|full_load)\(|yaml\.Loader|UnsafeLoader")


def test_no_shell_strings():
    assert not _grep(r"shell\s*=\s*True|os\.system\(|os\.popen\(|subprocess\.getoutput|commands\.getoutput")


def test_no_pickle_weights():
    assert not _grep(r"pickle\.load|save_pretrained\(.*safe_serialization\s*=\s*False")


def test_yaml_object_tags_are_refused_not_executed(tmp_path):
    marker = tmp_path / "pwned"
    cfg = tmp_path / "corpora" / "xx.yaml"
    cfg.parent.mkdir()
    cfg.write_text(f"language: xx\nscript: Latn\nsources:\n  - path: !!python/object/apply:os.system "
                   f"['touch {marker}']\n")
    with pytest.raises(ConfigError, match="xx.yaml"):
        parse_language(cfg)
    assert not marker.exists()
