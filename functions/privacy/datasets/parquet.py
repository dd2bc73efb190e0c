"""Parquet files: find subjects from the footer, statistics and bloom filters; rewrite row group by row group.

Find reads the footer and the bloom filters (one ranged GET of the file's tail, as pyarrow writes them),
then only the identifier columns of the row groups that may hold a queued value. A rewrite decodes one
row group at a time (memory follows the largest row group) and writes with the source's own settings:
codec per column, INT96 kept INT96, key-value metadata, row-group boundaries, dictionary columns and
bloom filters, so the rewritten file differs from the source only by the rows it lost.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections import Counter
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, BinaryIO

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from functions.privacy.datasets import bloom
from functions.privacy.datasets.format import RewriteStats, ScanResult
from functions.privacy.datasets.ranged import FooterCache, RangedObject
from functions.privacy.datasets.selection import Hit, Selection

TAIL_GUESS = 64 * 1024  # the first tail read: most footers (and small files' filters) fit
PREFETCH_FILTERS_MAX = 256 * 1024  # filters up to this size (or 1 % of the file) come in the one tail GET
_DICTIONARY_ENCODINGS = {"PLAIN_DICTIONARY", "RLE_DICTIONARY"}


class UnfaithfulRewrite(ValueError):
    """The file uses settings pyarrow cannot write back as they are (named; the object is reported, not changed)."""


class DatasetColumnsMissing(ValueError):
    """The file lacks an identifier column the data map names (a scan would wrongly call it clean)."""


class ParquetFormat:
    """DatasetFormat for Parquet; ``footers`` caches parsed footers by ETag across the objects of a job."""

    name = "parquet"

    def __init__(self, footers: FooterCache | None = None) -> None:
        self.footers = footers or FooterCache()

    # --- find -------------------------------------------------------------------------------------

    def scan(self, source: BinaryIO, selection: Selection) -> ScanResult:
        parquet = self._open(source)
        metadata = parquet.metadata
        columns = _identifier_columns(metadata, selection)
        result = ScanResult(rows=metadata.num_rows, row_groups=metadata.num_row_groups)
        result.bloom_filters = any(
            metadata.row_group(g).column(i).bloom_filter_offset is not None
            for g in range(metadata.num_row_groups)
            for i in columns.values()
        )
        if result.bloom_filters and isinstance(source, RangedObject):
            _prefetch_filters(source, metadata, columns)
        hashes = _value_hashes(metadata, selection, columns)
        for group in range(metadata.num_row_groups):
            may_hold = self._may_hold(source, metadata, group, selection, columns, hashes)
            expiry = _group_expiry(metadata, group, selection)
            if not may_hold and expiry == "keep":
                continue
            # Only the identifier columns whose filter (or missing filter) let a value through: a bloom filter has
            # no false negatives, so a column it ruled out holds none. Holds compare every identifier column.
            confirm = selection.identifiers.values() if selection.held and expiry != "keep" else may_hold
            needed = sorted(set(confirm))
            if expiry == "read":
                needed.append(selection.timestamp or "")  # expiry "read" implies a timestamp
            if not needed and expiry == "all":
                result.expired_rows += metadata.row_group(group).num_rows  # every row expired, nothing held
                continue
            table = parquet.read_row_group(group, columns=_top_levels(needed))
            result.row_groups_read += 1
            decision = _decide(
                table, selection, expiry_all=expiry == "all", naive_utc=_int96_timestamp(metadata, selection)
            )
            result.subject_rows += decision.subject_rows
            result.expired_rows += decision.expired_rows
            result.held_rows += decision.held_rows
            result.unreadable_rows += decision.unreadable_rows
            result.hits.update(decision.hits)
            result.row_hits.update(decision.row_hits)
        return result

    def _may_hold(
        self,
        source: BinaryIO,
        metadata: pq.FileMetaData,
        group: int,
        selection: Selection,
        columns: Mapping[str, int],
        hashes: Mapping[str, list[int]],
    ) -> set[str]:
        """The identifier columns that may hold a queued value in this row group: statistics, then bloom filters."""
        row_group = metadata.row_group(group)
        may_hold: set[str] = set()
        for identifier, index in columns.items():
            values = selection.values.get(identifier, frozenset())
            if not values:
                continue
            chunk = row_group.column(index)
            in_range = _in_statistics(chunk, values)
            if not in_range:
                continue
            # No filter: the column must be read; a filter that lets a value through: confirm by reading it.
            if chunk.bloom_filter_offset is None or _filter_may_hold(source, chunk, hashes[identifier]):
                may_hold.add(selection.identifiers[identifier])
        return may_hold

    # --- rewrite ----------------------------------------------------------------------------------

    def rewrite(self, source: BinaryIO, sink: BinaryIO, selection: Selection) -> RewriteStats:
        parquet = self._open(source)
        metadata = parquet.metadata
        _identifier_columns(metadata, selection)
        settings = writer_settings(metadata, parquet.schema_arrow)
        stats = RewriteStats(rows_before=metadata.num_rows, rows_after=0, schema_hash=_schema_hash(metadata))
        with pq.ParquetWriter(sink, parquet.schema_arrow, **settings) as writer:
            for group in range(metadata.num_row_groups):
                table = parquet.read_row_group(group)
                decision = _decide(table, selection, expiry_all=False, naive_utc=_int96_timestamp(metadata, selection))
                stats.expired_rows += decision.expired_rows
                stats.held_rows += decision.held_rows
                stats.unreadable_rows += decision.unreadable_rows
                stats.hits.update(decision.hits)
                kept = _apply(table, decision, selection, stats)
                if kept.num_rows:
                    # One output row group per source row group: the source's boundaries, minus the removed rows.
                    writer.write_table(kept, row_group_size=kept.num_rows)
                stats.rows_after += kept.num_rows
        stats.removed_rows = stats.rows_before - stats.rows_after
        return stats

    # --- access and schema ------------------------------------------------------------------------

    def subject_rows(self, source: BinaryIO, selection: Selection) -> Iterator[tuple[set[Hit], Mapping[str, Any]]]:
        parquet = self._open(source)
        metadata = parquet.metadata
        columns = _identifier_columns(metadata, selection)
        hashes = _value_hashes(metadata, selection, columns)
        only_subjects = Selection(
            identifiers=selection.identifiers, values=selection.values, normalise=selection.normalise
        )
        for group in range(metadata.num_row_groups):
            if not self._may_hold(source, metadata, group, only_subjects, columns, hashes):
                continue
            table = parquet.read_row_group(group)
            identifier_values = {name: _column(table, path).to_pylist() for name, path in selection.identifiers.items()}
            for row, record in enumerate(table.to_pylist()):
                hits = only_subjects.subject_hits({name: cells[row] for name, cells in identifier_values.items()})
                if hits:
                    yield hits, _json_ready(record)

    def schema_hash(self, source: BinaryIO) -> str:
        return _schema_hash(self._open(source).metadata)

    def _open(self, source: BinaryIO) -> pq.ParquetFile:
        if isinstance(source, RangedObject):
            cached = self.footers.get(source.bucket, source.key, source.etag)
            if cached is None:
                source.prefetch_tail(min(source.size, TAIL_GUESS))
                parquet = pq.ParquetFile(source)
                self.footers.put(source.bucket, source.key, source.etag, parquet.metadata)
                return parquet
            return pq.ParquetFile(source, metadata=cached)
        source.seek(0)
        return pq.ParquetFile(source)


# --- what one row group decides -------------------------------------------------------------------


class _Decision:
    def __init__(self, rows: int) -> None:
        self.subject = [False] * rows
        self.expired = [False] * rows
        self.hits: Counter[Hit] = Counter()
        self.row_hits: Counter[frozenset[Hit]] = Counter()
        self.subject_rows = self.expired_rows = self.held_rows = self.unreadable_rows = 0


def _decide(table: pa.Table, selection: Selection, *, expiry_all: bool, naive_utc: bool = False) -> _Decision:
    """Per row: does it hold a queued value, is it expired (and not held)."""
    decision = _Decision(table.num_rows)
    identifier_values = {
        name: _column(table, path).to_pylist()
        for name, path in selection.identifiers.items()
        if _has_path(table.schema, path)
    }
    queued = {name: pa.array(sorted(values), pa.string()) for name, values in selection.values.items() if values}
    candidates: set[int] = set()
    for name, path in selection.identifiers.items():
        if name in queued and _has_path(table.schema, path):
            mask = pc.is_in(_as_text(_column(table, path)), value_set=queued[name])
            candidates.update(i for i, hit in enumerate(mask.to_pylist()) if hit)
    for row in sorted(candidates):
        hits = selection.subject_hits({name: cells[row] for name, cells in identifier_values.items()})
        if hits:
            decision.subject[row] = True
            decision.subject_rows += 1
            decision.hits.update(hits)
            decision.row_hits[frozenset(hits)] += 1
    if selection.expires:
        stamps: list[Any] = (
            [None] * table.num_rows if expiry_all else _stamps(_column(table, selection.timestamp or ""), naive_utc)
        )
        for row in range(table.num_rows):
            if decision.subject[row] and selection.mode == "delete":
                continue  # already going
            cells = {name: values[row] for name, values in identifier_values.items()}
            verdict = selection.expiry(cells, stamps[row]) if not expiry_all else _held_or_expired(selection, cells)
            if verdict == "expired":
                decision.expired[row] = True
                decision.expired_rows += 1
            elif verdict == "held":
                decision.held_rows += 1
            elif verdict == "unreadable":
                decision.unreadable_rows += 1
    return decision


def _held_or_expired(selection: Selection, cells: Mapping[str, Any]) -> str:
    for name, cell in cells.items():
        if cell is not None and selection.normalise(name, str(cell)) in selection.held.get(name, ()):
            return "held"
    return "expired"


def _apply(table: pa.Table, decision: _Decision, selection: Selection, stats: RewriteStats) -> pa.Table:
    """The row group without its removed rows, and (anonymise) with its subject rows masked."""
    remove = [
        expired or (subject and selection.mode == "delete")
        for subject, expired in zip(decision.subject, decision.expired, strict=True)
    ]
    if selection.mode == "anonymise" and any(decision.subject):
        table, masked = _masked(table, decision.subject, selection)
        stats.masked_rows += masked
    if not any(remove):
        return table
    return table.filter(pa.array([not r for r in remove], pa.bool_()))


def _masked(table: pa.Table, subject: list[bool], selection: Selection) -> tuple[pa.Table, int]:
    """Replace the masked columns of subject rows, keeping each column's type; counts rows that changed."""
    changed_rows: set[int] = set()
    for path in selection.masks:
        top, *rest = path.split(".")
        index = table.schema.get_field_index(top)
        if index < 0 or not _has_path(table.schema, path):
            raise DatasetColumnsMissing(f"masked column {path} is not in the file")
        column = table.column(index).combine_chunks()
        records = column.to_pylist()
        for row in (r for r, is_subject in enumerate(subject) if is_subject):
            old = records[row]
            new = (
                selection.masked(path, old)
                if not rest
                else _set_path(old, rest, lambda cell, masked_path=path: selection.masked(masked_path, cell))
            )
            if new != old:
                changed_rows.add(row)
                records[row] = new
        try:
            replaced = pa.array(records, type=column.type)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            raise UnfaithfulRewrite(f"masked column {path}: the mask's value does not fit the column's type") from None
        table = table.set_column(index, table.schema.field(index), replaced)
    return table, len(changed_rows)


def _set_path(record: Any, rest: list[str], replace: Any) -> Any:
    """A copy of a nested record with the value at ``rest`` replaced (the record itself if the path is absent)."""
    if not rest:
        return record
    if not isinstance(record, dict) or rest[0] not in record:
        return record
    copy = dict(record)
    copy[rest[0]] = replace(record[rest[0]]) if len(rest) == 1 else _set_path(record[rest[0]], rest[1:], replace)
    return copy


# --- footer helpers -------------------------------------------------------------------------------


def _identifier_columns(metadata: pq.FileMetaData, selection: Selection) -> dict[str, int]:
    """identifier -> leaf column index; a missing identifier column is refused (the file would scan clean)."""
    paths = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    missing = [path for path in selection.identifiers.values() if path not in paths]
    if missing:
        raise DatasetColumnsMissing(f"identifier columns {', '.join(sorted(missing))} are not in the file")
    if selection.expires and selection.timestamp not in paths:
        raise DatasetColumnsMissing(f"timestamp column {selection.timestamp} is not in the file")
    return {name: paths[path] for name, path in selection.identifiers.items()}


def _value_hashes(metadata: pq.FileMetaData, selection: Selection, columns: Mapping[str, int]) -> dict[str, list[int]]:
    hashes: dict[str, list[int]] = {}
    for identifier, index in columns.items():
        physical = metadata.schema.column(index).physical_type
        encoded = (bloom.plain_encoding(v, physical) for v in selection.values.get(identifier, ()))
        hashes[identifier] = [bloom.value_hash(e) for e in encoded if e is not None]
    return hashes


def _prefetch_filters(source: RangedObject, metadata: pq.FileMetaData, columns: Mapping[str, int]) -> None:
    """One GET from the first identifier filter to the end when the filters are small (pyarrow writes them just
    before the footer); large filters are probed block by block instead (about 48 bytes per value)."""
    offsets = [
        chunk.bloom_filter_offset
        for g in range(metadata.num_row_groups)
        for i in columns.values()
        if (chunk := metadata.row_group(g).column(i)).bloom_filter_offset is not None
    ]
    if offsets and source.size - min(offsets) <= max(PREFETCH_FILTERS_MAX, source.size // 100):
        source.prefetch_tail(source.size - min(offsets))


def _filter_may_hold(source: BinaryIO, chunk: Any, hashes: list[int]) -> bool:
    """Probe the chunk's bloom filter: its header, then one 32-byte block per value (True when unreadable)."""
    offset = chunk.bloom_filter_offset
    raw = _read(source, offset, bloom.HEADER_MAX)
    try:
        size, header = bloom.parse_header(raw)
    except (bloom.BloomFilterUnreadable, IndexError):
        return True  # cannot rule out: the column is read instead
    blocks = size // bloom.BLOCK_BYTES
    for hashed in hashes:
        start = offset + header + bloom.block_index(hashed, blocks) * bloom.BLOCK_BYTES
        if bloom.block_contains(_read(source, start, bloom.BLOCK_BYTES), hashed):
            return True
    return False


def _read(source: BinaryIO, offset: int, length: int) -> bytes:
    if isinstance(source, RangedObject):
        return source.read_range(offset, length, exact=True)
    source.seek(offset)
    return source.read(length)


def _in_statistics(chunk: Any, values: frozenset[str]) -> bool:
    """Whether any value lies within the chunk's min/max (True when there are no statistics to rule it out)."""
    statistics = chunk.statistics
    if statistics is None or not statistics.has_min_max:
        return True
    low, high = statistics.min, statistics.max
    for value in values:
        try:
            typed: Any = int(value) if isinstance(low, int) else value
        except ValueError:
            continue
        if isinstance(typed, type(low)) and low <= typed <= high:
            return True
        if not isinstance(typed, type(low)):
            return True  # types we cannot compare: do not rule out
    return False


def _group_expiry(metadata: pq.FileMetaData, group: int, selection: Selection) -> str:
    """``keep`` (no row past retention), ``all`` (every row past it, by statistics) or ``read`` (read the column)."""
    if not selection.expires:
        return "keep"
    paths = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    chunk = metadata.row_group(group).column(paths[selection.timestamp or ""])
    statistics = chunk.statistics
    if statistics is None or not statistics.has_min_max or statistics.null_count:
        return "read"
    if pa.types.is_timestamp(chunk_type := _statistics_type(statistics)) and chunk_type.tz is None:
        return "read"  # a local time: every row is unreadable, decided row by row
    low, high = _aware(statistics.min), _aware(statistics.max)
    if low is None or high is None:
        return "read"
    assert selection.expire_before is not None
    if high < selection.expire_before:
        return "all"
    return "keep" if low >= selection.expire_before else "read"


def _statistics_type(statistics: Any) -> pa.DataType:
    logical = str(statistics.logical_type)
    if logical.startswith("Timestamp"):
        return pa.timestamp("us", tz="UTC" if "isAdjustedToUTC=true" in logical else None)
    return pa.null()


def _int96_timestamp(metadata: pq.FileMetaData, selection: Selection) -> bool:
    if not selection.expires:
        return False
    paths = {metadata.schema.column(i).path: i for i in range(metadata.num_columns)}
    index = paths.get(selection.timestamp or "")
    return index is not None and metadata.schema.column(index).physical_type == "INT96"


def _aware(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return None


def writer_settings(metadata: pq.FileMetaData, schema: pa.Schema) -> dict[str, Any]:
    """ParquetWriter options that reproduce the source file's physical choices (LAKE.md: only these are faithful)."""
    if metadata.num_row_groups == 0:
        return {"version": metadata.format_version}
    first = metadata.row_group(0)
    chunks = [first.column(i) for i in range(metadata.num_columns)]
    physical = {c.path_in_schema: c.physical_type for c in chunks}
    int96 = {path for path, kind in physical.items() if kind == "INT96"}
    timestamps = {
        metadata.schema.column(i).path
        for i in range(metadata.num_columns)
        if pa.types.is_timestamp(_leaf_type(schema, metadata.schema.column(i).path))
    }
    if int96 and int96 != timestamps:
        raise UnfaithfulRewrite("the file mixes INT96 and INT64 timestamps; pyarrow writes one kind per file")
    blooms = {}
    for index, chunk in enumerate(chunks):
        if chunk.bloom_filter_offset is not None:
            blooms[metadata.schema.column(index).path] = _bloom_options(metadata, index)
    arrow_schema_stored = bool(metadata.metadata and b"ARROW:schema" in metadata.metadata)
    return {
        "version": metadata.format_version,
        "compression": {c.path_in_schema: c.compression for c in chunks},
        "use_dictionary": [c.path_in_schema for c in chunks if _DICTIONARY_ENCODINGS & set(c.encodings)],
        "write_statistics": [c.path_in_schema for c in chunks if c.is_stats_set],
        "use_deprecated_int96_timestamps": bool(int96),
        "store_schema": arrow_schema_stored,  # a file written without it must not gain an ARROW:schema key
        "write_page_index": any(c.has_column_index for c in chunks),
        "bloom_filter_options": blooms or None,
    }


def _bloom_options(metadata: pq.FileMetaData, index: int) -> dict[str, Any]:
    """ndv and fpp that make pyarrow write the source's filter size again (neither is stored in the file).

    pyarrow sizes a split-block filter as -8 ndv / ln(1 - fpp^(1/8)) bits, rounded up to a power of two: the
    largest row group's rows and the fpp that fills exactly the source's power of two reproduce it, so a
    rewrite neither shrinks a lake's filters (more false positives, more bytes read by every later find) nor
    grows them.
    """
    groups = [metadata.row_group(g) for g in range(metadata.num_row_groups)]
    rows = max(group.num_rows for group in groups)
    lengths = [group.column(index).bloom_filter_length or 0 for group in groups]
    if rows < 1 or max(lengths) <= 0:
        return {"ndv": max(rows, 1), "fpp": 0.01}  # no size to copy: the LAKE.md default
    filter_bytes = 1 << (max(lengths).bit_length() - 1)  # the bitset's power of two, without the Thrift header
    fpp = (1 - math.exp(-rows / filter_bytes)) ** 8 * 1.01  # a hair looser so rounding lands on the same size
    return {"ndv": rows, "fpp": min(max(fpp, 1e-9), 0.5)}


def _leaf_type(schema: pa.Schema, path: str) -> pa.DataType:
    top, *rest = path.split(".")
    kind = schema.field(top).type
    for part in rest:
        if not pa.types.is_struct(kind):
            return kind
        kind = kind.field(part).type
    return kind


def _schema_hash(metadata: pq.FileMetaData) -> str:
    """sha256 over every leaf column's path, physical, logical and converted type (no values)."""
    parts = []
    for i in range(metadata.num_columns):
        column = metadata.schema.column(i)
        parts.append(f"{column.path}|{column.physical_type}|{column.logical_type}|{column.converted_type}")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


# --- columns --------------------------------------------------------------------------------------


def _top_levels(paths: list[str]) -> list[str]:
    """Column selections for read_row_group: a dotted path reads just that leaf of its struct."""
    return list(dict.fromkeys(paths))


def _has_path(schema: pa.Schema, path: str) -> bool:
    top, *rest = path.split(".")
    if schema.get_field_index(top) < 0:
        return False
    kind = schema.field(top).type
    for part in rest:
        if not pa.types.is_struct(kind) or kind.get_field_index(part) < 0:
            return False
        kind = kind.field(part).type
    return True


def _column(table: pa.Table, path: str) -> pa.Array:
    """The values at a dotted path (struct fields followed), as one array."""
    top, *rest = path.split(".")
    array: Any = table.column(top).combine_chunks()
    for part in rest:
        array = pc.struct_field(array, part)
    return array


def _as_text(array: pa.Array) -> pa.Array:
    """Values compared as text (an INT64 customer id 42 matches "42")."""
    return (
        array if pa.types.is_string(array.type) or pa.types.is_large_string(array.type) else pc.cast(array, pa.string())
    )


def _stamps(array: pa.Array, naive_utc: bool) -> list[Any]:
    """Timestamps as Selection.expiry reads them. An INT96 timestamp has no zone in pyarrow but is a UTC instant
    by the convention of every writer of INT96 (Spark, Hive, Impala); any other zone-less timestamp
    (isAdjustedToUTC=false: a local time) stays unreadable and is never expired."""
    values = array.to_pylist()
    if naive_utc and pa.types.is_timestamp(array.type) and array.type.tz is None:
        return [v.replace(tzinfo=UTC) if isinstance(v, datetime) else v for v in values]
    return values


def _json_ready(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_ready(v) for v in value]
    if isinstance(value, datetime):
        return (value.replace(tzinfo=UTC) if value.tzinfo is None else value).isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, Decimal):
        return str(value)
    return value
