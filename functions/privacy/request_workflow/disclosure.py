"""The disclosure notice (Cal. Civ. Code 1798.83): which categories of personal information went to third
parties for their own direct marketing in the preceding calendar year.

Built from the data map alone (recipients flagged ``direct_marketing``): no store is read or changed, and the
notice says nothing about the requester that the policy does not say about everyone.
"""

from __future__ import annotations

import html
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.datamap.model import DataMap


def notice_year(received_at: str) -> int:
    """The calendar year the notice covers: the one before the request was received (1798.83(a))."""
    return timestamps.parse_utc(received_at, "received_at").year - 1


def disclosure_facts(datamap: DataMap, received_at: str) -> dict[str, Any]:
    """What the notice states and the evidence records: the year, category names and recipient names only."""
    shared = datamap.direct_marketing_categories()
    return {
        "year": notice_year(received_at),
        "categories": list(shared),
        "recipients": sorted({r for recipients in shared.values() for r in recipients}),
    }


def disclosure_email(request_id: str, datamap: DataMap, facts: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, plain text and HTML of the notice; an empty list is stated as such, never left implicit."""
    year = facts["year"]
    subject = f"Your privacy request {request_id}: disclosures for direct marketing in {year}"
    intro = (
        f"Your privacy request {request_id}: you asked which categories of personal information we shared with "
        f"third parties for their own direct marketing purposes during {year} (California Civil Code section 1798.83)."
    )
    if facts["categories"]:
        lead = f"In {year} we shared these categories of personal information for that purpose:"
        items = [
            f"{name}: {datamap.categories[name].description} (shared with: "
            + ", ".join(datamap.recipients[r].description for r in datamap.direct_marketing_categories()[name])
            + ")"
            for name in facts["categories"]
        ]
    else:
        lead = (
            f"In {year} we did not share any category of personal information with third parties for their own "
            "direct marketing purposes."
        )
        items = []
    closing = "If anything is unclear, reply to this email and quote the request id."
    text = f"{intro}\n\n{lead}\n" + "".join(f"- {item}\n" for item in items) + f"\n{closing}\n"
    body = (
        "<!doctype html><html><body>"
        f"<p>{html.escape(intro)}</p><p>{html.escape(lead)}</p>"
        + ("<ul>" + "".join(f"<li>{html.escape(item)}</li>" for item in items) + "</ul>" if items else "")
        + f"<p>{html.escape(closing)}</p></body></html>"
    )
    return subject, text, body
