"""SES account-level suppression list connector: at most one entry per address, for the whole account and Region.

The store's ``resource`` names nothing (there is one list per account; the sample map says ``account``).
People who object to marketing belong on the suppression list rather than forgotten by it (UK ICO), so
erasure keeps or adds the entry unless the data map's ``erasure.suppress`` is false. The entry holds only
the address, a reason (BOUNCE or COMPLAINT) and when it was last updated.
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

# SES knows only BOUNCE and COMPLAINT; an objection to marketing is the requester's complaint.
SUPPRESSION_REASON = "COMPLAINT"
DEFAULT_KEPT_REASON = (
    "The address stays on the email suppression list so that no future marketing reaches it "
    "(people who object to direct marketing are suppressed, not forgotten: UK ICO guidance)."
)


class SesSuppressionConnector(StoreConnector):
    """The subject's address on the account suppression list: find, export, keep/add or delete, suppress."""

    kind = StoreKind.SES_SUPPRESSION

    @property
    def _suppress_on_erasure(self) -> bool:
        return self._store.erasure.suppress is not False  # unset means keep the entry

    def find(self, subject: Subject) -> FindResult:
        email, entry = self._found(subject)
        if email is None or entry is None:
            return FindResult()
        # A kept entry is the recorded exception, not residual personal data (the re-check must not flag it).
        personal = 0 if self._suppress_on_erasure else 1
        return FindResult(found=1, personal=personal, key_digests=self._digests(email))

    def export(self, subject: Subject, sink: ExportSink) -> ExportResult:
        """The suppression entry, if any: reason, last update and SES's feedback ids."""
        email, entry = self._found(subject)
        if email is None or entry is None:
            return ExportResult()
        path, count, size = sink.write_records(self._name, [{k: plain_response(v) for k, v in entry.items()}])
        return ExportResult(records=count, bytes=size, files=[path], key_digests=self._digests(email))

    def erase(self, subject: Subject) -> EraseResult:
        candidates = self._spellings(subject)
        if not candidates:
            return EraseResult()
        if self._suppress_on_erasure:
            # Keep an existing entry as it is (its reason may be a bounce); add one where there is none.
            email, entry = self._found(subject)
            present = entry is not None
            if email is None:
                email = candidates[-1]  # the normalised spelling: the one every later lookup tries
                self._suppress(email)
            reason = self._store.erasure.reason or DEFAULT_KEPT_REASON
            return EraseResult(
                found=int(present),
                kept=1,
                added=int(not present),
                key_digests=self._digests(email),
                exceptions=[reason],
            )
        deleted = [email for email in candidates if self._delete(email)]
        if deleted:
            self._matched(subject, deleted[0])
        return EraseResult(
            found=len(deleted), deleted=len(deleted), key_digests=[d for e in deleted for d in self._digests(e)]
        )

    def rectify(self, subject: Subject, corrections: Mapping[str, Any]) -> ChangeResult:
        return self.not_applicable()  # the entry is the address itself

    def restrict(self, subject: Subject) -> ChangeResult:
        """Suppress the address so no marketing email reaches it while processing is restricted."""
        return self._ensure_suppressed(subject)

    def opt_out(self, subject: Subject) -> ChangeResult:
        return self._ensure_suppressed(subject)

    def _ensure_suppressed(self, subject: Subject) -> ChangeResult:
        candidates = self._spellings(subject)
        if not candidates:
            return ChangeResult()
        if self._found(subject)[1] is not None:
            return ChangeResult(found=1, unchanged=1)  # already suppressed (for whatever reason): left as it is
        email = candidates[-1]  # the normalised spelling (see erase)
        self._suppress(email)
        return ChangeResult(found=0, changed=1, attributes=["Reason"], key_digests=self._digests(email))

    def _found(self, subject: Subject) -> tuple[str | None, dict[str, Any] | None]:
        """The spelling on the list and its entry (one GetSuppressedDestination per spelling, as typed first)."""
        for email in self._spellings(subject):
            entry = self._entry(email)
            if entry is not None:
                self._matched(subject, email)
                return email, entry
        return None, None

    def _entry(self, email: str) -> dict[str, Any] | None:
        with self._calling("GetSuppressedDestination"):
            try:
                return dict(self._client.get_suppressed_destination(EmailAddress=email)["SuppressedDestination"])
            except ClientError as exc:
                if error_code(exc) == "NotFoundException":
                    return None  # not on the list (there is no list to be missing)
                raise

    def _suppress(self, email: str) -> None:
        with self._calling("PutSuppressedDestination"):
            self._client.put_suppressed_destination(EmailAddress=email, Reason=SUPPRESSION_REASON)

    def _delete(self, email: str) -> bool:
        with self._calling("DeleteSuppressedDestination"):
            try:
                self._client.delete_suppressed_destination(EmailAddress=email)
                return True
            except ClientError as exc:
                if error_code(exc) == "NotFoundException":
                    return False
                raise

    def _digests(self, email: str) -> list[str]:
        return [self._digest(canonical_json({"email": email}))]
