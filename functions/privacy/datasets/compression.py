"""Gzip in lake files: detected by its magic bytes, read as a stream, and written back with the source's header.

A rewrite of a ``.jsonl.gz`` object stays gzip with the same header (mtime, name, flags, OS byte) and the
compression level its XFL byte suggests, so consumers see the same kind of file as before.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from typing import BinaryIO

MAGIC = b"\x1f\x8b"
_FHCRC, _FEXTRA, _FNAME, _FCOMMENT = 0x02, 0x04, 0x08, 0x10
_MAX_HEADER = 64 * 1024  # a name or comment longer than this is not a header a tool wrote
_DEFAULT_LEVEL = 6  # what gzip(1) and zlib use when XFL says neither "best" nor "fastest"


class CorruptGzip(ValueError):
    """The object starts like gzip but its stream is corrupt or truncated (the message holds no content)."""


@dataclass(frozen=True)
class GzipHeader:
    """The first member's header as found (its CRC16, if any, is recomputed on write)."""

    raw: bytes
    level: int
    mtime: int
    name: bytes | None


def is_gzip(source: BinaryIO) -> bool:
    """Whether ``source`` starts with the gzip magic bytes (the name's suffix is not trusted)."""
    source.seek(0)
    head = source.read(2)
    source.seek(0)
    return head == MAGIC


def read_header(source: BinaryIO) -> GzipHeader:
    """Parse the first member's header (RFC 1952 section 2.3) from the start of ``source``; seeks back to 0."""
    source.seek(0)
    fixed = source.read(10)
    if len(fixed) < 10 or fixed[:2] != MAGIC or fixed[2] != 8:
        raise CorruptGzip("gzip header is truncated or not deflate")
    flags, mtime, xfl = fixed[3], struct.unpack("<I", fixed[4:8])[0], fixed[8]
    raw = bytearray(fixed)
    if flags & _FEXTRA:
        size_bytes = source.read(2)
        if len(size_bytes) < 2:
            raise CorruptGzip("gzip header is truncated")
        extra = source.read(struct.unpack("<H", size_bytes)[0])
        raw += size_bytes + extra
    name = None
    if flags & _FNAME:
        name = _zero_terminated(source)
        raw += name + b"\x00"
    if flags & _FCOMMENT:
        raw += _zero_terminated(source) + b"\x00"
    source.seek(0)
    # FHCRC covers the header bytes before it; it is recomputed when the header is written again.
    level = 9 if xfl == 2 else 1 if xfl == 4 else _DEFAULT_LEVEL
    return GzipHeader(raw=bytes(raw), level=level, mtime=mtime, name=name)


def _zero_terminated(source: BinaryIO) -> bytes:
    found = bytearray()
    while len(found) < _MAX_HEADER:
        byte = source.read(1)
        if not byte:
            raise CorruptGzip("gzip header is truncated")
        if byte == b"\x00":
            return bytes(found)
        found += byte
    raise CorruptGzip("gzip header field is too long")


class GunzipReader:
    """A read-only stream of the decompressed bytes of every member, raising CorruptGzip on damage."""

    def __init__(self, source: BinaryIO) -> None:
        source.seek(0)
        self._inner = gzip.GzipFile(fileobj=source, mode="rb")

    def read(self, size: int = -1) -> bytes:
        try:
            return self._inner.read(size)
        except (OSError, EOFError, zlib.error) as error:  # BadGzipFile is an OSError
            raise CorruptGzip("gzip stream is corrupt or truncated") from error

    def close(self) -> None:
        self._inner.close()


class GzipWriter:
    """Writes one gzip member to ``sink``: the source's header bytes, a raw deflate stream, CRC32 and size."""

    def __init__(self, sink: BinaryIO, header: GzipHeader) -> None:
        self._sink = sink
        raw = header.raw
        if raw[3] & _FHCRC:
            raw += struct.pack("<H", zlib.crc32(raw) & 0xFFFF)
        sink.write(raw)
        # The same parameters as the stdlib's gzip module, so an unchanged stream compresses to the same bytes.
        self._deflate = zlib.compressobj(header.level, zlib.DEFLATED, -zlib.MAX_WBITS, zlib.DEF_MEM_LEVEL, 0)
        self._crc = 0
        self._size = 0

    def write(self, data: bytes) -> None:
        self._crc = zlib.crc32(data, self._crc)
        self._size += len(data)
        self._sink.write(self._deflate.compress(data))

    def close(self) -> None:
        self._sink.write(self._deflate.flush())
        self._sink.write(struct.pack("<II", self._crc, self._size & 0xFFFFFFFF))
