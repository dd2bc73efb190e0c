"""SES contact list connector: one contact per email address; marketing lists are topics of the one list.

SES's non-sending APIs allow one call per second, so each operation makes as few calls as it can.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError

from functions.privacy.connectors.base import (
    ChangeResult,
    EraseResult,
    ExportResult,
    ExportSink,
    FindResult,
    StoreConnector,
    Subject,
    canonical_json,
    plain_response,
)
from functions.privacy.connectors.errors import error_code
from functions.privacy.datamap.model import StoreKind

OPT_OUT = "OPT_OUT"


class SesContactListConnector(StoreConnector):
    """A subject's contact in the data map's SES contact list: find, export, delete, unsubscribe."""

    kind = StoreKind.SES_CONTACT_LIST

    def find(self, subject: Subject) -> FindResult:
        email, contact = self._contact(subject)
        if email is None or contact is None:
            return FindResult()
        return FindResult(found=1, personal=1, key_digests=self._digests(email, True))

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        """The contact as SES holds it: topic preferences, unsubscribe-all, attributes, created/updated times."""
        email, contact = self._contact(subject)
        if email is None or contact is None:
            return ExportResult()
        record = {k: plain_response(v) for k, v in contact.items() if k != "ResponseMetadata"}
        path, count, size = sink.write_records(self._name, [record])
        return ExportResult(records=count, bytes=size, files=[path], key_digests=self._digests(email, True))

    def erase(self, subject: Subject) -> EraseResult:
        # DeleteContact alone (no GetContact first) per spelling the list may hold: one call when the contact
        # exists as typed. Whether the address stays suppressed is the ses_suppression store's business.
        deleted: list[str] = []
        for email in self._spellings(subject):
            if self._call("DeleteContact", self._client.delete_contact, email) is not None:
                self._matched(subject, email)
                deleted.append(email)
        digests = [d for email in deleted for d in self._digests(email, True)]
        return EraseResult(found=len(deleted), deleted=len(deleted), key_digests=digests)

    def rectify(self, subject: Subject, corrections: Mapping[str, Any]) -> ChangeResult:
        return self.not_applicable()  # the contact is its address; a new address is a new contact

    def restrict(self, subject: Subject) -> ChangeResult:
        """Take the contact off every marketing topic (UnsubscribeAll and each topic OPT_OUT); the contact stays."""
        return self._unsubscribe(subject)

    def opt_out(self, subject: Subject) -> ChangeResult:
        return self._unsubscribe(subject)

    def withdraw_topics(self, subject: Subject, topics: list[str]) -> ChangeResult:
        """Consent withdrawn in part: ``topics`` (those this list has) OPT_OUT; other topics and UnsubscribeAll
        stay as they were. The whole preference list is sent, so it holds whether UpdateContact merges or
        replaces (moto replaces)."""
        email, contact = self._contact(subject)
        wanted = sorted(set(topics) & set(self._store.topics))
        if email is None or contact is None or not wanted:
            return ChangeResult(not_applicable=not wanted)
        current = {p["TopicName"]: p["SubscriptionStatus"] for p in contact.get("TopicPreferences", [])}
        if all(current.get(t) == OPT_OUT for t in wanted):
            return ChangeResult(found=1, unchanged=1, attributes=[f"TopicPreferences.{t}" for t in wanted])
        preferences = {**current, **dict.fromkeys(wanted, OPT_OUT)}
        params: dict[str, Any] = {
            "TopicPreferences": [{"TopicName": t, "SubscriptionStatus": s} for t, s in sorted(preferences.items())],
            "UnsubscribeAll": bool(contact.get("UnsubscribeAll")),
        }
        if contact.get("AttributesData") is not None:
            params["AttributesData"] = contact["AttributesData"]
        self._call("UpdateContact", self._client.update_contact, email, **params)
        return ChangeResult(
            found=1,
            changed=1,
            attributes=[f"TopicPreferences.{t}" for t in wanted],
            key_digests=self._digests(email, True),
        )

    def _unsubscribe(self, subject: Subject) -> ChangeResult:
        email, contact = self._contact(subject)
        if email is None or contact is None:
            return ChangeResult()
        # The data map's topics and any the contact already has a preference for (the list may have more).
        topics = set(self._store.topics)
        topics.update(p["TopicName"] for p in contact.get("TopicPreferences", []))
        topics.update(p["TopicName"] for p in contact.get("TopicDefaultPreferences", []))
        current = {p["TopicName"]: p["SubscriptionStatus"] for p in contact.get("TopicPreferences", [])}
        digests = self._digests(email, True)
        if contact.get("UnsubscribeAll") and all(current.get(t) == OPT_OUT for t in topics):
            return ChangeResult(found=1, unchanged=1)
        params: dict[str, Any] = {
            "TopicPreferences": [{"TopicName": t, "SubscriptionStatus": OPT_OUT} for t in sorted(topics)],
            "UnsubscribeAll": True,
        }
        if contact.get("AttributesData") is not None:
            params["AttributesData"] = contact["AttributesData"]  # kept as it was: this call only unsubscribes
        self._call("UpdateContact", self._client.update_contact, email, **params)
        return ChangeResult(found=1, changed=1, attributes=["TopicPreferences", "UnsubscribeAll"], key_digests=digests)

    def _contact(self, subject: Subject) -> tuple[str | None, dict[str, Any] | None]:
        """The spelling the list holds and its contact (a GetContact per spelling, as typed first)."""
        for email in self._spellings(subject):
            contact = self._call("GetContact", self._client.get_contact, email)
            if contact is not None:
                self._matched(subject, email)
                return email, contact
        return None, None

    def _call(self, operation: str, method: Any, email: str, **params: Any) -> dict[str, Any] | None:
        """Run a contact call; None when the contact does not exist (a missing list raises instead)."""
        with self._calling(operation):
            try:
                return method(ContactListName=self._store.resource, EmailAddress=email, **params)
            except ClientError as exc:
                if error_code(exc) != "NotFoundException":
                    raise
        # SES answers NotFound for a missing contact and for a missing list alike: a missing list must
        # not pass for "no data here", so check it (GetContactList's NotFound maps to StoreMisconfigured).
        with self._calling("GetContactList"):
            self._client.get_contact_list(ContactListName=self._store.resource)
        return None

    def _digests(self, email: str, present: bool) -> list[str]:
        return [self._digest(canonical_json({"email": email}))] if present else []
