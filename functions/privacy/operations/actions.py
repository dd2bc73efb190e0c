"""What every operator action shares: refusals, the text operators type into evidence, and where the
engine keeps its state."""

from __future__ import annotations

from dataclasses import dataclass


class OperatorError(ValueError):
    """An operator action that cannot be done as asked; the message says why."""


def evidence_text(value: str, what: str) -> str:
    """Free text an operator types that goes into evidence: non-empty and without an email address.

    The audit bucket cannot be erased, so an address typed into a reason would stay there for years.
    """
    value = value.strip()
    if not value:
        raise OperatorError(f"{what} is required (it goes into the evidence)")
    if "@" in value:
        raise OperatorError(f"{what} must not contain an email address or other personal data (it goes into evidence)")
    return value


@dataclass(frozen=True)
class Tables:
    """Where the engine keeps its state (from the stack outputs)."""

    requests_table: str
    holds_table: str
    audit_bucket: str
    hmac_key: str
    state_machine_arn: str
