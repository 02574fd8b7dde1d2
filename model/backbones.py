"""The encoder families a pre-trainer can be built on, in their native Hugging Face classes.

``electra`` is the paper's backbone (BERT-style absolute positions, full self-attention). ``convbert``
(Jiang et al. 2020) mixes each attention layer with span-based dynamic convolution heads (kernel 9), a
locality prior: at CPU compute the plain ELECTRA discriminator stays on the "everything is original" plateau
because no head learns to look at its neighbours, while a backbone with a convolution learns replaced-token
detection in a few hundred steps (docs/pretraining.md, "Backbones"). ConvBERT was itself pre-trained with
ELECTRA's replaced-token detection.

transformers ships no ``ConvBertForPreTraining``: :class:`ConvBertForPreTraining` here is the encoder plus
ELECTRA's discriminator head (``ElectraDiscriminatorPredictions``), with the same attribute names as
``ElectraForPreTraining`` so checkpoints read alike. Export writes its encoder as a native ``ConvBertModel``
(``AutoModel*`` classes load it) and the head beside it (``rtd_head.safetensors``).

Imports only torch and transformers.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import (ConvBertConfig, ConvBertForMaskedLM, ConvBertModel, ConvBertPreTrainedModel,
                          ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining)
from transformers.models.electra.modeling_electra import ElectraDiscriminatorPredictions, ElectraForPreTrainingOutput

RTD_HEAD_FILE = "rtd_head.safetensors"


class ConvBertForPreTraining(ConvBertPreTrainedModel):
    """ConvBERT encoder + ELECTRA's replaced-token-detection head; ``forward(...).logits`` is [B, L]."""

    def __init__(self, config: ConvBertConfig):
        super().__init__(config)
        self.convbert = ConvBertModel(config)
        self.discriminator_predictions = ElectraDiscriminatorPredictions(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, **kwargs):
        hidden = self.convbert(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                               position_ids=position_ids, return_dict=True, **kwargs).last_hidden_state
        return ElectraForPreTrainingOutput(logits=self.discriminator_predictions(hidden))


@dataclass(frozen=True)
class Backbone:
    name: str
    config_class: type
    discriminator_class: type
    masked_lm_class: type
    attn_implementations: tuple[str, ...]  # what the HF classes support, best first
    extra_config: tuple = ()               # (key, value) pairs every config of this family gets
    compile_dynamic: bool | None = None    # torch.compile(dynamic=...) of its encoders (None: torch decides)


BACKBONES: dict[str, Backbone] = {
    "electra": Backbone("electra", ElectraConfig, ElectraForPreTraining, ElectraForMaskedLM, ("sdpa", "eager")),
    # head_ratio 2 and kernel 9 are the paper's (half the heads become convolution heads); groups 1 (no grouped FFN)
    # static shapes under torch.compile: inductor cannot lower ConvBERT's convolution heads with a symbolic
    # sequence length (torch 2.13: "cannot determine truth value of Relational"), which torch's automatic
    # dynamic recompile at the second batch shape asks for. Each new length compiles anew (up to torch's
    # recompile limit, then eager); ConvBERT batches are unpacked and mostly as long as the longest example
    "convbert": Backbone("convbert", ConvBertConfig, ConvBertForPreTraining, ConvBertForMaskedLM, ("eager",),
                         (("head_ratio", 2), ("conv_kernel_size", 9), ("num_groups", 1)), compile_dynamic=False),
}


def backbone(name: str) -> Backbone:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[name]


def backbone_of(config) -> Backbone:
    """The family of an HF config (``model_type``)."""
    return backbone(config.model_type)


def encoder(model: torch.nn.Module) -> torch.nn.Module:
    """The bare encoder inside an HF pre-training / MLM / task model (``.electra``, ``.convbert``)."""
    return model.base_model


@torch.no_grad()
def init_local_convolution(model: torch.nn.Module, kind: str = "prevnext") -> int:
    """Start every ConvBERT convolution head on one neighbour (``prevnext``); returns the heads set.

    A ConvBERT head's kernel is softmax(W (q * k_conv) + b) over ``conv_kernel_size`` offsets. HF initialises
    W small and b to zero, so every kernel starts as a uniform average over 9 positions, and (measured,
    docs/pretraining.md "Backbones") the discriminator then stays on the replaced-token-detection plateau
    like the plain ELECTRA. Here b, a native ConvBERT weight, starts at 0 on one offset and -6 elsewhere
    (even heads: the previous token, odd heads: the next one; > 0.9 of the weight), and the convolution's
    input projection starts at the scale of a default ``nn.Linear`` (std 1/sqrt(fan_in)) instead of 0.02, so
    each token sees its neighbours from the first step. Both stay trainable, and the exported model is an
    ordinary ConvBertModel: this is an initialisation, not an architecture."""
    if kind != "prevnext":
        raise ValueError(f"local_init must be 'prevnext' (or 'none'), got {kind!r}")
    n = 0
    for mod in model.modules():
        if not hasattr(mod, "conv_kernel_layer"):
            continue
        heads, k = mod.num_attention_heads, mod.conv_kernel_size
        offset = torch.arange(k) - (k - 1) // 2
        want = torch.tensor([-1 if h % 2 == 0 else 1 for h in range(heads)])
        bias = torch.where(offset[None, :] == want[:, None], 0.0, -6.0)
        mod.conv_kernel_layer.bias.copy_(bias.reshape(-1).to(mod.conv_kernel_layer.bias))
        mod.conv_out_layer.weight.normal_(0.0, 1.0 / mod.conv_out_layer.in_features ** 0.5)
        n += heads
    return n


def attn_implementation(fam: Backbone) -> str:
    return "sdpa" if "sdpa" in fam.attn_implementations else fam.attn_implementations[0]


def save_discriminator(disc: torch.nn.Module, out_dir, **save_kwargs) -> list[str]:
    """Write the discriminator in its native HF class: ``ElectraForPreTraining`` as is; a ConvBERT one as a
    ``ConvBertModel`` plus its RTD head in ``rtd_head.safetensors``. Returns the file names written."""
    from pathlib import Path

    from safetensors.torch import save_file
    out = Path(out_dir)
    if isinstance(disc, ConvBertForPreTraining):
        disc.convbert.save_pretrained(str(out), **save_kwargs)
        head = {k: v.detach().contiguous().cpu() for k, v in disc.discriminator_predictions.state_dict().items()}
        # one metadata key: safetensors keeps metadata in a hash map, so two keys come out in either order
        # and the same weights would give different bytes (DVC, fault injection and reruns compare bytes)
        save_file(head, str(out / RTD_HEAD_FILE), metadata={"format": "pt"})
        return ["config.json", "model.safetensors", RTD_HEAD_FILE]
    disc.save_pretrained(str(out), **save_kwargs)
    return ["config.json", "model.safetensors"]


def load_discriminator(path) -> torch.nn.Module:
    """Inverse of :func:`save_discriminator` (the RTD head included)."""
    from pathlib import Path

    from safetensors.torch import load_file
    from transformers import AutoConfig
    cfg = AutoConfig.from_pretrained(str(path))
    fam = backbone_of(cfg)
    if fam.discriminator_class is not ConvBertForPreTraining:
        return fam.discriminator_class.from_pretrained(str(path), attn_implementation=attn_implementation(fam))
    head_file = Path(path) / RTD_HEAD_FILE
    if not head_file.is_file():
        raise FileNotFoundError(f"{head_file}: the ConvBERT discriminator's replaced-token-detection head is missing")
    cfg._attn_implementation = attn_implementation(fam)
    disc = ConvBertForPreTraining(cfg)
    disc.convbert = ConvBertModel.from_pretrained(str(path), attn_implementation=attn_implementation(fam))
    disc.discriminator_predictions.load_state_dict(load_file(str(head_file)))
    return disc


__all__ = ["BACKBONES", "Backbone", "ConvBertForPreTraining", "RTD_HEAD_FILE", "attn_implementation", "backbone",
           "backbone_of", "encoder", "load_discriminator", "save_discriminator"]
