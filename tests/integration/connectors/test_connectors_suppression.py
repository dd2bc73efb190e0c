"""The SES account suppression list against moto (plus the local cloud's adapter): erasure keeps or deletes the
entry as the data map says, and failures name no address."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.stub import Stubber

from functions.privacy.connectors.base import InvalidIdentifier, StoreError, StoreThrottled, Subject
from functions.privacy.connectors.registry import connector_for
from functions.privacy.connectors.ses_suppression import DEFAULT_KEPT_REASON, SesSuppressionConnector
from functions.privacy.datamap.model import Erasure
from tests.integration.connectors.export_sink import MemorySink

ADA = Subject({"email": "ada@example.com", "customer_id": "c1"})
ADA_DIGEST = 'digest:{"email":"ada@example.com"}'


def _connector(datamap: Any, aws: Any, digest: Any, suppress: bool | None = None) -> SesSuppressionConnector:
    store = datamap.stores["suppression"]
    if suppress is not None:
        store = store.model_copy(update={"erasure": Erasure(suppress=suppress)})
    pattern = re.compile(datamap.identifiers["email"].pattern)
    return SesSuppressionConnector("suppression", store, aws.client("sesv2"), digest, pattern)


def _entry(sesv2: Any, email: str) -> dict[str, Any] | None:
    try:
        return sesv2.get_suppressed_destination(EmailAddress=email)["SuppressedDestination"]
    except sesv2.exceptions.NotFoundException:
        return None


def test_erasure_adds_the_address_so_no_future_marketing_reaches_it(datamap, aws, suppression_list, digest):
    sesv2 = aws.client("sesv2")
    connector = _connector(datamap, aws, digest)
    assert connector.find(ADA).found == 0

    result = connector.erase(ADA)

    assert (result.found, result.added, result.kept, result.deleted) == (0, 1, 1, 0)
    assert result.exceptions == [DEFAULT_KEPT_REASON]
    assert result.key_digests == [ADA_DIGEST]
    assert _entry(sesv2, "ada@example.com")["Reason"] == "COMPLAINT"
    assert _entry(sesv2, "grace@example.com") is None
    # The kept entry is the recorded exception, not residual data: the erasure's re-check counts it as kept.
    found = connector.find(ADA)
    assert (found.found, found.personal) == (1, 0)

    again = connector.erase(ADA)
    assert (again.found, again.added, again.kept) == (1, 0, 1)  # kept as it is, not added twice


def test_erasure_keeps_an_existing_entry_and_its_reason(datamap, aws, suppression_list, digest):
    sesv2 = aws.client("sesv2")
    sesv2.put_suppressed_destination(EmailAddress="ada@example.com", Reason="BOUNCE")
    before = _entry(sesv2, "ada@example.com")

    result = _connector(datamap, aws, digest).erase(ADA)

    assert (result.found, result.added, result.kept) == (1, 0, 1)
    assert _entry(sesv2, "ada@example.com") == before


def test_the_data_map_may_have_erasure_delete_the_entry(datamap, aws, suppression_list, digest):
    sesv2 = aws.client("sesv2")
    for email in ("ada@example.com", "grace@example.com"):
        sesv2.put_suppressed_destination(EmailAddress=email, Reason="COMPLAINT")
    connector = _connector(datamap, aws, digest, suppress=False)
    assert connector.find(ADA).personal == 1  # not an exception under this map: it must go

    result = connector.erase(ADA)

    assert (result.found, result.deleted, result.kept, result.exceptions) == (1, 1, 0, [])
    assert _entry(sesv2, "ada@example.com") is None
    assert _entry(sesv2, "grace@example.com") is not None
    again = connector.erase(ADA)
    assert (again.found, again.deleted, again.key_digests) == (0, 0, [])


def test_the_data_maps_reason_is_recorded_when_given(datamap, aws, suppression_list, digest):
    store = datamap.stores["suppression"].model_copy(
        update={"erasure": Erasure(suppress=True, reason="Kept: the requester objected to marketing.")}
    )
    connector = SesSuppressionConnector("suppression", store, aws.client("sesv2"), digest, ".+@.+")
    assert connector.erase(ADA).exceptions == ["Kept: the requester objected to marketing."]


@pytest.mark.parametrize(
    ("operation", "call", "code", "expected"),
    [
        ("find", "get_suppressed_destination", "TooManyRequestsException", StoreThrottled),
        ("erase", "get_suppressed_destination", "AccessDeniedException", StoreError),
        ("opt_out", "get_suppressed_destination", "InternalFailure", StoreError),
    ],
)
def test_failures_are_named_and_hold_no_address(datamap, aws, digest, operation, call, code, expected):
    connector = _connector(datamap, aws, digest)
    secret = Subject({"email": "ada.secret@example.com"})
    with Stubber(aws.client("sesv2")) as stub:
        stub.add_client_error(call, service_error_code=code, http_status_code=429, service_message="ada.secret")
        with pytest.raises(expected) as raised:
            getattr(connector, operation)(secret)
    assert "secret" not in str(raised.value) and raised.value.__suppress_context__
    assert "suppression (account)" in str(raised.value)


def test_a_failed_put_after_a_lookup_names_the_operation(datamap, aws, digest):
    connector = _connector(datamap, aws, digest)
    with Stubber(aws.client("sesv2")) as stub:
        stub.add_client_error(
            "get_suppressed_destination", service_error_code="NotFoundException", http_status_code=404
        )
        stub.add_client_error("put_suppressed_destination", service_error_code="TooManyRequestsException")
        with pytest.raises(StoreThrottled, match="PutSuppressedDestination failed with TooManyRequestsException"):
            connector.restrict(Subject({"email": "ada.secret@example.com"}))


@pytest.mark.parametrize("value", ["ada@example.com\n", "../ada@example.com", "ada"])
def test_malformed_email_is_rejected_before_any_call(datamap, aws, digest, any_calls, value):
    calls = any_calls(aws.client("sesv2"))
    connector = _connector(datamap, aws, digest)
    for operation in (connector.find, connector.erase, connector.restrict, connector.opt_out):
        with pytest.raises(InvalidIdentifier):
            operation(Subject({"email": value}))
    with pytest.raises(InvalidIdentifier):
        connector.export(Subject({"email": value}), MemorySink())
    assert calls == []


def test_registry_gives_the_suppression_store_its_connector(datamap, aws, digest):
    store = datamap.stores["suppression"]
    connector = connector_for("suppression", store, aws, digest, str, datamap)
    assert isinstance(connector, SesSuppressionConnector)
