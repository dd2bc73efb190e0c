"""CSV lake files: the subject's records go, the header and every other record keep their bytes and quoting."""

from __future__ import annotations

import gzip
import io
from datetime import UTC, datetime
from typing import Any

import pytest

from functions.privacy.datamap.model import Mask, MaskStrategy
from functions.privacy.datasets.csv_format import CsvFormat, ends_in_quotes, raw_fields
from functions.privacy.datasets.format import RewriteStats
from functions.privacy.datasets.selection import Selection
from functions.privacy.datasets.text import DatasetColumnsMissing

FORMAT = CsvFormat()
HEADER = b'customer_id,"customer.email",name,ordered_at\r\n'


def subjects(*customer_ids: str, emails: tuple[str, ...] = (), **options: Any) -> Selection:
    return Selection(
        identifiers={"customer_id": "customer_id", "email": "customer.email"},
        values={"customer_id": frozenset(customer_ids), "email": frozenset(emails)},
        **options,
    )


def rewritten(source: bytes, selection: Selection, csv_format: CsvFormat = FORMAT) -> tuple[bytes, RewriteStats]:
    sink = io.BytesIO()
    stats = csv_format.rewrite(io.BytesIO(source), sink, selection)
    return sink.getvalue(), stats


def test_erasure_removes_the_subjects_records_and_keeps_header_and_quoting() -> None:
    records = [
        b'0042,zed@example.com,"Ann",2026-01-01T00:00:00Z\r\n',
        b'7,"bob@example.com","Bob, Jr.",2026-01-02T00:00:00Z\r\n',
        b"8,ann@example.com,Ann B,\r\n",
        b'9,"c@example.com","Said ""hi""",2026-01-03T00:00:00Z\r\n',
        b"42,d@example.com,Dee,2026-01-04T00:00:00Z\r\n",
    ]

    out, stats = rewritten(HEADER + b"".join(records), subjects("42", emails=("ann@example.com",)))

    # "0042" is not "42": ids are compared as the text the file holds
    assert out == HEADER + records[0] + records[1] + records[3]
    assert (stats.rows_before, stats.rows_after, stats.removed_rows) == (5, 3, 2)
    assert stats.hits == {("customer_id", "42"): 1, ("email", "ann@example.com"): 1}


def test_quoted_newlines_make_one_record_and_it_goes_whole() -> None:
    records = [
        b'1,a@example.com,"first\r\nline two",\r\n',
        b'42,b@example.com,"keeps ""quotes""\nand\nlines",\r\n',
        b"3,c@example.com,plain,\r\n",
    ]
    source = HEADER + b"".join(records)

    out, stats = rewritten(source, subjects("42"))
    result = FORMAT.scan(io.BytesIO(source), subjects("42"))

    assert out == HEADER + records[0] + records[2]
    assert result.rows == 3 and result.subject_rows == 1 and result.malformed_rows == 0
    assert stats.rows_before == 3


def test_a_quote_inside_an_unquoted_field_is_text_not_the_start_of_a_quoted_field() -> None:
    records = [b'1,a@example.com,5" screen,\n', b"42,b@example.com,x,\n", b"3,c@example.com,y,\n"]

    out, stats = rewritten(HEADER + b"".join(records), subjects("42"))

    assert out == HEADER + records[0] + records[2]
    assert stats.malformed_rows == 0


def test_bom_lf_and_missing_final_newline_are_kept() -> None:
    bom = b"\xef\xbb\xbf"
    header = b"customer_id,customer.email,name,ordered_at\n"
    records = [b"42,a@example.com,A,\n", b"2,b@example.com,B,\n", b"3,c@example.com,C,"]

    out, _ = rewritten(bom + header + b"".join(records), subjects("42"))

    assert out == bom + header + records[1] + records[2]


def test_records_with_the_wrong_field_count_are_counted_and_kept() -> None:
    records = [b"42,a@example.com\r\n", b"42,a@example.com,A,,extra\r\n", b"42,a@example.com,A,\r\n", b"\r\n"]

    out, stats = rewritten(HEADER + b"".join(records), subjects("42"))

    assert out == HEADER + records[0] + records[1] + records[3]
    assert (stats.malformed_rows, stats.rows_before, stats.removed_rows) == (2, 1, 1)


def test_an_unclosed_quote_leaves_the_rest_of_the_file_untouched_and_counted() -> None:
    records = [b"1,a@example.com,A,\n", b'2,b@example.com,"never closed,\n', b"42,c@example.com,C,\n"]
    source = HEADER + b"".join(records)

    out, stats = rewritten(source, subjects("42"))

    assert out == source
    assert stats.malformed_rows == 1 and stats.removed_rows == 0


def test_undecodable_record_is_malformed_not_dropped() -> None:
    records = [b"42,\xff@example.com,A,\n", b"42,a@example.com,A,\n"]

    out, stats = rewritten(HEADER + b"".join(records), subjects("42"))

    assert out == HEADER + records[0]
    assert stats.malformed_rows == 1


def test_gzip_csv_stays_gzip_with_its_header() -> None:
    records = [b"1,a@example.com,A,\r\n", b"42,b@example.com,B,\r\n", b"3,c@example.com,C,\r\n"]
    source = gzip.compress(HEADER + b"".join(records), compresslevel=9, mtime=1_650_000_000)

    out, _ = rewritten(source, subjects("42"))

    assert out[:10] == source[:10]
    assert gzip.decompress(out) == HEADER + records[0] + records[2]


def test_anonymise_rewrites_only_the_masked_fields_of_subject_records() -> None:
    masks = {
        "customer.email": Mask(strategy=MaskStrategy.FIXED, value="gone, really"),
        "name": Mask(strategy=MaskStrategy.NULL),
    }
    other = b'7,"bob@example.com","Bob",2026-01-02T00:00:00Z\r\n'
    subject = b'42,"ann@example.com",Ann,  2026-01-01T00:00:00Z \r\n'
    quoted_subject = b'42,ann@example.com,"Ann ""A""",007\r\n'
    selection = subjects("42", mode="anonymise", masks=masks)

    out, stats = rewritten(HEADER + other + subject + quoted_subject, selection)

    assert out == (
        HEADER
        + other
        + b'42,"gone, really",,  2026-01-01T00:00:00Z \r\n'  # quoted because it holds the delimiter
        + b'42,"gone, really","",007\r\n'  # a quoted field stays quoted, even empty
    )
    assert (stats.masked_rows, stats.removed_rows, stats.rows_after) == (2, 0, 3)


def test_anonymise_twice_with_fixed_masks_changes_nothing_the_second_time() -> None:
    masks = {"customer.email": Mask(strategy=MaskStrategy.FIXED, value="gone")}
    selection = subjects("42", mode="anonymise", masks=masks)
    first, _ = rewritten(HEADER + b"42,a@example.com,A,\r\n1,b@example.com,B,\r\n", selection)

    second, stats = rewritten(first, selection)

    assert second == first == HEADER + b"42,gone,A,\r\n1,b@example.com,B,\r\n"
    assert stats.masked_rows == 0


def test_retention_reads_iso_and_epoch_text_and_never_expires_unreadable_or_held() -> None:
    selection = subjects(
        timestamp="ordered_at",
        expire_before=datetime(2026, 1, 1, tzinfo=UTC),
        held={"email": frozenset({"held@example.com"})},
    )
    records = {
        "old_iso": b"1,a@example.com,A,2020-01-01T00:00:00Z\n",
        "old_epoch": b"2,b@example.com,B,1500000000\n",
        "recent": b"3,c@example.com,C,2026-02-01T00:00:00Z\n",
        "held": b"4,held@example.com,D,2020-01-01T00:00:00Z\n",
        "us_date": b"5,e@example.com,E,12/31/2019\n",
        "empty": b"6,f@example.com,F,\n",
    }
    source = HEADER + b"".join(records.values())

    out, stats = rewritten(source, selection)
    result = FORMAT.scan(io.BytesIO(source), selection)

    assert out == HEADER + records["recent"] + records["held"] + records["us_date"] + records["empty"]
    assert (stats.expired_rows, stats.held_rows, stats.unreadable_rows) == (2, 1, 2)
    assert (result.expired_rows, result.held_rows, result.unreadable_rows, result.rows) == (2, 1, 2, 6)


def test_subject_rows_are_strings_keyed_by_header() -> None:
    source = HEADER + b'42,a@example.com,"A, B","x\ny"\n7,b@example.com,C,\n'

    exported = list(FORMAT.subject_rows(io.BytesIO(source), subjects("42")))

    assert exported == [
        (
            {("customer_id", "42")},
            {"customer_id": "42", "customer.email": "a@example.com", "name": "A, B", "ordered_at": "x\ny"},
        )
    ]


def test_schema_hash_follows_the_header_and_survives_a_rewrite() -> None:
    source = HEADER + b"42,a@example.com,A,\r\n1,b@example.com,B,\r\n"
    other_header = b"customer_id,email,name,ordered_at\r\n1,b@example.com,B,\r\n"

    out, stats = rewritten(source, subjects("42"))

    assert FORMAT.schema_hash(io.BytesIO(source)) == FORMAT.schema_hash(io.BytesIO(out)) == stats.schema_hash
    assert FORMAT.schema_hash(io.BytesIO(other_header)) != stats.schema_hash


def test_semicolon_delimited_file() -> None:
    semicolon = CsvFormat(delimiter=";")
    header = b"customer_id;customer.email;name;ordered_at\n"
    records = [b'42;a@example.com;"A;B";\n', b"1;b@example.com;B,C;\n"]

    out, _ = rewritten(header + b"".join(records), subjects("42"), semicolon)

    assert out == header + records[1]


def test_record_boundaries_follow_the_csv_module() -> None:
    assert ends_in_quotes(b'1,"open\n', False, b",")
    assert not ends_in_quotes(b'still open",2\n', True, b",")
    assert ends_in_quotes(b'a ""quoted"" word\n', True, b",")
    assert not ends_in_quotes(b'5" screen,"x"\n', False, b",")
    assert raw_fields('1,"a,b","c ""d""",', ",") == ["1", '"a,b"', '"c ""d"""', ""]


def test_a_header_without_an_identifier_column_fails_instead_of_scanning_clean() -> None:
    source = b"customer_id,name,ordered_at\n42,Ann,\n"

    with pytest.raises(DatasetColumnsMissing, match=r"\['customer.email'\]") as raised:
        FORMAT.scan(io.BytesIO(source), subjects("42"))

    assert "Ann" not in str(raised.value) and "42" not in str(raised.value)


def test_schema_hash_skips_blank_lines_before_the_header() -> None:
    assert FORMAT.schema_hash(io.BytesIO(b"\n\r\n" + HEADER + b"1,a,b,\r\n")) == FORMAT.schema_hash(io.BytesIO(HEADER))
