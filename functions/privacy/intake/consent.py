"""Withdrawing consent without friction: an opt-out needs no code, may name topics, and records the GPC signal;
and an authorised agent's filing is recorded by a keyed HMAC of the agent's address.

GDPR Art. 7(3): withdrawing consent is as easy as giving it. CCPA: an opt-out of sale/sharing needs no
verifiable request (11 CCR 7026), the Global Privacy Control signal is an opt-out (7025), and an authorised
agent may file for a consumer (7063), who still verifies directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from functions.privacy.core.keys import subject_hmac
from functions.privacy.datamap.model import DataMap, StoreKind
from functions.privacy.requests import verification
from functions.privacy.requests.record import RequestType

# On the record and in the ``received`` evidence of an opt-out past its address's mail allowance.
CONFIRMATION_SUPPRESSED = "confirmation_suppressed"
# The ``verified`` evidence's method for a filing that needed no proof.
NOT_REQUIRED = "not_required"
# The agent's HMAC is keyed like a subject's, under its own identifier name (never linkable to a subject HMAC).
AGENT_IDENTIFIER = "agent_email"


class UnknownTopic(ValueError):
    """An opt-out names a topic no contact list of the data map has (a 400 naming it)."""

    def __init__(self, topics: list[str], known: list[str]) -> None:
        self.topics = topics
        self.known = known
        super().__init__(
            f"unknown topic(s): {', '.join(topics)}; the topics are: {', '.join(known) or 'none'}",
        )


def known_topics(datamap: DataMap) -> list[str]:
    """Every topic of the data map's SES contact lists (the data map declares them; CDK creates the lists)."""
    return sorted({t for s in datamap.stores.values() if s.kind is StoreKind.SES_CONTACT_LIST for t in s.topics})


def check_topics(topics: Sequence[str] | None, datamap: DataMap) -> None:
    """Refuse an opt-out that names a topic the contact lists do not have, before anything is filed."""
    if not topics:
        return
    known = known_topics(datamap)
    unknown = sorted(set(topics) - set(known))
    if unknown:
        raise UnknownTopic(unknown, known)


def needs_no_proof(request_type: RequestType) -> bool:
    """An opt-out is filed verified: it needs no proof in either jurisdiction, and the workflow can only
    unsubscribe and suppress for it (planning and the store task refuse anything else)."""
    return request_type is RequestType.OPT_OUT


def received_signals(
    topics: Sequence[str] | None, agent_email: str | None, gpc: bool, clients: Any, hmac_key_id: str
) -> dict[str, Any]:
    """What the ``received`` evidence adds: the GPC signal, the topics withdrawn, the agent's keyed HMAC."""
    signals: dict[str, Any] = {}
    if gpc:
        signals["gpc"] = True
    if topics:
        signals["topics"] = sorted(set(topics))  # names from the data map, not personal data
    if agent_email:
        address = agent_email.strip().lower()  # one HMAC per mailbox, however it was typed
        signals["agent"] = subject_hmac(clients.client("kms"), hmac_key_id, AGENT_IDENTIFIER, address)
    return signals


def confirmation_allowed(table: Any, address_hmac: str, now: datetime) -> bool:
    """Use one of the address's daily mail allowance for the opt-out's confirmation; False when it is used up.

    An opt-out needs no code, so without this anyone could mail any address a confirmation per filing. It is
    the allowance codes use (both are mail the address did not prove it asked for); past it the opt-out is
    still honoured, only not confirmed again, and the ``received`` evidence says so.
    """
    return verification.use_allowance(table, address_hmac, verification.AddressAllowance.CODES, now)


def record_attributes(request_type: RequestType, signals: dict[str, Any]) -> dict[str, Any]:
    """Record attributes operators may read: the signal, that an agent filed, that no code was asked."""
    attributes: dict[str, Any] = {}
    if signals.get("gpc"):
        attributes["gpc"] = True
    if "agent" in signals:
        attributes["agent_hmac"] = signals["agent"]
    if needs_no_proof(request_type):
        attributes["verification_waived"] = True
    if signals.get(CONFIRMATION_SUPPRESSED):
        attributes[CONFIRMATION_SUPPRESSED] = True  # the notifier reads it and mails nothing
    return attributes
