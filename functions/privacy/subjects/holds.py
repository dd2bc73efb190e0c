"""Legal holds: records of a subject that erasure and retention must not touch while the hold stands.

A hold is keyed by the subject's HMAC (how evidence and requests name subjects) and keeps the
subject's resolved identifiers, so a retention run scanning a table can tell a held record from
its key attribute without a KMS call per item. The holds table is KMS-encrypted and holds are few;
identifiers are kept only while the hold exists (release removes them, keeping the audit fields).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from boto3.dynamodb.conditions import Key
from pydantic import BaseModel, Field

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc, normalise, parse_utc
from functions.privacy.datamap.model import DataMap, Store, StoreKind


class HoldNotFound(LookupError):
    """No hold with that id for that subject."""


class Hold(BaseModel):
    subject_hmac: str
    hold_id: str
    reason: str = Field(description="Why the records must be kept (e.g. litigation reference); no personal data")
    placed_by: str
    placed_at: str
    store: str | None = Field(default=None, description="Only this store; None: every store")
    category: str | None = Field(default=None, description="Only stores holding this category; None: every one")
    expires_at: str | None = None
    released_at: str | None = None
    released_by: str | None = None
    # Personal data: the subject's resolved identifiers (never log a Hold with them, see __repr__).
    identifiers: dict[str, str] = Field(default_factory=dict, repr=False)
    # Identifiers that did not resolve when the hold was placed (names and stores, no values); not stored.
    unresolved: list[dict[str, Any]] = Field(default_factory=list, exclude=True)

    def active(self, now: datetime | None = None) -> bool:
        if self.released_at is not None:
            return False
        # Compared as times, not strings: an expiry written with an offset or fractions still counts.
        moment = now or timestamps.now()
        return self.expires_at is None or parse_utc(self.expires_at, "expires_at") > moment

    def covers(self, store_name: str, store: Store) -> bool:
        """Whether this hold applies to ``store`` (by name, by one of its categories, or to all stores)."""
        if self.store is not None and self.store != store_name:
            return False
        return self.category is None or self.category in store.categories

    def public(self) -> dict[str, Any]:
        """The hold without identifiers: what evidence, logs and the CLI may show."""
        return self.model_dump(mode="json", exclude={"identifiers"}, exclude_none=True)


def place_hold(
    table: Any,
    *,
    subject_hmac: str,
    identifiers: Mapping[str, str],
    reason: str,
    placed_by: str,
    store: str | None = None,
    category: str | None = None,
    expires_at: str | None = None,
    now: datetime | None = None,
) -> Hold:
    """Store a new hold (``identifiers`` resolved through the data map, as for a request)."""
    if not reason.strip():
        raise ValueError("a hold needs a reason")
    hold = Hold(
        subject_hmac=subject_hmac,
        hold_id=f"hold-{uuid.uuid4()}",
        reason=reason.strip(),
        placed_by=placed_by,
        placed_at=format_utc(now or timestamps.now()),
        store=store,
        category=category,
        expires_at=normalise(expires_at, "expires_at") if expires_at else None,
        identifiers=dict(identifiers),
    )
    table.put_item(
        Item=hold.model_dump(mode="json", exclude_none=True), ConditionExpression="attribute_not_exists(hold_id)"
    )
    return hold


def release_hold(table: Any, subject_hmac: str, hold_id: str, *, released_by: str, now: datetime | None = None) -> Hold:
    """Mark a hold released and drop its identifiers; the record stays for the audit trail."""
    from botocore.exceptions import ClientError

    try:
        item = table.update_item(
            Key={"subject_hmac": subject_hmac, "hold_id": hold_id},
            UpdateExpression="SET released_at = :at, released_by = :by REMOVE identifiers",
            ConditionExpression="attribute_exists(hold_id) AND attribute_not_exists(released_at)",
            ExpressionAttributeValues={":at": format_utc(now or timestamps.now()), ":by": released_by},
            ReturnValues="ALL_NEW",
        )["Attributes"]
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
            raise HoldNotFound(f"no active hold {hold_id} for that subject") from None
        raise
    return Hold.model_validate(item)


def holds_for(table: Any, subject_hmac: str, now: datetime | None = None) -> list[Hold]:
    """The subject's active holds."""
    holds: list[Hold] = []
    params: dict[str, Any] = {"KeyConditionExpression": Key("subject_hmac").eq(subject_hmac), "ConsistentRead": True}
    while True:
        page = table.query(**params)
        holds.extend(Hold.model_validate(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return [h for h in holds if h.active(now)]


def all_holds(table: Any, *, include_inactive: bool = False, now: datetime | None = None) -> list[Hold]:
    """Every hold (holds are few: a scan is the right tool); active ones only unless asked."""
    holds: list[Hold] = []
    params: dict[str, Any] = {"ConsistentRead": True}
    while True:
        page = table.scan(**params)
        holds.extend(Hold.model_validate(item) for item in page.get("Items", []))
        if "LastEvaluatedKey" not in page:
            break
        params["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    return sorted((h for h in holds if include_inactive or h.active(now)), key=lambda h: h.placed_at)


def held_values(holds: Iterable[Hold], datamap: DataMap, store_name: str) -> frozenset[str]:
    """Normalised identifier values (of the store's lookup identifier) that a retention run must skip in one
    store: compare a record's value with ``is_held``, which normalises it the same way."""
    identifier = datamap.stores[store_name].lookup.identifier
    return frozenset(datamap.normalise(identifier, v) for v in _held_raw(holds, datamap, store_name))


def is_held(datamap: DataMap, store_name: str, value: str, held: frozenset[str]) -> bool:
    """Whether a record whose lookup attribute is ``value`` (as the store keeps it) belongs to a held subject."""
    return datamap.normalise(datamap.stores[store_name].lookup.identifier, value) in held


def held_prefixes(holds: Iterable[Hold], datamap: DataMap, store_name: str) -> frozenset[str]:
    """For s3 stores: the key prefixes of held subjects (the data map's key_template filled in with every
    spelling the store may hold, as lookups try them)."""
    store = datamap.stores[store_name]
    if store.kind is not StoreKind.S3 or not store.lookup.key_template:
        return frozenset()
    identifier = store.lookup.identifier
    return frozenset(
        store.lookup.key_template.format(**{identifier: spelling})
        for value in _held_raw(holds, datamap, store_name)
        for spelling in datamap.lookup_spellings(store_name, value)
    )


def _held_raw(holds: Iterable[Hold], datamap: DataMap, store_name: str) -> set[str]:
    """The held values of the store's lookup identifier, as the holds recorded them."""
    store = datamap.stores[store_name]
    identifier = store.lookup.identifier
    return {h.identifiers[identifier] for h in holds if h.covers(store_name, store) and identifier in h.identifiers}
