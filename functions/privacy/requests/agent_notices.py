"""Mail to an authorised agent (CCPA 11 CCR 7063) and the opt-out's re-subscribe note.

The agent hears that the request was received and how it ended, never a code (the consumer verifies
directly), a link to the archive or what was found in which store: that goes to the consumer's own address.
"""

from __future__ import annotations

import html
from collections.abc import Mapping
from typing import Any

from functions.privacy.requests.notices import REQUEST_NAMES, send_email

AGENT_STATUS = {
    "received": "was received. We have written to the consumer's own address to confirm the request with them "
    "directly; we act on it once they do.",
    "completed": "is complete. We sent the result to the consumer's own address.",
    "partially_completed": "is partly complete. We sent the result, and what is still open, to the consumer's own "
    "address.",
}
RESUBSCRIBE = (
    "Changed your mind? You can subscribe again at any time: sign up again where you first did, or reply to this\n"
    "email and quote the request id (if you withdrew from all marketing, we lift the block on your address)."
)


def agent_address(item: Mapping[str, Any]) -> str | None:
    """The agent's address on an open request (personal data: never log it), or None when no agent filed."""
    agent = (item.get("details") or {}).get("agent") or {}
    return str(agent["email"]) if agent.get("email") else None


def agent_email(request_id: str, request_type: str, stage: str, agent_name: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML of a status mail to the agent (no code, no link, no findings)."""
    what = REQUEST_NAMES.get(request_type, request_type)
    sentence = AGENT_STATUS[stage]
    subject = f"The privacy request {request_id} you filed: {stage.replace('_', ' ')}"
    text = (
        f"Dear {agent_name},\n\n"
        f"The privacy request {request_id} you filed on behalf of a consumer ({what}) {sentence}\n\n"
        "As their authorised agent you receive status updates only: codes, copies of their data and\n"
        "download links go to the consumer alone.\n"
    )
    body = (
        "<!doctype html><html><body>"
        f"<p>Dear {html.escape(agent_name)},</p>"
        f"<p>The privacy request <strong>{html.escape(request_id)}</strong> you filed on behalf of a consumer "
        f"({html.escape(what)}) {html.escape(sentence)}</p>"
        "<p>As their authorised agent you receive status updates only: codes, copies of their data and download "
        "links go to the consumer alone.</p></body></html>"
    )
    return subject, text, body


def send_agent_status(
    sesv2: Any, sender: str, item: Mapping[str, Any], stage: str, *, configuration_set: str | None
) -> str | None:
    """Mail the request's agent, if one filed it and ``stage`` is one they hear of; the SES message id or None."""
    recipient = agent_address(item)
    if recipient is None or stage not in AGENT_STATUS:
        return None
    name = str(((item.get("details") or {}).get("agent") or {}).get("name") or "agent")
    subject, text, body = agent_email(str(item["request_id"]), str(item["type"]), stage, name)
    return send_email(sesv2, sender, recipient, subject, text, body, configuration_set=configuration_set)


def resubscribe_note(request_type: str) -> tuple[str, str]:
    """Text and HTML for the end of an opt-out's confirmation: nobody is opted out silently, and it is undone
    as easily as it was done (GDPR Art. 7(3))."""
    if request_type != "opt_out":
        return "", ""
    return f"\n{RESUBSCRIBE}\n", f"<p>{html.escape(RESUBSCRIBE)}</p>"
