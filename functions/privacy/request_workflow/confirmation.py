"""The requester's confirmation: in plain language, what was done in each store and what was kept, and why.

For an access request it carries a link to the archive on the intake API, with a download token minted here
(only its keyed digest is stored; see functions/privacy/requests/downloads.py). Sent for every completed or
partially completed request, once per execution (a re-run after a partial completion sends its own).
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from functions.privacy.core import timestamps
from functions.privacy.core.clients import Clients
from functions.privacy.core.settings import NotifySettings
from functions.privacy.datamap.model import DataMap
from functions.privacy.request_workflow import disclosure
from functions.privacy.requests import downloads
from functions.privacy.requests import record as requests
from functions.privacy.requests.agent_notices import resubscribe_note, send_agent_status
from functions.privacy.requests.notices import REQUEST_NAMES, send_email
from functions.privacy.requests.record import RequestStatus, RequestType

STATUS_SENTENCES = {
    RequestStatus.COMPLETED.value: "We have completed your request.",
    RequestStatus.PARTIALLY_COMPLETED.value: (
        "We have completed part of your request. What we could not do yet, and why, is below."
    ),
    RequestStatus.FAILED.value: "We could not complete your request yet. We are working on it and will write again.",
}


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def store_sentence(outcome: dict[str, Any]) -> str:
    """One line per store: what was done there (counts and attribute names only)."""
    status, operation = outcome.get("status"), outcome.get("operation")
    if status == "held":
        return "kept: " + "; ".join(outcome.get("exceptions", ["a legal hold applies"]))
    if status != "succeeded":
        return "not done yet: a technical problem stopped us; we will retry"
    if outcome.get("not_applicable"):
        return "nothing to do here"
    if operation == "erase":
        parts = []
        if outcome.get("deleted"):
            parts.append(f"deleted {_plural(outcome['deleted'], 'record')}")
        if outcome.get("anonymised"):
            parts.append(f"removed your details from {_plural(outcome['anonymised'], 'record')} we must keep")
        if outcome.get("added"):
            parts.append("added your address to our do-not-email list")
        elif outcome.get("kept") and not outcome.get("anonymised"):
            parts.append(f"kept {_plural(outcome['kept'], 'record')}")
        if not parts:
            parts.append("we held no data about you here")
        kept = outcome.get("exceptions") or []
        return ", ".join(parts) + (f" (kept because: {'; '.join(kept)})" if kept else "")
    if operation == "export":
        return f"{_plural(outcome.get('records', 0), 'record')} and {_plural(outcome.get('objects', 0), 'file')}"
    found = outcome.get("found", 0)
    if not found:
        return "we held no data about you here"
    attributes = ", ".join(outcome.get("attributes", []))
    verb = {"rectify": "corrected", "restrict": "marked as restricted", "opt_out": "unsubscribed"}.get(
        operation or "", "updated"
    )
    done = outcome.get("changed", 0) + outcome.get("unchanged", 0)
    line = f"{verb} {_plural(done, 'record')}" + (f" ({attributes})" if attributes and operation == "rectify" else "")
    return line + (f"; note: {'; '.join(outcome['exceptions'])}" if outcome.get("exceptions") else "")


def confirmation_email(
    request_id: str,
    request_type: str,
    status: str,
    datamap: DataMap,
    outcomes: list[dict[str, Any]],
    link: str | None = None,
    link_expires_at: str | None = None,
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the confirmation."""
    what = REQUEST_NAMES.get(request_type, request_type)
    lines = []
    for outcome in sorted(outcomes, key=lambda o: o["store"]):
        store = datamap.stores.get(outcome["store"])
        categories = ", ".join(datamap.categories[c].description.lower() for c in store.categories) if store else ""
        lines.append(f"- {outcome['store']} ({categories}): {store_sentence(outcome)}")
    subject = f"Your privacy request {request_id}: {status.replace('_', ' ')}"
    text = f"Your privacy request {request_id}: {what}.\n\n{STATUS_SENTENCES.get(status, status)}\n\n"
    if link:
        text += (
            "Download a copy of your data (a zip archive with a manifest.json that lists, per category, why we\n"
            "hold the data, on what legal basis, for how long and who receives it):\n\n"
            f"Download link: {link}\n\nThe link expires at {link_expires_at} (UTC).\n\n"
        )
    text += "What we did, store by store:\n" + "\n".join(lines) + "\n"
    resubscribe_text, resubscribe_html = resubscribe_note(request_type)
    text += resubscribe_text
    text += "\nIf anything is unclear, reply to this email and quote the request id.\n"
    body = (
        "<!doctype html><html><body>"
        f"<p>Your privacy request <strong>{html.escape(request_id)}</strong>: {html.escape(what)}.</p>"
        f"<p>{html.escape(STATUS_SENTENCES.get(status, status))}</p>"
        + (
            f'<p><a href="{html.escape(link)}">Download a copy of your data</a> (expires at '
            f"{html.escape(link_expires_at or '')} UTC).</p>"
            if link
            else ""
        )
        + "<ul>"
        + "".join(f"<li>{html.escape(line[2:])}</li>" for line in lines)
        + "</ul>"
        + resubscribe_html
        + "</body></html>"
    )
    return subject, text, body


def download_link(
    request_id: str, archive_key: str, settings: NotifySettings, clients: Clients, table: Any
) -> tuple[str, datetime]:
    """Mint a download token for the archive (its digest goes on the request) and the link that carries it.

    The link names the intake API, not S3: the API signs a short-lived S3 URL when the requester follows it,
    so no credentials of this function's (hours-long) session are baked into the email.
    """
    token = downloads.new_download_token()
    keys = downloads.download_keys(clients.client("kms"), settings.HMAC_KEY_ID)
    expires = timestamps.now() + timedelta(seconds=settings.EXPORT_LINK_SECONDS)
    downloads.record_download_token(
        table, request_id, downloads.token_digest(keys, request_id, token), expires, archive_key
    )
    base = settings.API_URL.rstrip("/")
    return f"{base}/requests/{quote(request_id, safe='')}/export?{urlencode({'token': token})}", expires


def notify_requester(
    request_id: str,
    status: str,
    outcomes: list[dict[str, Any]],
    settings: NotifySettings,
    clients: Clients,
    *,
    execution: str,
    export: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Email the confirmation once per execution; returns whether it was sent now (and the SES message id)."""
    table = clients.resource_table(settings.REQUESTS_TABLE)
    item = requests.request_item(table, request_id)
    if execution in set(item.get("notified_executions") or ()):
        return {"sent": False, "reason": "already_notified"}
    if status not in STATUS_SENTENCES or status == RequestStatus.FAILED.value:
        return {"sent": False, "reason": f"no confirmation for status {status}"}
    if item.get("confirmation_suppressed"):
        # An opt-out past its address's daily mail allowance (recorded at filing, in its evidence too): honoured,
        # not confirmed again, so filing opt-outs cannot be used to flood someone's mailbox.
        requests.record_notified(table, request_id, execution)
        return {"sent": False, "reason": "mail_allowance_used"}
    datamap = settings.datamap()
    recipient = str((item.get("subject") or {})[datamap.subject_identifier])
    if str(item["type"]) == RequestType.DISCLOSURE_NOTICE.value:
        return send_disclosure_notice(table, request_id, recipient, item, settings, clients, execution=execution)
    link = expires_at = None
    if export and export.get("archive_key"):
        link, expires = download_link(request_id, str(export["archive_key"]), settings, clients, table)
        expires_at = expires.strftime("%Y-%m-%d %H:%M")  # prose for the requester, who reads "(UTC)" after it
    subject, text, body = confirmation_email(request_id, str(item["type"]), status, datamap, outcomes, link, expires_at)
    message_id = _send_transactional(settings, clients, recipient, subject, text, body)
    # Status only, never the link.
    send_agent_status(
        clients.client("sesv2"), settings.SENDER_EMAIL, item, status, configuration_set=settings.SES_CONFIGURATION_SET
    )
    # Marked after sending: a crash in between may send twice, which beats never confirming.
    requests.record_notified(table, request_id, execution)
    return {"sent": True, "message_id": message_id}


def _send_transactional(
    settings: NotifySettings, clients: Clients, recipient: str, subject: str, text: str, body: str
) -> str:
    """Requester mail goes through the engine's configuration set, which ignores account-level suppression."""
    return send_email(
        clients.client("sesv2"),
        settings.SENDER_EMAIL,
        recipient,
        subject,
        text,
        body,
        configuration_set=settings.SES_CONFIGURATION_SET,
    )


def send_disclosure_notice(
    table: Any,
    request_id: str,
    recipient: str,
    item: dict[str, Any],
    settings: NotifySettings,
    clients: Clients,
    *,
    execution: str,
) -> dict[str, Any]:
    """The 1798.83 notice instead of a store-by-store confirmation: the same facts the completion record holds."""
    datamap = settings.datamap()
    facts = disclosure.disclosure_facts(datamap, str(item["received_at"]))
    subject, text, body = disclosure.disclosure_email(request_id, datamap, facts)
    message_id = _send_transactional(settings, clients, recipient, subject, text, body)
    requests.record_notified(table, request_id, execution)
    return {"sent": True, "message_id": message_id}
