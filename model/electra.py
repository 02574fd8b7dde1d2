"""ELECTRA replaced-token detection (Clark et al. 2020) and the BERT-style MLM baseline on HF Electra.

* :func:`build_configs` turns the flat pretrain params into discriminator and generator ``ElectraConfig``
  (generator exactly as the official ``get_generator_config``).
* :func:`mask_tokens` is the dynamic masking shared by both objectives (the pre-training loader calls it on
  the CPU with per-step random numbers; the models call it themselves when given unmasked input).
* :func:`sample_from_softmax` samples the generator's softmax in fp32 (the official distribution, by
  inverse CDF); with ``keys`` its uniform comes from a counter-based hash of (example, position) rather than a
  stateful RNG, so the sample of a token does not depend on how the batch was split over processes,
  micro-batches or packed rows.
* :class:`ElectraPretrainer` holds ``discriminator`` (``ElectraForPreTraining``, or
  ``model.backbones.ConvBertForPreTraining``) and ``generator`` (``ElectraForMaskedLM`` / ``ConvBertForMaskedLM``)
  sharing one embedding module; :class:`MLMPretrainer` trains a discriminator-sized masked LM with the same
  masking, for RTD-vs-MLM comparisons. ``params['backbone']`` (``model.backbones``) picks the family.

Both pretrainers' ``forward(input_ids, attention_mask, token_type_ids, generator=None, **batch)`` return a
dict of 0-dim tensors (no .item() calls): ``loss``, ``gen_loss``, ``disc_loss``, the sums ``gen_sum`` /
``disc_sum`` they were normalised from, ``gen_correct``, ``masked_count``, ``gen_sum_at_mask`` /
``mask_shown_count`` (the generator's loss over the masked positions that showed [MASK]; the rest of
``gen_sum`` is over the unchanged 15%), ``disc_correct``, ``token_count``,
``replaced_count`` (true replaced tokens), ``predicted_replaced`` and ``true_positive`` (for replaced
precision/recall), ``disc_acc``, plus the bool tensors ``masked`` and (ELECTRA only) ``labels``
(= masked & sampled != original), ``fake_input_ids`` (the discriminator's input), ``disc_logits`` and
``active`` (real-token mask). For the MLM objective
the disc_* entries are zero tensors and ``loss == gen_loss``.

Optional batch keywords (what :class:`model.data.PretrainBatcher` produces): ``masked_input_ids`` and
``masked`` (masking done by the loader), ``position_ids`` and ``segment_ids`` (packed rows: several examples
per row, attention block-diagonal per example), ``sample_keys`` (int32 per-position keys for the
generator's samples), ``gen_denom`` / ``disc_denom`` (normalisers: masked and real tokens of the whole global
batch, so that a step's loss does not depend on how the batch was split).

Imports only torch and transformers.
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn.functional as F

from transformers.models.electra.modeling_electra import ElectraGeneratorPredictions

from model.backbones import attn_implementation, backbone, backbone_of, encoder, mlm_head
from model.fastpath import speed_up
from model.gdes import EMBEDDING_SHARING, share_gdes

PAD_ID, UNK_ID, CLS_ID, SEP_ID, MASK_ID = 0, 1, 2, 3, 4
# Tokens that are never masked. [UNK] is deliberately absent: it is an ordinary (if rare) token.
SPECIAL_IDS = (PAD_ID, CLS_ID, SEP_ID, MASK_ID)
MASK_REPLACE_PROB = 0.85  # of masked positions: 85% -> [MASK], 15% unchanged, 0% random (ELECTRA)

ARCH_PARAM_KEYS = ("num_hidden_layers", "hidden_size", "num_attention_heads", "intermediate_size",
                   "embedding_size")

# counter-based hashing (uint32 bit patterns held in int32 tensors; arithmetic wraps modulo 2^32)
GOLDEN = 0x9E3779B9          # odd: i -> i * GOLDEN is a bijection modulo 2^32
POS_STRIDE = 0x85EBCA6B      # odd
_M1 = 0x7FEB352D
_M2 = 0x846CA68B - (1 << 32)  # the second lowbias32 multiplier as a signed int32


def as_int32(x: int) -> int:
    """A uint32 value (any Python int, taken modulo 2^32) as the signed int32 with the same bits."""
    x &= 0xFFFFFFFF
    return x - (1 << 32) if x >= (1 << 31) else x


def hash32(x: torch.Tensor) -> torch.Tensor:
    """``lowbias32`` integer hash (C. Wellons) of an int32 tensor, bitwise as on uint32 (wrapping multiply,
    logical shifts). Pure function: the basis of the partition-invariant randomness."""
    x = x ^ ((x >> 16) & 0xFFFF)
    x = x * _M1
    x = x ^ ((x >> 15) & 0x1FFFF)
    x = x * _M2
    return x ^ ((x >> 16) & 0xFFFF)


def hash_uniform(x: torch.Tensor) -> torch.Tensor:
    """fp32 uniforms strictly inside (0, 1) from int32 hash values (24 random bits)."""
    return ((x >> 8) & 0xFFFFFF).float().mul_(2.0 ** -24).add_(2.0 ** -25)


def build_configs(params: dict, vocab_size: int, max_seq_length: int,
                  dropout: float | None = None):
    """Discriminator and generator configs (``ElectraConfig`` or ``ConvBertConfig`` by ``params['backbone']``,
    default ``electra``) from the flat pretrain params.

    Generator as the official ``get_generator_config``: same depth x ``generator_layers`` (default 1),
    hidden = round(hidden x generator_fraction), FFN = 4 x that hidden, heads = max(1, hidden // 64) --
    for the paper's sizes (head size 64, FFN = 4 x hidden) this is width, FFN and heads all multiplied by
    the fraction (Table 6: "multiplier for hidden-size, FFN-size and num-attention-heads").
    Dropout: ``params['dropout']`` (default 0.1) on hidden states and attention probabilities.
    ``max_position_embeddings``: ``params['max_position_embeddings']`` when given (the official code's 512 for
    the paper sizes), else the training sequence length.
    """
    if dropout is None:
        dropout = float(params.get("dropout", 0.1))
    fam = backbone(params.get("backbone") or "electra")
    attn = params.get("attn_implementation") or attn_implementation(fam)
    positions = max(int(max_seq_length), int(params.get("max_position_embeddings") or 0))
    common = dict(
        vocab_size=int(vocab_size), max_position_embeddings=positions, type_vocab_size=2,
        pad_token_id=PAD_ID, hidden_dropout_prob=dropout, attention_probs_dropout_prob=dropout,
        embedding_size=int(params["embedding_size"]), hidden_act="gelu", initializer_range=0.02,
        layer_norm_eps=1e-12, tie_word_embeddings=True, **dict(fam.extra_config),
    )
    if fam.name != "electra":
        common.update(bos_token_id=CLS_ID, eos_token_id=SEP_ID)
    hidden, heads = int(params["hidden_size"]), int(params["num_attention_heads"])
    if hidden % heads:
        raise ValueError(f"hidden_size {hidden} is not a multiple of num_attention_heads {heads}")
    disc = fam.config_class(hidden_size=hidden, num_attention_heads=heads,
                            intermediate_size=int(params["intermediate_size"]),
                            num_hidden_layers=int(params["num_hidden_layers"]), attn_implementation=attn, **common)
    f = float(params.get("generator_fraction", 0.25))
    g_hidden = int(round(hidden * f))
    g_layers = int(round(int(params["num_hidden_layers"]) * float(params.get("generator_layers", 1.0))))
    if g_hidden < 1 or g_layers < 1:
        raise ValueError(f"generator would have hidden size {g_hidden} and {g_layers} layers "
                         f"(generator_fraction {f}, generator_layers {params.get('generator_layers', 1.0)})")
    g_heads = max(1, g_hidden // 64)
    if g_hidden % g_heads:
        raise ValueError(f"generator hidden size {g_hidden} is not a multiple of its {g_heads} heads")
    gen = fam.config_class(hidden_size=g_hidden, num_attention_heads=g_heads, intermediate_size=4 * g_hidden,
                           num_hidden_layers=g_layers, attn_implementation=attn, **common)
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


def num_to_mask(n_tokens: torch.Tensor, n_candidates: torch.Tensor, mask_prob: float, cap: int) -> torch.Tensor:
    """Masked positions per sequence: max(1, min(cap, round(n_tokens * p))), at most the candidates.

    As the official ``pretrain_helpers.mask`` (n_tokens counts [CLS]/[SEP] too; round half to even)."""
    k = torch.round(n_tokens.to(torch.float32) * mask_prob).to(torch.long).clamp(min=1, max=cap)
    return torch.minimum(k, n_candidates.to(torch.long))


def mask_tokens(input_ids: torch.Tensor, special_mask: torch.Tensor, mask_prob: float, mask_id: int,
                generator: torch.Generator | None = None, *, max_predictions_per_seq: int | None = None,
                pad_id: int = PAD_ID, replace_prob: float = MASK_REPLACE_PROB,
                scores: torch.Tensor | None = None, replace_u: torch.Tensor | None = None
                ) -> tuple[torch.Tensor, torch.Tensor]:
    """Dynamic masking. Returns ``(masked_input_ids, masked)`` where ``masked`` is a bool [B, L] tensor.

    Per sequence, ``round(n_tokens * mask_prob)`` positions (n_tokens = non-pad tokens, at least 1,
    at most ``max_predictions_per_seq`` -- default ``int((mask_prob + 0.005) * L)`` -- and at most the
    number of candidates) are drawn uniformly without replacement among the non-special positions
    (``~special_mask``). Of those, ``replace_prob`` (85%) become ``mask_id`` and the rest keep their
    token; none are replaced by a random token (the ELECTRA recipe). The randomness is ``scores`` and
    ``replace_u`` (uniform [B, L]) when given, else drawn from ``generator`` (on ``input_ids``' device).
    """
    B, L = input_ids.shape
    dev = input_ids.device
    cap = max_predictions_per_seq if max_predictions_per_seq is not None else max_predictions(mask_prob, L)
    cand = ~special_mask.to(torch.bool)
    k = num_to_mask((input_ids != pad_id).sum(1), cand.sum(1), mask_prob, cap)
    if scores is None:
        scores = torch.rand((B, L), generator=generator, device=dev)
    scores = scores.masked_fill(~cand, -1.0)  # candidates first in a descending sort
    order = scores.argsort(dim=1, descending=True, stable=True)
    ranks = torch.empty_like(order)
    ranks.scatter_(1, order, torch.arange(L, device=dev).expand(B, L).contiguous())
    masked = (ranks < k.unsqueeze(1)) & cand
    if replace_u is None:
        replace_u = torch.rand((B, L), generator=generator, device=dev)
    to_mask = masked & (replace_u < replace_prob)
    return input_ids.masked_fill(to_mask, mask_id), masked


def sample_from_softmax(logits: torch.Tensor, generator: torch.Generator | None = None, *,
                        keys: torch.Tensor | None = None, temperature: float = 1.0) -> torch.Tensor:
    """One token per row from softmax(logits / temperature) in fp32; no gradient flows.

    The distribution of the official ``sample_from_softmax`` (Gumbel-max), drawn by inverse CDF: one
    uniform per row against the row's cumulative softmax, instead of one Gumbel variate per vocabulary
    entry. Same distribution, ~5-10x cheaper on a CPU (the noise was ~7% of a ``tiny`` step at 8000 pieces), no
    [M, V] temporaries beyond the softmax itself. ``keys`` ([M] int32): the uniform is a counter-based hash
    of the key (:func:`hash32`), so a token's sample does not depend on how the batch was split; otherwise
    ``torch.rand`` with ``generator``. Each vocabulary entry's probability is off by at most the rounding of
    one fp32 addition of the cumulative sum; a zero-probability entry is never drawn."""
    logits = logits.detach().float()
    if temperature != 1.0:
        logits = logits / temperature
    cdf = torch.softmax(logits, -1).cumsum_(-1)
    if keys is not None:
        u = hash_uniform(hash32(keys.to(torch.int32)))
    else:
        u = torch.rand(logits.shape[:-1], generator=generator, device=logits.device)
    target = (u * cdf[..., -1]).unsqueeze(-1)       # scaled by the row's total: rounding cannot overshoot it
    idx = torch.searchsorted(cdf, target, right=True).squeeze(-1)
    return idx.clamp_(max=logits.shape[-1] - 1)     # u rounds to 1.0 once in 2^25 draws


def encoder_mask(attention_mask: torch.Tensor, segment_ids: torch.Tensor | None, attn_impl: str,
                 dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The mask to hand to the HF encoder: the 2-D padding mask, or for packed rows a 4-D block-diagonal
    one (a token attends only to tokens of its own example; padding forms its own block, so no query row
    is fully masked)."""
    if segment_ids is None:
        return attention_mask
    same = segment_ids[:, None, :, None] == segment_ids[:, None, None, :]  # [R, 1, L, L]
    if attn_impl == "sdpa":
        return same
    return torch.zeros(same.shape, dtype=dtype, device=same.device).masked_fill_(~same, torch.finfo(dtype).min)


def mask_shown(masked_ids: torch.Tensor, masked: torch.Tensor, mask_id: int) -> torch.Tensor:
    """[M] bool, in the order of ``masked``'s True positions: whether the model saw [MASK] there (85%) rather
    than the unchanged token (15%)."""
    return masked_ids[masked] == mask_id


def split_generator_loss(ce: torch.Tensor, at_mask: torch.Tensor) -> dict:
    """The MLM loss (``ce``: per masked position) summed over the positions that showed [MASK] (detached);
    the rest of ``gen_sum`` is over the unchanged ones.

    The average over both hides how close a generator is to the unigram distribution: an unchanged position
    can be copied from the input, a [MASK] position must be predicted from context."""
    return dict(gen_sum_at_mask=(ce.detach() * at_mask).sum(), mask_shown_count=at_mask.sum())


def _zero(dev) -> torch.Tensor:
    return torch.zeros((), device=dev)


class _Base(torch.nn.Module):
    mask_prob: float
    mask_id: int
    max_preds: int

    def _prepare(self, input_ids, attention_mask, generator, masked_input_ids, masked):
        if attention_mask is None:
            attention_mask = (input_ids != PAD_ID).long()
        if masked is None:
            special = special_tokens_mask(input_ids) | (attention_mask == 0)
            masked_input_ids, masked = mask_tokens(input_ids, special, self.mask_prob, self.mask_id, generator,
                                                   max_predictions_per_seq=self.max_preds)
        return attention_mask, masked_input_ids, masked

    @staticmethod
    def _denom(given, local: torch.Tensor) -> torch.Tensor:
        if given is None:
            return local.clamp(min=1).to(torch.float32)
        return torch.as_tensor(given, dtype=torch.float32, device=local.device)


class CorrectiveHead(torch.nn.Module):
    """The discriminator's second head when ``disc_mlm_weight`` > 0: at every masked position it predicts the
    original token from the *corrupted* input (the generator's sample, or the original where the sample
    equalled it) -- replaced-token detection plus correction, as in the ELECTRA paper's "All-Tokens MLM"
    hybrid (section 3.2) and COCO-LM's corrective language modelling, restricted to the masked positions so it
    costs one vocabulary projection per masked token. Layout of the generator's head (hidden -> embedding,
    GELU, LayerNorm), output layer tied to the shared word embeddings, its own bias.

    Why it exists (docs/pretraining.md, "What replaced-token detection does to the attention heads"): at CPU
    compute the generator is near unigram level, its fakes are caught by a neighbour check the convolution
    heads do, and the discriminator's token states collapse towards one vector (last-layer cosine ~0.89).
    Asking the same network to name the original token keeps them apart (~0.3) and makes its pre-training
    worth something on token tasks (en UPOS +4.8 over random init, vs +0.6 without)."""

    def __init__(self, config):
        super().__init__()
        self.predictions = ElectraGeneratorPredictions(config)
        self.bias = torch.nn.Parameter(torch.zeros(int(config.vocab_size)))

    def forward(self, hidden: torch.Tensor, word_embeddings: torch.Tensor) -> torch.Tensor:
        return F.linear(self.predictions(hidden), word_embeddings, self.bias)


class ElectraPretrainer(_Base):
    """Generator + discriminator with shared embeddings; loss = gen MLM + disc_weight * disc BCE
    (+ disc_mlm_weight * the discriminator's corrective MLM, :class:`CorrectiveHead`, when > 0)."""

    def __init__(self, disc_config, gen_config, *, mask_prob: float = 0.15,
                 disc_weight: float = 50.0, max_seq_length: int | None = None, mask_id: int = MASK_ID,
                 temperature: float = 1.0, discriminator=None, generator=None, disc_mlm_weight: float = 0.0,
                 embedding_sharing: str = "full"):
        super().__init__()
        if embedding_sharing not in EMBEDDING_SHARING:
            raise ValueError(f"embedding_sharing must be one of {', '.join(EMBEDDING_SHARING)}, got {embedding_sharing!r}")
        self.embedding_sharing = embedding_sharing
        if disc_config.embedding_size != gen_config.embedding_size:
            raise ValueError("generator and discriminator must share embedding_size to share embeddings")
        if disc_config.model_type != gen_config.model_type:
            raise ValueError(f"generator ({gen_config.model_type}) and discriminator ({disc_config.model_type}) "
                             "must be of one backbone family to share embeddings")
        fam = backbone_of(disc_config)
        self.discriminator = discriminator if discriminator is not None else fam.discriminator_class(disc_config)
        self.generator = generator if generator is not None else fam.masked_lm_class(gen_config)
        self.tie_embeddings()
        self.mask_prob = float(mask_prob)
        self.disc_weight = float(disc_weight)
        self.mask_id = int(mask_id)
        self.temperature = float(temperature)
        self.disc_mlm_weight = float(disc_mlm_weight)
        # None by default, so the paper's model has exactly the paper's parameters (and checkpoints)
        self.corrective = CorrectiveHead(disc_config) if self.disc_mlm_weight > 0 else None
        self.sampler = None  # e.g. a torch.compile'd sample_from_softmax; None: the module function
        self.max_preds = max_predictions(mask_prob, max_seq_length or disc_config.max_position_embeddings)

    @classmethod
    def from_pretrained(cls, path, **kwargs) -> "ElectraPretrainer":
        """Rebuild from an exported folder (discriminator at ``path``, generator at ``path/generator``);
        ``kwargs``: mask_prob, disc_weight, max_seq_length, mask_id, temperature."""
        from model.backbones import load_discriminator
        disc = load_discriminator(path)
        fam = backbone_of(disc.config)
        gen = fam.masked_lm_class.from_pretrained(str(Path(path) / "generator"), attn_implementation=attn_implementation(fam))
        return cls(disc.config, gen.config, discriminator=disc, generator=gen, **kwargs)

    def tie_embeddings(self) -> None:
        """Share the embeddings and tie the generator's output layer to the word embeddings.

        ``full`` (the paper): every embedding (word, position, token type, LayerNorm; DeBERTa: word and token
        type, ``Backbone.shared_embeddings``) is one module; the generator's own ``embeddings_project``
        (embedding_size -> its hidden size) stays its own, as in the official code. ``gdes``
        (:mod:`model.gdes`): only the word embeddings are shared, gradient-disentangled.
        """
        d_emb, g_emb = encoder(self.discriminator).embeddings, encoder(self.generator).embeddings
        names = backbone_of(self.discriminator.config).shared_embeddings
        if self.embedding_sharing == "gdes":
            share_gdes(d_emb, g_emb.word_embeddings)
        elif names is None:
            encoder(self.generator).embeddings = g_emb = d_emb
        else:
            for name in names:
                setattr(g_emb, name, getattr(d_emb, name))
        mlm_head(self.generator)[1].weight = g_emb.word_embeddings.weight

    def _generator_logits(self, masked_ids, enc_mask, token_type_ids, position_ids, masked):
        hidden = encoder(self.generator)(masked_ids, attention_mask=enc_mask, token_type_ids=token_type_ids,
                                         position_ids=position_ids, return_dict=True).last_hidden_state
        transform, output = mlm_head(self.generator)
        return output(transform(hidden[masked]))  # [M, V]: only masked positions go through the head

    def _discriminate(self, fake_ids, enc_mask, token_type_ids, position_ids, masked, originals):
        """RTD logits [B, L] and, with the corrective head, its summed cross-entropy at the masked positions."""
        if self.corrective is None:
            return self.discriminator(fake_ids, attention_mask=enc_mask, token_type_ids=token_type_ids,
                                      position_ids=position_ids).logits.float(), None
        enc = encoder(self.discriminator)
        hidden = enc(fake_ids, attention_mask=enc_mask, token_type_ids=token_type_ids, position_ids=position_ids,
                     return_dict=True).last_hidden_state
        d_logits = self.discriminator.discriminator_predictions(hidden).float()
        c_logits = self.corrective(hidden[masked], enc.embeddings.word_embeddings.weight).float()
        return d_logits, F.cross_entropy(c_logits, originals, reduction="sum")

    def forward(self, input_ids, attention_mask=None, token_type_ids=None,
                generator: torch.Generator | None = None, *, masked_input_ids=None, masked=None,
                position_ids=None, segment_ids=None, sample_keys=None, gen_denom=None, disc_denom=None) -> dict:
        attention_mask, masked_ids, masked = self._prepare(input_ids, attention_mask, generator,
                                                           masked_input_ids, masked)
        enc_mask = encoder_mask(attention_mask, segment_ids, self.discriminator.config._attn_implementation)
        originals = input_ids[masked]
        logits = self._generator_logits(masked_ids, enc_mask, token_type_ids, position_ids, masked).float()
        n_masked = masked.sum()
        ce = F.cross_entropy(logits, originals, reduction="none")
        gen_sum = ce.sum()
        gen_loss = gen_sum / self._denom(gen_denom, n_masked)
        gen_correct = (logits.detach().argmax(-1) == originals).sum()

        keys = sample_keys[masked] if sample_keys is not None else None
        sampled = (self.sampler or sample_from_softmax)(logits, generator, keys=keys, temperature=self.temperature)
        fake_ids = input_ids.masked_scatter(masked, sampled.to(input_ids.dtype))
        labels = masked & (fake_ids != input_ids)  # a sample equal to the original counts as original

        d_logits, disc_mlm_sum = self._discriminate(fake_ids, enc_mask, token_type_ids, position_ids, masked,
                                                    originals)
        active = attention_mask.bool()
        w = active.to(d_logits.dtype)
        n_tok = active.sum()
        disc_sum = (F.binary_cross_entropy_with_logits(d_logits, labels.to(d_logits.dtype), reduction="none")
                    * w).sum()
        disc_loss = disc_sum / self._denom(disc_denom, n_tok)
        pred = (d_logits.detach() > 0) & active
        lab = labels & active
        disc_correct = ((pred == lab) & active).sum()
        loss = gen_loss + self.disc_weight * disc_loss
        if disc_mlm_sum is not None:
            loss = loss + self.disc_mlm_weight * disc_mlm_sum / self._denom(gen_denom, n_masked)
            disc_mlm_sum = disc_mlm_sum.detach()
        else:
            disc_mlm_sum = _zero(input_ids.device)
        return dict(
            loss=loss, gen_loss=gen_loss, disc_loss=disc_loss,
            gen_sum=gen_sum.detach(), disc_sum=disc_sum.detach(), disc_mlm_sum=disc_mlm_sum,
            gen_correct=gen_correct, masked_count=n_masked, disc_correct=disc_correct,
            **split_generator_loss(ce, mask_shown(masked_ids, masked, self.mask_id)),
            token_count=n_tok, replaced_count=lab.sum(), predicted_replaced=pred.sum(),
            true_positive=(pred & lab).sum(), disc_acc=disc_correct.float() / n_tok.clamp(min=1),
            labels=labels, masked=masked, fake_input_ids=fake_ids, disc_logits=d_logits.detach(), active=active,
        )


class MLMPretrainer(_Base):
    """BERT-style MLM on a discriminator-sized masked LM of the same backbone (the paper's equal-compute baseline).

    Uses the ELECTRA masking (85% [MASK] / 15% unchanged, no random tokens) rather than BERT's
    80/10/10 so that the two objectives differ only in the training signal. The output layer is tied to
    the word embeddings; logits are computed at masked positions only.
    """

    def __init__(self, disc_config, *, mask_prob: float = 0.15,
                 max_seq_length: int | None = None, mask_id: int = MASK_ID, **_ignored):
        super().__init__()
        self.generator = backbone_of(disc_config).masked_lm_class(disc_config)
        self.mask_prob = float(mask_prob)
        self.mask_id = int(mask_id)
        self.disc_weight = 0.0
        self.max_preds = max_predictions(mask_prob, max_seq_length or disc_config.max_position_embeddings)

    @property
    def backbone(self):
        return encoder(self.generator)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None,
                generator: torch.Generator | None = None, *, masked_input_ids=None, masked=None,
                position_ids=None, segment_ids=None, sample_keys=None, gen_denom=None, disc_denom=None) -> dict:
        attention_mask, masked_ids, masked = self._prepare(input_ids, attention_mask, generator,
                                                           masked_input_ids, masked)
        enc_mask = encoder_mask(attention_mask, segment_ids, self.generator.config._attn_implementation)
        originals = input_ids[masked]
        hidden = encoder(self.generator)(masked_ids, attention_mask=enc_mask, token_type_ids=token_type_ids,
                                         position_ids=position_ids, return_dict=True).last_hidden_state
        transform, output = mlm_head(self.generator)
        logits = output(transform(hidden[masked])).float()
        n_masked = masked.sum()
        ce = F.cross_entropy(logits, originals, reduction="none")
        gen_sum = ce.sum()
        gen_loss = gen_sum / self._denom(gen_denom, n_masked)
        split = split_generator_loss(ce, mask_shown(masked_ids, masked, self.mask_id))
        dev = input_ids.device
        z = torch.zeros((), dtype=torch.long, device=dev)
        return dict(
            loss=gen_loss, gen_loss=gen_loss, disc_loss=_zero(dev), gen_sum=gen_sum.detach(), disc_sum=_zero(dev),
            disc_mlm_sum=_zero(dev),
            gen_correct=(logits.detach().argmax(-1) == originals).sum(), masked_count=n_masked, **split,
            disc_correct=z, token_count=attention_mask.bool().sum(), replaced_count=z,
            predicted_replaced=z, true_positive=z, disc_acc=_zero(dev), masked=masked,
        )


def build_pretrainer(params: dict, vocab_size: int, max_seq_length: int,
                     mask_id: int = MASK_ID) -> torch.nn.Module:
    """ElectraPretrainer or MLMPretrainer according to ``params['objective']`` (weights from the global RNG),
    with :func:`model.fastpath.speed_up` applied."""
    disc_cfg, gen_cfg = build_configs(params, vocab_size, max_seq_length)
    kw = dict(mask_prob=float(params.get("mask_prob", 0.15)), max_seq_length=max_seq_length, mask_id=mask_id)
    if params.get("objective", "electra") == "mlm":
        model = MLMPretrainer(disc_cfg, **kw)
    else:
        model = ElectraPretrainer(disc_cfg, gen_cfg, disc_weight=float(params.get("disc_weight", 50.0)),
                                  temperature=float(params.get("temperature", 1.0)),
                                  disc_mlm_weight=float(params.get("disc_mlm_weight") or 0.0),
                                  embedding_sharing=params.get("embedding_sharing") or "full", **kw)
    if params.get("local_init") not in (None, "none"):
        from model.backbones import init_local
        if not init_local(model, params["local_init"]):
            raise ValueError(f"local_init needs backbone convbert or electra, not {disc_cfg.model_type}")
    speed_up(model)  # faster equivalents of dropout and ConvBERT's convolution (model.fastpath)
    return model


def count_params(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


__all__ = ["build_configs", "mask_tokens", "num_to_mask", "special_tokens_mask", "max_predictions",
           "sample_from_softmax", "hash32", "hash_uniform", "as_int32", "encoder_mask",
           "ElectraPretrainer", "MLMPretrainer", "build_pretrainer", "count_params", "SPECIAL_IDS",
           "mask_shown", "split_generator_loss",
           "MASK_REPLACE_PROB"]
