"""SES contact list connector: one contact per email address; marketing lists are topics of the one list.

SES's non-sending APIs allow one call per second, so each operation makes as few calls as it can.
"""

from __future__ import annotations

import re
from typing import Any

from botocore.exceptions import ClientError

from ..datamap import Store, StoreKind
from .base import (
    EraseResult,
    FindResult,
    KeyDigester,
    StoreMisconfigured,
    Subject,
    canonical_json,
    identifier_value,
)
from .errors import error_code, mapped_errors


class SesContactListConnector:
    """Finds and deletes a subject's contact in the data map's SES contact list."""

    def __init__(
        self,
        store_name: str,
        store: Store,
        client: Any,
        digest: KeyDigester,
        identifier_pattern: re.Pattern[str] | str,
    ) -> None:
        if store.kind is not StoreKind.SES_CONTACT_LIST:
            raise StoreMisconfigured(f"store {store_name} is not an ses_contact_list store")
        self._name, self._store, self._client, self._digest = store_name, store, client, digest
        self._pattern = re.compile(identifier_pattern)  # a compiled pattern passes through unchanged

    def find(self, subject: Subject) -> FindResult:
        email = identifier_value(subject, self._store.lookup.identifier, self._pattern)
        if email is None:
            return FindResult()
        present = self._call("GetContact", self._client.get_contact, email)
        return FindResult(found=int(present), personal=int(present), key_digests=self._digests(email, present))

    def erase(self, subject: Subject) -> EraseResult:
        email = identifier_value(subject, self._store.lookup.identifier, self._pattern)
        if email is None:
            return EraseResult()
        # DeleteContact alone (no GetContact first) keeps to one call when the contact exists.
        deleted = self._call("DeleteContact", self._client.delete_contact, email)
        return EraseResult(found=int(deleted), deleted=int(deleted), key_digests=self._digests(email, deleted))

    def _call(self, operation: str, method: Any, email: str) -> bool:
        """Run a contact call; False when the contact does not exist (a missing list raises instead)."""
        with mapped_errors(self._name, self._store.resource, operation):
            try:
                method(ContactListName=self._store.resource, EmailAddress=email)
                return True
            except ClientError as exc:
                if error_code(exc) != "NotFoundException":
                    raise
        # SES answers NotFound for a missing contact and for a missing list alike: a missing list must
        # not pass for "no data here", so check it (GetContactList's NotFound maps to StoreMisconfigured).
        with mapped_errors(self._name, self._store.resource, "GetContactList"):
            self._client.get_contact_list(ContactListName=self._store.resource)
        return False

    def _digests(self, email: str, present: bool) -> list[str]:
        return [self._digest(canonical_json({"email": email}))] if present else []
