"""SES contact list retention: contacts last updated before the cut-off leave through one import job.

SES's non-sending APIs allow one call per second, so contacts are removed in bulk with an SESv2
``CreateImportJob`` whose action is DELETE, reading a CSV of addresses from the work bucket, not
with one DeleteContact per address. The holds are read again just before the file is written (listing
a large list takes a while), and the file (the addresses being forgotten) is deleted as soon as the
job has ended, whatever its outcome; the work bucket's lifecycle is only the backstop.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from functions.privacy.connectors.base import KeyDigester, StoreError, canonical_json
from functions.privacy.connectors.errors import mapped_errors
from functions.privacy.core.timestamps import normalise
from functions.privacy.datamap.model import DataMap
from functions.privacy.retention import digest, work
from functions.privacy.retention.counts import Counts

SES_CALL_INTERVAL = 1.0  # seconds between non-sending API calls (the account's default rate)


def _updated(value: Any) -> str:
    return normalise(value, "LastUpdatedTimestamp")


def expire_contacts(
    *,
    datamap: DataMap,
    store_name: str,
    plan: dict[str, Any],
    held: Callable[[], Iterable[str]],
    client: Any,
    s3: Any,
    key_hmac: KeyDigester,
    sleep: Callable[[float], None] = time.sleep,
    wait_seconds: float = 600.0,
) -> Counts:
    store = datamap.stores[store_name]
    held_addresses = _addresses(held())
    counts = Counts()
    expired: list[str] = []
    params: dict[str, Any] = {"ContactListName": store.resource, "PageSize": 1000}
    while True:
        with mapped_errors(store_name, store.resource, "ListContacts"):
            page = client.list_contacts(**params)
        for contact in page.get("Contacts", []):
            counts.scanned += 1
            if _updated(contact["LastUpdatedTimestamp"]) > plan["expire_before"]:
                continue
            if contact["EmailAddress"].strip().lower() in held_addresses:
                counts.skipped_held += 1
                continue
            expired.append(contact["EmailAddress"])
        if not page.get("NextToken"):
            break
        params["NextToken"] = page["NextToken"]
        sleep(SES_CALL_INTERVAL)
    if not plan["dry_run"] and expired:
        # Holds as of the delete, not as of the listing's start.
        late = _addresses(held())
        kept = [e for e in expired if e.strip().lower() in late]
        counts.skipped_held += len(kept)
        expired = [e for e in expired if e.strip().lower() not in late]
    counts.expired = len(expired)
    counts.expired_keys_digest = digest.of_keys((canonical_json({"email": e}) for e in expired), key_hmac)
    if plan["dry_run"] or not expired:
        return counts
    key = f"{work.prefix(plan['run_id'], plan['execution'], store_name)}contacts-delete.csv"
    body = "emailAddress\n" + "".join(f"{e}\n" for e in expired)
    s3.put_object(Bucket=plan["work_bucket"], Key=key, Body=body.encode())
    try:
        return _import(client, store_name, store.resource, plan["work_bucket"], key, counts, sleep, wait_seconds)
    finally:
        # The job has ended (or was given up on, and a retry writes the file again): no addresses stay behind.
        s3.delete_object(Bucket=plan["work_bucket"], Key=key)


def _addresses(values: Iterable[str]) -> set[str]:
    return {v.strip().lower() for v in values}


def _import(
    client: Any,
    store_name: str,
    resource: str,
    work_bucket: str,
    key: str,
    counts: Counts,
    sleep: Callable[[float], None],
    wait_seconds: float,
) -> Counts:
    """Run the DELETE import job over the file at ``key`` and wait for it to end."""
    with mapped_errors(store_name, resource, "CreateImportJob"):
        job = client.create_import_job(
            ImportDestination={
                "ContactListDestination": {"ContactListName": resource, "ContactListImportAction": "DELETE"}
            },
            ImportDataSource={"S3Url": f"s3://{work_bucket}/{key}", "DataFormat": "CSV"},
        )
    deadline = time.monotonic() + wait_seconds
    while True:
        sleep(SES_CALL_INTERVAL)
        with mapped_errors(store_name, resource, "GetImportJob"):
            status = client.get_import_job(JobId=job["JobId"])
        state = status.get("JobStatus")
        if state == "COMPLETED":
            counts.failed = int(status.get("FailedRecordsCount", 0))
            counts.expired -= counts.failed
            return counts
        if state in {"FAILED", "CANCELLED"}:
            raise StoreError(f"store {store_name} ({resource}): contact import job ended {state}")
        if time.monotonic() > deadline:
            raise StoreError(f"store {store_name} ({resource}): contact import job still {state}")
