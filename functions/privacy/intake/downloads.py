"""The access archive's download: a download token in, a URL signed now, for a few minutes, out.

The intake function signs with its own live session at request time, so the link in the confirmation email
(which carries only the token) keeps working for the token's whole validity, however short-lived the
credentials of whoever built the archive or sent the email were.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from functions.privacy.core import timestamps
from functions.privacy.core.clients import Clients
from functions.privacy.core.settings import IntakeSettings
from functions.privacy.core.timestamps import format_utc
from functions.privacy.evidence import records as evidence
from functions.privacy.intake.verification import request_item
from functions.privacy.requests import downloads
from functions.privacy.requests.record import RequestNotFound

# The chain event written for every download (docs/evidence.schema.json).
EXPORT_DOWNLOADED = "export_downloaded"
# The redirect's lifetime: long enough to start the download, short enough that a leaked URL is soon useless.
SIGNED_URL_SECONDS = 300


class ArchiveGone(LookupError):
    """The token is good but the archive is not there (the bucket's lifecycle removed it, or it was never
    finished)."""


def export_download_url(
    request_id: str, token: str | None, settings: IntakeSettings, clients: Clients, *, now: datetime | None = None
) -> str:
    """A GET URL for the request's archive, valid SIGNED_URL_SECONDS; RequestNotFound for an unknown id or a
    missing, wrong or expired token (indistinguishable), ArchiveGone if the token is good but the archive is not."""
    keys = downloads.download_keys(clients.client("kms"), settings.HMAC_KEY_ID)
    candidate = downloads.token_digest(keys, request_id, token or "")
    try:
        item = request_item(clients.resource_table(settings.REQUESTS_TABLE), request_id)
    except RequestNotFound:
        item = {}
    at = now or timestamps.now()
    grant = downloads.granted(item, candidate, at)
    if grant is None or not token:
        raise RequestNotFound(f"request {request_id[:80]} does not exist")
    s3 = clients.client("s3")
    try:
        s3.head_object(Bucket=settings.EXPORT_BUCKET, Key=grant.archive_key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
            raise ArchiveGone(f"request {request_id}: the archive is no longer available") from None
        raise
    record_download(s3, settings.AUDIT_BUCKET, request_id, item, at)
    return str(
        s3.generate_presigned_url(
            "get_object",
            Params={"Bucket": settings.EXPORT_BUCKET, "Key": grant.archive_key},
            ExpiresIn=SIGNED_URL_SECONDS,
        )
    )


def record_download(s3: Any, audit_bucket: str, request_id: str, item: dict[str, Any], at: datetime) -> str:
    """Evidence that the archive was handed out (GDPR Art. 5(2): the controller shows the copy was provided).

    One chain record per download, first and later ones alike, each at its own sequence number. It names the
    subject by HMAC only: no IP address and no token, which would let the record link a download to a person
    or reopen the archive. Written before the URL is returned, so no download goes unrecorded.
    """
    key, _, _ = evidence.append_request_event(
        s3,
        audit_bucket,
        request_id,
        EXPORT_DOWNLOADED,
        {"downloaded_at": format_utc(at), "subject": item.get("subject_hmac"), "request_type": item.get("type")},
        repeatable=True,
    )
    return key
