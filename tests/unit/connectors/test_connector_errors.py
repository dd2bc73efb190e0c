"""AWS errors become the named exceptions the workflow routes on, and their messages carry no personal data."""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError, ReadTimeoutError

from functions.privacy.connectors.base import StoreError, StoreMisconfigured, StoreThrottled, StoreUnavailable
from functions.privacy.connectors.errors import mapped_errors


def _client_error(code: str, status: int) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": "no item for ada@example.com"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Query")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("ProvisionedThroughputExceededException", 400, StoreThrottled),
        ("ThrottlingException", 400, StoreThrottled),
        ("RequestLimitExceeded", 400, StoreThrottled),
        ("TooManyRequestsException", 429, StoreThrottled),
        ("SlowDown", 503, StoreThrottled),
        ("InternalServerError", 500, StoreUnavailable),
        ("SomethingNew", 502, StoreUnavailable),
        ("ResourceNotFoundException", 400, StoreMisconfigured),
        ("NoSuchBucket", 404, StoreMisconfigured),
        ("AccessDeniedException", 400, StoreMisconfigured),
        ("SomethingNew", 400, StoreError),
    ],
)
def test_client_errors_map_by_code(code, status, expected):
    with pytest.raises(expected) as raised, mapped_errors("orders", "dsr-sample-orders", "Query"):
        raise _client_error(code, status)
    assert type(raised.value) is expected
    assert str(raised.value) == f"store orders (dsr-sample-orders): Query failed with {code}"
    assert "ada" not in repr(raised.value)
    assert raised.value.__suppress_context__


@pytest.mark.parametrize(
    "error",
    [EndpointConnectionError(endpoint_url="https://dynamodb"), ReadTimeoutError(endpoint_url="https://dynamodb")],
)
def test_connection_failures_are_unavailable(error):
    with pytest.raises(StoreUnavailable, match="Query failed with"), mapped_errors("orders", "t", "Query"):
        raise error


def test_named_errors_share_a_base_the_workflow_can_catch():
    assert issubclass(StoreThrottled, StoreError) and issubclass(StoreMisconfigured, StoreError)
