"""Retention planning: run ids, cut-offs from the data map's categories, and clear errors for bad input."""

from pathlib import Path

import pytest
from pydantic import ValidationError

from functions.privacy.datamap.model import load_datamap
from functions.privacy.retention import digest
from functions.privacy.retention.runs import RetentionRunInput, plan_run, run_id, store_cutoffs

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
    assert [s["store"] for s in plan["stores"]] == ["customers", "orders", "uploads", "newsletter"]
    assert plan["stores"][0]["segments"] == [0, 1, 2] and "segments" not in plan["stores"][2]


def test_the_expired_keys_digest_is_the_same_however_the_keys_are_split():
    hmacs = [f"{n:064x}" for n in (3, 99, 2**255, 2**255 + 7)]
    whole = digest.combine(hmacs)
    assert digest.combine([digest.combine(hmacs[:1]), digest.combine(hmacs[1:])]) == whole
    assert digest.combine(reversed(hmacs)) == whole and whole != digest.EMPTY
