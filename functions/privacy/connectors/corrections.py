"""Rectification corrections: checked against the data map's ``rectifiable`` attributes before any store changes.

Planning calls `validate_corrections` once for the whole request, so a bad correction fails the request with
nothing changed; each connector calls `store_corrections` again for its own store before its first write.
Messages name attributes and problems, never the values (they are personal data).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from functions.privacy.connectors.base import InvalidCorrection
from functions.privacy.datamap.model import DataMap, Store

MAX_STRING_LENGTH = 2048  # generous for names and addresses; stops a request from filling a 400 KB item
# An attribute name a requester typed is echoed only if it looks like one (it could itself be personal data).
_PRINTABLE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.-]{0,63}$")

Corrections = dict[str, Any]


def validate_corrections(datamap: DataMap, corrections: Any) -> Corrections:
    """Check every correction against every store that allows its attribute; return them normalised.

    Raises InvalidCorrection naming each attribute at fault (unknown to every store, or the wrong type).
    """
    allowed: dict[str, str] = {}
    for store in datamap.stores.values():
        allowed.update(store.rectifiable)  # the data map guarantees one type per attribute across stores
    return _checked(corrections, allowed, "no store in the data map allows rectifying it")


def store_corrections(store: Store, corrections: Any) -> Corrections:
    """The corrections that apply to ``store`` (attributes it allows), type-checked before any write.

    A correction for an attribute only another store allows is simply not this store's.
    """
    if not isinstance(corrections, Mapping):
        raise InvalidCorrection("corrections must be an object mapping attribute names to new values")
    mine = {name: value for name, value in corrections.items() if name in store.rectifiable}
    return _checked(mine, dict(store.rectifiable), "", allow_empty=True)


def _checked(corrections: Any, allowed: Mapping[str, str], unknown: str, *, allow_empty: bool = False) -> Corrections:
    if not isinstance(corrections, Mapping):
        raise InvalidCorrection("corrections must be an object mapping attribute names to new values")
    if not corrections and not allow_empty:
        raise InvalidCorrection("rectification needs at least one correction")
    problems, normalised = [], {}
    for name, value in corrections.items():
        if not isinstance(name, str) or name not in allowed:
            shown = repr(name) if isinstance(name, str) and _PRINTABLE_NAME.match(name) else "(unprintable name)"
            problems.append(f"attribute {shown}: {unknown} (rectifiable: {', '.join(sorted(allowed)) or 'none'})")
            continue
        problem = _type_problem(allowed[name], value)
        if problem:
            problems.append(f"attribute {name!r}: {problem}")
        else:
            normalised[name] = _normalise(value)
    if problems:
        raise InvalidCorrection("invalid corrections: " + "; ".join(sorted(problems)))
    return normalised


def _type_problem(expected: str, value: Any) -> str | None:
    """What is wrong with ``value`` for an attribute of type ``expected`` (names the types only)."""
    got = _type_name(value)
    if expected == "string":
        if not isinstance(value, str):
            return f"expected a string, got {got}"
        if not value.strip():
            return "must not be empty"
        if len(value) > MAX_STRING_LENGTH:
            return f"longer than {MAX_STRING_LENGTH} characters"
        return None
    if expected == "number":
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            return f"expected a number, got {got}"
        if isinstance(value, float | Decimal) and not math.isfinite(value):
            return "must be a finite number"
        return None
    if expected == "boolean":
        return None if isinstance(value, bool) else f"expected a boolean, got {got}"
    return f"unknown type {expected}"  # pragma: no cover - the data map model allows only the three above


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float | Decimal):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list | tuple):
        return "a list"
    return "an unsupported value"


def _normalise(value: Any) -> Any:
    # DynamoDB numbers are decimals: floats go through their shortest text form (0.1 stays 0.1).
    return Decimal(repr(value)) if isinstance(value, float) else value
