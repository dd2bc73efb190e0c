"""CSV lake files (optionally gzip) with a header line: columns named by header text, values compared as text.

A record may span lines inside a quoted field; records are found the way the csv module reads them and
written back as their original bytes. Masking rewrites only the masked fields of a record, keeping the
other fields' raw text and each masked field's quoting.
"""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from functions.privacy.datasets.selection import Selection
from functions.privacy.datasets.text import PASSTHROUGH, LineFormat, Passthrough, RecordReader, terminator


@dataclass
class CsvRow:
    """One record: its values by header name, and its fields in order (for masking)."""

    values: dict[str, str]
    fields: list[str]


def ends_in_quotes(line: bytes, in_quotes: bool, delimiter: bytes) -> bool:
    """Whether a quoted field is still open at the end of ``line`` (csv's default dialect, non-strict).

    A quote opens a field only at the field's start; inside, ``""`` is an escaped quote; a quote anywhere
    else is literal text, as the csv module reads it.
    """
    at = 0
    while True:
        found = line.find(b'"', at)
        if found == -1:
            return in_quotes
        if in_quotes:
            if line[found + 1 : found + 2] == b'"':
                at = found + 2
                continue
            in_quotes = False
        elif found == 0 or line[found - 1 : found] == delimiter:
            in_quotes = True
        at = found + 1


def raw_fields(text: str, delimiter: str) -> list[str]:
    """The fields of one record as written (quotes and escapes kept), split where csv splits them."""
    fields: list[str] = []
    start = at = 0
    in_quotes = False
    while at < len(text):
        char = text[at]
        if in_quotes:
            if char == '"':
                if text[at + 1 : at + 2] == '"':
                    at += 1
                else:
                    in_quotes = False
        elif char == '"' and at == start:
            in_quotes = True
        elif char == delimiter:
            fields.append(text[start:at])
            start = at + 1
        at += 1
    fields.append(text[start:])
    return fields


class _CsvReader(RecordReader[CsvRow]):
    def __init__(self, delimiter: str) -> None:
        self._delimiter = delimiter
        self._header: list[str] | None = None
        self._header_raw = b""

    def records(self, lines: Iterator[bytes]) -> Iterator[tuple[bytes, CsvRow | Passthrough | None]]:
        delimiter = self._delimiter.encode()
        parts: list[bytes] = []
        in_quotes = False
        for line in lines:
            parts.append(line)
            in_quotes = ends_in_quotes(line, in_quotes, delimiter)
            if not in_quotes:
                raw = b"".join(parts)
                parts = []
                yield raw, self._parse(raw)
        if parts:  # a quoted field never closed: the rest of the file is one unreadable record
            yield b"".join(parts), None

    def _parse(self, raw: bytes) -> CsvRow | Passthrough | None:
        body = raw[: len(raw) - len(terminator(raw))]
        if not body:
            return PASSTHROUGH
        try:
            parsed = list(csv.reader(io.StringIO(raw.decode("utf-8"), newline=""), delimiter=self._delimiter))
        except (UnicodeDecodeError, csv.Error):
            parsed = []
        if len(parsed) != 1:
            if self._header is None:  # an unreadable header: no later record can be read against it
                self._header, self._header_raw = [], body
            return None
        if self._header is None:
            self._header, self._header_raw = parsed[0], body
            return PASSTHROUGH
        if len(parsed[0]) != len(self._header):
            return None
        return CsvRow(values=dict(zip(self._header, parsed[0], strict=True)), fields=parsed[0])

    def cell(self, row: CsvRow, path: str) -> Any:
        return row.values.get(path)

    def masked(self, raw: bytes, row: CsvRow, selection: Selection) -> bytes:
        assert self._header is not None  # a row is only read after the header
        end = terminator(raw)
        text = raw[: len(raw) - len(end)].decode("utf-8")
        written = raw_fields(text, self._delimiter)
        if len(written) != len(row.fields):
            written = [_quoted(value, self._delimiter, False) for value in row.fields]  # csv found fields we did not
        changed = False
        for index, name in enumerate(self._header):
            if name not in selection.masks:
                continue
            new = selection.masked(name, row.fields[index])
            new_text = "" if new is None else str(new)
            if new_text != row.fields[index]:
                written[index] = _quoted(new_text, self._delimiter, written[index].startswith('"'))
                changed = True
        if not changed:
            return raw
        return self._delimiter.join(written).encode("utf-8") + end

    def export(self, row: CsvRow) -> Mapping[str, Any]:
        return dict(row.values)

    def schema_known(self) -> bool:
        return self._header is not None

    def columns(self) -> list[str] | None:
        return self._header

    def schema_hash(self) -> str:
        # The header line is the CSV's schema (all values are text); its raw bytes also catch quoting changes.
        return hashlib.sha256(b"csv\x00" + self._delimiter.encode() + b"\x00" + self._header_raw).hexdigest()


def _quoted(value: str, delimiter: str, was_quoted: bool) -> str:
    """A field in csv's minimal quoting, or quoted anyway when the original field was."""
    if was_quoted or any(char in value for char in (delimiter, '"', "\r", "\n")):
        return '"' + value.replace('"', '""') + '"'
    return value


class CsvFormat(LineFormat[CsvRow]):
    """DatasetFormat for CSV with a header line (``.csv``, ``.csv.gz``); comma-separated unless told otherwise."""

    name = "csv"

    def __init__(self, delimiter: str = ",") -> None:
        if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
            raise ValueError("a CSV delimiter is one ASCII character other than a quote or a line break")
        self._delimiter = delimiter

    def reader(self) -> RecordReader[CsvRow]:
        return _CsvReader(self._delimiter)
