"""Email to requesters through SES (SESv2 SendEmail): the code, confirmations and notices, all through send_email."""

from __future__ import annotations

import html
from typing import Any

from functions.privacy.connectors.errors import mapped_provider_errors

REQUEST_NAMES = {
    "access": "a copy of your personal data (access)",
    "erasure": "erasure of your personal data",
    "rectification": "correction of your personal data (rectification)",
    "restriction": "restriction of processing of your personal data",
    "objection": "an objection to processing of your personal data",
    "opt_out": "opting out of marketing and the sale or sharing of your personal data",
    "disclosure_notice": "a notice of the personal information we shared with third parties for their direct marketing",
}


def verification_email(
    request_id: str, request_type: str, code: str, expires_at: str, due_at: str
) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the acknowledgement with the code.

    The text part carries the line ``Verification code: <code>`` that people and tests look for.
    """
    what = REQUEST_NAMES.get(request_type, request_type)
    subject = "Your privacy request: please confirm it is you"
    text = (
        f"We received your privacy request {request_id}: {what}.\n"
        "\n"
        "To confirm that you control this email address, enter this code on the request page:\n"
        "\n"
        f"Verification code: {code}\n"
        "\n"
        f"The code works once and expires at {expires_at} (UTC). We act on the request only after you\n"
        f"enter it. We will answer by {due_at} (UTC).\n"
        "\n"
        "If you did not make this request, ignore this email: nothing happens without the code.\n"
    )
    body = (
        "<!doctype html><html><body>"
        f"<p>We received your privacy request <strong>{html.escape(request_id)}</strong>: {html.escape(what)}.</p>"
        "<p>To confirm that you control this email address, enter this code on the request page:</p>"
        f'<p style="font-size:1.5em;letter-spacing:0.2em">Verification code: <strong>{html.escape(code)}</strong></p>'
        f"<p>The code works once and expires at {html.escape(expires_at)} (UTC). We act on the request only after "
        f"you enter it. We will answer by {html.escape(due_at)} (UTC).</p>"
        "<p>If you did not make this request, ignore this email: nothing happens without the code.</p>"
        "</body></html>"
    )
    return subject, text, body


def send_verification_email(
    sesv2: Any,
    sender: str,
    recipient: str,
    *,
    request_id: str,
    request_type: str,
    code: str,
    expires_at: str,
    due_at: str,
    configuration_set: str | None,
) -> str:
    """Send the acknowledgement with the code; returns the SES message id (the only thing worth logging)."""
    subject, text, body = verification_email(request_id, request_type, code, expires_at, due_at)
    return send_email(sesv2, sender, recipient, subject, text, body, configuration_set=configuration_set)


def send_email(
    sesv2: Any, sender: str, recipient: str, subject: str, text: str, body: str, *, configuration_set: str | None
) -> str:
    """Send one email (plain text and HTML); returns the SES message id.

    Every email the engine sends goes through here: SES errors (whose messages can name the recipient)
    leave as a ProviderError naming the operation and error code only. ``configuration_set`` is the engine's
    transactional set (infra/email.py), which overrides the account suppression list: without it SES drops
    mail to an address that withdrew all marketing consent, including the confirmation that it did.
    """
    options = {"ConfigurationSetName": configuration_set} if configuration_set else {}
    with mapped_provider_errors("sesv2", "SendEmail"):
        response = sesv2.send_email(
            **options,
            FromEmailAddress=sender,
            Destination={"ToAddresses": [recipient]},
            Content={
                "Simple": {
                    "Subject": {"Data": subject, "Charset": "UTF-8"},
                    "Body": {"Text": {"Data": text, "Charset": "UTF-8"}, "Html": {"Data": body, "Charset": "UTF-8"}},
                }
            },
        )
    return str(response["MessageId"])


def extension_email(request_id: str, request_type: str, due_at: str, reason: str) -> tuple[str, str, str]:
    """Subject, plain text and HTML telling the requester the deadline moved, and why (GDPR Art. 12(3))."""
    what = REQUEST_NAMES.get(request_type, request_type)
    subject = "Your privacy request: we need more time"
    text = (
        f"Your privacy request {request_id} asked for {what}.\n"
        "\n"
        "We need more time to complete it, as the law allows for complex or numerous requests.\n"
        f"Reason: {reason}\n"
        "\n"
        f"New deadline: {due_at} (UTC).\n"
        "\n"
        "You do not need to do anything. If you disagree, you may complain to a data protection authority.\n"
    )
    body = (
        "<!doctype html><html><body>"
        f"<p>Your privacy request <strong>{html.escape(request_id)}</strong> asked for {html.escape(what)}.</p>"
        "<p>We need more time to complete it, as the law allows for complex or numerous requests.</p>"
        f"<p>Reason: {html.escape(reason)}</p>"
        f"<p>New deadline: <strong>{html.escape(due_at)}</strong> (UTC).</p>"
        "<p>You do not need to do anything. If you disagree, you may complain to a data protection authority.</p>"
        "</body></html>"
    )
    return subject, text, body


def send_extension_email(
    sesv2: Any,
    sender: str,
    recipient: str,
    *,
    request_id: str,
    request_type: str,
    due_at: str,
    reason: str,
    configuration_set: str | None = None,
) -> str:
    """Tell the requester about an extension; returns the SES message id."""
    subject, text, body = extension_email(request_id, request_type, due_at, reason)
    return send_email(sesv2, sender, recipient, subject, text, body, configuration_set=configuration_set)


# Where a requester may turn when a request is refused: GDPR Art. 12(4); for a denied CCPA deletion, 11 CCR 7022(f).
REMEDIES = {
    "GDPR": (
        "You have the right to lodge a complaint with a supervisory authority (the data protection authority "
        "of the EU/EEA country where you live, work or where you think the law was broken) and to seek a "
        "judicial remedy before the courts."
    ),
    "CCPA": (
        "If you believe we denied your request in violation of the California Consumer Privacy Act, you may file "
        "a complaint with the California Privacy Protection Agency (cppa.ca.gov) or the California Attorney "
        "General (oag.ca.gov), and you may have a right to seek a remedy in court."
    ),
}
REFUSAL_GROUNDS = {
    "manifestly_unfounded": "the request is manifestly unfounded",
    "excessive": "the request is excessive, in particular because of its repetitive character",
    "identity": "we could not verify your identity to the degree the law requires",
    "legal_exception": "a legal exception applies to the data concerned",
}


def refusal_email(
    request_id: str, request_type: str, jurisdiction: str, ground: str, reason: str
) -> tuple[str, str, str]:
    """Subject, plain text and HTML telling the requester we will not act on the request, why, and where to turn."""
    what = REQUEST_NAMES.get(request_type, request_type)
    remedy = REMEDIES.get(jurisdiction, REMEDIES["GDPR"])
    basis = REFUSAL_GROUNDS.get(ground, ground)
    deletion = jurisdiction == "CCPA" and request_type == "erasure"
    # 7022(f): a denied deletion says whether any part was deleted and that the data is not used otherwise.
    extra = (
        "We have not deleted the personal information this request concerns, and we will not use it for any "
        "other purpose than the one the exception allows.\n"
        if deletion
        else ""
    )
    subject = "Your privacy request: we cannot act on it"
    text = (
        f"Your privacy request {request_id} asked for {what}.\n"
        "\n"
        f"We will not act on this request, because {basis}.\n"
        f"Reason: {reason}\n"
        f"{extra}"
        "\n"
        f"{remedy}\n"
        "\n"
        "The request is closed; we have removed the contact details you gave us for it.\n"
    )
    body = (
        "<!doctype html><html><body>"
        f"<p>Your privacy request <strong>{html.escape(request_id)}</strong> asked for {html.escape(what)}.</p>"
        f"<p>We will not act on this request, because {html.escape(basis)}.</p>"
        f"<p>Reason: {html.escape(reason)}</p>"
        + (f"<p>{html.escape(extra.strip())}</p>" if extra else "")
        + f"<p>{html.escape(remedy)}</p>"
        "<p>The request is closed; we have removed the contact details you gave us for it.</p>"
        "</body></html>"
    )
    return subject, text, body


def send_refusal_email(
    sesv2: Any,
    sender: str,
    recipient: str,
    *,
    request_id: str,
    request_type: str,
    jurisdiction: str,
    ground: str,
    reason: str,
    configuration_set: str | None = None,
) -> str:
    """Tell the requester their request is refused, why, and their right to complain; returns the message id."""
    subject, text, body = refusal_email(request_id, request_type, jurisdiction, ground, reason)
    return send_email(sesv2, sender, recipient, subject, text, body, configuration_set=configuration_set)
