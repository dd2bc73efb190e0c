"""The engine's one time format: written as UTC with Z and whole seconds, read only with a zone."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc, normalise, parse_utc, parse_utc_or_date


def test_written_times_are_utc_with_z_and_whole_seconds():
    paris = timezone(timedelta(hours=1))
    assert format_utc(datetime(2026, 12, 1, 20, 57, 14, 765150, tzinfo=paris)) == "2026-12-01T19:57:14Z"


def test_a_naive_datetime_is_never_written():
    with pytest.raises(ValueError, match="without a zone"):
        format_utc(datetime(2026, 12, 1, 19, 57, 14))


@pytest.mark.parametrize(
    "text",
    [
        "2026-12-01T19:57:14Z",
        "2026-12-01T19:57:14.765150+00:00",
        "2026-12-01T20:57:14+01:00",
        "2026-12-01T19:57:14.765Z",
    ],
)
def test_every_zoned_spelling_reads_as_the_same_utc_second(text):
    assert parse_utc(text, "due_at") == datetime(2026, 12, 1, 19, 57, 14, tzinfo=UTC)
    assert normalise(text, "due_at") == "2026-12-01T19:57:14Z"


def test_a_time_without_a_zone_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"^as_of '2031-01-01T00:00:00' needs a time zone"):
        parse_utc("2031-01-01T00:00:00", "as_of")


def test_text_that_is_not_a_time_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"^expires_at 'next tuesday' is not an ISO 8601 time"):
        parse_utc("next tuesday", "expires_at")


def test_a_bare_date_is_the_start_of_that_utc_day_but_a_bare_time_is_refused():
    assert parse_utc_or_date("2026-12-01", "--until") == datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(ValueError, match="^--until .* needs a time zone"):
        parse_utc_or_date("2026-12-01T09:00", "--until")


def test_now_is_aware_and_in_whole_seconds():
    moment = timestamps.now()
    assert moment.tzinfo is not None and moment.microsecond == 0
    assert parse_utc(format_utc(moment), "now") == moment
