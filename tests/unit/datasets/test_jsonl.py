"""JSON Lines lake files: erasure removes exactly the subject's lines and keeps every other byte."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import struct
import zlib
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.privacy.datamap.model import Mask, MaskStrategy
from functions.privacy.datasets.compression import CorruptGzip
from functions.privacy.datasets.format import RewriteStats
from functions.privacy.datasets.jsonl import JsonLinesFormat
from functions.privacy.datasets.selection import Selection

FORMAT = JsonLinesFormat()
IDS = {"customer_id": "customer.id", "email": "customer.email"}


def subjects(*customer_ids: str, emails: tuple[str, ...] = (), **options: Any) -> Selection:
    values = {"customer_id": frozenset(customer_ids), "email": frozenset(emails)}
    return Selection(identifiers=IDS, values=values, **options)


def line(customer_id: object, email: str = "x@example.com", end: str = "\n", **extra: object) -> bytes:
    record = {"order": "o-" + str(customer_id), "customer": {"id": customer_id, "email": email}, **extra}
    return (json.dumps(record) + end).encode()


def rewritten(source: bytes, selection: Selection) -> tuple[bytes, RewriteStats]:
    sink = io.BytesIO()
    stats = FORMAT.rewrite(io.BytesIO(source), sink, selection)
    return sink.getvalue(), stats


def test_erasure_removes_only_the_subjects_lines_matching_numbers_as_text() -> None:
    lines = [line(42), line(7), line("42"), line(8, email="ann@example.com"), line(9)]
    source = b"".join(lines)

    out, stats = rewritten(source, subjects("42", emails=("ann@example.com",)))

    assert out == lines[1] + lines[4]
    assert stats.rows_before == 5 and stats.rows_after == 2 and stats.removed_rows == 3
    assert stats.hits == {("customer_id", "42"): 2, ("email", "ann@example.com"): 1}


def test_scan_counts_what_rewrite_removes_without_writing() -> None:
    source = b"".join([line(42), line(7), line(42), line(5)])

    result = FORMAT.scan(io.BytesIO(source), subjects("42", "5"))

    assert (result.rows, result.subject_rows, result.malformed_rows) == (4, 3, 0)
    assert result.hits == {("customer_id", "42"): 2, ("customer_id", "5"): 1}
    assert result.acts


def test_crlf_lines_and_a_missing_final_newline_are_kept() -> None:
    lines = [line(1, end="\r\n"), line(42, end="\r\n"), line(3, end="\r\n"), line(4, end="")]
    source = b"".join(lines)

    out, _ = rewritten(source, subjects("42"))

    assert out == lines[0] + lines[2] + lines[3]
    assert not out.endswith(b"\n")


def test_removing_the_unterminated_last_line_keeps_the_lines_before_it() -> None:
    lines = [line(1), line(2), line(42, end="")]

    out, _ = rewritten(b"".join(lines), subjects("42"))

    assert out == lines[0] + lines[1]


def test_byte_order_mark_stays_at_the_start_when_the_first_line_goes() -> None:
    bom = b"\xef\xbb\xbf"
    lines = [line(42), line(2), line(3)]

    out, stats = rewritten(bom + b"".join(lines), subjects("42"))

    assert out == bom + lines[1] + lines[2]
    assert stats.removed_rows == 1


def test_nested_path_reaches_only_that_object() -> None:
    # a top-level "id" or another object's "id" is not the customer's id
    lines = [
        b'{"id": 42, "customer": {"id": 1}}\n',
        b'{"seller": {"id": 42}, "customer": {"id": 2}}\n',
        b'{"customer": {"id": 42, "email": null}}\n',
        b'{"customer": "42"}\n',
    ]

    out, _ = rewritten(b"".join(lines), subjects("42"))

    assert out == lines[0] + lines[1] + lines[3]


def test_gzip_rewrite_is_gzip_with_the_same_header() -> None:
    lines = [line(n) for n in (1, 42, 3, 42, 5)]
    packed = io.BytesIO()
    with gzip.GzipFile(filename="orders.jsonl", mode="wb", fileobj=packed, mtime=1_700_000_000, compresslevel=1) as gz:
        gz.write(b"".join(lines))
    source = packed.getvalue()

    out, stats = rewritten(source, subjects("42"))

    assert gzip.decompress(out) == lines[0] + lines[2] + lines[4]
    assert out[:10] == source[:10]  # magic, method, flags, mtime, XFL (fastest), OS
    assert struct.unpack("<I", out[4:8])[0] == 1_700_000_000
    assert out[10:].startswith(b"orders.jsonl\x00")
    assert stats.removed_rows == 2


def test_gzip_without_subjects_rewrites_to_identical_bytes() -> None:
    source = gzip.compress(b"".join(line(n) for n in range(200)), mtime=12345)

    out, stats = rewritten(source, subjects("nobody"))

    assert out == source
    assert stats.removed_rows == 0


def test_gzip_detected_by_magic_bytes_and_corruption_is_named() -> None:
    source = gzip.compress(b"".join(line(n) for n in range(50)))
    truncated = source[: len(source) // 2]

    with pytest.raises(CorruptGzip):
        FORMAT.scan(io.BytesIO(truncated), subjects("1"))


def test_concatenated_gzip_members_are_read_whole_and_written_as_one() -> None:
    first, second = [line(1), line(42)], [line(3), line(42)]
    source = gzip.compress(b"".join(first), mtime=99) + gzip.compress(b"".join(second), mtime=100)

    out, stats = rewritten(source, subjects("42"))

    assert gzip.decompress(out) == line(1) + line(3)
    assert out[:10] == source[:10] and stats.rows_before == 4


def test_gzip_header_with_extra_field_comment_and_header_crc_is_kept() -> None:
    content = line(1) + line(42)
    flags = 0x02 | 0x04 | 0x08 | 0x10  # FHCRC, FEXTRA, FNAME, FCOMMENT
    header = b"\x1f\x8b\x08" + bytes([flags]) + struct.pack("<I", 7) + b"\x00\x03"
    header += struct.pack("<H", 4) + b"AB\x00\x00" + b"orders.jsonl\x00" + b"nightly export\x00"
    header += struct.pack("<H", zlib.crc32(header) & 0xFFFF)
    deflate = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    body = deflate.compress(content) + deflate.flush()
    source = header + body + struct.pack("<II", zlib.crc32(content), len(content))
    assert gzip.decompress(source) == content  # the hand-made member is valid gzip

    out, _ = rewritten(source, subjects("42"))

    assert out.startswith(header)
    assert gzip.decompress(out) == line(1)


def test_line_longer_than_a_read_chunk_is_one_row() -> None:
    long_line = line(7, note="n" * (3 * 1024 * 1024))
    lines = [line(42), long_line, line(42, end="")]

    out, stats = rewritten(b"".join(lines), subjects("42"))

    assert out == long_line
    assert stats.rows_before == 3


def test_malformed_lines_are_counted_and_kept_byte_for_byte() -> None:
    bad = [b'{"customer": {"id": 42}\n', b'[42, "ann@example.com"]\n', b"\xff\xfe{}\n", b"42\n"]
    blank = b"  \r\n"
    lines = [line(1), bad[0], line(42), bad[1], blank, bad[2], bad[3]]

    out, stats = rewritten(b"".join(lines), subjects("42"))
    result = FORMAT.scan(io.BytesIO(b"".join(lines)), subjects("42"))

    assert out == line(1) + bad[0] + bad[1] + blank + bad[2] + bad[3]
    assert stats.malformed_rows == 4 and result.malformed_rows == 4
    assert stats.rows_before == 2 and result.rows == 2


def test_anonymise_masks_only_the_subjects_fields_keeping_key_order() -> None:
    def keyed(value: str) -> str:
        return hmac.new(b"stack-key", value.encode(), hashlib.sha256).hexdigest()

    masks = {
        "customer.email": Mask(strategy=MaskStrategy.KEYED_HASH),
        "customer.name": Mask(strategy=MaskStrategy.FIXED, value="redacted"),
        "phone": Mask(strategy=MaskStrategy.NULL),
    }
    others = [b'{"z": 1, "customer": {"id": 7, "email": "b@example.com", "name": "Bob"}, "phone": "555"}\n']
    subject = b'{"z":2,"customer":{"id":42,"email":"ann@example.com","name":"Ann"},"phone":"556","total":1.5}\r\n'
    selection = subjects("42", mode="anonymise", masks=masks, keyed_hash=keyed)

    out, stats = rewritten(others[0] + subject, selection)

    assert out.startswith(others[0])
    masked_line = out[len(others[0]) :]
    assert masked_line.endswith(b"}\r\n") and b": " not in masked_line  # compact like the original
    masked = json.loads(masked_line)
    assert list(masked) == ["z", "customer", "phone", "total"]
    assert list(masked["customer"]) == ["id", "email", "name"]
    assert masked["customer"] == {"id": 42, "email": keyed("ann@example.com"), "name": "redacted"}
    assert masked["phone"] is None and masked["total"] == 1.5
    assert (stats.masked_rows, stats.removed_rows, stats.rows_after) == (1, 0, 2)


def test_anonymise_again_with_fixed_and_null_masks_leaves_the_file_unchanged() -> None:
    masks = {
        "customer.email": Mask(strategy=MaskStrategy.FIXED, value="gone"),
        "note": Mask(strategy=MaskStrategy.NULL),
    }
    selection = subjects("42", mode="anonymise", masks=masks)
    first, _ = rewritten(line(42, note="call me") + line(3), selection)

    second, stats = rewritten(first, selection)

    assert second == first
    assert stats.masked_rows == 0
    assert json.loads(first.splitlines()[0])["customer"]["email"] == "gone"


def test_anonymise_keeps_non_ascii_unescaped_when_the_line_had_it() -> None:
    masks = {"customer.email": Mask(strategy=MaskStrategy.FIXED, value="gone")}
    subject = '{"customer": {"id": 42, "email": "zoë@example.com"}, "city": "Zürich"}\n'.encode()

    out, _ = rewritten(subject, subjects("42", mode="anonymise", masks=masks))

    assert out == '{"customer": {"id": 42, "email": "gone"}, "city": "Zürich"}\n'.encode()


def test_retention_drops_expired_rows_and_keeps_held_recent_and_unreadable() -> None:
    cutoff = datetime(2026, 1, 1, tzinfo=UTC)
    old, new = "2024-05-01T00:00:00Z", "2026-06-01T00:00:00Z"
    lines = {
        "expired": line(1, ordered_at=old),
        "expired_epoch": line(2, ordered_at=1_600_000_000),
        "recent": line(3, ordered_at=new),
        "held": line(4, ordered_at=old),
        "no_zone": line(5, ordered_at="2024-05-01T00:00:00"),
        "empty": line(6, ordered_at=""),
        "missing": line(7),
    }
    selection = subjects(timestamp="ordered_at", expire_before=cutoff, held={"customer_id": frozenset({"4"})})

    out, stats = rewritten(b"".join(lines.values()), selection)
    result = FORMAT.scan(io.BytesIO(b"".join(lines.values())), selection)

    kept = ("recent", "held", "no_zone", "empty", "missing")
    assert out == b"".join(lines[name] for name in kept)
    assert (stats.expired_rows, stats.held_rows, stats.unreadable_rows) == (2, 1, 3)
    assert (result.expired_rows, result.held_rows, result.unreadable_rows) == (2, 1, 3)
    assert stats.removed_rows == 2 and stats.rows_after == 5


def test_expired_subject_row_is_removed_even_in_anonymise_mode() -> None:
    masks = {"customer.email": Mask(strategy=MaskStrategy.FIXED, value="gone")}
    selection = subjects(
        "42",
        mode="anonymise",
        masks=masks,
        timestamp="at",
        expire_before=datetime(2026, 1, 1, tzinfo=UTC),
    )
    lines = [
        line(42, at="2020-01-01T00:00:00Z"),
        line(42, at="2027-01-01T00:00:00Z"),
        line(3, at="2027-01-01T00:00:00Z"),
    ]

    out, stats = rewritten(b"".join(lines), selection)

    kept = out.splitlines(keepends=True)
    assert kept[1] == lines[2] and len(kept) == 2
    assert json.loads(kept[0])["customer"]["email"] == "gone"
    assert (stats.removed_rows, stats.masked_rows, stats.expired_rows) == (1, 1, 1)


def test_subject_rows_export_the_whole_nested_record_with_its_hits() -> None:
    source = line(42, email="ann@example.com") + line(7) + b"{broken\n" + line(8, email="ann@example.com")

    exported = list(FORMAT.subject_rows(io.BytesIO(source), subjects("42", emails=("ann@example.com",))))

    assert [hits for hits, _ in exported] == [
        {("customer_id", "42"), ("email", "ann@example.com")},
        {("email", "ann@example.com")},
    ]
    assert exported[1][1] == {"order": "o-8", "customer": {"id": 8, "email": "ann@example.com"}}


def test_schema_hash_is_the_same_before_and_after_a_rewrite() -> None:
    source = line(42) + line(7, extra_key=True)
    out, stats = rewritten(source, subjects("42"))

    assert FORMAT.schema_hash(io.BytesIO(source)) == FORMAT.schema_hash(io.BytesIO(out)) == stats.schema_hash


class ReadSizes(io.BytesIO):
    """A source that remembers how much each read asked for."""

    def __init__(self, content: bytes) -> None:
        super().__init__(content)
        self.sizes: list[int] = []

    def read(self, size: int | None = -1) -> bytes:
        self.sizes.append(-1 if size is None else size)
        return super().read(size)


@pytest.mark.parametrize("packed", [False, True])
def test_rewrite_streams_the_source_instead_of_reading_it_whole(packed: bool) -> None:
    content = b"".join(line(n % 50) for n in range(60_000))  # about 4 MB
    source = ReadSizes(gzip.compress(content) if packed else content)

    FORMAT.rewrite(source, io.BytesIO(), subjects("42"))

    assert source.sizes and all(0 < size <= 1 << 20 for size in source.sizes)
