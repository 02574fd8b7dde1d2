"""Shard files: ``<split>-NNNNN.parquet`` with columns input_ids list<int32> and token_type_ids list<int8>."""
from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SCHEMA = pa.schema([("input_ids", pa.list_(pa.int32())), ("token_type_ids", pa.list_(pa.int8()))])


class ShardWriter:
    """Buffers examples of one split and writes ``<split>-NNNNN.parquet`` every ``per_shard`` rows.
    Each shard's rows are shuffled with their own seeded RNG before writing (the builder's random
    stream is left untouched); readers should still shuffle across shards."""

    def __init__(self, folder: Path, split: str, per_shard: int, seed: int):
        self.folder, self.split, self.per_shard, self.seed = folder, split, per_shard, seed
        self.files: list[str] = []
        self._ids: list[list[int]] = []
        self._types: list[list[int]] = []

    def add(self, example) -> None:
        self._ids.append(example[0])
        self._types.append(example[1])
        if len(self._ids) >= self.per_shard:
            self.flush()

    def flush(self, force: bool = False) -> None:
        if not self._ids and not (force and not self.files):
            return
        order = list(range(len(self._ids)))
        random.Random(f"{self.seed}/{self.split}/{len(self.files)}").shuffle(order)
        ids = [self._ids[i] for i in order]
        types = [self._types[i] for i in order]
        name = f"{self.split}-{len(self.files):05d}.parquet"
        pq.write_table(_to_table(ids, types), self.folder / name, compression="zstd")
        self.files.append(name)
        self._ids, self._types = [], []

    def close(self) -> None:
        # an empty split still gets one (empty) file so readers see the schema
        self.flush(force=True)


def _to_table(ids: list[list[int]], types: list[list[int]]) -> pa.Table:
    lengths = np.fromiter((len(x) for x in ids), dtype=np.int64, count=len(ids))
    offsets = np.zeros(len(ids) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    flat_ids = np.fromiter((t for x in ids for t in x), dtype=np.int32, count=int(offsets[-1]))
    flat_types = np.fromiter((t for x in types for t in x), dtype=np.int8, count=int(offsets[-1]))
    off = pa.array(offsets, type=pa.int32())
    return pa.table({
        "input_ids": pa.ListArray.from_arrays(off, pa.array(flat_ids, type=pa.int32())),
        "token_type_ids": pa.ListArray.from_arrays(off, pa.array(flat_types, type=pa.int8())),
    }, schema=SCHEMA)
