"""The compliance report for a period: requests by type and jurisdiction, time to complete, deadlines, retention.

Figures come from request records (no identifiers) and retention evidence; the HTML rendering is one
self-contained page (inline SVG charts, no scripts or fonts from elsewhere) that can be mailed to an auditor.
"""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.datamap.model import DataMap
from functions.privacy.requests.deadlines import DeadlineState, deadline_state
from functions.privacy.requests.record import RequestRecord, RequestStatus


def percentile(values: list[float], fraction: float) -> float | None:
    """Nearest-rank percentile (the value at rank ceil(p*n)); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def median(values: list[float]) -> float | None:
    if not values:
        return None
    ordered, middle = sorted(values), len(values) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


@dataclass
class DeadlineRow:
    request_id: str
    type: str
    jurisdiction: str
    status: str
    due_at: str
    state: str


@dataclass
class ComplianceReport:
    since: str
    until: str
    generated_at: str
    total: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    by_jurisdiction: dict[str, int] = field(default_factory=dict)
    by_type_and_jurisdiction: dict[str, dict[str, int]] = field(default_factory=dict)
    by_status: dict[str, int] = field(default_factory=dict)
    completed: int = 0
    median_days_to_complete: float | None = None
    p95_days_to_complete: float | None = None
    overdue: list[DeadlineRow] = field(default_factory=list)
    at_risk: list[DeadlineRow] = field(default_factory=list)
    unverified: list[DeadlineRow] = field(default_factory=list)  # listed, not counted against deadlines
    retention_runs: int = 0
    retention_by_category: dict[str, dict[str, int]] = field(default_factory=dict)


def _row(record: RequestRecord, state: DeadlineState) -> DeadlineRow:
    return DeadlineRow(
        record.request_id, record.type.value, record.jurisdiction.value, record.status, record.due_at, state.value
    )


def build_report(
    records: Iterable[RequestRecord],
    *,
    since: datetime,
    until: datetime,
    now: datetime,
    retention_records: Iterable[dict[str, Any]] = (),
    datamap: DataMap | None = None,
) -> ComplianceReport:
    """Requests received in [since, until); deadline states as of ``now``; retention runs as of in the period.

    Time to complete counts requests completed (fully) and is measured from receipt to completion, in days.
    """
    report = ComplianceReport(since=format_utc(since), until=format_utc(until), generated_at=format_utc(now))
    durations: list[float] = []
    by_type: Counter[str] = Counter()
    by_jurisdiction: Counter[str] = Counter()
    by_status: Counter[str] = Counter()
    for record in sorted(records, key=lambda r: (r.due_at, r.request_id)):
        received = parse_utc(record.received_at, "received_at")
        if not since <= received < until:
            continue
        report.total += 1
        by_type[record.type.value] += 1
        by_jurisdiction[record.jurisdiction.value] += 1
        by_status[record.status] += 1
        cell = report.by_type_and_jurisdiction.setdefault(record.type.value, {})
        cell[record.jurisdiction.value] = cell.get(record.jurisdiction.value, 0) + 1
        if record.status == RequestStatus.COMPLETED.value and record.completed_at:
            durations.append((parse_utc(record.completed_at, "completed_at") - received).total_seconds() / 86400)
        state = deadline_state(record, now)
        if state is DeadlineState.OVERDUE:
            report.overdue.append(_row(record, state))
        elif state is DeadlineState.AT_RISK:
            report.at_risk.append(_row(record, state))
        elif state is DeadlineState.NOT_COUNTED:
            report.unverified.append(_row(record, state))
    report.by_type, report.by_jurisdiction, report.by_status = dict(by_type), dict(by_jurisdiction), dict(by_status)
    report.completed = len(durations)
    report.median_days_to_complete = _round(median(durations))
    report.p95_days_to_complete = _round(percentile(durations, 0.95))
    _add_retention(report, retention_records, since, until, datamap)
    return report


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 2)


def _add_retention(
    report: ComplianceReport,
    records: Iterable[dict[str, Any]],
    since: datetime,
    until: datetime,
    datamap: DataMap | None,
) -> None:
    """Sum expired/skipped/failed per category from per-store retention evidence records in the period.

    A record naming its category counts there; otherwise it counts under the store's categories together
    (a record expired from a store holding contact and account data is not one or the other). Counts are
    read from the record's ``counts`` object (functions/privacy/retention/outcome.py) or its top level.
    """
    runs: set[str] = set()
    for record in records:
        field = "as_of" if record.get("as_of") else "recorded_at"
        moment = record.get(field)
        if not moment or not since <= parse_utc(moment, field) < until or record.get("dry_run"):
            continue
        runs.add(str(record.get("run_id", "")))
        store = str(record.get("store", "?"))
        if record.get("category"):
            category = str(record["category"])
        elif isinstance(record.get("categories"), list) and record["categories"]:
            category = ", ".join(str(c) for c in record["categories"])
        elif datamap is not None and store in datamap.stores:
            category = ", ".join(datamap.stores[store].categories)
        else:
            category = f"(store {store})"
        totals = report.retention_by_category.setdefault(
            category, {"scanned": 0, "expired": 0, "skipped_held": 0, "skipped_retained": 0, "failed": 0}
        )
        counts = record["counts"] if isinstance(record.get("counts"), dict) else record  # nested per the writer
        for name in totals:
            value = counts.get(name, 0)
            totals[name] += int(value) if isinstance(value, int | float) else 0
    report.retention_runs = len(runs)


def retention_evidence(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Every per-store retention record (retention/<run>/<store>.json) in the audit bucket."""
    from functions.privacy.evidence.records import read_record

    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix="retention/"):
        for obj in page.get("Contents", []):
            record = read_record(s3, bucket, obj["Key"])
            if record is not None and isinstance(record[0], dict) and "store" in record[0]:
                found.append(record[0])
    return found


# ------------------------------------------------------------------------------------------------ text


def _days(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g} days"


def text_lines(report: ComplianceReport) -> list[str]:
    """The report as plain lines (the CLI prints it with Rich; tests read it)."""
    lines = [
        f"Compliance report {report.since} .. {report.until} (generated {report.generated_at})",
        f"Requests received: {report.total}",
    ]
    for request_type, cells in sorted(report.by_type_and_jurisdiction.items()):
        parts = ", ".join(f"{j} {n}" for j, n in sorted(cells.items()))
        lines.append(f"  {request_type}: {report.by_type[request_type]} ({parts})")
    lines.append(f"Completed: {report.completed}")
    lines.append(f"Time to complete: median {_days(report.median_days_to_complete)}, ")
    lines[-1] += f"95th percentile {_days(report.p95_days_to_complete)}"
    lines.append(f"Overdue: {len(report.overdue)}; at risk (due within 7 days): {len(report.at_risk)}")
    for row in report.overdue + report.at_risk:
        lines.append(f"  {row.state}: {row.request_id} {row.type} {row.jurisdiction} {row.status} due {row.due_at}")
    lines.append(f"Unverified (not counted against deadlines): {len(report.unverified)}")
    for row in report.unverified:
        lines.append(f"  {row.request_id} {row.type} {row.jurisdiction} due {row.due_at}")
    lines.append(f"Retention runs: {report.retention_runs}")
    for category, totals in sorted(report.retention_by_category.items()):
        lines.append(f"  {category}: " + ", ".join(f"{k} {v}" for k, v in totals.items()))
    return lines


# ------------------------------------------------------------------------------------------------ HTML

_BAR_COLOURS = ("#2b6cb0", "#2f855a", "#b7791f", "#c53030", "#6b46c1", "#2c7a7b")


def _bar_chart(title: str, values: Mapping[str, int | float]) -> str:
    """A horizontal bar chart as inline SVG."""
    if not values:
        return f"<figure><figcaption>{html.escape(title)}</figcaption><p>None in this period.</p></figure>"
    width, bar, gap, label_width = 560, 22, 8, 170
    biggest = max(values.values()) or 1
    height = len(values) * (bar + gap) + gap
    rows = []
    for i, (label, value) in enumerate(values.items()):
        y = gap + i * (bar + gap)
        length = (width - label_width - 60) * value / biggest
        colour = _BAR_COLOURS[i % len(_BAR_COLOURS)]
        rows.append(
            f'<text x="{label_width - 6}" y="{y + bar * 0.7:.1f}" text-anchor="end">{html.escape(str(label))}</text>'
            f'<rect x="{label_width}" y="{y}" width="{length:.1f}" height="{bar}" fill="{colour}"/>'
            f'<text x="{label_width + length + 6:.1f}" y="{y + bar * 0.7:.1f}">{value:g}</text>'
        )
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" role="img" '
        f'aria-label="{html.escape(title)}" font-family="sans-serif" font-size="13">{"".join(rows)}</svg></figure>'
    )


def _table(headers: list[str], rows: list[list[Any]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: ComplianceReport) -> str:
    deadline_rows = [
        [r.state, r.request_id, r.type, r.jurisdiction, r.status, r.due_at] for r in report.overdue + report.at_risk
    ]
    unverified_rows = [[r.request_id, r.type, r.jurisdiction, r.due_at] for r in report.unverified]
    retention_rows = [[c, *t.values()] for c, t in sorted(report.retention_by_category.items())]
    expired = {c: t["expired"] for c, t in sorted(report.retention_by_category.items())}
    title = f"Privacy compliance report {report.since} to {report.until}"
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>
body {{ font-family: sans-serif; max-width: 60em; margin: 2em auto; color: #1a202c; }}
table {{ border-collapse: collapse; margin: 0.5em 0 1.5em; }}
th, td {{ border: 1px solid #cbd5e0; padding: 0.25em 0.6em; text-align: left; }}
figure {{ margin: 1em 0; }} figcaption {{ font-weight: bold; margin-bottom: 0.3em; }}
.figures td:nth-child(2) {{ text-align: right; }}
</style></head><body>
<h1>{html.escape(title)}</h1>
<p>Generated {html.escape(report.generated_at)}. Requests received in the period; deadline states as of generation.</p>
<h2>Requests</h2>
{
        _table(
            ["Figure", "Value"],
            [
                ["Requests received", report.total],
                ["Completed", report.completed],
                ["Median time to complete", _days(report.median_days_to_complete)],
                ["95th percentile time to complete", _days(report.p95_days_to_complete)],
                ["Overdue", len(report.overdue)],
                ["At risk (due within 7 days)", len(report.at_risk)],
                ["Unverified (not counted against deadlines)", len(report.unverified)],
            ],
        )
    }
{_bar_chart("Requests by type", dict(sorted(report.by_type.items())))}
{_bar_chart("Requests by jurisdiction", dict(sorted(report.by_jurisdiction.items())))}
{_bar_chart("Requests by status", dict(sorted(report.by_status.items())))}
<h2>Deadlines</h2>
{_table(["State", "Request", "Type", "Jurisdiction", "Status", "Due"], deadline_rows)}
<h3>Unverified requests</h3>
{_table(["Request", "Type", "Jurisdiction", "Due"], unverified_rows)}
<h2>Retention</h2>
<p>Retention runs in the period: {report.retention_runs}.</p>
{_bar_chart("Records expired per category", expired)}
{_table(["Category", "Scanned", "Expired", "Skipped (held)", "Skipped (retained)", "Failed"], retention_rows)}
</body></html>
"""
