"""The encoder families a pre-trainer can be built on, in their native Hugging Face classes.

``electra`` is the paper's backbone (BERT-style absolute positions, full self-attention). ``convbert``
(Jiang et al. 2020) mixes each attention layer with span-based dynamic convolution heads (kernel 9), a
locality prior: at CPU compute the plain ELECTRA discriminator stays on the "everything is original" plateau
because no head learns to look at its neighbours, while a backbone with a convolution learns replaced-token
detection in a few hundred steps (docs/pretraining.md, "Backbones"). ConvBERT was itself pre-trained with
ELECTRA's replaced-token detection. ``deberta`` is DeBERTa-v2/v3's encoder (He et al. 2021/2023:
disentangled attention with relative positions, no absolute position embeddings, the v3 configuration:
``p2c|c2p`` terms, 256 log buckets, key projections shared with the positions, LayerNorm'd relative
embeddings); DeBERTa-v3 was itself pre-trained with replaced-token detection.

transformers ships no ``ConvBertForPreTraining`` or ``DebertaV2ForPreTraining``: the classes here are the
encoder plus ELECTRA's discriminator head (``ElectraDiscriminatorPredictions``), with the same attribute names
as ``ElectraForPreTraining`` so checkpoints read alike. Export writes the encoder as a native ``ConvBertModel``
/ ``DebertaV2Model`` (``AutoModel*`` classes load it) and the head beside it (``rtd_head.safetensors``).

Imports only torch and transformers (and model.gdes).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import (ConvBertConfig, ConvBertForMaskedLM, ConvBertModel, ConvBertPreTrainedModel,
                          DebertaV2Config, DebertaV2ForMaskedLM, DebertaV2Model, DebertaV2PreTrainedModel,
                          ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining)
from transformers.models.electra.modeling_electra import ElectraDiscriminatorPredictions, ElectraForPreTrainingOutput

from model.gdes import materialised_embeddings

RTD_HEAD_FILE = "rtd_head.safetensors"


class _RtdHeadMixin:
    """Encoder (``base_model``) + ELECTRA's replaced-token-detection head; ``forward(...).logits`` is [B, L]."""
    encoder_class: type

    def _build(self, config) -> None:
        setattr(self, self.base_model_prefix, self.encoder_class(config))
        self.discriminator_predictions = ElectraDiscriminatorPredictions(config)
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, position_ids=None, **kwargs):
        hidden = self.base_model(input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids,
                                 position_ids=position_ids, return_dict=True, **kwargs).last_hidden_state
        return ElectraForPreTrainingOutput(logits=self.discriminator_predictions(hidden))


class ConvBertForPreTraining(_RtdHeadMixin, ConvBertPreTrainedModel):
    encoder_class = ConvBertModel

    def __init__(self, config: ConvBertConfig):
        super().__init__(config)
        self._build(config)


class DebertaV2ForPreTraining(_RtdHeadMixin, DebertaV2PreTrainedModel):
    encoder_class = DebertaV2Model

    def __init__(self, config: DebertaV2Config):
        super().__init__(config)
        self._build(config)


@dataclass(frozen=True)
class Backbone:
    name: str
    config_class: type
    discriminator_class: type
    masked_lm_class: type
    attn_implementations: tuple[str, ...]  # what the HF classes support, best first
    extra_config: tuple = ()               # (key, value) pairs every config of this family gets
    compile_dynamic: bool | None = None    # torch.compile(dynamic=...) of its encoders (None: torch decides)
    # what generator and discriminator share: None, the whole ``embeddings`` module (word, position, token type
    # and its LayerNorm, all at embedding_size; each model projects to its own width); else these submodules
    # of it (DeBERTa's module also holds the projection and a LayerNorm at the model's own width)
    shared_embeddings: tuple[str, ...] | None = None


SHARED_DEBERTA = ("word_embeddings", "token_type_embeddings")


BACKBONES: dict[str, Backbone] = {
    "electra": Backbone("electra", ElectraConfig, ElectraForPreTraining, ElectraForMaskedLM, ("sdpa", "eager")),
    # head_ratio 2 and kernel 9 are the paper's (half the heads become convolution heads); groups 1 (no grouped FFN)
    # static shapes under torch.compile: inductor cannot lower ConvBERT's convolution heads with a symbolic
    # sequence length (torch 2.13: "cannot determine truth value of Relational"), which torch's automatic
    # dynamic recompile at the second batch shape asks for. Each new length compiles anew (up to torch's
    # recompile limit, then eager); ConvBERT batches are unpacked and mostly as long as the longest example
    "convbert": Backbone("convbert", ConvBertConfig, ConvBertForPreTraining, ConvBertForMaskedLM, ("eager",),
                         (("head_ratio", 2), ("conv_kernel_size", 9), ("num_groups", 1)), compile_dynamic=False),
    # DeBERTa-v3's configuration (microsoft/deberta-v3-*/config.json): relative positions only, both
    # disentangled terms, 256 log buckets (exact up to distance 128), positions share the content key/query
    # projections, LayerNorm on the relative embeddings. legacy head: hidden -> embedding_size -> tied output,
    # the generator head layout of ELECTRA (the non-legacy one needs hidden == embedding_size)
    "deberta": Backbone("deberta", DebertaV2Config, DebertaV2ForPreTraining, DebertaV2ForMaskedLM, ("eager",),
                        (("relative_attention", True), ("pos_att_type", ["p2c", "c2p"]), ("position_buckets", 256),
                         ("max_relative_positions", -1), ("position_biased_input", False), ("share_att_key", True),
                         ("norm_rel_ebd", "layer_norm"), ("legacy", True)), shared_embeddings=SHARED_DEBERTA),
}


def backbone(name: str) -> Backbone:
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; known: {', '.join(BACKBONES)}")
    return BACKBONES[name]


def backbone_of(config) -> Backbone:
    """The family of an HF config (by its ``model_type``: DeBERTa's is ``deberta-v2``)."""
    for fam in BACKBONES.values():
        if fam.config_class.model_type == config.model_type:
            return fam
    return backbone(config.model_type)


def encoder(model: torch.nn.Module) -> torch.nn.Module:
    """The bare encoder inside an HF pre-training / MLM / task model (``.electra``, ``.convbert``, ``.deberta``)."""
    return model.base_model


def mlm_head(model: torch.nn.Module) -> tuple[torch.nn.Module, torch.nn.Linear]:
    """A masked LM's (transform, output layer): logits = output(transform(hidden)); the output layer's weight
    is the one tied to the word embeddings."""
    if hasattr(model, "generator_lm_head"):  # ElectraForMaskedLM, ConvBertForMaskedLM
        return model.generator_predictions, model.generator_lm_head
    return model.cls.predictions.transform, model.cls.predictions.decoder  # DebertaV2ForMaskedLM (legacy head)


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


def init_local(model: torch.nn.Module, kind: str = "prevnext") -> int:
    """The locality prior as an initialisation: ConvBERT's convolution heads (:func:`init_local_convolution`),
    else two attention heads per layer of an ELECTRA encoder (``model.local_attention``). Returns the heads
    set (0: a backbone with neither, e.g. DeBERTa)."""
    from model.local_attention import init_local_attention
    return init_local_convolution(model, kind) or init_local_attention(model, kind)


def attn_implementation(fam: Backbone) -> str:
    return "sdpa" if "sdpa" in fam.attn_implementations else fam.attn_implementations[0]


def save_discriminator(disc: torch.nn.Module, out_dir, **save_kwargs) -> list[str]:
    """Write the discriminator in its native HF class: ``ElectraForPreTraining`` as is; a ConvBERT one as a
    ``ConvBertModel`` plus its RTD head in ``rtd_head.safetensors``. Returns the file names written."""
    from pathlib import Path

    from safetensors.torch import save_file
    out = Path(out_dir)
    if isinstance(disc, _RtdHeadMixin):
        with materialised_embeddings(encoder(disc)):
            encoder(disc).save_pretrained(str(out), **save_kwargs)
        head = {k: v.detach().contiguous().cpu() for k, v in disc.discriminator_predictions.state_dict().items()}
        # one metadata key: safetensors keeps metadata in a hash map, so two keys come out in either order
        # and the same weights would give different bytes (DVC, fault injection and reruns compare bytes)
        save_file(head, str(out / RTD_HEAD_FILE), metadata={"format": "pt"})
        return ["config.json", "model.safetensors", RTD_HEAD_FILE]
    with materialised_embeddings(encoder(disc)):
        disc.save_pretrained(str(out), **save_kwargs)
    return ["config.json", "model.safetensors"]


def load_discriminator(path) -> torch.nn.Module:
    """Inverse of :func:`save_discriminator` (the RTD head included)."""
    from pathlib import Path

    from safetensors.torch import load_file
    from transformers import AutoConfig
    cfg = AutoConfig.from_pretrained(str(path))
    fam = backbone_of(cfg)
    cls = fam.discriminator_class
    if not issubclass(cls, _RtdHeadMixin):
        return cls.from_pretrained(str(path), attn_implementation=attn_implementation(fam))
    head_file = Path(path) / RTD_HEAD_FILE
    if not head_file.is_file():
        raise FileNotFoundError(f"{head_file}: the {fam.name} discriminator's replaced-token-detection head is missing")
    cfg._attn_implementation = attn_implementation(fam)
    disc = cls(cfg)
    setattr(disc, disc.base_model_prefix,
            cls.encoder_class.from_pretrained(str(path), attn_implementation=attn_implementation(fam)))
    disc.discriminator_predictions.load_state_dict(load_file(str(head_file)))
    return disc


__all__ = ["BACKBONES", "Backbone", "ConvBertForPreTraining", "DebertaV2ForPreTraining", "RTD_HEAD_FILE",
           "attn_implementation", "backbone", "backbone_of", "encoder", "init_local", "load_discriminator", "mlm_head",
           "save_discriminator"]
