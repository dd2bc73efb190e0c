"""Signed digest files over the audit bucket, modelled on CloudTrail log-file integrity validation.

Each digest lists every evidence record written since the previous digest with its SHA-256, links
to the previous digest by hash, and is signed with a KMS asymmetric key. Records stay in per-request
chains written in parallel; digests tie them together across requests, so a removed, modified or
back-dated record shows up even when a whole request chain is deleted.
"""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.evidence.records import SCHEMA, canonical, sha256

DIGEST_PREFIX = "digests/"
RECORD_PREFIXES = ("requests/", "retention/", "operator/")
SIGNING_ALGORITHM = "ECDSA_SHA_256"
# Records whose upload finished just before the cut-off may show a slightly later LastModified on
# a listing; covering only records older than this margin keeps a digest from missing them.
SETTLE = timedelta(minutes=2)


def digest_key(until: datetime) -> str:
    return f"{DIGEST_PREFIX}{until:%Y/%m/%d/%Y%m%dT%H%M%SZ}.json"


def list_digests(s3: Any, bucket: str) -> list[str]:
    """Digest keys in time order (the key layout sorts by cut-off time)."""
    return sorted(
        obj["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=DIGEST_PREFIX)
        for obj in page.get("Contents", [])
    )


def list_records(s3: Any, bucket: str) -> list[dict[str, Any]]:
    """Every evidence record (current versions): key, LastModified."""
    records: list[dict[str, Any]] = []
    for prefix in RECORD_PREFIXES:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            records.extend({"key": o["Key"], "modified": o["LastModified"]} for o in page.get("Contents", []))
    return records


def signed_body(digest: dict[str, Any]) -> bytes:
    """The bytes the signature covers: the canonical digest without its signature fields."""
    return canonical({k: v for k, v in digest.items() if k not in {"signature", "signing_key", "signing_algorithm"}})


def write_digest(
    s3: Any, kms: Any, bucket: str, signing_key: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """Digest every record written since the previous digest's cut-off; None if there is nothing new.

    Idempotent for a given ``now``: the digest key is derived from the cut-off time.
    """
    now = now or timestamps.now()
    until = (now - SETTLE).replace(microsecond=0)  # S3 times are whole seconds
    digests = list_digests(s3, bucket)
    previous = None
    if digests:
        body = s3.get_object(Bucket=bucket, Key=digests[-1])["Body"].read()
        previous = (digests[-1], json.loads(body), sha256(body))
    since = parse_utc(previous[1]["until"], "until") if previous else None
    key = digest_key(until)
    if previous and previous[0] >= key:
        return None  # a digest for this or a later cut-off exists
    entries = []
    for record in list_records(s3, bucket):
        modified = record["modified"]
        if modified > until or (since is not None and modified <= since):
            continue
        body = s3.get_object(Bucket=bucket, Key=record["key"])["Body"].read()
        entries.append({"key": record["key"], "sha256": sha256(body)})
    if not entries:
        return None
    digest: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "digest",
        "since": format_utc(since) if since else None,
        "until": format_utc(until),
        "previous_digest": previous[0] if previous else None,
        "previous_digest_sha256": previous[2] if previous else None,
        "records": sorted(entries, key=lambda e: e["key"]),
    }
    signature = kms.sign(
        KeyId=signing_key, Message=signed_body(digest), MessageType="RAW", SigningAlgorithm=SIGNING_ALGORITHM
    )["Signature"]
    digest.update(
        signature=base64.b64encode(signature).decode(), signing_key=signing_key, signing_algorithm=SIGNING_ALGORITHM
    )
    s3.put_object(
        Bucket=bucket, Key=key, Body=canonical(digest), ContentType="application/json", ChecksumAlgorithm="SHA256"
    )
    return {"key": key, "records": len(entries), "until": digest["until"]}
