"""Reading packed shards (``data/<lang>/shards/``) into padded batches, deterministically and resumably.

Layout (docs/contracts.md): ``index.json`` plus ``train-*.parquet`` / ``validation-*.parquet`` with
columns ``input_ids: list<int32>`` and ``token_type_ids: list<int8>`` (no padding).

:class:`BatchIterator` walks a split epoch by epoch. Epoch ``e``'s order is a pure function of
``(seed, e)``: the shard files are shuffled, then the examples within each shard, so only one shard is
in memory at a time. The iterator's position is ``{"epoch": e, "offset": o}`` (examples consumed in
epoch ``e``); restoring it continues with exactly the batches an uninterrupted run would have seen.
A batch that runs past the end of an epoch continues with the start of the next one.

Imports only numpy, pyarrow, torch and the stdlib.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import torch

PAD_ID = 0


def read_index(shards_dir) -> dict:
    path = Path(shards_dir) / "index.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: not found (run the shard stage first)")
    with open(path, encoding="utf-8") as f:
        return json.load(f)


class ShardSplit:
    """The files of one split, their example counts, and a one-shard cache of decoded columns."""

    def __init__(self, shards_dir, split: str, index: dict | None = None):
        self.dir = Path(shards_dir)
        self.split = split
        index = index if index is not None else read_index(shards_dir)
        info = (index.get("splits") or {}).get(split) or {}
        names = info.get("files")
        if names is None:
            names = sorted(p.name for p in self.dir.glob(f"{split}-*.parquet"))
        self.files = [self.dir / n for n in names]
        for f in self.files:
            if not f.is_file():
                raise FileNotFoundError(f"{f}: listed in {self.dir / 'index.json'} but missing")
        self.sizes = [pq.ParquetFile(f).metadata.num_rows for f in self.files]
        self.num_examples = int(sum(self.sizes))
        self._cached: tuple[int, tuple] | None = None

    def __len__(self) -> int:
        return self.num_examples

    def load(self, i: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ids values int64, offsets int64, token type values int64) of shard ``i``; cached one at a time."""
        if self._cached is not None and self._cached[0] == i:
            return self._cached[1]
        table = pq.read_table(self.files[i], columns=["input_ids", "token_type_ids"])
        ids = table.column("input_ids").combine_chunks()
        tts = table.column("token_type_ids").combine_chunks()
        off = np.asarray(ids.offsets, dtype=np.int64)
        ids_v = np.asarray(ids.values, dtype=np.int64)
        tt_off = np.asarray(tts.offsets, dtype=np.int64)
        tt_v = np.asarray(tts.values, dtype=np.int64)
        if not np.array_equal(off - off[0], tt_off - tt_off[0]):
            raise ValueError(f"{self.files[i]}: input_ids and token_type_ids lengths differ")
        # make token types addressable with the ids' offsets
        tt_v = tt_v[tt_off[0]:tt_off[-1]]
        ids_v = ids_v[off[0]:off[-1]]
        off = off - off[0]
        data = (ids_v, off, tt_v)
        self._cached = (i, data)
        return data

    def example(self, shard: int, row: int) -> tuple[np.ndarray, np.ndarray]:
        ids, off, tt = self.load(shard)
        a, b = off[row], off[row + 1]
        return ids[a:b], tt[a:b]


def collate(examples: list[tuple[np.ndarray, np.ndarray]], pad_id: int = PAD_ID) -> dict:
    """Pad to the longest example: ``input_ids``/``token_type_ids``/``attention_mask`` as int64 [B, L]."""
    L = max(len(e[0]) for e in examples)
    B = len(examples)
    ids = np.full((B, L), pad_id, dtype=np.int64)
    tts = np.zeros((B, L), dtype=np.int64)
    att = np.zeros((B, L), dtype=np.int64)
    for i, (a, t) in enumerate(examples):
        n = len(a)
        ids[i, :n] = a
        tts[i, :n] = t
        att[i, :n] = 1
    return {"input_ids": torch.from_numpy(ids), "token_type_ids": torch.from_numpy(tts),
            "attention_mask": torch.from_numpy(att)}


class BatchIterator:
    """Endless (``shuffle=True``) or single-pass (``shuffle=False``) batches over a split.

    ``state()`` -> ``{"epoch": int, "offset": int}``; pass it back as ``position`` to resume.
    """

    def __init__(self, split: ShardSplit, batch_size: int, seed: int = 0, shuffle: bool = True,
                 position: dict | None = None, pad_id: int = PAD_ID):
        if split.num_examples == 0:
            raise ValueError(f"{split.dir}: split {split.split!r} has no examples")
        self.split = split
        self.batch_size = int(batch_size)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.pad_id = pad_id
        pos = position or {}
        self.epoch = int(pos.get("epoch", 0))
        self.offset = int(pos.get("offset", 0))
        self._order_epoch = None
        self._order: list[tuple[int, np.ndarray]] = []
        self._starts = np.zeros(0, dtype=np.int64)

    def state(self) -> dict:
        return {"epoch": self.epoch, "offset": self.offset}

    def _epoch_order(self, epoch: int):
        if self._order_epoch == epoch:
            return
        n = len(self.split.files)
        if self.shuffle:
            rng = np.random.Generator(np.random.PCG64([self.seed, epoch]))
            shard_order = rng.permutation(n)
            order = [(int(s), rng.permutation(self.split.sizes[s])) for s in shard_order]
        else:
            order = [(s, np.arange(self.split.sizes[s])) for s in range(n)]
        self._order = [(s, rows) for s, rows in order if len(rows)]
        self._starts = np.cumsum([0] + [len(r) for _, r in self._order])
        self._order_epoch = epoch

    def _take(self, count: int) -> list[tuple[np.ndarray, np.ndarray]]:
        out = []
        while len(out) < count:
            self._epoch_order(self.epoch)
            if self.offset >= self._starts[-1]:
                if not self.shuffle:
                    break
                self.epoch += 1
                self.offset = 0
                continue
            j = int(np.searchsorted(self._starts, self.offset, side="right") - 1)
            shard, rows = self._order[j]
            k = self.offset - int(self._starts[j])
            m = min(count - len(out), len(rows) - k)
            for r in rows[k:k + m]:
                out.append(self.split.example(shard, int(r)))
            self.offset += m
        return out

    def next_batch(self) -> dict | None:
        """The next batch, or None when a non-shuffled (single-pass) iterator is exhausted."""
        ex = self._take(self.batch_size)
        if not ex:
            return None
        return collate(ex, self.pad_id)

    def __iter__(self):
        while True:
            b = self.next_batch()
            if b is None:
                return
            yield b
