"""Response deadlines: where each request stands against its due date, and how far the law lets it move.

GDPR Art. 12(3) lets the controller extend the one-month deadline by up to two further months, and
CCPA 1798.130(a)(2) the 45 days by up to 45 further days, once, telling the requester within the first
period. Requests whose requester never proved control of the address do not count against a
deadline (nothing may be done for them) but operators still see them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import Enum
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import parse_utc
from functions.privacy.requests.record import (  # scan_requests, public_view: re-exported for callers
    CLOSED,
    UNVERIFIED,
    Jurisdiction,
    RequestRecord,
    add_months,
    scan_requests,
)

AT_RISK_WINDOW = timedelta(days=7)
GDPR_EXTENSION_MONTHS = 2
CCPA_EXTENSION = timedelta(days=45)


class DeadlineState(str, Enum):
    ON_TRACK = "on_track"
    AT_RISK = "at_risk"
    OVERDUE = "overdue"
    NOT_COUNTED = "not_counted"  # identity not verified yet
    CLOSED = "closed"


def deadline_state(record: RequestRecord, now: datetime) -> DeadlineState:
    """at risk within 7 days of due_at, overdue past it; closed and unverified requests are not counted."""
    if record.status in CLOSED:
        return DeadlineState.CLOSED
    if record.status in UNVERIFIED:
        return DeadlineState.NOT_COUNTED
    due = parse_utc(record.due_at, "due_at")
    if now > due:
        return DeadlineState.OVERDUE
    if due - now <= AT_RISK_WINDOW:
        return DeadlineState.AT_RISK
    return DeadlineState.ON_TRACK


def latest_extension(jurisdiction: Jurisdiction, due: datetime) -> datetime:
    """The furthest the deadline may move: GDPR two further months, CCPA 45 further days."""
    if jurisdiction is Jurisdiction.CCPA:
        return due + CCPA_EXTENSION
    return add_months(due, GDPR_EXTENSION_MONTHS)


@dataclass
class DeadlineSummary:
    at_risk: list[RequestRecord] = field(default_factory=list)
    overdue: list[RequestRecord] = field(default_factory=list)
    not_counted: list[RequestRecord] = field(default_factory=list)


def summarise(records: Iterable[RequestRecord], now: datetime) -> DeadlineSummary:
    summary = DeadlineSummary()
    for record in records:
        state = deadline_state(record, now)
        if state is DeadlineState.AT_RISK:
            summary.at_risk.append(record)
        elif state is DeadlineState.OVERDUE:
            summary.overdue.append(record)
        elif state is DeadlineState.NOT_COUNTED:
            summary.not_counted.append(record)
    return summary


def check_deadlines(table: Any, now: datetime | None = None) -> DeadlineSummary:
    """The daily check: open requests at risk (due within 7 days) or overdue; unverified ones set apart."""
    return summarise(scan_requests(table, open_only=True), now or timestamps.now())
