"""Signed digest files over the audit bucket, modelled on CloudTrail log-file integrity validation.

Each digest lists every evidence record version written since the previous digest with its SHA-256,
links to the previous digest by hash, and is signed with a KMS asymmetric key. Records stay in
per-request chains written in parallel; digests tie them together across requests, so a removed,
modified, hidden or back-dated record shows up even when a whole request chain is deleted.

Both the writer and the verifier read object versions, not current objects: a delete marker or a new
version over a key hides nothing from them.
"""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.evidence.records import (
    SCHEMA,
    canonical,
    list_versions,
    objects_of,
    put_if_absent,
    read_version,
    sha256,
)

DIGEST_PREFIX = "digests/"
RECORD_PREFIXES = ("requests/", "retention/", "operator/")
SIGNING_ALGORITHM = "ECDSA_SHA_256"
# Records whose upload finished just before the cut-off may show a slightly later LastModified on
# a listing; covering only records older than this margin keeps a digest from missing them.
SETTLE = timedelta(minutes=2)
# A cron schedule is assumed to run at least daily; rate() schedules give their exact interval.
_CRON_INTERVAL = timedelta(days=1)
_RATE = re.compile(r"^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$")


def schedule_interval(expression: str) -> timedelta:
    """How often the digest schedule runs: exact for ``rate(...)``, a day for ``cron(...)``."""
    match = _RATE.match(expression.strip())
    if not match:
        if expression.strip().startswith("cron("):
            return _CRON_INTERVAL
        raise ValueError(f"not an EventBridge Scheduler rate or cron expression: {expression!r}")
    unit = match.group(2).rstrip("s")
    return timedelta(**{f"{unit}s": int(match.group(1))})


def digest_key(until: datetime) -> str:
    return f"{DIGEST_PREFIX}{until:%Y/%m/%d/%Y%m%dT%H%M%SZ}.json"


def list_digests(s3: Any, bucket: str) -> list[str]:
    """Digest keys in time order (the key layout sorts by cut-off time), including hidden ones."""
    return sorted(key for key, versions in list_versions(s3, bucket, (DIGEST_PREFIX,)).items() if objects_of(versions))


def signed_body(digest: dict[str, Any]) -> bytes:
    """The bytes the signature covers: the canonical digest without its signature fields."""
    return canonical({k: v for k, v in digest.items() if k not in {"signature", "signing_key", "signing_algorithm"}})


def _gaps_before(
    s3: Any, bucket: str, digests: dict[str, list[dict[str, Any]]], newest: str, body: dict[str, Any]
) -> list[dict[str, str]]:
    """What is wrong just before this digest: the newest digest hidden or overwritten, or its predecessor gone."""
    gaps = []
    versions = digests[newest]
    if any(v["delete_marker"] for v in versions):
        gaps.append({"key": newest, "problem": "delete_marker"})
    if len(objects_of(versions)) > 1:
        gaps.append({"key": newest, "problem": "overwritten"})
    before = body.get("previous_digest")
    if before and not objects_of(digests.get(before, [])):
        gaps.append({"key": before, "problem": "missing"})
    return gaps


def write_digest(
    s3: Any, kms: Any, bucket: str, signing_key: str, now: datetime | None = None
) -> dict[str, Any] | None:
    """Digest every record version written since the previous digest's cut-off.

    Writes a digest even when nothing is new, so a newest digest that is older than the schedule
    means the digests stopped. Never chains over a gap: the previous digest is read from its first
    version even under a delete marker, and anything wrong with it is named in ``gaps``. Returns None
    only when a digest for this or a later cut-off exists (idempotent for a given ``now``).
    """
    now = now or timestamps.now()
    until = (now - SETTLE).replace(microsecond=0)  # S3 times are whole seconds
    key = digest_key(until)
    digests = {k: v for k, v in list_versions(s3, bucket, (DIGEST_PREFIX,)).items() if objects_of(v)}
    previous = None
    gaps: list[dict[str, str]] = []
    if digests:
        newest = max(digests)
        if newest >= key:
            return None  # a digest for this or a later cut-off exists
        raw = read_version(s3, bucket, newest, objects_of(digests[newest])[0]["version_id"])
        previous = (newest, json.loads(raw), sha256(raw))
        gaps = _gaps_before(s3, bucket, digests, newest, previous[1])
    since = parse_utc(previous[1]["until"], "until") if previous else None
    entries = []
    for record_key, versions in list_versions(s3, bucket, RECORD_PREFIXES).items():
        for version in objects_of(versions):
            modified = version["modified"]
            if modified > until or (since is not None and modified <= since):
                continue
            body = read_version(s3, bucket, record_key, version["version_id"])
            entries.append({"key": record_key, "version_id": version["version_id"], "sha256": sha256(body)})
    digest: dict[str, Any] = {
        "schema": SCHEMA,
        "kind": "digest",
        "since": format_utc(since) if since else None,
        "until": format_utc(until),
        "previous_digest": previous[0] if previous else None,
        "previous_digest_sha256": previous[2] if previous else None,
        "records": sorted(entries, key=lambda e: (e["key"], e["version_id"])),
        "gaps": gaps,
    }
    signature = kms.sign(
        KeyId=signing_key, Message=signed_body(digest), MessageType="RAW", SigningAlgorithm=SIGNING_ALGORITHM
    )["Signature"]
    digest.update(
        signature=base64.b64encode(signature).decode(), signing_key=signing_key, signing_algorithm=SIGNING_ALGORITHM
    )
    if not put_if_absent(s3, bucket, key, canonical(digest)):
        return None  # a concurrent run wrote this cut-off's digest first
    return {"key": key, "records": len(entries), "until": digest["until"], "gaps": len(gaps)}
