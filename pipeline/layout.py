"""The artifact layout: one place that says where each stage reads and writes.

    data/<lang>/clean/           cleaned corpus Parquet shards + stats.json
    data/<lang>/validation.json  validation result
    reports/<lang>/quality/      Great Expectations Data Docs
    models/<lang>/tokenizer/     SentencePiece + HF fast tokenizer
    data/<lang>/shards/          packed pre-training examples + index.json
    models/<lang>/electra/       HF discriminator folder (generator/ inside) + model card
    metrics/<lang>/pretrain.json, metrics/<lang>/eval.json, reports/<lang>/scorecard.md
    models/<lang>/hub/           the folder to push to the Hugging Face Hub: electra/ + the complete card
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Layout:
    root: Path
    lang: str

    @property
    def clean_dir(self) -> Path: return self.root / "data" / self.lang / "clean"
    @property
    def clean_stats(self) -> Path: return self.clean_dir / "stats.json"
    @property
    def validation(self) -> Path: return self.root / "data" / self.lang / "validation.json"
    @property
    def quality_dir(self) -> Path: return self.root / "reports" / self.lang / "quality"
    @property
    def tokenizer_dir(self) -> Path: return self.root / "models" / self.lang / "tokenizer"
    @property
    def shards_dir(self) -> Path: return self.root / "data" / self.lang / "shards"
    @property
    def electra_dir(self) -> Path: return self.root / "models" / self.lang / "electra"
    @property
    def hub_dir(self) -> Path: return self.root / "models" / self.lang / "hub"
    @property
    def checkpoints_dir(self) -> Path: return self.root / "checkpoints" / self.lang
    @property
    def metrics_dir(self) -> Path: return self.root / "metrics" / self.lang
    @property
    def pretrain_metrics(self) -> Path: return self.metrics_dir / "pretrain.json"
    @property
    def pretrain_curve(self) -> Path: return self.metrics_dir / "pretrain_curve.tsv"
    @property
    def eval_metrics(self) -> Path: return self.metrics_dir / "eval.json"
    @property
    def eval_predictions(self) -> Path: return self.metrics_dir / "predictions.json"
    @property
    def scorecard(self) -> Path: return self.root / "reports" / self.lang / "scorecard.md"

    def clean_files(self) -> list[Path]:
        return sorted(self.clean_dir.glob("*.parquet"))

    def require_clean_files(self) -> list[Path]:
        """The cleaned corpus's Parquet parts; a StageError naming the folder when there are none."""
        from pipeline.errors import StageError

        files = self.clean_files()
        if not files:
            raise StageError(f"{self.rel(self.clean_dir)}: no part-*.parquet files; run the clean stage first")
        return files

    def rel(self, path: Path) -> str:
        """``path`` relative to the project root, for messages and records (as given when outside it)."""
        try:
            return str(Path(path).relative_to(self.root))
        except ValueError:
            return str(path)
