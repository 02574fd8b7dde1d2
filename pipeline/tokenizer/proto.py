"""Reading and patching a SentencePiece ModelProto without a protobuf dependency.

Exact id equality with the fast tokenizer: the Unigram scores are rounded to multiples of 2**-8
(``quantize_scores``) so that SentencePiece's float32 and `tokenizers`' float64 Viterbi sums agree
exactly and ties break identically.
"""
from __future__ import annotations

import struct
from typing import Iterator


def normalizer_spec(model_bytes: bytes) -> dict:
    """NormalizerSpec of a SentencePiece ModelProto (field 3): name, precompiled_charsmap,
    add_dummy_prefix, remove_extra_whitespaces, escape_whitespaces."""
    spec = {"name": "", "precompiled_charsmap": b"", "add_dummy_prefix": True,
            "remove_extra_whitespaces": True, "escape_whitespaces": True}
    for field, wt, value in _proto_fields(model_bytes):
        if field == 3 and wt == 2:
            for f2, w2, v2 in _proto_fields(value):
                if f2 == 1 and w2 == 2:
                    spec["name"] = v2.decode("utf-8")
                elif f2 == 2 and w2 == 2:
                    spec["precompiled_charsmap"] = bytes(v2)
                elif f2 == 3 and w2 == 0:
                    spec["add_dummy_prefix"] = bool(v2)
                elif f2 == 4 and w2 == 0:
                    spec["remove_extra_whitespaces"] = bool(v2)
                elif f2 == 5 and w2 == 0:
                    spec["escape_whitespaces"] = bool(v2)
    return spec


SCORE_QUANTUM = 1 / 256


def quantize_scores(model_bytes: bytes, quantum: float = SCORE_QUANTUM) -> bytes:
    """Round every piece score of a Unigram ModelProto to a multiple of ``quantum`` (2**-8).

    SentencePiece sums scores in float32, `tokenizers` in float64. With scores on a coarse binary
    grid every partial sum is exact in both (up to |sum| < 2**16, i.e. thousands of pieces per
    line), so the two Viterbi searches see the same numbers, break ties the same way (earliest
    start wins) and return the same ids. The change to each score is < 0.002 (log-probabilities).
    Floats are 4-byte fields, so the proto is patched in place without a protobuf dependency.
    """
    buf = bytearray(model_bytes)
    for field, wt, start, end in _proto_spans(model_bytes, 0, len(model_bytes)):
        if field == 1 and wt == 2:                                  # ModelProto.pieces
            for f2, w2, s2, e2 in _proto_spans(model_bytes, start, end):
                if f2 == 2 and w2 == 5:                             # SentencePiece.score (float)
                    (score,) = struct.unpack("<f", model_bytes[s2:e2])
                    buf[s2:e2] = struct.pack("<f", round(score / quantum) * quantum)
    return bytes(buf)


def _proto_spans(buf: bytes, i: int, n: int) -> Iterator[tuple[int, int, int, int]]:
    """(field number, wire type, value start, value end) of the fields in buf[i:n]."""
    def varint():
        nonlocal i
        shift = result = 0
        while True:
            b = buf[i]
            i += 1
            result |= (b & 0x7F) << shift
            if b < 0x80:
                return result
            shift += 7

    while i < n:
        key = varint()
        field, wt = key >> 3, key & 7
        if wt == 0:
            s = i
            varint()
            yield field, wt, s, i
        elif wt == 1:
            yield field, wt, i, i + 8
            i += 8
        elif wt == 2:
            ln = varint()
            yield field, wt, i, i + ln
            i += ln
        elif wt == 5:
            yield field, wt, i, i + 4
            i += 4
        else:
            raise ValueError(f"unsupported protobuf wire type {wt}")


def _proto_fields(buf: bytes) -> Iterator[tuple[int, int, object]]:
    """(field number, wire type, value): ints for varints, bytes otherwise."""
    for field, wt, s, e in _proto_spans(buf, 0, len(buf)):
        if wt == 0:
            result = shift = 0
            for b in buf[s:e]:
                result |= (b & 0x7F) << shift
                shift += 7
            yield field, wt, result
        else:
            yield field, wt, bytes(buf[s:e])


def model_type(model_bytes: bytes) -> str:
    # TrainerSpec (field 2) . model_type (field 3): 1 unigram, 2 bpe, 3 word, 4 char
    for field, wt, value in _proto_fields(model_bytes):
        if field == 2 and wt == 2:
            for f2, w2, v2 in _proto_fields(value):
                if f2 == 3 and w2 == 0:
                    return {1: "unigram", 2: "bpe", 3: "word", 4: "char"}.get(v2, "unigram")
    return "unigram"
