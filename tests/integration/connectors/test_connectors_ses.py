"""The SES contact list connector against moto: one contact per address, deleted idempotently."""

from __future__ import annotations

import re
from typing import Any

import pytest
from botocore.stub import Stubber

from functions.privacy.connectors.base import InvalidIdentifier, StoreMisconfigured, StoreThrottled, Subject
from functions.privacy.connectors.ses_contact_list import SesContactListConnector

ADA = Subject({"email": "ada@example.com", "customer_id": "c1"})


def _connector(datamap: Any, client: Any, digest: Any) -> SesContactListConnector:
    pattern = re.compile(datamap.identifiers["email"].pattern)
    return SesContactListConnector("newsletter", datamap.stores["newsletter"], client, digest, pattern)


def _contacts(sesv2: Any, contact_list: str) -> list[str]:
    return sorted(c["EmailAddress"] for c in sesv2.list_contacts(ContactListName=contact_list)["Contacts"])


def test_erasure_removes_the_contact_and_leaves_others(datamap, aws, contact_list, digest):
    sesv2 = aws.client("sesv2")
    for email in ("ada@example.com", "ada@example.com.au", "grace@example.com"):
        sesv2.create_contact(ContactListName=contact_list, EmailAddress=email)
    connector = _connector(datamap, sesv2, digest)

    found = connector.find(ADA)
    assert (found.found, found.personal, found.key_digests) == (1, 1, ['digest:{"email":"ada@example.com"}'])

    result = connector.erase(ADA)

    assert (result.found, result.deleted) == (1, 1)
    with pytest.raises(sesv2.exceptions.NotFoundException):
        sesv2.get_contact(ContactListName=contact_list, EmailAddress="ada@example.com")
    assert _contacts(sesv2, contact_list) == ["ada@example.com.au", "grace@example.com"]
    assert connector.find(ADA).found == 0


def test_erasing_twice_is_fine(datamap, aws, contact_list, digest):
    sesv2 = aws.client("sesv2")
    sesv2.create_contact(ContactListName=contact_list, EmailAddress="ada@example.com")
    connector = _connector(datamap, sesv2, digest)

    assert connector.erase(ADA).deleted == 1
    again = connector.erase(ADA)

    assert (again.found, again.deleted, again.key_digests) == (0, 0, [])


def test_missing_contact_list_is_misconfigured_not_empty(datamap, aws, digest):
    connector = _connector(datamap, aws.client("sesv2"), digest)
    for operation in (connector.find, connector.erase):
        with pytest.raises(StoreMisconfigured) as raised:
            operation(Subject({"email": "ada.secret@example.com"}))
        assert "dsr-sample-marketing" in str(raised.value) and "secret" not in str(raised.value)


def test_too_many_requests_maps_to_store_throttled(datamap, aws, contact_list, digest):
    sesv2 = aws.client("sesv2")
    with Stubber(sesv2) as stub:
        stub.add_client_error("delete_contact", service_error_code="TooManyRequestsException", http_status_code=429)
        with pytest.raises(StoreThrottled, match="DeleteContact failed with TooManyRequestsException"):
            _connector(datamap, sesv2, digest).erase(ADA)


@pytest.mark.parametrize("value", ["ada@example.com\n", "../ada@example.com", "ada", "a@b@c", "x" * 65 + "@e.com"])
def test_malformed_email_is_rejected_before_any_call(datamap, aws, contact_list, digest, any_calls, value):
    sesv2 = aws.client("sesv2")
    calls = any_calls(sesv2)
    connector = _connector(datamap, sesv2, digest)
    for operation in (connector.find, connector.erase):
        with pytest.raises(InvalidIdentifier):
            operation(Subject({"email": value}))
    assert calls == []
