"""Provider (SES sending) errors are mapped before anything can log or return them: the message that names the
recipient never leaves the mapper, and every email goes through the one sending function that maps."""

from __future__ import annotations

import traceback

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError

from functions.privacy.connectors.errors import (
    ProviderError,
    ProviderThrottled,
    ProviderUnavailable,
    mapped_provider_errors,
)
from functions.privacy.requests import notices

RECIPIENT = "refused.person@example.com"


def _rejected(code: str = "MessageRejected", status: int = 400) -> ClientError:
    response = {
        "Error": {"Code": code, "Message": f"Email address is not verified: {RECIPIENT}"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "SendEmail")


@pytest.mark.parametrize(
    ("code", "status", "expected"),
    [
        ("MessageRejected", 400, ProviderError),
        ("TooManyRequestsException", 429, ProviderThrottled),
        ("InternalFailure", 500, ProviderUnavailable),
        ("SomethingNew", 503, ProviderUnavailable),
    ],
)
def test_a_provider_error_names_service_operation_and_code_never_the_recipient(code, status, expected):
    with pytest.raises(expected) as raised, mapped_provider_errors("sesv2", "SendEmail"):
        raise _rejected(code, status)
    assert type(raised.value) is expected
    assert str(raised.value) == f"sesv2 SendEmail failed with {code}"
    # Nothing chained either: a logged traceback would print the ClientError's message.
    assert raised.value.__cause__ is None and raised.value.__suppress_context__
    printed = "".join(traceback.format_exception(raised.value))
    assert RECIPIENT not in printed and "SendEmail failed with" in printed


def test_a_connection_failure_is_unavailable_without_the_endpoint_detail():
    with pytest.raises(ProviderUnavailable) as raised, mapped_provider_errors("sesv2", "SendEmail"):
        raise EndpointConnectionError(endpoint_url="https://email.eu-west-1.amazonaws.com")
    assert str(raised.value) == "sesv2 SendEmail failed with EndpointConnectionError"


class _RefusingSes:
    def __init__(self) -> None:
        self.calls: list[dict] = []

    def send_email(self, **params):
        self.calls.append(params)
        raise _rejected()


@pytest.mark.parametrize(
    "send",
    [
        lambda ses: notices.send_email(
            ses, "privacy@example.com", RECIPIENT, "s", "t", "<p>b</p>", configuration_set="dsr-transactional"
        ),
        lambda ses: notices.send_verification_email(
            ses,
            "privacy@example.com",
            RECIPIENT,
            request_id="r-1",
            request_type="access",
            code="123456",
            expires_at="2030-01-01T00:00:00Z",
            due_at="2030-02-01T00:00:00Z",
            configuration_set="dsr-transactional",
        ),
        lambda ses: notices.send_extension_email(
            ses,
            "privacy@example.com",
            RECIPIENT,
            request_id="r-1",
            request_type="access",
            due_at="2030-02-01T00:00:00Z",
            reason="complex",
        ),
    ],
    ids=["confirmation", "code", "extension"],
)
def test_every_email_the_engine_sends_maps_a_refusal(send):
    ses = _RefusingSes()
    with pytest.raises(ProviderError) as raised:
        send(ses)
    assert ses.calls and ses.calls[0]["Destination"] == {"ToAddresses": [RECIPIENT]}  # it did try this address
    assert RECIPIENT not in "".join(traceback.format_exception(raised.value))
