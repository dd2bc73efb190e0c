"""SES (v2 and the v1 sends): the outbox for sent email, the account suppression list and contact import jobs."""

from __future__ import annotations

import base64
import io
import itertools
import json
import logging
import threading
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

from .base import _installed, _patch, state_dir

log = logging.getLogger("local.adapters")


SUPPRESSION_REASONS = ("BOUNCE", "COMPLAINT")


# b. Outbox: moto keeps sent email in memory only; we also write each one to <state_dir>/outbox/*.eml.
# --------------------------------------------------------------------------------------------------

_outbox_counter = itertools.count(1)
_outbox_lock = threading.Lock()


def outbox_dir() -> Path:
    return state_dir() / "outbox"


def write_eml(data: bytes) -> Path:
    """Write one RFC 5322 message to the outbox as ``<timestamp>-<n>.eml`` (atomically, for watchers)."""
    folder = outbox_dir()
    folder.mkdir(parents=True, exist_ok=True)
    with _outbox_lock:
        number = next(_outbox_counter)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
    path = folder / f"{stamp}-{number}.eml"
    partial = folder / f".{path.name}.partial"
    partial.write_bytes(data)
    partial.replace(path)
    return path


def build_message(
    sender: str,
    destination: Mapping[str, list[str]],
    subject: str,
    text: str | None,
    html: str | None,
    message_id: str,
    reply_to: list[str] | None = None,
    headers: list[dict[str, str]] | None = None,
) -> EmailMessage:
    """An RFC 5322 message for a "simple" SES email: text part, html alternative if any."""
    message = EmailMessage()
    message["From"] = sender
    for field_name, key in (("To", "ToAddresses"), ("Cc", "CcAddresses"), ("Bcc", "BccAddresses")):
        if destination.get(key):
            message[field_name] = ", ".join(destination[key])
    if reply_to:
        message["Reply-To"] = ", ".join(reply_to)
    message["Subject"] = subject
    message["Date"] = formatdate(localtime=False, usegmt=True)
    message["Message-ID"] = make_msgid(idstring=message_id, domain="email.amazonses.com")
    for header in headers or []:
        message[header["Name"]] = header["Value"]
    if text is not None:
        message.set_content(text)
        if html is not None:
            message.add_alternative(html, subtype="html")
    else:
        message.set_content(html or "", subtype="html")
    return message


def _data(part: Mapping[str, Any] | None) -> str | None:
    return None if not part else part.get("Data")


def suppression_applies(backend: Any, recipients: list[str], configuration_set: str | None) -> bool:
    """Whether SES would drop this message for the account suppression list: every recipient is on it, and
    the configuration set (if any) does not override account-level suppression for their reasons.

    As on AWS, a set whose ``SuppressionOptions`` name ``SuppressedReasons`` (an empty list included) replaces
    the account-level setting: an address listed for a reason the set leaves out is delivered to.
    """
    if not recipients:
        return False
    override: set[str] | None = None
    if configuration_set:
        try:
            options = backend.get_configuration_set(configuration_set).suppression_options or {}
        except Exception:  # noqa: BLE001 (an unknown set: moto does not check it on send, nor do we)
            options = {}
        if "SuppressedReasons" in options:
            override = set(options["SuppressedReasons"] or ())
    with _suppression_lock:
        listed = {address.lower(): entry for address, entry in _suppression_store(backend).items()}
    for recipient in recipients:
        entry = listed.get(recipient.lower())
        if entry is None or (override is not None and entry["Reason"] not in override):
            return False
    return True


def _recipients(destination: Mapping[str, list[str]]) -> list[str]:
    return [a for key in ("ToAddresses", "CcAddresses", "BccAddresses") for a in destination.get(key) or []]


def write_sent_email_to_outbox() -> None:
    """Gap: moto accepts SendEmail but keeps the message in memory. Also write every sent email to the outbox.

    Covers SESv2 ``SendEmail`` (simple and raw content) and SES v1 ``SendEmail``/``SendRawEmail``. A message is
    written only after moto accepted it (so an unverified sender still fails, as on AWS), and only if SES would
    deliver it: like SES, a message to addresses on the account suppression list is accepted (a message id)
    and then dropped, unless its configuration set overrides account-level suppression.
    """
    from moto.ses.responses import EmailResponse
    from moto.sesv2.responses import SESV2Response

    v2_send = SESV2Response.send_email

    def sesv2_send_email(self: Any) -> Any:
        result = v2_send(self)
        params = json.loads(self.body)
        message_id = json.loads(result)["MessageId"]
        content = params.get("Content", {})
        recipients = _recipients(params.get("Destination", {}))
        if suppression_applies(self.sesv2_backend, recipients, params.get("ConfigurationSetName")):
            log.info("SES dropped message %s: its recipients are on the account suppression list", message_id)
            return result
        if "Raw" in content:
            write_eml(base64.b64decode(content["Raw"]["Data"]))
        elif "Simple" in content:
            simple = content["Simple"]
            body = simple.get("Body", {})
            message = build_message(
                params.get("FromEmailAddress", ""),
                params.get("Destination", {}),
                _data(simple.get("Subject")) or "",
                _data(body.get("Text")),
                _data(body.get("Html")),
                message_id,
                params.get("ReplyToAddresses"),
                simple.get("Headers"),
            )
            write_eml(bytes(message))
        return result

    v1_send = EmailResponse.send_email

    def ses_send_email(self: Any) -> Any:
        result = v1_send(self)
        message = self._get_param("Message") or {}
        body = message.get("Body", {})
        email = build_message(
            self._get_param("Source"),
            self._get_param("Destination", {}),
            _data(message.get("Subject")) or "",
            _data(body.get("Text")),
            _data(body.get("Html")),
            result.result["MessageId"],
            self._get_param("ReplyToAddresses"),
        )
        write_eml(bytes(email))
        return result

    v1_send_raw = EmailResponse.send_raw_email

    def ses_send_raw_email(self: Any) -> Any:
        result = v1_send_raw(self)
        raw = self._get_param("RawMessage.Data")
        write_eml(raw if isinstance(raw, bytes) else str(raw).encode())
        return result

    _patch(SESV2Response, "send_email", sesv2_send_email)
    _patch(EmailResponse, "send_email", ses_send_email)
    _patch(EmailResponse, "send_raw_email", ses_send_raw_email)


# --------------------------------------------------------------------------------------------------
# c. SESv2 account-level suppression list: moto has none of its four operations.
# --------------------------------------------------------------------------------------------------

_suppression_lock = threading.Lock()


def _suppression_store(backend: Any) -> dict[str, dict[str, Any]]:
    # Kept on moto's SESv2 backend (one per account and Region, like the real list) so moto's reset clears it.
    # Callers hold _suppression_lock.
    return vars(backend).setdefault("local_suppressed_destinations", {})


def serve_ses_suppression_list() -> None:
    """Gap: moto does not implement Put/Get/Delete/ListSuppressedDestination(s). Serve them from memory.

    Request and response shapes are the SESv2 API's (serialized by moto from the botocore model). Getting or
    deleting an address that is not on the list raises ``NotFoundException``; a bad reason ``BadRequestException``.
    """
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult
    from moto.ses.exceptions import NotFoundException
    from moto.sesv2.responses import SESV2Response

    class BadRequestException(JsonRESTError):
        code = 400

        def __init__(self, message: str) -> None:
            super().__init__("BadRequestException", message)

    def _address(self: Any) -> str:
        from urllib.parse import unquote

        address = self._get_param("EmailAddress")
        if not address:
            address = unquote(self.path.rstrip("/").rsplit("/", 1)[-1])
        return address

    def _not_found(address: str) -> NotFoundException:
        return NotFoundException(f"Email address {address} does not exist on your suppression list.")

    def put_suppressed_destination(self: Any) -> ActionResult:
        params = json.loads(self.body or "{}")
        address, reason = params.get("EmailAddress"), params.get("Reason")
        if not address:
            raise BadRequestException("EmailAddress is required.")
        if reason not in SUPPRESSION_REASONS:
            raise BadRequestException(f"Reason must be one of {', '.join(SUPPRESSION_REASONS)}.")
        with _suppression_lock:
            _suppression_store(self.sesv2_backend)[address] = {
                "EmailAddress": address,
                "Reason": reason,
                "LastUpdateTime": datetime.now(UTC),
                "Attributes": {"MessageId": str(uuid.uuid4()), "FeedbackId": str(uuid.uuid4())},
            }
        return ActionResult({})

    def get_suppressed_destination(self: Any) -> ActionResult:
        address = _address(self)
        with _suppression_lock:
            entry = _suppression_store(self.sesv2_backend).get(address)
        if entry is None:
            raise _not_found(address)
        return ActionResult({"SuppressedDestination": dict(entry)})

    def delete_suppressed_destination(self: Any) -> ActionResult:
        address = _address(self)
        with _suppression_lock:
            if _suppression_store(self.sesv2_backend).pop(address, None) is None:
                raise _not_found(address)
        return ActionResult({})

    def list_suppressed_destinations(self: Any) -> ActionResult:
        query = self.querystring
        reasons = set(query.get("Reason", [])) or set(SUPPRESSION_REASONS)
        start = _timestamp(query.get("StartDate", [None])[0])
        end = _timestamp(query.get("EndDate", [None])[0])
        page_size = int(query.get("PageSize", ["1000"])[0])
        offset = int(base64.b64decode(query["NextToken"][0]).decode()) if query.get("NextToken") else 0
        with _suppression_lock:
            entries = sorted(_suppression_store(self.sesv2_backend).values(), key=lambda e: e["EmailAddress"])
        matching = [
            {k: e[k] for k in ("EmailAddress", "Reason", "LastUpdateTime")}
            for e in entries
            if e["Reason"] in reasons
            and (start is None or e["LastUpdateTime"] >= start)
            and (end is None or e["LastUpdateTime"] <= end)
        ]
        page = matching[offset : offset + page_size]
        result: dict[str, Any] = {"SuppressedDestinationSummaries": page}
        if offset + page_size < len(matching):
            result["NextToken"] = base64.b64encode(str(offset + page_size).encode()).decode()
        return ActionResult(result)

    # moto's server routes SESv2 by explicit Flask paths; its catch-all "/v2/.*" only works in decorator mode.
    from moto.sesv2 import urls

    for path in (
        "{0}/v2/email/suppression/addresses$",
        "{0}/v2/email/suppression/addresses/(?P<EmailAddress>[^/]+)$",
    ):
        if path not in urls.url_paths:
            urls.url_paths[path] = SESV2Response.dispatch
            _installed.cleanups.append(lambda path=path: urls.url_paths.pop(path, None))

    for function in (
        put_suppressed_destination,
        get_suppressed_destination,
        delete_suppressed_destination,
        list_suppressed_destinations,
    ):
        _patch(SESV2Response, function.__name__, function)


def _timestamp(value: str | None) -> datetime | None:
    """botocore sends rest-json query timestamps as ISO 8601; accept epoch seconds too."""
    if not value:
        return None
    try:
        return datetime.fromtimestamp(float(value), UTC)
    except ValueError:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


# --------------------------------------------------------------------------------------------------
# c2. SESv2 contact import jobs: moto has no CreateImportJob/GetImportJob (retention removes contacts in bulk).
# --------------------------------------------------------------------------------------------------

_import_lock = threading.Lock()


def _import_jobs(backend: Any) -> dict[str, dict[str, Any]]:
    # Kept on moto's SESv2 backend so moto's reset clears them. Callers hold _import_lock.
    return vars(backend).setdefault("local_import_jobs", {})


def _import_rows(account_id: str, s3_url: str, data_format: str) -> list[str]:
    """Email addresses listed in an import data source (CSV with an emailAddress column, or JSON lines)."""
    import csv

    from moto.s3.models import s3_backends

    bucket, _, key = s3_url.removeprefix("s3://").partition("/")
    body = s3_backends[account_id]["aws"].get_object(bucket, key).value.decode()
    if data_format == "JSON":
        return [json.loads(line)["emailAddress"] for line in body.splitlines() if line.strip()]
    return [row["emailAddress"] for row in csv.DictReader(io.StringIO(body)) if row.get("emailAddress")]


def sesv2_create_import_job(self: Any) -> Any:
    """Runs the job at once: a DELETE import removes each listed address from the destination contact list."""
    from moto.core.exceptions import JsonRESTError
    from moto.core.responses import ActionResult

    params = json.loads(self.body or "{}")
    destination = params.get("ImportDestination", {}).get("ContactListDestination")
    source = params.get("ImportDataSource", {})
    if not destination or destination.get("ContactListImportAction") != "DELETE":
        raise JsonRESTError("BadRequestException", "the local cloud runs contact-list DELETE import jobs only")
    contact_list = self.sesv2_backend.get_contact_list(destination["ContactListName"])
    rows = _import_rows(self.current_account, source["S3Url"], source.get("DataFormat", "CSV"))
    processed = failed = 0
    for address in rows:
        try:
            contact_list.delete_contact(address)
            processed += 1
        except Exception:  # noqa: BLE001 (SES counts a row it cannot apply as failed, it does not stop)
            failed += 1
    job_id = str(uuid.uuid4())
    now = datetime.now(UTC)
    with _import_lock:
        _import_jobs(self.sesv2_backend)[job_id] = {
            "JobId": job_id,
            "ImportDestination": params["ImportDestination"],
            "ImportDataSource": source,
            "JobStatus": "COMPLETED",
            "CreatedTimestamp": now,
            "CompletedTimestamp": now,
            "ProcessedRecordsCount": processed,
            "FailedRecordsCount": failed,
        }
    return ActionResult({"JobId": job_id})


def sesv2_get_import_job(self: Any) -> Any:
    from moto.core.responses import ActionResult
    from moto.ses.exceptions import NotFoundException

    job_id = self.path.rstrip("/").rsplit("/", 1)[-1]
    with _import_lock:
        job = _import_jobs(self.sesv2_backend).get(job_id)
    if job is None:
        raise NotFoundException(f"Import job {job_id} does not exist.")
    return ActionResult(dict(job))


def serve_ses_import_jobs() -> None:
    """Gap: moto implements neither CreateImportJob nor GetImportJob; serve DELETE imports against moto's lists."""
    from moto.sesv2 import urls
    from moto.sesv2.responses import SESV2Response

    for path in ("{0}/v2/email/import-jobs$", "{0}/v2/email/import-jobs/(?P<JobId>[^/]+)$"):
        if path not in urls.url_paths:
            urls.url_paths[path] = SESV2Response.dispatch
            _installed.cleanups.append(lambda path=path: urls.url_paths.pop(path, None))
    _patch(SESV2Response, "create_import_job", sesv2_create_import_job)
    _patch(SESV2Response, "get_import_job", sesv2_get_import_job)
