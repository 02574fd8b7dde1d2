"""Export of a pre-trained model as a Hugging Face folder, with its model card:

    out_dir/                 the discriminator in safetensors + config.json: ElectraForPreTraining, or for
                             backbone convbert / deberta a ConvBertModel / DebertaV2Model + rtd_head.safetensors
                             (model.backbones; under embedding_sharing gdes its word embeddings are E + E_delta)
      generator/             Electra / ConvBert / DebertaV2ForMaskedLM (the generator; for objective 'mlm'
                             the trained MLM model)
      tokenizer files        copied from tokenizer_dir (also into generator/), model_max_length = positions
      pretrain_params.json   the resolved params
      lineage.json           the ``card`` lineage (git commit, DVC hashes, review decision), when given
      README.md              model card (the pretrain record; the Hub card with scores is the publish stage's)

The folder is built under a temp name and swapped in whole (:func:`model.atomic.atomic_dir`).
"""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch

from model.atomic import atomic_dir, umask_modes
from model.backbones import backbone_of, encoder, save_discriminator
from model.electra import MLMPretrainer
from model.hf import quiet
from model.metrics import fmt, json_safe

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "spm.model",
                   "spm.vocab")


def model_card(params: dict, metrics: dict, card: dict | None, files: list[str]) -> str:
    """README.md of the folder: front matter, what was trained and how, the lineage ``card``, usage."""
    card = dict(card or {})
    lang = card.get("language")
    code = card.pop("language_code", None) or (lang if re.fullmatch(r"[a-z]{2,3}", str(lang or "")) else None)
    front = ["---", "library_name: transformers", "tags:", "  - electra", f"  - {params.get('backbone', 'electra')}",
             "  - electra-foundry",
             f"  - {'replaced-token-detection' if params['objective'] == 'electra' else 'masked-lm'}"]
    if code:  # Hub metadata wants an ISO 639 code ("sw"), not a name ("Swahili (sw)")
        front += ["language:", f"  - {code}"]
    front.append("---")
    title = f"ELECTRA-{params['size']}" + (f" ({lang})" if lang else "")
    if params.get("backbone", "electra") == "convbert":
        held = ("the discriminator's encoder as a `ConvBertModel` (ConvBERT: attention mixed with local "
                "convolution heads) with its replaced-token-detection head in `rtd_head.safetensors`; "
                "`generator/` holds the generator (`ConvBertForMaskedLM`)")
    elif params.get("backbone") == "deberta":
        held = ("the discriminator's encoder as a `DebertaV2Model` (DeBERTa-v3's disentangled attention with "
                "relative positions) with its replaced-token-detection head in `rtd_head.safetensors`; "
                "`generator/` holds the generator (`DebertaV2ForMaskedLM`)")
    else:
        held = "the discriminator (`ElectraForPreTraining`); `generator/` holds the generator (`ElectraForMaskedLM`)"
    lines = front + ["", f"# {title}", "", f"Pre-trained with ELECTRA Foundry. The folder holds {held}.", ""]
    if params["objective"] == "mlm":
        lines += ["This model was trained with the MLM objective: the backbone here is the MLM model's "
                  "encoder and its replaced-token-detection head is untrained; `generator/` is the full "
                  "MLM model.", ""]
    rows = _card_rows(params, metrics)
    lines += ["| | |", "|---|---|"] + [f"| {k} | {fmt(v) if isinstance(v, float) else v} |" for k, v in rows]
    if card:
        lines += ["", "## Lineage", "", "| key | value |", "|---|---|"]
        for k, v in card.items():
            lines.append(f"| {k} | {json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v} |")
    lines += ["", "## Usage", "", "```python",
              "from transformers import AutoModel, AutoTokenizer",
              "tok = AutoTokenizer.from_pretrained(PATH)", "model = AutoModel.from_pretrained(PATH)", "```", "",
              f"Files: {', '.join(sorted(files))}", ""]
    return "\n".join(lines)


def _card_rows(params: dict, metrics: dict) -> list[tuple]:
    obj = ("ELECTRA replaced-token detection (generator + discriminator, shared embeddings)"
           if params["objective"] == "electra" else
           "masked language modelling baseline (discriminator-sized masked LM; "
           "85% [MASK] / 15% unchanged masking)")
    if params["objective"] == "electra" and float(params.get("disc_mlm_weight") or 0.0) > 0:
        obj += (f", plus the discriminator's corrective MLM at the masked positions (weight "
                f"{fmt(float(params['disc_mlm_weight']))}; its head is not exported)")
    rows = [
        ("objective", obj), ("size", params["size"]),
        ("backbone", params.get("backbone", "electra") + (f" (convolution kernels initialised {params['local_init']})"
                                                          if params.get("local_init") not in (None, "none") else "")),
        ("layers / hidden / heads / FFN / embedding",
         f"{params['num_hidden_layers']} / {params['hidden_size']} / {params['num_attention_heads']} / "
         f"{params['intermediate_size']} / {params['embedding_size']}"),
        ("generator fraction", params.get("generator_fraction")),
        ("discriminator parameters", metrics.get("disc_params")),
        ("generator parameters", metrics.get("gen_params")),
        ("steps", params["steps"]), ("batch size (sequences/step)", params["batch_size"]),
        ("peak learning rate", params["learning_rate"]), ("warmup steps", params["warmup_steps"]),
        ("mask probability", params["mask_prob"]), ("max sequence length", metrics.get("max_seq_length")),
        ("positions (max_position_embeddings)", max(int(metrics.get("max_seq_length") or 0),
                                                    int(params.get("max_position_embeddings") or 0)) or None),
        ("vocabulary size", metrics.get("vocab_size")), ("tokens seen", metrics.get("tokens_seen")),
        ("training seconds", metrics.get("seconds")), ("device", metrics.get("device")),
        ("processes", metrics.get("processes")),
        ("training FLOPs (model, 6N + attention)", metrics.get("train_flops")),
        ("FLOP/s achieved", metrics.get("flops_per_second")),
        ("MFU", metrics.get("mfu") if metrics.get("mfu") is not None else "n/a (no known accelerator peak)"),
    ]
    for k in ("train_gen_loss", "train_disc_loss", "train_disc_acc", "val_gen_loss", "val_gen_acc",
              "val_disc_loss", "val_disc_acc", "val_disc_auc", "val_replaced_precision", "val_replaced_recall"):
        if metrics.get(k) is not None:
            rows.append((k, metrics[k]))
    return rows


def _discriminator_and_generator(model, seed: int):
    """The two HF models to save. An MLM run has no discriminator: its encoder goes under a fresh
    (seeded, untrained) replaced-token-detection head, so the folder loads the same way."""
    if not isinstance(model, MLMPretrainer):
        return model.discriminator, model.generator
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed) + 3)
        disc = backbone_of(model.generator.config).discriminator_class(model.generator.config)
    encoder(disc).load_state_dict(encoder(model.generator).state_dict())
    return disc, model.generator


def copy_tokenizer(src: Path, dest: Path, positions: int) -> None:
    """The tokenizer files into a model folder, with ``model_max_length`` = the model's positions (the
    tokenizer stage cannot know them: ``tok(text, truncation=True)`` must give what the model accepts), so
    ``AutoTokenizer`` + ``pipeline(...)`` on either folder (discriminator or ``generator/``) just work."""
    for name in TOKENIZER_FILES:
        if (src / name).is_file():
            shutil.copy2(src / name, dest / name)
    cfg_path = dest / "tokenizer_config.json"
    if cfg_path.is_file():
        cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
        cfg["model_max_length"] = int(positions)
        cfg_path.write_text(json.dumps(cfg, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def export(model, out_dir: Path, tokenizer_dir: Path | None, params: dict, metrics: dict,
           card: dict | None, seed: int) -> Path:
    """Write the HF folder under a temp sibling name, then swap it into place."""
    out_dir = Path(out_dir)
    with atomic_dir(out_dir) as tmp:
        disc, gen = _discriminator_and_generator(model, seed)
        with quiet():
            save_discriminator(disc, tmp, safe_serialization=True)
            gen.save_pretrained(tmp / "generator", safe_serialization=True)
        if tokenizer_dir is not None and Path(tokenizer_dir).is_dir():
            positions = int(disc.config.max_position_embeddings)
            copy_tokenizer(Path(tokenizer_dir), tmp, positions)
            copy_tokenizer(Path(tokenizer_dir), tmp / "generator", positions)
        (tmp / "pretrain_params.json").write_text(json.dumps(json_safe(params), indent=2, sort_keys=True) + "\n",
                                                  encoding="utf-8")
        if card:  # the lineage as data too, for whoever publishes the folder (pipeline/stages/publish.py)
            (tmp / "lineage.json").write_text(json.dumps(json_safe(card), indent=2, sort_keys=True,
                                                         ensure_ascii=False) + "\n", encoding="utf-8")
        files = sorted(p.name for p in tmp.iterdir()) + ["README.md"]
        (tmp / "README.md").write_text(model_card(params, metrics, card, files), encoding="utf-8")
        umask_modes(tmp)
    return out_dir
