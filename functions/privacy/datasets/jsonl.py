"""JSON Lines lake files (optionally gzip): one JSON object per line, identifiers at dotted paths.

Only a masked line is re-serialised (key order kept); every other line is written back as its original bytes.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from typing import Any

from functions.privacy.datasets.selection import Selection, dotted
from functions.privacy.datasets.text import PASSTHROUGH, LineFormat, Passthrough, RecordReader, terminator

# JSON Lines has no schema to compare: a rewrite removes whole lines or re-serialises one with the same keys,
# so the honest hash is of the format itself (a constant), not of keys that vary from line to line.
_SCHEMA_HASH = hashlib.sha256(b"jsonl").hexdigest()

Record = dict[str, Any]


class _JsonLinesReader(RecordReader[Record]):
    def records(self, lines: Iterator[bytes]) -> Iterator[tuple[bytes, Record | Passthrough | None]]:
        for raw in lines:
            if not raw.strip():
                yield raw, PASSTHROUGH
                continue
            try:
                row = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                yield raw, None
                continue
            yield raw, row if isinstance(row, dict) else None  # a bare array or scalar is not a row

    def cell(self, row: Record, path: str) -> Any:
        return dotted(row, path)

    def masked(self, raw: bytes, row: Record, selection: Selection) -> bytes:
        changed = False
        for path in selection.masks:
            parent = dotted(row, path.rpartition(".")[0]) if "." in path else row
            leaf = path.rpartition(".")[2]
            if not isinstance(parent, dict) or leaf not in parent:
                continue  # a field the row does not have is not added
            new = selection.masked(path, parent[leaf])
            if new != parent[leaf]:
                parent[leaf] = new
                changed = True
        if not changed:
            return raw
        return _serialise_like(row, raw) + terminator(raw)

    def export(self, row: Record) -> Mapping[str, Any]:
        return row

    def schema_hash(self) -> str:
        return _SCHEMA_HASH


def _serialise_like(row: Record, raw: bytes) -> bytes:
    """The row as JSON in the original line's style: spaced or compact separators, escaped or raw non-ASCII."""
    spaced = b'": ' in raw
    text = json.dumps(
        row,
        ensure_ascii=raw.isascii(),
        separators=(", ", ": ") if spaced else (",", ":"),
    )
    return text.encode("utf-8")


class JsonLinesFormat(LineFormat[Record]):
    """DatasetFormat for JSON Lines (``.jsonl``, ``.jsonl.gz``, ``.ndjson``)."""

    name = "jsonl"

    def reader(self) -> RecordReader[Record]:
        return _JsonLinesReader()
