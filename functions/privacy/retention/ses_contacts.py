"""SES contact list retention: contacts last updated before the cut-off leave through one import job.

SES's non-sending APIs allow one call per second, so contacts are removed in bulk with an SESv2
``CreateImportJob`` whose action is DELETE, reading a CSV of addresses from the work bucket (it holds
addresses, so it lives there and expires with it), not with one DeleteContact per address.
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
    held: Iterable[str],
    client: Any,
    s3: Any,
    key_hmac: KeyDigester,
    sleep: Callable[[float], None] = time.sleep,
    wait_seconds: float = 600.0,
) -> Counts:
    store = datamap.stores[store_name]
    held_addresses = {h.strip().lower() for h in held}
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
    counts.expired = len(expired)
    counts.expired_keys_digest = digest.of_keys((canonical_json({"email": e}) for e in expired), key_hmac)
    if plan["dry_run"] or not expired:
        return counts
    key = f"{work.prefix(plan['run_id'], plan['execution'], store_name)}contacts-delete.csv"
    body = "emailAddress\n" + "".join(f"{e}\n" for e in expired)
    s3.put_object(Bucket=plan["work_bucket"], Key=key, Body=body.encode())
    with mapped_errors(store_name, store.resource, "CreateImportJob"):
        job = client.create_import_job(
            ImportDestination={
                "ContactListDestination": {"ContactListName": store.resource, "ContactListImportAction": "DELETE"}
            },
            ImportDataSource={"S3Url": f"s3://{plan['work_bucket']}/{key}", "DataFormat": "CSV"},
        )
    deadline = time.monotonic() + wait_seconds
    while True:
        sleep(SES_CALL_INTERVAL)
        with mapped_errors(store_name, store.resource, "GetImportJob"):
            status = client.get_import_job(JobId=job["JobId"])
        state = status.get("JobStatus")
        if state == "COMPLETED":
            counts.failed = int(status.get("FailedRecordsCount", 0))
            counts.expired -= counts.failed
            return counts
        if state in {"FAILED", "CANCELLED"}:
            raise StoreError(f"store {store_name} ({store.resource}): contact import job ended {state}")
        if time.monotonic() > deadline:
            raise StoreError(f"store {store_name} ({store.resource}): contact import job still {state}")
