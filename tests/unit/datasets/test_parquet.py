"""Parquet: subjects found from footers and bloom filters, and files rewritten with nothing changed but the rows."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from moto import mock_aws

from functions.privacy.datamap.model import Mask, MaskStrategy
from functions.privacy.datasets import bloom
from functions.privacy.datasets.parquet import DatasetColumnsMissing, ParquetFormat
from functions.privacy.datasets.ranged import RangedObject
from functions.privacy.datasets.selection import Selection

IDENTIFIERS = {"customer_id": "customer.id", "email": "customer.email"}
T0 = datetime(2020, 1, 1, tzinfo=UTC)


def orders(rows: int = 3000, subjects: dict[int, str] | None = None) -> pa.Table:
    """Rows of synthetic customers; ``subjects`` puts a named customer id on chosen rows."""
    subjects = subjects or {}
    # ids alternate a-/z- so every row group's min/max spans every id: only bloom filters can rule one out
    ids = [subjects.get(i, f"{'az'[i % 2]}-other-{i}") for i in range(rows)]
    return pa.table(
        {
            "customer": pa.array([{"id": c, "email": f"{c}@example.com"} for c in ids]),
            "amount": pa.array([i * 7 % 1000 for i in range(rows)], pa.int64()),
            # nanoseconds on purpose: a faithful rewrite keeps them (DuckDB would truncate them)
            "ordered_at": pa.array(
                [T0 + timedelta(days=i % 900, microseconds=i) for i in range(rows)], pa.timestamp("us", tz="UTC")
            ).cast(pa.timestamp("ns", tz="UTC")),
        },
        metadata={b"origin": b"orders-export v3"},
    )


def write(table: pa.Table, **options: object) -> bytes:
    sink = io.BytesIO()
    defaults: dict[str, object] = {
        "row_group_size": 1000,
        "compression": {"customer.id": "zstd", "customer.email": "gzip", "amount": "snappy", "ordered_at": "zstd"},
        "bloom_filter_options": {"customer.id": {"ndv": 1000, "fpp": 0.01}, "customer.email": True},
    }
    pq.write_table(table, sink, **{**defaults, **options})
    return sink.getvalue()


def selection(*ids: str, **options: object) -> Selection:
    return Selection(identifiers=IDENTIFIERS, values={"customer_id": frozenset(ids)}, **options)  # type: ignore[arg-type]  # test options


def rewrite(raw: bytes, chosen: Selection) -> tuple[bytes, object]:
    sink = io.BytesIO()
    stats = ParquetFormat().rewrite(io.BytesIO(raw), sink, chosen)
    return sink.getvalue(), stats


def test_scan_reads_only_the_row_group_whose_bloom_filter_may_hold_the_subject() -> None:
    raw = write(orders(subjects={1500: "c-42", 1501: "c-42"}))
    result = ParquetFormat().scan(io.BytesIO(raw), selection("c-42", "c-missing"))
    assert (result.subject_rows, result.rows, result.row_groups) == (2, 3000, 3)
    assert result.bloom_filters is True
    assert result.row_groups_read == 1  # the other two were ruled out without reading a column
    assert result.hits == {("customer_id", "c-42"): 2}


def test_scan_confirms_by_reading_only_the_identifier_column_whose_filter_matched(monkeypatch) -> None:
    flat = pa.table(
        {"customer_id": [f"{'az'[i % 2]}-{i}" for i in range(2000)], "email": [f"{i}@x.test" for i in range(2000)]}
    )
    raw = write(flat, compression="zstd", bloom_filter_options={"customer_id": True, "email": True})
    read: list[list[str]] = []
    original = pq.ParquetFile.read_row_group

    def recording(self, group, columns=None, **kwargs):  # type: ignore[no-untyped-def]
        read.append(list(columns or []))
        return original(self, group, columns=columns, **kwargs)

    monkeypatch.setattr(pq.ParquetFile, "read_row_group", recording)
    chosen = Selection(
        identifiers={"customer_id": "customer_id", "email": "email"},
        values={"customer_id": frozenset({"z-1501"}), "email": frozenset({"nobody@x.test"})},
    )
    result = ParquetFormat().scan(io.BytesIO(raw), chosen)
    assert result.subject_rows == 1
    # Bloom filters have no false negatives: the email filters ruled their value out, so no email chunk is read.
    assert read == [["customer_id"]]


def test_a_file_without_bloom_filters_is_still_searched_and_says_so() -> None:
    raw = write(orders(subjects={10: "c-42"}), bloom_filter_options=None)
    result = ParquetFormat().scan(io.BytesIO(raw), selection("c-42"))
    assert result.subject_rows == 1 and result.bloom_filters is False
    assert result.row_groups_read == 3  # statistics cannot rule out unsorted ids: every identifier column is read


def test_bloom_filters_written_by_pyarrow_hold_every_value_and_few_others() -> None:
    raw = write(orders(rows=1000))
    metadata = pq.ParquetFile(io.BytesIO(raw)).metadata
    chunk = metadata.row_group(0).column(0)
    filter_bytes = raw[chunk.bloom_filter_offset : chunk.bloom_filter_offset + chunk.bloom_filter_length]
    size, header = bloom.parse_header(filter_bytes)
    bitset = filter_bytes[header : header + size]

    def probe(value: str) -> bool:
        return bloom.might_contain(bitset, [bloom.value_hash(value.encode())])

    assert all(probe(f"{'az'[i % 2]}-other-{i}") for i in range(1000))
    assert sum(probe(f"absent-{i}") for i in range(10_000)) < 300  # fpp 0.01, measured well under 3 %


def test_rewrite_removes_only_the_subject_rows_and_keeps_the_files_physical_choices() -> None:
    raw = write(orders(subjects={5: "c-42", 2500: "c-42"}))
    new, stats = rewrite(raw, selection("c-42"))
    source, result = pq.ParquetFile(io.BytesIO(raw)), pq.ParquetFile(io.BytesIO(new))
    assert (stats.rows_before, stats.rows_after, stats.removed_rows) == (3000, 2998, 2)  # type: ignore[attr-defined]
    assert [result.metadata.row_group(g).num_rows for g in range(3)] == [999, 1000, 999]
    for g in range(3):
        for c in range(source.metadata.num_columns):
            before, after = source.metadata.row_group(0).column(c), result.metadata.row_group(g).column(c)
            assert after.compression == before.compression
            assert after.physical_type == before.physical_type
            assert (after.bloom_filter_offset is None) == (before.bloom_filter_offset is None)
    assert result.schema_arrow.metadata[b"origin"] == b"orders-export v3"
    assert result.schema_arrow == source.schema_arrow  # ns timestamps and the struct intact
    kept = source.read().filter(pa.array([i not in (5, 2500) for i in range(3000)]))
    assert result.read().equals(kept)
    assert ParquetFormat().scan(io.BytesIO(new), selection("c-42")).subject_rows == 0
    assert ParquetFormat().schema_hash(io.BytesIO(new)) == ParquetFormat().schema_hash(io.BytesIO(raw))


def test_rebuilt_bloom_filters_still_find_the_rows_that_were_kept() -> None:
    raw = write(orders(subjects={5: "c-42", 6: "c-7"}))
    new, _ = rewrite(raw, selection("c-42"))
    found = ParquetFormat().scan(io.BytesIO(new), selection("c-7", "z-other-2999"))
    assert found.subject_rows == 2 and found.bloom_filters is True


def test_int96_timestamps_stay_int96() -> None:
    table = orders(rows=200, subjects={3: "c-42"}).set_column(
        2, "ordered_at", pa.array([datetime(2021, 1, 1)] * 200, pa.timestamp("ns"))
    )
    raw = write(table, use_deprecated_int96_timestamps=True)
    new, _ = rewrite(raw, selection("c-42"))
    column = pq.ParquetFile(io.BytesIO(new)).metadata.schema.column(3)  # leaves: id, email, amount, ordered_at
    assert column.physical_type == "INT96"


def test_a_file_written_without_the_arrow_schema_gains_no_key() -> None:
    raw = write(orders(rows=100, subjects={1: "c-42"}), store_schema=False)
    new, _ = rewrite(raw, selection("c-42"))
    assert pq.ParquetFile(io.BytesIO(new)).metadata.metadata == pq.ParquetFile(io.BytesIO(raw)).metadata.metadata


def test_anonymise_masks_the_nested_email_of_subject_rows_only() -> None:
    raw = write(orders(rows=100, subjects={1: "c-42"}))
    chosen = selection("c-42", mode="anonymise", masks={"customer.email": Mask(strategy=MaskStrategy.FIXED, value="x")})
    new, stats = rewrite(raw, chosen)
    rows = pq.read_table(io.BytesIO(new)).to_pylist()
    assert stats.rows_after == 100 and stats.masked_rows == 1  # type: ignore[attr-defined]
    assert rows[1]["customer"] == {"id": "c-42", "email": "x"}
    assert rows[2]["customer"]["email"] == "a-other-2@example.com"


def test_retention_drops_expired_rows_but_keeps_held_subjects_rows() -> None:
    table = orders(rows=3000, subjects={0: "c-held"})
    cutoff = T0 + timedelta(days=450)
    chosen = Selection(
        identifiers=IDENTIFIERS,
        timestamp="ordered_at",
        expire_before=cutoff,
        held={"customer_id": frozenset({"c-held"})},
    )
    raw = write(table)
    scanned = ParquetFormat().scan(io.BytesIO(raw), chosen)
    new, stats = rewrite(raw, chosen)
    expected = sum(1 for i in range(1, 3000) if T0 + timedelta(days=i % 900) < cutoff)
    assert scanned.expired_rows == stats.expired_rows == expected  # type: ignore[attr-defined]
    assert scanned.held_rows == 1
    remaining = pq.read_table(io.BytesIO(new)).to_pylist()
    assert all(r["ordered_at"] >= cutoff or r["customer"]["id"] == "c-held" for r in remaining)
    assert len(remaining) == 3000 - expected


def test_a_zone_less_local_timestamp_is_never_expired() -> None:
    table = orders(rows=50).set_column(2, "ordered_at", pa.array([datetime(2001, 1, 1)] * 50, pa.timestamp("us")))
    chosen = Selection(identifiers=IDENTIFIERS, timestamp="ordered_at", expire_before=T0)
    result = ParquetFormat().scan(io.BytesIO(write(table)), chosen)
    assert (result.expired_rows, result.unreadable_rows) == (0, 50)


def test_numeric_identifier_columns_match_as_text() -> None:
    table = pa.table({"customer_id": pa.array(range(500), pa.int64()), "v": pa.array(["a"] * 500)})
    raw = write(table, compression="snappy", bloom_filter_options={"customer_id": True})
    chosen = Selection(identifiers={"customer_id": "customer_id"}, values={"customer_id": frozenset({"42", "x"})})
    assert ParquetFormat().scan(io.BytesIO(raw), chosen).hits == {("customer_id", "42"): 1}


def test_subject_rows_are_json_ready() -> None:
    raw = write(orders(rows=100, subjects={7: "c-42"}))
    rows = list(ParquetFormat().subject_rows(io.BytesIO(raw), selection("c-42")))
    assert len(rows) == 1
    hits, record = rows[0]
    assert hits == {("customer_id", "c-42")}
    assert record["customer"]["id"] == "c-42" and isinstance(record["ordered_at"], str)


def test_a_file_missing_an_identifier_column_is_refused_not_called_clean() -> None:
    raw = write(pa.table({"other": pa.array(["a"])}), compression="snappy", bloom_filter_options=None)
    with pytest.raises(DatasetColumnsMissing):
        ParquetFormat().scan(io.BytesIO(raw), selection("c-42"))


@mock_aws
def test_a_ranged_scan_reads_a_small_part_of_a_large_object() -> None:
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="lake")
    # a filter sized for the row group's distinct ids (a filter sized far too small answers "maybe" to everything)
    blooms = {"customer.id": {"ndv": 20_000, "fpp": 0.01}}
    raw = write(orders(rows=200_000, subjects={150_000: "c-42"}), row_group_size=20_000, bloom_filter_options=blooms)
    s3.put_object(Bucket="lake", Key="orders/part-0.parquet", Body=raw)
    head = s3.head_object(Bucket="lake", Key="orders/part-0.parquet")
    source = RangedObject(
        s3, "lake", "orders/part-0.parquet", version_id=None, etag=head["ETag"], size=head["ContentLength"]
    )
    result = ParquetFormat().scan(source, selection("c-42"))
    assert result.subject_rows == 1
    assert source.bytes_read < len(raw) * 0.25, (source.bytes_read, len(raw))
    assert result.row_groups_read <= 2
    assert source.bytes_read < len(raw) * 0.1


@pytest.mark.parametrize("fpp", [0.001, 0.01, 0.05])
def test_a_rewrite_keeps_the_size_of_every_bloom_filter(fpp) -> None:
    # A smaller filter would let more values through: every later find would read more column chunks.
    raw = write(orders(subjects={5: "c-42"}), bloom_filter_options={"customer.id": {"ndv": 1000, "fpp": fpp}})
    new, _stats = rewrite(raw, selection("c-42"))
    before, after = pq.ParquetFile(io.BytesIO(raw)).metadata, pq.ParquetFile(io.BytesIO(new)).metadata
    sizes = [[m.row_group(g).column(0).bloom_filter_length for g in range(m.num_row_groups)] for m in (before, after)]
    assert sizes[0] == sizes[1] and all(sizes[0])
