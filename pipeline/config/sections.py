"""Typed schema for ``corpora/<lang>.yaml``: one pydantic model per section (which stage reads which section:
``pipeline.config``'s docstring). Every error names the key and what is allowed."""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, field_validator, model_validator

from model.sizes import SIZES, size_defaults
from pipeline.config.base import ConfigError, _Strict
from pipeline.config.scripts import SCRIPTS, is_script
from pipeline.config.sources import UTF8, Delimiter, Encoding, Source

DEFAULT_DATA_ROOT = "../shared/data"
# Top-level sections; each is a DVC param of the stage(s) that read it, so each must be present.
SECTIONS = ("language", "script", "sources", "clean", "validate", "review", "vocab", "shard", "model",
            "pretrain", "evaluate")


class LidSettings(_Strict):
    enabled: bool = True
    # The configured threshold (fastText top-1 score). With calibrate (default) it is the *ceiling*: the
    # threshold used is clamp(median - std of the language's score distribution, min_threshold, min_score),
    # FineWeb-2's rule with its 0.9 cap replaced by min_score (set min_score: 0.9 for FineWeb-2 exactly).
    min_score: float = Field(0.5, ge=0.0, le=1.0)
    # fastText label to accept when it differs from the language code (e.g. 'zh' for 'zh-Hant').
    label: str | None = None
    calibrate: bool = True
    min_threshold: float = Field(0.3, ge=0.0, le=1.0, description="floor of the calibrated threshold")
    min_calibration_documents: int = Field(50, ge=1, description="fewer documents labelled as the language: "
                                                                 "use min_score as is")
    # The model is judged unreliable for the language when its median score on documents it labels as the
    # language is below reliable_min_median, or it gives the language's label to fewer than
    # reliable_min_share of the documents that reach language ID.
    reliable_min_median: float = Field(0.7, ge=0.0, le=1.0)
    reliable_min_share: float = Field(0.9, ge=0.0, le=1.0)
    # What replaces the threshold for an unreliable model: 'model' (the local model_path), 'script_share'
    # (keep documents whose script share >= fallback_min_script_share unless lid.176 names another language
    # with score >= other_language_max_score), 'none' (threshold only), 'auto' (model if configured, else
    # script_share).
    fallback: Literal["auto", "script_share", "model", "none"] = "auto"
    fallback_min_script_share: float = Field(0.9, ge=0.0, le=1.0)
    other_language_max_score: float = Field(0.5, ge=0.0, le=1.0)
    # A local fastText LID model file (e.g. GlotLID's model.bin; absolute or relative to the project);
    # nothing is downloaded. model_label is this language's label in it (e.g. 'swh_Latn').
    model_path: str | None = None
    model_label: str | None = None
    model_use: Literal["fallback", "primary"] = "fallback"

    @model_validator(mode="after")
    def _model(self):
        if self.model_path and not self.model_label:
            raise ValueError("model_label is required with model_path (the language's label in that model, "
                             "e.g. 'swh_Latn' for GlotLID)")
        if (self.fallback == "model" or self.model_use == "primary") and not self.model_path:
            raise ValueError("fallback 'model' / model_use 'primary' need lid.model_path (a local fastText "
                             "LID model file)")
        return self


class CleanSettings(_Strict):
    class Normalize(_Strict):
        ftfy: bool = True                       # repair mojibake (FTFY)
        unicode_form: Literal["NFC", "NFKC", "NFD", "none"] = "NFC"
        fix_character_width: bool = False       # FTFY: full-width -> ASCII (rewrites CJK punctuation)
        uncurl_quotes: bool = False             # FTFY: curly -> straight quotes
        remove_zero_width: bool = True          # ZWSP, BOM, bidi marks ...; ZWJ/ZWNJ are always kept
        collapse_whitespace: bool = True
        csv_quotes: bool = True                 # a line written as a quoted CSV field ("a ""b"" c") is unquoted

    class GopherRepetition(_Strict):
        """datatrove GopherRepetitionFilter; None = the script class's default, 0 disables a check."""
        enabled: bool = True
        dup_line_frac: float | None = Field(None, ge=0)
        dup_para_frac: float | None = Field(None, ge=0)
        dup_line_char_frac: float | None = Field(None, ge=0)
        dup_para_char_frac: float | None = Field(None, ge=0)
        top_n_grams: dict[int, float] | None = None     # {n: max char fraction of the top n-gram}
        dup_n_grams: dict[int, float] | None = None     # {n: max char fraction in duplicated n-grams}

    class FineWebQuality(_Strict):
        """datatrove FineWebQualityFilter; None = the script class's default, 0 disables a check."""
        enabled: bool = True
        line_punct_thr: float | None = Field(None, ge=0, le=1)
        line_punct_exclude_zero: bool | None = None
        short_line_thr: float | None = Field(None, ge=0)
        short_line_length: int | None = Field(None, ge=0)
        char_duplicates_ratio: float | None = Field(None, ge=0)
        new_line_ratio: float | None = Field(None, ge=0)

    class GopherQuality(_Strict):
        """datatrove GopherQualityFilter; None = the script class's default, 0 disables a check."""
        enabled: bool = True
        min_doc_words: int | None = Field(None, ge=0)
        max_doc_words: int | None = Field(None, ge=0)
        min_avg_word_length: float | None = Field(None, ge=0)
        max_avg_word_length: float | None = Field(None, ge=0)
        max_symbol_word_ratio: float | None = Field(None, ge=0)
        max_bullet_lines_ratio: float | None = Field(None, ge=0)
        max_ellipsis_lines_ratio: float | None = Field(None, ge=0)
        max_non_alpha_words_ratio: float | None = Field(None, ge=0, le=1)
        min_stop_words: int | None = Field(None, ge=0)
        stop_words: list[str] | None = None

    class Quality(_Strict):
        gopher_repetition: "CleanSettings.GopherRepetition" = Field(default_factory=lambda: CleanSettings.GopherRepetition())
        fineweb_quality: "CleanSettings.FineWebQuality" = Field(default_factory=lambda: CleanSettings.FineWebQuality())
        gopher_quality: "CleanSettings.GopherQuality" = Field(default_factory=lambda: CleanSettings.GopherQuality())

    class Calibration(_Strict):
        """Quality thresholds calibrated per language (pipeline/cleaning/calibration.py, docs/cleaning.md);
        ``calibration: off`` uses the script class's thresholds as they are."""
        enabled: bool = True
        reference: list[Source] | None = Field(None, description="reference text of the language (e.g. "
                                               "Wikipedia-like) to calibrate on instead of the corpus itself")
        sample_documents: int = Field(1000, ge=10, description="documents sampled (spread over the input)")
        min_documents: int = Field(100, ge=10, description="fewer: the starting thresholds are used")
        tail: float = Field(0.01, ge=0.0, lt=0.5, description="least share of the language's text a rule "
                                                              "may drop after calibration")
        flag_share: float = Field(0.05, gt=0.0, lt=1.0, description="review flag: a rule dropping more than "
                                  "this share of the documents every other rule keeps")

        @field_validator("reference", mode="before")
        @classmethod
        def _one(cls, v):
            return [{"path": v}] if isinstance(v, str) else [v] if isinstance(v, dict) else v

    class Dedup(_Strict):
        exact: bool = True                      # sha1 of the normalised text
        minhash: bool = True                    # near duplicates (datatrove MinHash signatures)
        n_grams: int = Field(5, ge=1)           # FineWeb-2: 5-grams, 14 bands x 8 hashes
        num_buckets: int = Field(14, ge=1)
        hashes_per_bucket: int = Field(8, ge=1)
        seed: int = 1

    min_chars: int = Field(100, ge=1)
    max_chars: int = Field(2_000_000, ge=1)
    min_script_share: float = Field(0.5, ge=0.0, le=1.0)
    lid: LidSettings = LidSettings()
    rows_per_shard: int = Field(50_000, ge=100)
    # word segmentation for the filters and MinHash: auto = by script (Hani: jieba, Jpan: japanese,
    # Thai, Lao, Khmer, Myanmar, Tibetan: chars, others: whitespace)
    segmenter: Literal["auto", "whitespace", "jieba", "japanese", "chars"] = "auto"
    normalize: Normalize = Field(default_factory=lambda: CleanSettings.Normalize())
    quality: Quality = Field(default_factory=lambda: CleanSettings.Quality())
    calibration: Calibration = Field(default_factory=lambda: CleanSettings.Calibration())
    dedup: Dedup = Field(default_factory=lambda: CleanSettings.Dedup())
    # bad input (invalid UTF-8, NUL bytes, binary files, malformed JSONL/CoNLL-U lines, unreadable Parquet):
    # error = stop with a message naming file and line; skip = count it in stats.json `skipped` and go on
    on_bad_input: Literal["error", "skip"] = "error"
    # parallelism (does not change the output): 0 = all cores; FOUNDRY_CLEAN_WORKERS overrides
    workers: int = Field(0, ge=0)
    task_bytes: int = Field(500_000, ge=1000, description="input bytes per task (the unit of resumption)")

    @field_validator("calibration", mode="before")
    @classmethod
    def _switch(cls, v):
        """``calibration: off``/``on`` (YAML reads both as booleans) for the common case."""
        if v in (False, "off"):
            return {"enabled": False}
        return {} if v in (True, "on") else v

    @model_validator(mode="after")
    def _bounds(self):
        if self.max_chars <= self.min_chars:
            raise ValueError(f"max_chars ({self.max_chars}) must be greater than min_chars ({self.min_chars})")
        return self


class ValidateSettings(_Strict):
    min_documents: int = Field(20, ge=1)
    min_chars: int | None = Field(None, ge=1, description="defaults to clean.min_chars")
    max_chars: int | None = Field(None, ge=1, description="defaults to clean.max_chars")
    min_script_share: float = Field(0.8, ge=0.0, le=1.0, description="mean share of the language's script")
    min_lid_score: float = Field(0.0, ge=0.0, le=1.0, description="every document's language score")
    mostly: float = Field(1.0, gt=0.0, le=1.0, description="fraction of rows an expectation must hold for")


class ReviewSettings(_Strict):
    """The approval gate between validate and vocab, and the review page (reports/<lang>/quality/review.html).

    policy `auto`: the corpus is approved when every expectation passes. `required`: a person approves
    or rejects it (Prefect UI, or `foundry approve/reject`); with a Prefect server the run pauses up
    to timeout_hours for the decision, without one it stops after validate until the decision exists.
    """
    policy: Literal["auto", "required"] = "auto"
    timeout_hours: float = Field(24.0, gt=0, description="how long a paused run waits for a decision")
    samples: int = Field(5, ge=0, le=100, description="kept documents, and rejected ones per reason, shown")
    scan_documents: int = Field(20_000, ge=100, description="documents scanned for repeated lines, "
                                                             "boilerplate, mojibake and script mix")


class VocabSettings(_Strict):
    size: int = Field(8000, ge=100, le=1_000_000)
    model_type: Literal["unigram", "bpe"] = "unigram"
    character_coverage: float = Field(0.9995, gt=0.9, le=1.0)
    sample_documents: int = Field(200_000, ge=10, description="documents sampled to train the vocabulary")
    sample_chars: int = Field(100_000_000, ge=10_000, description="at most this many characters of them (a seeded "
                              "sample of the sampled documents): SentencePiece takes ~20 bytes of memory a "
                              "character it is fed")
    max_sentence_length: int = Field(8192, ge=256)
    byte_fallback: bool = Field(True, description="a character outside the vocabulary becomes its UTF-8 byte "
                                                  "pieces (256 of the vocab.size ids), never [UNK]")
    seed: int = 0


class ShardSettings(_Strict):
    max_seq_length: int = Field(128, ge=16, le=4096)
    validation_fraction: float = Field(0.02, ge=0.0, lt=0.5)
    short_seq_prob: float = Field(0.05, ge=0.0, le=1.0)
    single_segment_prob: float = Field(0.1, ge=0.0, le=1.0)
    examples_per_shard: int = Field(20_000, ge=100)
    seed: int = 12345
    overflow: Literal["truncate", "carry"] = Field(
        "truncate", description="the sentence that takes an example past max_seq_length: truncate (ELECTRA's "
                                "builder; its tail is never trained on, 7-18% of the tokens of the shipped "
                                "corpora) or carry it whole into the next example (no token lost)")


class ModelSettings(_Strict):
    """Architecture: a named size (ELECTRA paper, Table 6, plus ``tiny``) and per-key overrides of it.

    ``overrides`` may set any key of a size: the architecture (num_hidden_layers, hidden_size,
    num_attention_heads, intermediate_size, embedding_size, generator_fraction, generator_layers) and the
    size's training defaults (learning_rate, batch_size, train_steps, warmup_steps, mask_prob;
    max_seq_length is decided by ``shard.max_seq_length``). ``pretrain.*`` values win over both.
    """
    size: Literal["tiny", "small", "base", "large"] = "small"
    backbone: Literal["electra", "convbert", "deberta"] | None = Field(
        None, description="encoder family of generator and discriminator; unset: the size's (tiny convbert, "
                          "small/base/large electra, the paper's; deberta: DeBERTa-v3's relative positions)")
    overrides: dict[str, float | int] = Field(default_factory=dict)

    @field_validator("overrides")
    @classmethod
    def _known(cls, v):
        allowed = set(SIZES["small"]) - {"backbone"}
        bad = sorted(set(v) - allowed)
        if bad:
            raise ValueError(f"unknown override(s) {bad}; allowed: {sorted(allowed)}")
        return v


class PretrainSettings(_Strict):
    """Pre-training (model/pretrain.py). Unset values come from the model size (Table 6)."""
    objective: Literal["electra", "mlm"] = "electra"
    steps: int | None = Field(None, ge=1, description="defaults to the size's train_steps")
    batch_size: int | None = Field(None, ge=1, description="sequences per optimizer step (all processes)")
    learning_rate: float | None = Field(None, gt=0)
    warmup_steps: int | None = Field(None, ge=0)
    mask_prob: float | None = Field(None, gt=0, lt=1)
    disc_weight: float = Field(50.0, gt=0)
    disc_mlm_weight: float | None = Field(None, ge=0, description="weight of the discriminator's corrective MLM "
                                          "(predict the original token at masked positions; 0 = the paper's "
                                          "ELECTRA; default by size, docs/pretraining.md)")
    weight_decay: float = Field(0.01, ge=0)
    dropout: float = Field(0.1, ge=0, lt=1, description="hidden and attention dropout (official 0.1)")
    temperature: float = Field(1.0, gt=0, description="generator sampling temperature (official 1.0)")
    embedding_sharing: Literal["full", "gdes"] | None = Field(
        None, description="full (unset; the paper: one embedding table for both) or gdes (DeBERTa-v3's "
                          "gradient-disentangled sharing: the discriminator reads stop_gradient(E) + its own delta)")
    grad_accum: int = Field(1, ge=1)
    seed: int = 1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    log_every: int = Field(10, ge=1)
    checkpoint_every: int = Field(1000, ge=1)
    eval_batches: int = Field(10, ge=0)
    pack: bool | None = Field(None, description="pack several examples per row (block-diagonal attention): no "
                                                "padding; unset: on for electra, off for convbert")
    local_init: Literal["none", "prevnext"] | None = Field(
        None, description="convbert: start each convolution head on the previous or next token (unset: prevnext)")
    compile: bool = Field(False, description="torch.compile the encoders and the sampler")
    distributed: Literal["ddp", "fsdp"] = Field("ddp", description="under torchrun: DDP, or FSDP2 for large models")
    peak_tflops: float | None = Field(None, gt=0, description="accelerator peak for MFU when not in model/flops.py")
    plateau_warning_steps: int | None = Field(None, ge=1, description="warn once after this step if the "
                                              "discriminator shows no learning (AUC < 0.55, replaced "
                                              "recall 0); unset: max(500, 10% of steps)")

TaskType = Literal["classification", "pair_classification", "regression", "tagging"]
TaskFormat = Literal["conllu", "glue", "tsv", "csv", "jsonl", "parquet", "conll", "xnli", "masakhanews", "hf"]
_HF_ONLY = ("train_split", "dev_split", "hf_config")


class TaskSettings(_Strict):
    """One fine-tuning task (``evaluate.tasks[]``); loaders and formats: ``pipeline/evaluation/``."""
    name: str
    type: TaskType
    format: TaskFormat
    train: str = Field(description="training file; for format hf a save_to_disk folder or a hub dataset name")
    dev: str | None = Field(None, description="scored split; when omitted, a seeded dev_fraction of train")
    dev_fraction: float = Field(0.2, gt=0, lt=1)
    split_seed: int = 0
    root: Literal["data", "project"] = "data"
    # format hf only
    train_split: str = Field("train", description="hf: split of `train` to train on")
    dev_split: str | None = Field("validation", description="hf: split scored (of `dev` when given, else of "
                                                            "`train`); null = a seeded dev_fraction of train")
    hf_config: str | None = Field(None, description="hf: configuration name of a hub dataset")
    # glue/tsv/jsonl/xnli/masakhanews/hf: column names (or indices for header-less TSV)
    text_a: str | int | None = None
    text_b: str | int | None = None
    label: str | int | None = None
    skip_header: bool = True
    epochs: float | None = Field(None, gt=0, description="default 3; 10 for RTE and STS-B (ELECTRA recipe)")
    batch_size: int = Field(32, ge=1)
    learning_rate: float | None = Field(None, gt=0, description="defaults by model size")
    bias_correction: bool = Field(False, description="Adam with bias correction (torch's); the official "
                                                     "optimizer has none, whose first updates are several "
                                                     "times larger (Mosbach et al. 2021: unstable on small sets)")
    max_length: int = Field(128, ge=8)
    # N: keep N examples (see subset); "all": every example, said explicitly (a shipped CPU-sized suite names a
    # cap or "all" for every task, so a count that happens to equal a split's size never caps it quietly when
    # the split grows); None: not set, every example
    max_train_examples: Annotated[int, Field(ge=1)] | Literal["all"] | None = None
    max_eval_examples: Annotated[int, Field(ge=1)] | Literal["all"] | None = None
    subset: Literal["spread", "first"] = Field(
        "spread", description="which examples a max_*_examples cap keeps: `spread` evenly through the file (a "
                              "file sorted by genre or document keeps all of them), `first` the first N")
    swap_augment: bool | None = Field(None, description="also train on every pair with its segments swapped; "
                                                        "default on for MRPC and STS-B (official code)")
    label_range: tuple[float, float] | None = Field(None, description="regression: targets scaled to "
                                                    "(y - min) / max for training; default (0, 5) for STS-B")
    note: str = Field("", description="shown in the scorecard, e.g. what was trained on and what was scored")
    encoding: Encoding = Field(UTF8, description="the files' single-byte encoding when not UTF-8 (cp1252, "
                                                 "latin-1, cp1251, ...); not for parquet and hf")
    delimiter: Delimiter | None = Field(None, description="csv: the column separator when not the suffix's "
                                                          "(a comma for .csv, a tab for .tsv), e.g. ';'")

    @model_validator(mode="after")
    def _hf_keys(self):
        if self.encoding != UTF8 and self.format in ("parquet", "hf"):
            raise ValueError(f"encoding applies to text files, not format {self.format} (its strings are UTF-8)")
        if self.delimiter is not None and self.format != "csv":
            raise ValueError(f"delimiter applies to format csv only (task {self.name!r} is {self.format})")
        if self.format != "hf":
            bad = [k for k in _HF_ONLY if k in self.model_fields_set]
            if bad:
                raise ValueError(f"{', '.join(bad)} only apply to format hf (task {self.name!r} is {self.format})")
        if self.label_range is not None:
            if self.type != "regression":
                raise ValueError(f"label_range only applies to regression tasks (task {self.name!r})")
            lo, hi = self.label_range
            if not hi > 0 or lo >= hi:
                raise ValueError(f"label_range {list(self.label_range)} must be [min, max] with max > 0 and min < max")
        return self


class ReferenceModel(_Strict):
    """A published (or any) encoder to fine-tune with the same harness, for comparison."""
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.+-]*$")
    path: str = Field(description="Hugging Face model folder with its own tokenizer (AutoModel; no remote code)")
    root: Literal["data", "project"] = "project"
    size: Literal["tiny", "small", "base", "large"] | None = Field(
        None, description="picks the fine-tuning learning rate and layer-wise decay; inferred from config.json")


class EvaluateSettings(_Strict):
    seeds: int = Field(3, ge=1, le=20, description="fine-tuning runs per task and model; the median is reported")
    epochs: float | None = Field(None, gt=0, description="fine-tuning epochs of every task that sets none (default: "
                                                         "3; 10 for RTE and STS-B, the ELECTRA recipe)")
    random_init_baseline: bool = True
    layerwise_lr_decay: float | None = Field(None, gt=0, le=1)
    references: list[ReferenceModel] = Field(default_factory=list)
    average: list[str] | None = Field(None, description="tasks in the suite average (default: every task)")
    average_name: str | None = Field(None, description="what the average is called, e.g. 'GLUE score'")
    workers: int | None = Field(None, ge=1, description="fine-tuning processes on CPU (default: cores // "
                                                        "threads_per_worker; small runs in-process); same results")
    threads_per_worker: int = Field(1, ge=1, le=64, description="torch threads per fine-tuning run")
    tasks: list[TaskSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _suite_epochs(self):
        if self.epochs is not None:
            for t in self.tasks:
                if t.epochs is None:
                    t.epochs = self.epochs
        return self

    @model_validator(mode="after")
    def _names(self):
        names = [t.name for t in self.tasks]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ValueError(f"task names must be unique; repeated: {', '.join(dup)}")
        if self.average is not None:
            unknown = [n for n in self.average if n not in names]
            if unknown:
                raise ValueError(f"average names unknown task(s) {unknown}; tasks: {names}")
        refs = [r.name for r in self.references]
        bad = sorted({n for n in refs if refs.count(n) > 1} | ({"pretrained", "random_init"} & set(refs)))
        if bad:
            raise ValueError(f"reference names must be unique and not 'pretrained'/'random_init': {bad}")
        return self


class CardSettings(_Strict):
    """The published model card (``models/<lang>/hub/README.md``, written by the publish stage): what the
    pipeline cannot know. Read by publish only, so editing it re-runs no training or evaluation."""
    license: str = Field("other", pattern=r"^[a-z0-9][a-z0-9.+-]*$",
                         description="Hub license id of the model (apache-2.0, cc-by-4.0, ...); the default "
                                     "'other' says no license was chosen and the training data's licenses apply")
    license_name: str | None = Field(None, description="with license 'other': its id on the card "
                                                       "(default training-data-licenses)")
    datasets: list[str] | None = Field(None, description="Hub dataset ids of the training text; unset: the "
                                                         "sources of format hf")
    language: str | None = Field(None, pattern=r"^[a-z]{2,3}$",
                                 description="ISO 639 code for the card when `language` is not one")


class LanguageConfig(_Strict):
    language: Annotated[str, Field(pattern=r"^[a-z]{2,8}(-[A-Za-z0-9]+)?$")]
    name: str = ""
    script: str
    sources: list[Source] = Field(min_length=1)
    clean: CleanSettings = CleanSettings()
    validate_: ValidateSettings = Field(ValidateSettings(), alias="validate")
    review: ReviewSettings = ReviewSettings()
    vocab: VocabSettings = VocabSettings()
    shard: ShardSettings = ShardSettings()
    model: ModelSettings = ModelSettings()
    pretrain: PretrainSettings = PretrainSettings()
    evaluate: EvaluateSettings = EvaluateSettings()
    card: CardSettings = CardSettings()

    model_config = ConfigDict(extra="forbid", validate_default=True, populate_by_name=True,
                              protected_namespaces=())

    @field_validator("script")
    @classmethod
    def _script(cls, v):
        if not is_script(v):
            raise ValueError(f"unknown script {v!r}; an ISO 15924 code of a Unicode script (e.g. "
                             f"{', '.join(SCRIPTS)}, Telu, Mymr, Khmr)")
        return v

    # --- resolved values used by the stages -------------------------------------------------
    @property
    def validation(self) -> ValidateSettings:
        return self.validate_

    @property
    def iso_code(self) -> str | None:
        """The ISO 639 code for model cards: ``card.language``, else ``language`` when it is one, else the
        language-ID label (the demo: en)."""
        for code in (self.card.language, self.language, self.clean.lid.label):
            if code and re.fullmatch(r"[a-z]{2,3}", code):
                return code
        return None

    def pretrain_resolved(self) -> dict:
        """Model architecture and training settings: the size's defaults (``model.sizes.size_defaults``, with
        ``model.overrides``) under the ``pretrain`` section, whose unset (None) budget keys keep the size's."""
        fill = size_defaults(self.model.size, self.model.overrides)
        if self.model.backbone:
            fill["backbone"] = self.model.backbone
        set_ = {k: v for k, v in self.pretrain.model_dump().items() if v is not None or k not in fill}
        return {**fill, **set_}
