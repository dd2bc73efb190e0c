"""What JSON Lines and CSV share: streamed lines kept byte for byte, gzip kept, and one scan/rewrite/export pass.

A text format only says how raw records become rows and how a masked row is written back; everything
else (which rows go, counting, retention, the untouched bytes) is decided here once for both.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Generic, Literal, TypeVar

from functions.privacy.datasets import compression
from functions.privacy.datasets.format import RewriteStats, ScanResult
from functions.privacy.datasets.selection import Hit, Selection

BOM = b"\xef\xbb\xbf"
_CHUNK = 1 << 20  # read and write in 1 MiB pieces: memory follows the longest record, not the file
RowT = TypeVar("RowT")


class Passthrough:
    """A record that is not a row (a blank line, the CSV header): always written back unchanged."""


PASSTHROUGH = Passthrough()


def physical_lines(stream: Any) -> Iterator[bytes]:
    """Each line of ``stream`` with its own terminator (``\\n`` or ``\\r\\n``); the last may have none."""
    parts: list[bytes] = []
    while chunk := stream.read(_CHUNK):
        start = 0
        while (end := chunk.find(b"\n", start)) != -1:
            if parts:
                parts.append(chunk[start : end + 1])
                yield b"".join(parts)
                parts = []
            else:
                yield chunk[start : end + 1]
            start = end + 1
        if start < len(chunk):
            parts.append(chunk[start:])
    if parts:
        yield b"".join(parts)


def terminator(raw: bytes) -> bytes:
    """The line ending a raw record carries (kept when the record is re-encoded)."""
    if raw.endswith(b"\r\n"):
        return b"\r\n"
    return b"\n" if raw.endswith(b"\n") else b""


class TextSource:
    """The decompressed lines of a source file, its BOM and gzip header (None when the file is plain)."""

    def __init__(self, source: BinaryIO) -> None:
        self.gzip = compression.read_header(source) if compression.is_gzip(source) else None
        source.seek(0)
        self._stream: Any = compression.GunzipReader(source) if self.gzip else source
        self.bom = b""

    def lines(self) -> Iterator[bytes]:
        """Every physical line; a leading UTF-8 BOM is taken off (it belongs to the file, not the first row)."""
        first = True
        for line in physical_lines(self._stream):
            if first:
                first = False
                if line.startswith(BOM):
                    self.bom, line = BOM, line[len(BOM) :]
                    if not line:
                        continue
            yield line


class TextSink:
    """Writes records to ``sink``, gzip again with the source's header when the source was gzip."""

    def __init__(self, sink: BinaryIO, source: TextSource) -> None:
        self._writer: Any = compression.GzipWriter(sink, source.gzip) if source.gzip else sink
        self._source = source
        self._pending: list[bytes] = []
        self._size = 0
        self._started = False

    def write(self, record: bytes) -> None:
        self._begin()
        self._pending.append(record)
        self._size += len(record)
        if self._size >= _CHUNK:
            self._flush()

    def close(self) -> None:
        self._begin()
        self._flush()
        if isinstance(self._writer, compression.GzipWriter):
            self._writer.close()

    def _begin(self) -> None:
        # The BOM is known once the first line is read, which is before the first record is written.
        if not self._started:
            self._started = True
            if self._source.bom:
                self._pending.append(self._source.bom)
                self._size += len(self._source.bom)

    def _flush(self) -> None:
        if self._pending:
            self._writer.write(b"".join(self._pending))
        self._pending, self._size = [], 0


@dataclass
class Verdict:
    """What the Selection says about one row."""

    hits: set[Hit] = field(default_factory=set)
    expiry: Literal["keep", "expired", "held", "unreadable"] = "keep"


def as_text(cell: Any) -> str | None:
    """A cell as the text identifiers are compared in (JSON 42 matches "42"); objects and booleans never match."""
    if cell is None or isinstance(cell, bool | dict | list):
        return None
    return cell if isinstance(cell, str) else str(cell)


class RecordReader(ABC, Generic[RowT]):
    """One pass over one file's records (a CSV reader remembers the header it has seen)."""

    @abstractmethod
    def records(self, lines: Iterator[bytes]) -> Iterator[tuple[bytes, RowT | Passthrough | None]]:
        """(raw bytes, row) per record; the row is PASSTHROUGH for a non-row and None for a malformed one."""

    @abstractmethod
    def cell(self, row: RowT, path: str) -> Any:
        """The value of one column of a row (None when missing)."""

    @abstractmethod
    def masked(self, raw: bytes, row: RowT, selection: Selection) -> bytes:
        """The record with the Selection's masks applied; ``raw`` itself when masking changes nothing."""

    @abstractmethod
    def export(self, row: RowT) -> Mapping[str, Any]:
        """The row as a JSON-ready record for the access archive."""

    @abstractmethod
    def schema_hash(self) -> str:
        """The file's schema hash (valid once ``schema_known``)."""

    def schema_known(self) -> bool:
        """Whether ``schema_hash`` can be answered yet (a CSV needs its header line)."""
        return True

    def columns(self) -> list[str] | None:
        """The file's column names when it declares them (a CSV header), else None."""
        return None


class DatasetColumnsMissing(ValueError):
    """The file declares its columns and an identifier column of the Selection is not among them.

    Scanning it would find nobody and call the file clean, so the object fails instead (names only, no values).
    """


class LineFormat(ABC, Generic[RowT]):
    """scan / rewrite / subject_rows for a format whose records are lines (DatasetFormat)."""

    name: str

    @abstractmethod
    def reader(self) -> RecordReader[RowT]:
        """A fresh reader for one pass."""

    @staticmethod
    def _records(
        reader: RecordReader[RowT], source: TextSource, selection: Selection
    ) -> Iterator[tuple[bytes, RowT | Passthrough | None]]:
        """The reader's records, checked once (at the first row) against the columns the file declares."""
        checked = False
        for raw, row in reader.records(source.lines()):
            if not checked and not isinstance(row, Passthrough) and row is not None:
                checked = True
                columns = reader.columns()
                missing = sorted(p for p in selection.identifiers.values() if columns is not None and p not in columns)
                if missing:
                    raise DatasetColumnsMissing(f"identifier columns {missing} are not in the file's header")
            yield raw, row

    def _verdict(self, reader: RecordReader[RowT], row: RowT, selection: Selection) -> Verdict:
        values = {name: as_text(reader.cell(row, path)) for name, path in selection.identifiers.items()}
        stamp = reader.cell(row, selection.timestamp) if selection.expires and selection.timestamp else None
        return Verdict(hits=selection.subject_hits(values), expiry=selection.expiry(values, stamp))

    def scan(self, source: BinaryIO, selection: Selection) -> ScanResult:
        """Count rows, subject rows, and expired, held, unreadable-timestamp and malformed rows."""
        result = ScanResult()
        reader = self.reader()
        for _raw, row in self._records(reader, TextSource(source), selection):
            if isinstance(row, Passthrough):
                continue
            if row is None:
                result.malformed_rows += 1
                continue
            verdict = self._verdict(reader, row, selection)
            result.rows += 1
            if verdict.hits:
                result.subject_rows += 1
                result.hits.update(verdict.hits)
                result.row_hits[frozenset(verdict.hits)] += 1
            _count_expiry(result, verdict)
        return result

    def rewrite(self, source: BinaryIO, sink: BinaryIO, selection: Selection) -> RewriteStats:
        """Drop expired and (delete mode) subject rows, mask subject rows (anonymise); every other byte stays."""
        text = TextSource(source)
        out = TextSink(sink, text)
        reader = self.reader()
        tally = ScanResult()
        removed = masked = 0
        for raw, row in self._records(reader, text, selection):
            if isinstance(row, Passthrough) or row is None:
                tally.malformed_rows += row is None
                out.write(raw)
                continue
            verdict = self._verdict(reader, row, selection)
            tally.rows += 1
            _count_expiry(tally, verdict)
            if verdict.hits:
                tally.hits.update(verdict.hits)
            if verdict.expiry == "expired" or (verdict.hits and selection.mode == "delete"):
                removed += 1  # an expired row goes whatever the mode: retention deletes, it does not mask
            elif verdict.hits:
                new = reader.masked(raw, row, selection)
                masked += new != raw  # an already-masked row (fixed, null) is left byte for byte
                out.write(new)
            else:
                out.write(raw)
        out.close()
        return RewriteStats(
            rows_before=tally.rows,
            rows_after=tally.rows - removed,
            removed_rows=removed,
            masked_rows=masked,
            expired_rows=tally.expired_rows,
            held_rows=tally.held_rows,
            unreadable_rows=tally.unreadable_rows,
            malformed_rows=tally.malformed_rows,
            schema_hash=reader.schema_hash(),
            hits=tally.hits,
        )

    def subject_rows(self, source: BinaryIO, selection: Selection) -> Iterator[tuple[set[Hit], Mapping[str, Any]]]:
        """Each row holding a queued subject's value, as a record, with the (identifier, value) pairs it holds."""
        reader = self.reader()
        for _raw, row in self._records(reader, TextSource(source), selection):
            if isinstance(row, Passthrough) or row is None:
                continue
            values = {name: as_text(reader.cell(row, path)) for name, path in selection.identifiers.items()}
            hits = selection.subject_hits(values)
            if hits:
                yield hits, reader.export(row)

    def schema_hash(self, source: BinaryIO) -> str:
        """The schema hash of the file (reads only as far as the format needs)."""
        reader = self.reader()
        if not reader.schema_known():
            for _record in reader.records(TextSource(source).lines()):
                if reader.schema_known():
                    break
        return reader.schema_hash()


def _count_expiry(result: ScanResult, verdict: Verdict) -> None:
    if verdict.expiry == "expired":
        result.expired_rows += 1
    elif verdict.expiry == "held":
        result.held_rows += 1
    elif verdict.expiry == "unreadable":
        result.unreadable_rows += 1
