"""ELECTRA replaced-token detection (Clark et al. 2020) and the BERT-style MLM baseline on HF Electra.

* :func:`build_configs` turns the flat pretrain params into discriminator and generator ``ElectraConfig``.
* :func:`mask_tokens` is the dynamic masking shared by both objectives.
* :class:`ElectraPretrainer` holds ``discriminator`` (``ElectraForPreTraining``) and ``generator``
  (``ElectraForMaskedLM``) sharing one embedding module; :class:`MLMPretrainer` trains a
  discriminator-sized ``ElectraForMaskedLM`` with the same masking, for RTD-vs-MLM comparisons.

Both pretrainers' ``forward(input_ids, attention_mask, token_type_ids, generator=None)`` return a dict
of 0-dim tensors (no .item() calls): ``loss``, ``gen_loss``, ``disc_loss``, ``gen_correct``,
``masked_count``, ``disc_correct``, ``token_count``, ``replaced_count`` (true replaced tokens),
``predicted_replaced`` and ``true_positive`` (for replaced precision/recall), ``disc_acc``, plus the
bool tensors ``masked`` and (ELECTRA only) ``labels`` (= masked & sampled != original) and
``fake_input_ids`` (the discriminator's input). For the MLM objective the disc_* entries are zero
tensors and ``loss == gen_loss``.

Imports only torch and transformers.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from transformers import ElectraConfig, ElectraForMaskedLM, ElectraForPreTraining

PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 1, 2, 3, 4
# Tokens that are never masked. [UNK] is deliberately absent: it is an ordinary (if rare) token.
SPECIAL_IDS = (PAD_ID, CLS_ID, SEP_ID, MASK_ID)
MASK_REPLACE_PROB = 0.85  # of masked positions: 85% -> [MASK], 15% unchanged, 0% random (ELECTRA)

ARCH_PARAM_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                   "embedding_size")


def _attn_impl() -> str:
    # SDPA is in every torch >= 2.0; HF Electra declares _supports_sdpa. Fall back to eager otherwise.
    return "sdpa" if hasattr(F, "scaled_dot_product_attention") else "eager"


def build_configs(params: dict, vocab_size: int, max_seq_length: int,
                  dropout: float = 0.1) -> tuple[ElectraConfig, ElectraConfig]:
    """Discriminator and generator configs from the flat pretrain params.

    Generator: same depth and embedding size; hidden = int(hidden * f), heads = max(1, int(heads * f)),
    intermediate = int(intermediate * f) with f = params['generator_fraction'].
    """
    common = dict(
        vocab_size=int(vocab_size), max_position_embeddings=int(max_seq_length), type_vocab_size=2,
        pad_token_id=PAD_ID, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
        embedding_size=int(params["embedding_size"]), num_hidden_layers=int(params["num_hidden_layers"]),
        hidden_act="gelu", initializer_range=0.02, layer_norm_eps=1e-12, tie_word_embeddings=True,
    )
    disc = ElectraConfig(hidden_size=int(params["hidden_size"]),
                         num_attention_heads=int(params["num_attention_heads"]),
                         intermediate_size=int(params["intermediate_size"]),
                         attn_implementation=_attn_impl(), **common)
    f = float(params.get("generator_fraction", 0.25))
    g_hidden = int(params["hidden_size"] * f)
    g_heads = max(1, int(params["num_attention_heads"] * f))
    if g_hidden < 1 or g_hidden % g_heads:
        raise ValueError(f"generator hidden size {g_hidden} (= {params['hidden_size']} x {f}) is not a positive "
                         f"multiple of its {g_heads} attention heads; change generator_fraction")
    gen = ElectraConfig(hidden_size=g_hidden, num_attention_heads=g_heads,
                        intermediate_size=max(1, int(params["intermediate_size"] * f)),
                        attn_implementation=_attn_impl(), **common)
    return disc, gen


def special_tokens_mask(input_ids: torch.Tensor, special_ids=SPECIAL_IDS) -> torch.Tensor:
    """Bool mask of positions that may never be masked ([PAD], [CLS], [SEP], [MASK])."""
    m = torch.zeros_like(input_ids, dtype=torch.bool)
    for i in special_ids:
        m |= input_ids == i
    return m


def max_predictions(mask_prob: float, seq_len: int) -> int:
    """The official cap on masked positions per sequence: int((mask_prob + 0.005) * max_seq_length)."""
    return max(1, int((mask_prob + 0.005) * seq_len))


def mask_tokens(input_ids: torch.Tensor, special_mask: torch.Tensor, mask_prob: float, mask_id: int,
                generator: torch.Generator | None = None, *, max_predictions_per_seq: int | None = None,
                pad_id: int = PAD_ID, replace_prob: float = MASK_REPLACE_PROB
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Dynamic masking. Returns ``(masked_input_ids, masked)`` where ``masked`` is a bool [B, L] tensor.

    Per sequence, ``round(n_tokens * mask_prob)`` positions (n_tokens = non-pad tokens, at least 1,
    at most ``max_predictions_per_seq`` -- default ``int((mask_prob + 0.005) * L)`` -- and at most the
    number of candidates) are drawn uniformly without replacement among the non-special positions
    (``~special_mask``). Of those, ``replace_prob`` (85%) become ``mask_id`` and the rest keep their
    token; none are replaced by a random token (the ELECTRA recipe). All randomness comes from
    ``generator`` (which must live on ``input_ids``' device).
    """
    B, L = input_ids.shape
    dev = input_ids.device
    cap = max_predictions_per_seq if max_predictions_per_seq is not None else max_predictions(mask_prob, L)
    cand = ~special_mask.to(torch.bool)
    n_tokens = (input_ids != pad_id).sum(1)
    n_cand = cand.sum(1)
    k = torch.round(n_tokens.to(torch.float32) * mask_prob).to(torch.long).clamp(min=1, max=cap)
    k = torch.minimum(k, n_cand)
    scores = torch.rand((B, L), generator=generator, device=dev)
    scores = scores.masked_fill(~cand, -1.0)  # candidates first in a descending sort
    order = scores.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(L, device=dev).expand(B, L).contiguous())
    masked = (ranks < k.unsqueeze(1)) & cand
    to_mask = masked & (torch.rand((B, L), generator=generator, device=dev) < replace_prob)
    return input_ids.masked_fill(to_mask, mask_id), masked


def gumbel_sample(logits: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Gumbel-max sampling at temperature 1 in fp32 (official ELECTRA noise); no gradient flows."""
    logits = logits.detach().float()
    u = torch.rand(logits.shape, generator=generator, device=logits.device)
    gumbel = -torch.log(-torch.log(u + 1e-9) + 1e-9)
    return (logits + gumbel).argmax(-1)


def _zero(dev) -> torch.Tensor:
    return torch.zeros((), device=dev)


class ElectraPretrainer(torch.nn.Module):
    """Generator + discriminator with shared embeddings; loss = gen MLM + disc_weight * disc BCE."""

    def __init__(self, disc_config: ElectraConfig, gen_config: ElectraConfig, *, mask_prob: float = 0.15,
                 disc_weight: float = 50.0, max_seq_length: int | None = None, mask_id: int = MASK_ID,
                 discriminator: ElectraForPreTraining | None = None, generator: ElectraForMaskedLM | None = None):
        super().__init__()
        if disc_config.embedding_size != gen_config.embedding_size:
            raise ValueError("generator and discriminator must share embedding_size to share embeddings")
        self.discriminator = discriminator if discriminator is not None else ElectraForPreTraining(disc_config)
        self.generator = generator if generator is not None else ElectraForMaskedLM(gen_config)
        self.tie_embeddings()
        self.mask_prob = float(mask_prob)
        self.disc_weight = float(disc_weight)
        self.mask_id = int(mask_id)
        self.max_preds = max_predictions(mask_prob, max_seq_length or disc_config.max_position_embeddings)

    @classmethod
    def from_pretrained(cls, path, **kwargs) -> "ElectraPretrainer":
        """Rebuild from an exported folder (discriminator at ``path``, generator at ``path/generator``);
        ``kwargs``: mask_prob, disc_weight, max_seq_length, mask_id."""
        from pathlib import Path
        disc = ElectraForPreTraining.from_pretrained(str(path), attn_implementation=_attn_impl())
        gen = ElectraForMaskedLM.from_pretrained(str(Path(path) / "generator"), attn_implementation=_attn_impl())
        return cls(disc.config, gen.config, discriminator=disc, generator=gen, **kwargs)

    def tie_embeddings(self) -> None:
        """Share every embedding (word, position, token type, LayerNorm) and tie the generator output layer.

        The generator's own ``embeddings_project`` (embedding_size -> its hidden size) stays its own.
        """
        shared = self.discriminator.electra.embeddings
        self.generator.electra.embeddings = shared
        self.generator.generator_lm_head.weight = shared.word_embeddings.weight

    def _generator_logits(self, masked_ids, attention_mask, token_type_ids, masked):
        hidden = self.generator.electra(masked_ids, attention_mask=attention_mask,
                                        token_type_ids=token_type_ids, return_dict=True).last_hidden_state
        h = hidden[masked]  # [M, H_gen]: only masked positions go through the prediction head
        return self.generator.generator_lm_head(self.generator.generator_predictions(h))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None,
                generator: torch.Generator | None = None) -> dict:
        if attention_mask is None:
            attention_mask = (input_ids != PAD_ID).long()
        special = special_tokens_mask(input_ids) | (attention_mask == 0)
        masked_ids, masked = mask_tokens(input_ids, special, self.mask_prob, self.mask_id, generator,
                                         max_predictions_per_seq=self.max_preds)
        originals = input_ids[masked]
        logits = self._generator_logits(masked_ids, attention_mask, token_type_ids, masked).float()
        n_masked = masked.sum()
        gen_loss = F.cross_entropy(logits, originals, reduction="sum") / n_masked.clamp(min=1)
        gen_correct = (logits.detach().argmax(-1) == originals).sum()

        sampled = gumbel_sample(logits, generator)
        fake_ids = input_ids.clone()
        fake_ids[masked] = sampled
        labels = masked & (fake_ids != input_ids)  # a sample equal to the original counts as original

        d_logits = self.discriminator(fake_ids, attention_mask=attention_mask,
                                      token_type_ids=token_type_ids).logits.float()
        w = attention_mask.to(d_logits.dtype)
        n_tok = w.sum()
        disc_loss = (F.binary_cross_entropy_with_logits(d_logits, labels.to(d_logits.dtype), reduction="none")
                     * w).sum() / n_tok.clamp(min=1)
        active = attention_mask.bool()
        pred = (d_logits.detach() > 0) & active
        lab = labels & active
        disc_correct = ((pred == lab) & active).sum()
        return dict(
            loss=gen_loss + self.disc_weight * disc_loss, gen_loss=gen_loss, disc_loss=disc_loss,
            gen_correct=gen_correct, masked_count=n_masked, disc_correct=disc_correct,
            token_count=active.sum(), replaced_count=lab.sum(), predicted_replaced=pred.sum(),
            true_positive=(pred & lab).sum(), disc_acc=disc_correct.float() / n_tok.clamp(min=1),
            labels=labels, masked=masked, fake_input_ids=fake_ids,
        )


class MLMPretrainer(torch.nn.Module):
    """BERT-style MLM on a discriminator-sized ``ElectraForMaskedLM`` (the paper's equal-compute baseline).

    Uses the ELECTRA masking (85% [MASK] / 15% unchanged, no random tokens) rather than BERT's
    80/10/10 so that the two objectives differ only in the training signal. The output layer is tied to
    the word embeddings; logits are computed at masked positions only.
    """

    def __init__(self, disc_config: ElectraConfig, *, mask_prob: float = 0.15,
                 max_seq_length: int | None = None, mask_id: int = MASK_ID, **_ignored):
        super().__init__()
        self.generator = ElectraForMaskedLM(disc_config)
        self.mask_prob = float(mask_prob)
        self.mask_id = int(mask_id)
        self.disc_weight = 0.0
        self.max_preds = max_predictions(mask_prob, max_seq_length or disc_config.max_position_embeddings)

    @property
    def backbone(self):
        return self.generator.electra

    def forward(self, input_ids, attention_mask=None, token_type_ids=None,
                generator: torch.Generator | None = None) -> dict:
        if attention_mask is None:
            attention_mask = (input_ids != PAD_ID).long()
        special = special_tokens_mask(input_ids) | (attention_mask == 0)
        masked_ids, masked = mask_tokens(input_ids, special, self.mask_prob, self.mask_id, generator,
                                         max_predictions_per_seq=self.max_preds)
        originals = input_ids[masked]
        hidden = self.generator.electra(masked_ids, attention_mask=attention_mask,
                                        token_type_ids=token_type_ids, return_dict=True).last_hidden_state
        logits = self.generator.generator_lm_head(self.generator.generator_predictions(hidden[masked])).float()
        n_masked = masked.sum()
        gen_loss = F.cross_entropy(logits, originals, reduction="sum") / n_masked.clamp(min=1)
        dev = input_ids.device
        z = torch.zeros((), dtype=torch.long, device=dev)
        return dict(
            loss=gen_loss, gen_loss=gen_loss, disc_loss=_zero(dev),
            gen_correct=(logits.detach().argmax(-1) == originals).sum(), masked_count=n_masked,
            disc_correct=z, token_count=attention_mask.bool().sum(), replaced_count=z,
            predicted_replaced=z, true_positive=z, disc_acc=_zero(dev), masked=masked,
        )


def build_pretrainer(params: dict, vocab_size: int, max_seq_length: int,
                     mask_id: int = MASK_ID) -> torch.nn.Module:
    """ElectraPretrainer or MLMPretrainer according to ``params['objective']`` (weights from the global RNG)."""
    disc_cfg, gen_cfg = build_configs(params, vocab_size, max_seq_length)
    kw = dict(mask_prob=float(params.get("mask_prob", 0.15)), max_seq_length=max_seq_length, mask_id=mask_id)
    if params.get("objective", "electra") == "mlm":
        return MLMPretrainer(disc_cfg, **kw)
    return ElectraPretrainer(disc_cfg, gen_cfg, disc_weight=float(params.get("disc_weight", 50.0)), **kw)


def count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["build_configs", "mask_tokens", "special_tokens_mask", "max_predictions", "gumbel_sample",
           "ElectraPretrainer", "MLMPretrainer", "build_pretrainer", "count_params", "SPECIAL_IDS",
           "MASK_REPLACE_PROB"]
