"""Legal holds placed and released by operators, each with an operator-action evidence record."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from functions.privacy.core.keys import subject_hmac
from functions.privacy.core.timestamps import normalise
from functions.privacy.datamap.model import DataMap
from functions.privacy.evidence import records as evidence
from functions.privacy.operations.actions import OperatorError, Tables, evidence_text
from functions.privacy.subjects import holds
from functions.privacy.subjects.resolution import resolve


def place_hold(
    tables: Tables,
    clients: Any,
    datamap: DataMap,
    *,
    email: str,
    reason: str,
    operator: str,
    store: str | None = None,
    category: str | None = None,
    expires_at: str | None = None,
    now: datetime | None = None,
) -> holds.Hold:
    """Resolve the subject through the data map and hold their records (one store, one category, or all)."""
    reason = evidence_text(reason, "the reason")
    operator = evidence_text(operator, "the operator name")
    if store is not None and category is not None:
        raise OperatorError("a hold covers one store or one category, not both")
    if store is not None and store not in datamap.stores:
        raise OperatorError(f"unknown store {store!r}; the data map has: {', '.join(sorted(datamap.stores))}")
    if category is not None and category not in datamap.categories:
        known = ", ".join(sorted(datamap.categories))
        raise OperatorError(f"unknown category {category!r}; the data map has: {known}")
    if expires_at is not None:
        try:
            expires_at = normalise(expires_at, "expires_at")
        except ValueError:
            raise OperatorError(f"--expires {expires_at!r} is not an ISO 8601 date or time") from None
    # The same resolution as a request's: every spelling the customers table may hold is tried.
    resolution = resolve(datamap, email, clients)
    subject = resolution.subject
    identifier = datamap.subject_identifier
    subject_digest = subject_hmac(clients.client("kms"), tables.hmac_key, identifier, subject.identifiers[identifier])
    hold = holds.place_hold(
        clients.resource_table(tables.holds_table),
        subject_hmac=subject_digest,
        identifiers=dict(subject.identifiers),
        reason=reason,
        placed_by=operator,
        store=store,
        category=category,
        expires_at=expires_at,
        now=now,
    ).model_copy(update={"unresolved": resolution.unresolved})
    evidence.write_operator_action(
        clients.client("s3"), tables.audit_bucket, "hold_placed", hold.hold_id, hold.public(), at=now
    )
    return hold


def release_hold(
    tables: Tables, clients: Any, *, subject: str, hold_id: str, operator: str, now: datetime | None = None
) -> holds.Hold:
    operator = evidence_text(operator, "the operator name")
    hold = holds.release_hold(
        clients.resource_table(tables.holds_table), subject, hold_id, released_by=operator, now=now
    )
    evidence.write_operator_action(
        clients.client("s3"), tables.audit_bucket, "hold_released", hold.hold_id, hold.public(), at=now
    )
    return hold
