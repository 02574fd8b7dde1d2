"""Gradient-disentangled embedding sharing (GDES; He et al. 2023, DeBERTa-v3, section 3.2).

ELECTRA shares one token embedding table E between generator and discriminator, so both losses pull on it:
the generator's MLM pulls similar tokens together, the discriminator's replaced-token detection pulls apart
exactly the tokens the generator confuses (DeBERTa-v3's "tug-of-war"). Under GDES the generator owns E and
trains it with its MLM loss alone; the discriminator reads ``stop_gradient(E) + E_delta`` with ``E_delta``
its own table, initialised to zero, so its loss moves only ``E_delta``. The exported discriminator's word
embeddings are ``E + E_delta`` (:func:`materialised_embeddings`), an ordinary ``nn.Embedding``.

Imports only torch.
"""
from __future__ import annotations

from contextlib import contextmanager

import torch
import torch.nn.functional as F

EMBEDDING_SHARING = ("full", "gdes")


class GdesEmbedding(torch.nn.Module):
    """``stop_gradient(source.weight) + delta`` as an embedding layer. ``source`` (the generator's table) is
    held without registering it here, so it is one parameter of the pre-trainer (owned by the generator) and
    checkpoints hold ``delta`` only under this module's name."""

    def __init__(self, source: torch.nn.Embedding):
        super().__init__()
        object.__setattr__(self, "source", source)
        self.delta = torch.nn.Parameter(torch.zeros_like(source.weight))
        self.padding_idx = source.padding_idx
        self.num_embeddings, self.embedding_dim = source.num_embeddings, source.embedding_dim

    @property
    def weight(self) -> torch.Tensor:
        """What the discriminator sees (its corrective head reads ``word_embeddings.weight`` too)."""
        return self.source.weight.detach() + self.delta

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return F.embedding(ids, self.weight, self.padding_idx)


def share_gdes(disc_embeddings: torch.nn.Module, gen_word_embeddings: torch.nn.Embedding) -> None:
    """Make the discriminator's word embeddings ``stop_gradient(E) + E_delta`` over the generator's table E."""
    disc_embeddings.word_embeddings = GdesEmbedding(gen_word_embeddings)


@contextmanager
def materialised_embeddings(enc: torch.nn.Module):
    """Within the block, an encoder whose word embeddings are GDES ones has a plain ``nn.Embedding`` holding
    E + E_delta instead (for ``save_pretrained``); other encoders are left as they are."""
    emb = getattr(enc, "embeddings", None)
    gdes = getattr(emb, "word_embeddings", None)
    if not isinstance(gdes, GdesEmbedding):
        yield enc
        return
    plain = torch.nn.Embedding(gdes.num_embeddings, gdes.embedding_dim, padding_idx=gdes.padding_idx,
                               device=gdes.delta.device, dtype=gdes.delta.dtype)
    with torch.no_grad():
        plain.weight.copy_(gdes.weight)
    emb.word_embeddings = plain
    try:
        yield enc
    finally:
        emb.word_embeddings = gdes


__all__ = ["EMBEDDING_SHARING", "GdesEmbedding", "materialised_embeddings", "share_gdes"]
