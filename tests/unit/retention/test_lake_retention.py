"""Lake (s3_dataset) retention planning: which stores apply, their cut-offs, holds per column and counts."""

from datetime import timedelta
from pathlib import Path

from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.datamap.model import load_datamap
from functions.privacy.retention import digest
from functions.privacy.retention.counts import OBJECTS_LISTED, Counts
from functions.privacy.retention.lake import held_columns, retention_selection
from functions.privacy.retention.runs import RetentionRunInput, plan_run, retention_applies, store_cutoffs
from functions.privacy.subjects.holds import Hold

DATAMAP = load_datamap(Path(__file__).resolve().parents[3] / "datamap.yaml")
AS_OF = "2031-01-01T00:00:00Z"
LAKES = ("lake_orders", "lake_clicks", "lake_tickets")


def hold(identifiers: dict[str, str], **scope: str) -> Hold:
    return Hold(
        subject_hmac="h" * 64,
        hold_id=f"hold-{len(identifiers)}-{sorted(scope.items())}",
        reason="litigation",
        placed_by="dpo",
        placed_at="2030-01-01T00:00:00Z",
        identifiers=identifiers,
        **scope,
    )


def test_lake_stores_with_a_retention_timestamp_are_in_retention_runs_and_those_without_are_not():
    for name in LAKES:
        assert retention_applies(DATAMAP.stores[name]), name
    undated = DATAMAP.stores["lake_clicks"].model_copy(update={"retention_timestamp": None})
    assert not retention_applies(undated)


def test_the_plan_gives_each_lake_store_its_categories_cut_offs():
    plan = plan_run(DATAMAP, RetentionRunInput(as_of=AS_OF, allow_future=True), execution="e", work_bucket="w")
    entries = {s["store"]: s for s in plan["stores"] if s["kind"] == "s3_dataset"}
    assert set(entries) == set(LAKES)
    for name, entry in entries.items():
        cutoffs = store_cutoffs(DATAMAP, DATAMAP.stores[name], AS_OF)
        assert (entry["expire_before"], entry["purpose_before"]) == (cutoffs.expire_before, cutoffs.purpose_before)
        assert "segments" not in entry


def test_a_row_at_the_cut_off_expires_and_one_a_second_younger_is_kept():
    store = DATAMAP.stores["lake_tickets"]
    cutoff = store_cutoffs(DATAMAP, store, AS_OF).expire_before
    selection = retention_selection(DATAMAP, store, cutoff, {})
    younger = format_utc(parse_utc(cutoff, "t") + timedelta(seconds=1))
    older = format_utc(parse_utc(cutoff, "t") - timedelta(days=1))
    assert selection.timestamp == "created_at"
    assert selection.expiry({"email": "a@example.com"}, cutoff) == "expired"
    assert selection.expiry({"email": "a@example.com"}, older) == "expired"
    assert selection.expiry({"email": "a@example.com"}, younger) == "keep"
    assert selection.expiry({"email": "a@example.com"}, "last tuesday") == "unreadable"
    assert selection.values == {}  # no subject rows: retention selects by age only


def test_holds_are_read_per_identifier_column_normalised_and_only_where_they_apply():
    holds = [
        hold({"email": "Held@Example.com", "customer_id": "C-1"}),  # every store
        hold({"customer_id": "C-2"}, store="lake_clicks"),  # another store only
        hold({"customer_id": "C-3"}, category="orders"),  # lake_orders holds orders
    ]
    orders = held_columns(holds, DATAMAP, "lake_orders")
    assert orders == {"customer_id": frozenset({"C-1", "C-3"}), "email": frozenset({"held@example.com"})}
    assert held_columns(holds, DATAMAP, "lake_clicks") == {"customer_id": frozenset({"C-1", "C-2"})}
    assert held_columns(holds, DATAMAP, "lake_tickets") == {"email": frozenset({"held@example.com"})}

    store = DATAMAP.stores["lake_orders"]
    old = "2020-01-01T00:00:00Z"
    selection = retention_selection(DATAMAP, store, store_cutoffs(DATAMAP, store, AS_OF).expire_before, orders)
    assert selection.expiry({"customer_id": "C-9", "email": "HELD@example.com"}, old) == "held"  # any spelling
    assert selection.expiry({"customer_id": "C-3", "email": None}, old) == "held"
    assert selection.expiry({"customer_id": "C-2", "email": "x@example.com"}, old) == "expired"


def test_object_counts_add_up_and_list_a_bounded_number_of_objects():
    one = Counts(objects=2, objects_rewritten=1, objects_failed=1, failed=1, object_outcomes=[{"status": "conflict"}])
    many = Counts(objects=30, objects_blocked=30, object_outcomes=[{"status": "blocked"}] * 30)
    total = Counts.total([one.model_dump(exclude_defaults=True), many.model_dump(), {}])
    assert (total.objects, total.objects_rewritten, total.objects_blocked, total.objects_failed) == (32, 1, 30, 1)
    assert total.failed == 1 and len(total.object_outcomes) == OBJECTS_LISTED
    assert total.object_outcomes[0] == {"status": "conflict"}
    assert Counts().model_dump(exclude_defaults=True) == {}  # an empty batch adds nothing to the Map's output
    assert total.expired_keys_digest == digest.EMPTY


def _validator():
    import json

    import jsonschema

    from functions.privacy.evidence.records import SCHEMA

    schema = json.loads((Path(__file__).resolve().parents[3] / "docs" / "evidence.schema.json").read_text())
    return jsonschema.Draft202012Validator(schema), SCHEMA


def test_a_lake_store_record_with_its_object_counts_and_outcomes_fits_the_evidence_schema():
    validator, schema_id = _validator()
    record = {
        "schema": schema_id,
        "recorded_at": "2031-01-01T00:00:05Z",
        "kind": "retention_run",
        "run_id": "20310101T000000Z-expire",
        "store": "lake_clicks",
        "store_kind": "s3_dataset",
        "status": "partially_completed",
        "scanned": 7,
        "expired": 4,
        "skipped_held": 1,
        "skipped_unreadable": 1,
        "failures": 1,
        "objects": {
            "objects": 3,
            "objects_rewritten": 1,
            "objects_deleted": 1,
            "objects_blocked": 0,
            "objects_failed": 1,
        },
        "object_outcomes": [
            {"key_digest": "a" * 64, "status": "conflict", "source_version_id": "v1", "rows_before": 5, "reason": "x"},
            {"key_digest": "b" * 64, "status": "failed", "reason": "rewrite object failed (BadGzipFile)"},
        ],
    }
    assert not list(validator.iter_errors(record))
    named = {**record, "object_outcomes": [{"key_digest": "a" * 64, "status": "failed", "key": "events/x.jsonl"}]}
    assert list(validator.iter_errors(named))  # an object's key never appears, only its keyed digest
    negative = {**record, "objects": {**record["objects"], "objects_failed": -1}}
    assert list(validator.iter_errors(negative))
