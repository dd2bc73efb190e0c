"""Backdating for the local cloud: make objects and contacts look old, as years of real use would.

moto stamps LastModified and LastUpdatedTimestamp with the time of the call, and retention expires by
those times, so tests, the demo and the benchmark age their data in moto's backend (this process).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

ACCOUNT = "123456789012"


def age_objects(bucket: str, keys: Iterable[str], when: datetime, account: str = ACCOUNT) -> int:
    """Set LastModified of every version of ``keys`` to ``when``; returns how many versions were changed."""
    from moto.s3.models import s3_backends

    versions = s3_backends[account]["aws"].buckets[bucket].keys
    changed = 0
    for key in keys:
        for version in versions.getlist(key):
            version.last_modified = when.astimezone(UTC).replace(tzinfo=None)
            changed += 1
    return changed


def age_contacts(contact_list: str, addresses: Iterable[str], when: datetime, region: str = "us-east-1") -> None:
    """Set LastUpdatedTimestamp of contacts in a contact list to ``when``."""
    from moto.sesv2.models import sesv2_backends

    contacts = sesv2_backends[ACCOUNT][region].core_backend.contacts_lists[contact_list].contacts
    stamp = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")  # moto's own spelling of the field
    for address in addresses:
        contacts[address].last_updated_timestamp = stamp
