"""A seekable, read-only file over one pinned S3 object version, read with ranged GETs.

Parquet readers seek to the footer and to single column chunks; serving those seeks as ranged GETs of
the pinned version (and ETag) is what lets a find read kilobytes of a large file instead of all of it.
Every read goes through boto3, so the local cloud and byte counting see it.
"""

from __future__ import annotations

import io
from collections import OrderedDict
from typing import Any

_MIN_GET = 64 * 1024  # reads smaller than this are widened: a Parquet reader issues many tiny reads


class RangedObject(io.RawIOBase):
    """One object version as a file; ``bytes_read`` and ``gets`` count what S3 served."""

    def __init__(self, s3: Any, bucket: str, key: str, *, version_id: str | None, etag: str | None, size: int) -> None:
        super().__init__()
        self._s3, self.bucket, self.key = s3, bucket, key
        self.version_id, self.etag, self.size = version_id, etag, size
        self._position = 0
        self._buffers: list[tuple[int, bytes]] = []  # (offset, bytes) already fetched
        self.bytes_read = 0
        self.gets = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: self.size}[whence]
        self._position = max(0, base + offset)
        return self._position

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self.size - self._position)
        if wanted <= 0:
            return 0
        data = self.read_range(self._position, wanted)
        buffer[: len(data)] = data
        self._position += len(data)
        return len(data)

    def read_range(self, offset: int, length: int, *, exact: bool = False) -> bytes:
        """``length`` bytes at ``offset``, from what was fetched already or one ranged GET (widened to 64 KiB
        unless ``exact``: a bloom filter probe wants its 32-byte block, not the filter)."""
        for start, data in self._buffers:
            if start <= offset and offset + length <= start + len(data):
                return data[offset - start : offset - start + length]
        end = min(self.size, offset + (length if exact else max(length, _MIN_GET)))
        data = self._get(offset, end)
        self._buffers.append((offset, data))
        if len(self._buffers) > 8:  # keep the tail (footer, bloom filters) and the latest reads
            self._buffers.pop(1)
        return data[:length]

    def prefetch_tail(self, length: int) -> None:
        """Fetch the last ``length`` bytes in one GET (the footer and, as pyarrow writes them, every bloom filter)."""
        start = max(0, self.size - length)
        if not any(s <= start and s + len(d) >= self.size for s, d in self._buffers):
            self._buffers.insert(0, (start, self._get(start, self.size)))

    def _get(self, start: int, end: int) -> bytes:
        params: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key, "Range": f"bytes={start}-{end - 1}"}
        if self.version_id:
            params["VersionId"] = self.version_id
        if self.etag:
            params["IfMatch"] = self.etag  # a file replaced under us fails the read instead of mixing versions
        # botocore errors pass through: the connector or job above maps them (connectors.errors) to named ones.
        data: bytes = self._s3.get_object(**params)["Body"].read()
        self.gets += 1
        self.bytes_read += len(data)
        return data


class FooterCache:
    """Parquet footers by (bucket, key, ETag): a job reads each file's footer once, however often it scans it."""

    def __init__(self, capacity: int = 256) -> None:
        self._entries: OrderedDict[tuple[str, str, str], Any] = OrderedDict()
        self._capacity = capacity

    def get(self, bucket: str, key: str, etag: str | None) -> Any:
        if etag is None:
            return None
        found = self._entries.get((bucket, key, etag))
        if found is not None:
            self._entries.move_to_end((bucket, key, etag))
        return found

    def put(self, bucket: str, key: str, etag: str | None, footer: Any) -> None:
        if etag is None:
            return
        self._entries[(bucket, key, etag)] = footer
        while len(self._entries) > self._capacity:
            self._entries.popitem(last=False)
