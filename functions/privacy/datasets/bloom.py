"""Probe Parquet split-block bloom filters (the format's spec) for a batch of identifier values.

pyarrow writes these filters but its readers never consult them, so the engine reads them itself: a
filter's small Thrift header, then one 32-byte block per value. A miss proves the value is absent from
that row group; a hit only says "maybe" (then the identifier column is read to confirm).
"""

from __future__ import annotations

import struct
from collections.abc import Iterable

import xxhash

# The spec's eight salts: each sets one bit in one of a block's eight 32-bit words.
SALT = (0x47B6137B, 0x44974D91, 0x8824AD5B, 0xA2B7289D, 0x705495C7, 0x2DF1424B, 0x9EFC4947, 0x5C6BFB31)
BLOCK_BYTES = 32
HEADER_MAX = 64  # a BloomFilterHeader is a few bytes of Thrift compact; 64 covers it with room


class BloomFilterUnreadable(ValueError):
    """The bytes at a column's bloom_filter_offset are not a split-block, xxHash, uncompressed filter."""


def plain_encoding(value: str, physical_type: str) -> bytes | None:
    """A value's PLAIN encoding for the column's physical type (what the filter hashes); None if it cannot be one."""
    try:
        if physical_type == "BYTE_ARRAY" or physical_type == "FIXED_LEN_BYTE_ARRAY":
            return value.encode("utf-8")
        if physical_type == "INT64":
            return struct.pack("<q", int(value))
        if physical_type == "INT32":
            return struct.pack("<i", int(value))
    except (ValueError, struct.error):
        return None  # "abc" is never in an INT64 column
    return None


def value_hash(encoded: bytes) -> int:
    return int(xxhash.xxh64_intdigest(encoded, seed=0))


def parse_header(raw: bytes) -> tuple[int, int]:
    """(bitset bytes, header length) of a BloomFilterHeader in Thrift compact encoding.

    The header is four fields (numBytes and three one-member unions), too small to justify a Thrift
    dependency in the Lambda layer; anything but split-block / xxHash / uncompressed is refused.
    """
    position, field_id, num_bytes = 0, 0, None
    while True:
        if position >= len(raw):
            raise BloomFilterUnreadable("bloom filter header is truncated")
        byte = raw[position]
        position += 1
        if byte == 0:  # stop: the header is complete
            break
        delta, kind = byte >> 4, byte & 0x0F
        field_id = field_id + delta if delta else _read_zigzag(raw, position)[0]
        if kind == 5:  # i32
            number, position = _read_zigzag(raw, position)
            if field_id == 1:
                num_bytes = number
        elif kind == 12:  # a union struct: its one member must be field 1 (BLOCK, XXHASH, UNCOMPRESSED)
            member = raw[position]
            if member >> 4 != 1 or member & 0x0F != 12 or raw[position + 1 : position + 3] != b"\x00\x00":
                raise BloomFilterUnreadable(f"bloom filter header field {field_id} names an unsupported variant")
            position += 3
        else:
            raise BloomFilterUnreadable(f"bloom filter header has an unexpected field type {kind}")
    if not num_bytes or num_bytes % BLOCK_BYTES:
        raise BloomFilterUnreadable("bloom filter header gives no valid bitset size")
    return num_bytes, position


def _read_zigzag(raw: bytes, position: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        byte = raw[position]
        position += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            break
        shift += 7
    return (result >> 1) ^ -(result & 1), position


def block_index(hashed: int, blocks: int) -> int:
    return ((hashed >> 32) * blocks) >> 32


def block_contains(block: bytes, hashed: int) -> bool:
    """Whether one 32-byte block has all eight bits the value's hash sets."""
    key = hashed & 0xFFFFFFFF
    words = struct.unpack("<8I", block)
    for word, salt in zip(words, SALT, strict=True):
        bit = ((key * salt) & 0xFFFFFFFF) >> 27
        if not (word >> bit) & 1:
            return False
    return True


def might_contain(bitset: bytes, hashes: Iterable[int]) -> bool:
    """Whether the filter may hold any of the hashed values (False proves none is in the row group)."""
    blocks = len(bitset) // BLOCK_BYTES
    for hashed in hashes:
        start = block_index(hashed, blocks) * BLOCK_BYTES
        if block_contains(bitset[start : start + BLOCK_BYTES], hashed):
            return True
    return False
