"""Tell downstream recipients (GDPR Art. 19) about a completed change: one EventBridge event per request.

The detail holds the request id and type, the subject's HMAC, the categories affected and the
recipients the data map names for them: no raw personal data. Consumers that know the subject
recompute the HMAC (kms:GenerateMac) to match it.
"""

from __future__ import annotations

import json
from typing import Any

from functions.privacy.core.settings import PublishEventSettings

SOURCE = "privacy-engine"
DETAIL_TYPE = "PrivacyRequestCompleted"
# Access changes nothing downstream; every other right does.
PUBLISHED_TYPES = frozenset({"erasure", "rectification", "restriction", "objection", "opt_out"})


class EventNotPublished(RuntimeError):
    """EventBridge refused the event (the workflow retries the task)."""


def completion_detail(
    request_id: str, request_type: str, subject_hmac: str, status: str, outcomes: list[dict[str, Any]], datamap: Any
) -> dict[str, Any]:
    """The event detail: categories of the stores where the change was made, and their recipients."""
    # Only stores that held (or now hold, e.g. a suppression entry) something of the subject: recipients
    # got data from those alone.
    acted = [
        o["store"]
        for o in outcomes
        if o.get("status") == "succeeded"
        and not o.get("not_applicable")
        and any(o.get(k) for k in ("found", "changed", "deleted", "anonymised", "added"))
        and o["store"] in datamap.stores
    ]
    categories = sorted({c for store in acted for c in datamap.stores[store].categories})
    recipients = sorted({r for c in categories for r in datamap.categories[c].recipients})
    return {
        "request_id": request_id,
        "request_type": request_type,
        "status": status,
        "subject": subject_hmac,
        "stores": sorted(acted),
        "categories": categories,
        "recipients": recipients,
    }


def publish_completion(
    request_id: str,
    request_type: str,
    subject_hmac: str,
    status: str,
    outcomes: list[dict[str, Any]],
    settings: PublishEventSettings,
    events: Any,
) -> dict[str, Any]:
    """Put one event on the stack's bus for a completed or partially completed change."""
    if request_type not in PUBLISHED_TYPES or status not in {"completed", "partially_completed"}:
        return {"published": False}
    detail = completion_detail(request_id, request_type, subject_hmac, status, outcomes, settings.datamap())
    if not detail["categories"]:
        return {"published": False}
    response = events.put_events(
        Entries=[
            {
                "Source": SOURCE,
                "DetailType": DETAIL_TYPE,
                "Detail": json.dumps(detail, sort_keys=True),
                "EventBusName": settings.EVENT_BUS_NAME,
            }
        ]
    )
    if response.get("FailedEntryCount"):
        code = response["Entries"][0].get("ErrorCode", "unknown")
        raise EventNotPublished(f"EventBridge refused the completion event: {code}")
    return {"published": True, "event_id": response["Entries"][0]["EventId"], "categories": detail["categories"]}
