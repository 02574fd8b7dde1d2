"""The shard stage's library: ELECTRA pre-training examples from the cleaned corpus.

- ``builder``  the port of the official ``ExampleBuilder`` (sentences accumulated to the target length,
               ``[CLS] A [SEP] B [SEP]``, single-segment and short-target draws) and ``split_long``;
- ``split``    the held-out validation split, by a hash of the document id;
- ``writer``   ``<split>-NNNNN.parquet`` files of unpadded examples, each shard shuffled with its own seed;
- ``packing``  the corpus read and encoded batch by batch, packed per split, and ``index.json``.

``pipeline/stages/shard.py`` runs them; docs/contracts.md describes the files.
"""
