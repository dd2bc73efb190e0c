"""The record of processing activities (GDPR Art. 30(1)), built from the data map and the deployed stack.

The data map already says what is kept, why, on what basis, for how long and who receives it; the stack's
configuration says how it is protected. Nothing here is typed by hand twice: a measure whose strength the
configuration decides (Object Lock years, link lifetimes, the WAF limit) is worded from that configuration.
"""

from __future__ import annotations

import html
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from functions.privacy.datamap.model import DataMap, MaskStrategy

TITLE = "Record of processing activities (GDPR Art. 30(1))"


class StackFacts(BaseModel):
    """What the record needs from the deployment: the controller and the settings that decide the measures.

    Field names and defaults follow infra.config.DeployConfig (the stack's ProcessingRecord output carries them).
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    controller_name: str = Field(min_length=1)
    controller_contact: str = Field(min_length=1)
    object_lock_years: int = 7
    export_expiry_days: int = 7
    export_link_days: int = 7
    verification_timeout_seconds: int = 24 * 3600
    failed_request_retention_days: int = 30
    api_requests_per_ip: int = 100
    digest_schedule: str = "rate(1 hour)"
    retention_schedule: str = "cron(0 3 * * ? *)"


def _stores_of(datamap: DataMap, category: str) -> list[str]:
    return [name for name, store in datamap.stores.items() if category in store.categories]


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return f"{hours} hour{'' if hours == 1 else 's'}"
    return f"{seconds} seconds"


def measures(datamap: DataMap, facts: StackFacts) -> list[str]:
    """Art. 32 measures the stack applies, worded from its configuration and the data map."""
    found = [
        "Request records are encrypted at rest with a customer-managed KMS key; a request's raw identifiers are "
        "deleted when it closes",
        "Requesters prove control of their email address with a one-time code (valid "
        f"{_duration(facts.verification_timeout_seconds)}) before anything is disclosed or changed",
        "Subjects appear in evidence, logs and downstream events only as keyed HMAC-SHA256 digests (KMS HMAC key)",
        f"Evidence is written once to an S3 Object Lock bucket in COMPLIANCE mode, kept {facts.object_lock_years} "
        f"years, hash-linked per request and sealed by signed digests ({facts.digest_schedule})",
        f"Access archives are deleted from the export bucket after {facts.export_expiry_days} days; download links "
        f"are valid for {facts.export_link_days} days",
        f"Failed or never-verified requests keep their identifiers at most {facts.failed_request_retention_days} days",
        f"Retention runs ({facts.retention_schedule}) delete records past each category's retention period, except "
        "under a legal hold",
    ]
    if facts.api_requests_per_ip > 0:
        found.append(
            f"A web application firewall blocks a client after {facts.api_requests_per_ip} requests in 5 minutes"
        )
    for name, store in datamap.stores.items():
        masks = store.erasure.attributes
        if store.erasure.mode == "anonymise" and masks:
            keyed = sorted(a for a, m in masks.items() if m.strategy is MaskStrategy.KEYED_HASH)
            line = f"Erasure in {name} keeps the records it must and masks {', '.join(sorted(masks))}"
            found.append(line + (f" ({', '.join(keyed)} as keyed HMACs)" if keyed else ""))
    return found


def build_ropa(datamap: DataMap, facts: StackFacts) -> dict[str, Any]:
    """The record as data: {"controller", "categories", "transfers", "measures"} (the shape `dsr ropa --json` prints).

    The categories of data subjects ride in the controller block: the other keys are fixed by the issue that
    asked for this record, and the data subjects are the controller's (whose data it processes).
    """
    return {
        "controller": {
            "name": facts.controller_name,
            "contact": facts.controller_contact,
            "data_subjects": list(datamap.data_subjects),
        },
        "categories": [
            {
                "name": name,
                "purpose": category.purpose,
                "legal_basis": category.legal_basis,
                "retention": category.retention,
                "recipients": list(category.recipients),
                "stores": _stores_of(datamap, name),
            }
            for name, category in datamap.categories.items()
        ],
        "transfers": [transfer.model_dump() for transfer in datamap.transfers],
        "measures": measures(datamap, facts),
    }


def _cells(values: list[str]) -> str:
    return "".join(f"<td>{html.escape(v)}</td>" for v in values)


def render_html(record: dict[str, Any], datamap: DataMap) -> str:
    """A standalone page (no scripts, no external resources); every value is escaped."""
    controller = record["controller"]
    categories = "".join(
        "<tr>"
        + _cells(
            [
                c["name"],
                datamap.categories[c["name"]].description,
                c["purpose"],
                c["legal_basis"],
                c["retention"],
                ", ".join(datamap.recipients[r].description for r in c["recipients"]),
                ", ".join(c["stores"]),
            ]
        )
        + "</tr>"
        for c in record["categories"]
    )
    transfers = "".join(
        "<tr>"
        + _cells([t["country"], ", ".join(t["categories"]), ", ".join(t["recipients"]), t["safeguards"]])
        + "</tr>"
        for t in record["transfers"]
    )
    transfer_table = (
        "<table><thead><tr><th>Country</th><th>Categories</th><th>Recipients</th><th>Safeguards</th></tr></thead>"
        f"<tbody>{transfers}</tbody></table>"
        if transfers
        else "<p>None.</p>"
    )
    subjects = "".join(f"<li>{html.escape(s)}</li>" for s in controller["data_subjects"])
    measures_list = "".join(f"<li>{html.escape(m)}</li>" for m in record["measures"])
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(TITLE)}</title>
<style>body{{font-family:sans-serif;margin:2rem;max-width:70rem}}table{{border-collapse:collapse}}
td,th{{border:1px solid #999;padding:.3rem .5rem;text-align:left;vertical-align:top}}</style></head><body>
<h1>{html.escape(TITLE)}</h1>
<h2>Controller</h2>
<p>{html.escape(controller["name"])}, contact: {html.escape(controller["contact"])}</p>
<h2>Categories of data subjects</h2>
<ul>{subjects or "<li>Not stated in the data map</li>"}</ul>
<h2>Categories of personal data</h2>
<table><thead><tr><th>Category</th><th>Data</th><th>Purpose</th><th>Legal basis</th><th>Retention</th>
<th>Recipients</th><th>Stores</th></tr></thead><tbody>{categories}</tbody></table>
<h2>Transfers to third countries</h2>
{transfer_table}
<h2>Technical and organisational security measures</h2>
<ul>{measures_list}</ul>
</body></html>
"""


def text_lines(record: dict[str, Any]) -> list[str]:
    """The record as plain lines for the terminal."""
    controller = record["controller"]
    lines = [TITLE, f"Controller: {controller['name']} ({controller['contact']})"]
    lines.append("Data subjects: " + (", ".join(controller["data_subjects"]) or "not stated in the data map"))
    lines.append("Categories:")
    for c in record["categories"]:
        lines.append(
            f"  {c['name']}: {c['purpose']} [{c['legal_basis']}, kept {c['retention']}] "
            f"recipients: {', '.join(c['recipients']) or 'none'}; stores: {', '.join(c['stores']) or 'none'}"
        )
    lines.append("Transfers to third countries:" + ("" if record["transfers"] else " none"))
    for t in record["transfers"]:
        lines.append(f"  {t['country']}: {', '.join(t['categories'])} ({t['safeguards']})")
    lines.append("Measures:")
    lines.extend(f"  - {m}" for m in record["measures"])
    return lines
