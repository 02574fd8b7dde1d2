"""The models compared on every task: the pre-trained model, the same architecture from random
initialisation, and reference models (any Hugging Face encoder folder with its own tokenizer)."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from model.sizes import LAYERWISE_LR_DECAY, SIZES
from pipeline.config import ReferenceModel, resolve_path
from pipeline.errors import StageError
from pipeline.taskdata.tasks import TaskData

PRETRAINED, RANDOM = "pretrained", "random_init"
_TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "spm.model", "sentencepiece.bpe.model",
                    "vocab.json")


@dataclass
class Variant:
    key: str                       # "pretrained", "random_init" or a reference's name
    init: str | None               # model folder, None = random init from arch
    arch: dict
    size: str
    layerwise_lr_decay: float
    tokenizer_key: str             # variants with the same tokenizer share encoded features
    tokenizer: object = None
    info: dict = field(default_factory=dict)


def read_arch(model_dir: Path, what: str) -> dict:
    config_path = model_dir / "config.json"
    if not config_path.is_file():
        raise StageError(f"{config_path}: no {what} here (a Hugging Face model folder with config.json"
                         + (" — run the pretrain stage first, or point --model at a model folder)" if what ==
                            "pre-trained model" else ")"))
    try:
        arch = json.loads(config_path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise StageError(f"{config_path}: not valid JSON ({e})") from None
    if not isinstance(arch, dict):
        raise StageError(f"{config_path}: expected a JSON object")
    return _with_init_recipe(arch, model_dir)


def _with_init_recipe(arch: dict, model_dir: Path) -> dict:
    """A random-init baseline starts as the pre-trained model did: the export's pretrain_params.json names
    its initialisation recipe (ConvBERT's local kernels), which config.json cannot hold."""
    from model.finetune import LOCAL_INIT_KEY
    try:
        params = json.loads((model_dir / "pretrain_params.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return arch
    if isinstance(params, dict) and params.get("local_init") not in (None, "none"):
        arch = {**arch, LOCAL_INIT_KEY: params["local_init"]}
    return arch


def max_tokens(arch: dict) -> int:
    n = int(arch.get("max_position_embeddings") or 512)
    if arch.get("model_type") in ("roberta", "xlm-roberta", "camembert", "longformer"):
        n -= 2
    return n


def infer_size(arch: dict) -> tuple[str, str | None]:
    # depth and width name the size (its fine-tuning defaults); heads do not: a tiny model exported before
    # tiny moved to 4 heads (ConvBERT) is still tiny
    for name, s in SIZES.items():
        if all(arch.get(k) == s[k] for k in ("num_hidden_layers", "hidden_size")):
            return name, None
    h = arch.get("hidden_size") or arch.get("dim") or 0
    guess = "small" if h <= 256 else "base" if h <= 768 else "large"
    return guess, (f"architecture matches no named size; fine-tuning defaults of '{guess}' used "
                   f"(hidden size {h or 'unknown'})")


def rel(p: Path, root: Path) -> str:
    try:
        return str(Path(p).resolve().relative_to(Path(root).resolve()))
    except ValueError:
        return str(Path(p).resolve())


def model_info(model_dir: Path, root: Path, arch: dict, size: str) -> dict:
    keys = ("model_type", "num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
            "embedding_size", "vocab_size", "max_position_embeddings")
    return {"path": rel(model_dir, root), "size": size, "config": {k: arch[k] for k in keys if k in arch}}


def tokenizer_dir(model_dir: Path, fallback: str | Path | None) -> Path:
    """The model folder when it holds a tokenizer, else ``fallback`` (the pipeline's tokenizer folder)."""
    if any((model_dir / f).is_file() for f in _TOKENIZER_FILES):
        return model_dir
    if fallback is not None and any((Path(fallback) / f).is_file() for f in _TOKENIZER_FILES):
        return Path(fallback)
    where = f" or {fallback}" if fallback else ""
    raise StageError(f"{model_dir}: no tokenizer files (tokenizer.json){where}; the model folder should "
                     f"hold the tokenizer it was trained with")


def load_tokenizer(path: Path, **kw):
    from transformers import AutoTokenizer
    try:
        tok = AutoTokenizer.from_pretrained(str(path), **kw)
    except Exception as e:  # noqa: BLE001 - any load failure is a problem with the folder
        raise StageError(f"{path}: cannot load the tokenizer ({type(e).__name__}: {e})") from None
    return tok


def tokenizer_for(v: Variant, data: TaskData):
    """Byte-level BPE tokenizers (RoBERTa) need add_prefix_space=True for pre-split words."""
    tok = v.tokenizer
    if data.type == "tagging":
        try:
            tok([["a", "b"]], is_split_into_words=True)
        except (ValueError, TypeError) as e:
            if "add_prefix_space" not in str(e) or not v.init:
                raise StageError(f"{v.key}: the tokenizer cannot encode pre-split words ({e})") from None
            tok = load_tokenizer(tokenizer_dir(Path(v.init), None), add_prefix_space=True)
            v.tokenizer = tok
    return tok


def reference_variant(r: ReferenceModel, root: Path, layerwise_lr_decay: float | None) -> Variant:
    """A reference model, fine-tuned with the learning rate and decay of its own size; ``info`` is its
    eval.json ``references`` entry."""
    rdir = resolve_path(r.path, r.root, root)
    rarch = read_arch(rdir, f"reference model {r.name!r}")
    rsize, rnote = (r.size, None) if r.size else infer_size(rarch)
    rlld = layerwise_lr_decay if layerwise_lr_decay is not None else LAYERWISE_LR_DECAY[rsize]
    rtok = load_tokenizer(tokenizer_dir(rdir, None))
    info = {"path": rel(rdir, root), "size": rsize, "model_type": rarch.get("model_type"),
            "config": model_info(rdir, root, rarch, rsize)["config"], "tokenizer": rel(rdir, root)}
    if rnote:
        info["size_note"] = rnote
    return Variant(r.name, str(rdir), rarch, rsize, rlld, f"ref:{r.name}", rtok, info)
