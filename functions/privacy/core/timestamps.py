"""The engine's one reading and writing of time: UTC ISO 8601 with ``Z`` and whole seconds.

Every time the engine writes (records, evidence, API answers, emails) goes through ``format_utc``,
and every time it reads goes through ``parse_utc``, which refuses a value without a zone: a zone-less
time means something different on every host, and a deadline or retention cut-off must not.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal

FORMAT = "%Y-%m-%dT%H:%M:%SZ"
EXAMPLE = "2031-01-01T00:00:00Z"
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_EPOCH = re.compile(r"^-?\d+(\.\d+)?$")


def now() -> datetime:
    """The current time, aware (UTC) and truncated to whole seconds, so what is written is what is compared."""
    return datetime.now(UTC).replace(microsecond=0)


def format_utc(moment: datetime) -> str:
    """``2026-12-01T19:57:14Z``; an aware moment is converted to UTC, a naive one is refused."""
    if moment.tzinfo is None:
        raise ValueError("a time without a zone cannot be written (use an aware datetime)")
    return moment.astimezone(UTC).strftime(FORMAT)


def parse_utc(text: object, field: str) -> datetime:
    """An ISO 8601 time with a zone (``Z`` or an offset) as an aware UTC datetime in whole seconds.

    Raises ValueError naming ``field`` when ``text`` is not a time or has no zone.
    """
    if isinstance(text, datetime):
        moment = text
    else:
        raw = str(text).strip()
        try:
            moment = datetime.fromisoformat(raw[:-1] + "+00:00" if raw[-1:] in {"Z", "z"} else raw)
        except ValueError:
            raise ValueError(f"{field} {raw[:40]!r} is not an ISO 8601 time like {EXAMPLE}") from None
    if moment.tzinfo is None:
        raise ValueError(f"{field} {str(text)[:40]!r} needs a time zone (Z for UTC), e.g. {EXAMPLE}")
    return moment.astimezone(UTC).replace(microsecond=0)


def normalise(text: object, field: str) -> str:
    """A time read from outside, written back in the engine's one format."""
    return format_utc(parse_utc(text, field))


def parse_utc_or_date(text: str, field: str) -> datetime:
    """A time with a zone, or a bare date meaning the start of that UTC day (an operator's ``--until 2026-12-01``).

    A date names a calendar day, not a clock reading, so it is not ambiguous the way a zone-less time is.
    """
    if _DATE.match(text.strip()):
        return datetime.fromisoformat(text.strip()).replace(tzinfo=UTC)
    return parse_utc(text, field)


def parse_stored(value: object) -> datetime | None:
    """A timestamp as a store keeps it, or None when it cannot be read for certain.

    Read: ISO 8601 with a zone, and numbers or numeric strings as epoch seconds (how DynamoDB TTL
    attributes and many applications keep time). Anything else (``""``, ``12/31/2099``, a time
    without a zone, a boolean) is None: retention must not guess the age of what it deletes.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(microsecond=0) if value.tzinfo is not None else None
    if isinstance(value, int | float | Decimal):
        return _epoch(value)
    if not isinstance(value, str):
        return None
    text = value.strip()
    if _EPOCH.match(text):
        return _epoch(Decimal(text))
    if "T" not in text:  # a bare date or free text: no clock reading, no zone
        return None
    try:
        return parse_utc(text, "stored timestamp")
    except ValueError:
        return None


def _epoch(seconds: int | float | Decimal) -> datetime | None:
    try:
        return datetime.fromtimestamp(float(seconds), UTC).replace(microsecond=0)
    except (OverflowError, OSError, ValueError):
        return None  # beyond what a clock can mean (or NaN): unreadable, not "far future"
