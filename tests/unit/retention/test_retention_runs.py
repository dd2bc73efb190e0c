"""Retention planning: run ids, cut-offs from the data map's categories, and clear errors for bad input."""

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.privacy.core.timestamps import format_utc, parse_stored
from functions.privacy.datamap.model import load_datamap
from functions.privacy.retention import digest
from functions.privacy.retention.runs import (
    AsOfInFuture,
    RetentionRunInput,
    plan_run,
    refuse_future,
    run_id,
    store_cutoffs,
)

DATAMAP = load_datamap(Path(__file__).resolve().parents[3] / "datamap.yaml")


def test_run_id_depends_only_on_as_of_and_dry_run():
    assert run_id("2031-01-01T00:00:00Z", False) == run_id("2031-01-01T01:00:00+01:00", False)
    assert run_id("2031-01-01T00:00:00Z", False) == "20310101T000000Z-expire"
    assert run_id("2031-01-01T00:00:00Z", True) == "20310101T000000Z-dry-run"


@pytest.mark.parametrize("as_of", ["yesterday", "2031-01-01T00:00:00", ""])
def test_a_bad_as_of_is_rejected_with_a_message_naming_it(as_of):
    with pytest.raises(ValidationError, match="as_of"):
        RetentionRunInput(as_of=as_of)


def test_an_unknown_field_is_rejected_rather_than_ignored():
    with pytest.raises(ValidationError, match="dryrun"):
        RetentionRunInput.model_validate({"as_of": "2031-01-01T00:00:00Z", "dryrun": True})


def test_the_longest_category_period_wins_and_legal_periods_bound_the_purpose():
    customers = store_cutoffs(DATAMAP, DATAMAP.stores["customers"], "2031-01-01T00:00:00Z")
    assert customers.period_days == 3 * 365 and customers.expire_before == customers.purpose_before
    mixed = DATAMAP.stores["customers"].model_copy(update={"categories": ["contact", "orders"]})
    cutoffs = store_cutoffs(DATAMAP, mixed, "2031-01-01T00:00:00Z")
    assert cutoffs.period_days == 7 * 365
    assert cutoffs.expire_before < cutoffs.purpose_before  # 7 years back vs 3 years back


def test_the_plan_lists_every_store_retention_can_act_on_with_its_segments():
    plan = plan_run(
        DATAMAP,
        RetentionRunInput(as_of="2031-01-01T00:00:00Z", allow_future=True),
        execution="e",
        work_bucket="w",
        segments=3,
    )
    assert [s["store"] for s in plan["stores"]] == [
        "customers", "orders", "uploads", "newsletter", "lake_orders", "lake_clicks", "lake_tickets"
    ]  # fmt: skip
    assert plan["stores"][0]["segments"] == [0, 1, 2] and "segments" not in plan["stores"][2]
    assert {s["kind"] for s in plan["stores"][4:]} == {"s3_dataset"}


def test_the_expired_keys_digest_is_the_same_however_the_keys_are_split():
    hmacs = [f"{n:064x}" for n in (3, 99, 2**255, 2**255 + 7)]
    whole = digest.combine(hmacs)
    assert digest.combine([digest.combine(hmacs[:1]), digest.combine(hmacs[1:])]) == whole
    assert digest.combine(reversed(hmacs)) == whole and whole != digest.EMPTY


@pytest.mark.parametrize(
    ("stored", "expected"),
    [
        ("2022-03-04T05:06:07Z", "2022-03-04T05:06:07Z"),
        ("2022-03-04T06:06:07+01:00", "2022-03-04T05:06:07Z"),
        ("1262304000", "2010-01-01T00:00:00Z"),  # epoch seconds kept as a string
        (" 1262304000.9 ", "2010-01-01T00:00:00Z"),
        (Decimal("1262304000"), "2010-01-01T00:00:00Z"),  # a DynamoDB number, as boto3's resource reads it
        (1262304000, "2010-01-01T00:00:00Z"),
    ],
)
def test_stored_timestamps_are_read_as_iso_with_a_zone_or_epoch_seconds(stored, expected):
    moment = parse_stored(stored)
    assert moment is not None and format_utc(moment) == expected


@pytest.mark.parametrize(
    "stored",
    ["", "   ", "12/31/2099", "2022-03-04T05:06:07", "2022-03-04", "yesterday", "1262304000000", True, None, {}],
)
def test_a_stored_timestamp_that_cannot_be_read_for_certain_is_none(stored):
    # Milliseconds would be year 41970: unreadable rather than "young", so the store's owner hears of it.
    assert parse_stored(stored) is None


def test_a_run_that_deletes_may_not_look_ahead_but_a_dry_run_or_an_allowed_test_run_may():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    with pytest.raises(AsOfInFuture, match="2026-12-02T00:00:00Z"):
        refuse_future("2026-12-02T00:00:00Z", dry_run=False, allow_future=False, now=now)
    refuse_future("2026-12-01T00:04:59Z", dry_run=False, allow_future=False, now=now)  # clock skew
    refuse_future("2031-01-01T00:00:00Z", dry_run=True, allow_future=False, now=now)
    refuse_future("2031-01-01T00:00:00Z", dry_run=False, allow_future=True, now=now)
    with pytest.raises(ValidationError, match="allow_futur"):
        RetentionRunInput.model_validate({"as_of": "2031-01-01T00:00:00Z", "allow_futur": True})
