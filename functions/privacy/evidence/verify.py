"""Verify the audit bucket over object versions: every record's hash, every chain link, every digest
signature and link, that every record is listed in a digest, and that the digests are recent. Each
problem is reported precisely, by key and kind.

Kinds: modified_record, removed_record, overwritten_record, delete_marker, reordered_chain,
broken_chain, truncated_chain, forged_digest, broken_digest_chain, digest_gap, missing_digest,
stale_digest, undigested_record, unreadable_record.

A record is its first version: Object Lock keeps it whatever is written or hidden over it later, so
a second version or a delete marker is itself a problem, never the record.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from functions.privacy.core import timestamps
from functions.privacy.core.timestamps import parse_utc
from functions.privacy.evidence.digests import DIGEST_PREFIX, RECORD_PREFIXES, signed_body
from functions.privacy.evidence.records import (
    chain_prefix,
    list_versions,
    objects_of,
    read_version,
    request_prefix,
    sha256,
)

# The chain record that ends a closed request, by the request's status in the requests table.
CLOSING_EVENTS = {
    "completed": "completed",
    "partially_completed": "completed",
    "rejected_unverified": "rejected_unverified",
    "cancelled": "cancelled",
    "refused": "refused",
}


@dataclass(frozen=True)
class Problem:
    kind: str
    key: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.key}: {self.detail}"


@dataclass
class Report:
    records_checked: int = 0
    digests_checked: int = 0
    pending: list[str] = field(default_factory=list)  # newer than the last digest: not yet covered
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass
class _Record:
    key: str
    version_id: str
    modified: datetime
    raw: bytes
    body: dict[str, Any] | None
    sha256: str
    version_hashes: dict[str, str]  # every version that holds bytes: version id -> sha256


def _parse(raw: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _load_versions(
    s3: Any, bucket: str, prefixes: tuple[str, ...], report: Report, only: str | None = None
) -> dict[str, _Record]:
    """The first version of every key, naming keys with more than one version or a delete marker."""
    loaded: dict[str, _Record] = {}
    for key, versions in sorted(list_versions(s3, bucket, prefixes).items()):
        if only and not key.startswith(only):
            continue
        objects = objects_of(versions)
        markers = [v for v in versions if v["delete_marker"]]
        if markers:
            report.problems.append(
                Problem("delete_marker", key, f"{len(markers)} delete marker(s) hide the record from listings")
            )
        if len(objects) > 1:
            report.problems.append(
                Problem("overwritten_record", key, f"{len(objects)} versions: written again after the first")
            )
        if not objects:
            continue
        hashes = {}
        first_raw = b""
        for position, version in enumerate(objects):
            raw = read_version(s3, bucket, key, version["version_id"])
            hashes[version["version_id"]] = sha256(raw)
            if position == 0:
                first_raw = raw
        first = objects[0]
        loaded[key] = _Record(
            key, first["version_id"], first["modified"], first_raw, _parse(first_raw), sha256(first_raw), hashes
        )
    return loaded


def _verify_signature(kms: Any, digest: dict[str, Any]) -> bool:
    try:
        return bool(
            kms.verify(
                KeyId=digest["signing_key"],
                Message=signed_body(digest),
                MessageType="RAW",
                Signature=base64.b64decode(digest["signature"]),
                SigningAlgorithm=digest["signing_algorithm"],
            )["SignatureValid"]
        )
    except (KeyError, ValueError, TypeError):
        return False
    except kms.exceptions.KMSInvalidSignatureException:
        return False


def verify_bucket(
    s3: Any,
    kms: Any,
    bucket: str,
    request_id: str | None = None,
    *,
    closed_requests: Mapping[str, str] | None = None,
    max_digest_age: timedelta | None = None,
    now: datetime | None = None,
    closed_present_only: bool = False,
) -> Report:
    """Verify everything (or one request's records) and return what is wrong.

    Args:
        closed_requests: request id -> status from the requests table; a closed request whose chain
            lacks its closing record is ``truncated_chain``.
        max_digest_age: twice the digest schedule; a newest digest older than that is ``stale_digest``.
        now: the time the staleness is judged at (default: now).
        closed_present_only: check only closed requests with some record here (a copy may hold a subset;
            a request dropped from a copy whole is still named by the digests that list it).
    """
    report = Report()
    prefix = request_prefix(request_id) if request_id else None
    records = _load_versions(s3, bucket, RECORD_PREFIXES, report, prefix)
    for record in records.values():
        if record.body is None:
            report.problems.append(Problem("unreadable_record", record.key, "not valid JSON"))
    report.records_checked = len(records)
    hashes = {key: record.sha256 for key, record in records.items()}
    bodies = {key: record.body for key, record in records.items()}

    digested, newest = _verify_digests(s3, kms, bucket, records, prefix, report)
    _verify_chains(bodies, hashes, report)
    _verify_store_links(bodies, hashes, report)
    _verify_closed(bodies, closed_requests or {}, request_id, closed_present_only, report)
    last_until = newest[1] if newest else None
    for key in sorted(set(records) - digested):
        # Records older than the newest digest's cut-off must be in some digest.
        if last_until and records[key].modified <= last_until:
            report.problems.append(
                Problem("undigested_record", key, f"written before the last digest's cut-off {last_until:%FT%TZ}")
            )
        else:
            report.pending.append(key)
    if max_digest_age is not None:
        _verify_fresh(records, newest, max_digest_age, now or timestamps.now(), report)
    return report


def _verify_digests(
    s3: Any, kms: Any, bucket: str, records: dict[str, _Record], prefix: str | None, report: Report
) -> tuple[set[str], tuple[str, datetime] | None]:
    """Check signatures, the digest chain and every listed record version; returns the digested keys and
    the newest digest with its cut-off."""
    digests = _load_versions(s3, bucket, (DIGEST_PREFIX,), report)
    digested: set[str] = set()
    previous: tuple[str, str, str | None] | None = None  # key, sha256, until
    newest: tuple[str, datetime] | None = None
    for key, record in sorted(digests.items()):
        report.digests_checked += 1
        digest = record.body
        if digest is None:
            report.problems.append(Problem("forged_digest", key, "unreadable digest"))
            continue
        if not _verify_signature(kms, digest):
            report.problems.append(Problem("forged_digest", key, "signature does not verify with the signing key"))
        linked = digest.get("previous_digest")
        if linked and linked not in digests:
            report.problems.append(Problem("missing_digest", linked, f"named as the previous digest by {key}"))
        expected = (previous[0], previous[1]) if previous else (None, None)
        if (linked, digest.get("previous_digest_sha256")) != expected:
            report.problems.append(
                Problem("broken_digest_chain", key, f"does not link to the previous digest {expected[0]}")
            )
        if previous and digest.get("since") != previous[2]:
            report.problems.append(
                Problem("digest_gap", key, f"since {digest.get('since')} but the previous digest ends {previous[2]}")
            )
        for gap in digest.get("gaps") or []:
            report.problems.append(
                Problem("digest_gap", str(gap.get("key")), f"{gap.get('problem')}, named by digest {key}")
            )
        previous = (key, record.sha256, digest.get("until"))
        if digest.get("until"):
            newest = (key, parse_utc(digest["until"], "until"))
        for entry in digest.get("records", []):
            if prefix and not entry["key"].startswith(prefix):
                continue
            _check_entry(key, entry, records, digested, report)
    return digested, newest


def _check_entry(
    digest_key: str, entry: dict[str, Any], records: dict[str, _Record], digested: set[str], report: Report
) -> None:
    """A digest entry names a key, the version it hashed and its hash: the version must hold those bytes."""
    record = records.get(entry["key"])
    if record is None:
        report.problems.append(Problem("removed_record", entry["key"], f"listed in digest {digest_key} but missing"))
        return
    # In an unversioned copy (version "null") version ids from the audit bucket mean nothing: compare bytes.
    version = entry.get("version_id") if record.version_id != "null" else None
    if version and version not in record.version_hashes:
        report.problems.append(
            Problem("removed_record", entry["key"], f"version {version} listed in digest {digest_key} is gone")
        )
        return
    # A digest that hashed a later version (an overwrite) is compared with that version; the
    # overwrite itself is named as overwritten_record.
    actual = record.version_hashes[version] if version else record.sha256
    if actual != entry["sha256"]:
        report.problems.append(
            Problem(
                "modified_record",
                entry["key"],
                f"sha256 {actual[:12]}… but digest {digest_key} says {entry['sha256'][:12]}…",
            )  # fmt: skip
        )
    if version in (None, record.version_id):
        digested.add(entry["key"])


def _verify_fresh(
    records: dict[str, _Record], newest: tuple[str, datetime] | None, max_age: timedelta, now: datetime, report: Report
) -> None:
    """Digests run on a schedule and are written even when nothing is new: an old newest digest means they stopped."""
    if newest is None:
        oldest = min((r.modified for r in records.values()), default=None)
        if oldest is not None and oldest < now - max_age:
            report.problems.append(
                Problem("missing_digest", DIGEST_PREFIX, f"no digest, although records exist since {oldest:%FT%TZ}")
            )
        return
    key, until = newest
    if until < now - max_age:
        report.problems.append(
            Problem(
                "stale_digest",
                key,
                f"the newest digest ends {until:%FT%TZ}, more than {max_age} (twice the schedule) ago",
            )
        )


def _verify_chains(bodies: dict[str, dict[str, Any] | None], hashes: dict[str, str], report: Report) -> None:
    chains: dict[str, list[str]] = {}
    for key in bodies:
        if "/chain/" in key:
            chains.setdefault(key.split("/chain/")[0], []).append(key)
    for _, keys in sorted(chains.items()):
        keys.sort()
        previous_hash = None
        for position, key in enumerate(keys):
            body = bodies[key]
            if body is None:
                continue
            request_id = body.get("request_id", "")
            if not key.startswith(chain_prefix(request_id)):
                report.problems.append(Problem("reordered_chain", key, "record belongs to another request's chain"))
            if body.get("sequence") != position or not key.split("/")[-1].startswith(f"{position:04d}-"):
                report.problems.append(
                    Problem("reordered_chain", key, f"sequence {body.get('sequence')} at position {position}")
                )
            if body.get("prev_sha256") != previous_hash:
                report.problems.append(
                    Problem("broken_chain", key, "prev_sha256 does not match the previous record's hash")
                )
            previous_hash = hashes[key]


def _verify_closed(
    bodies: dict[str, dict[str, Any] | None],
    closed: Mapping[str, str],
    request_id: str | None,
    present_only: bool,
    report: Report,
) -> None:
    """A closed request's chain must end in the record that closed it: without it the chain was truncated."""
    events: dict[str, set[str]] = {}
    for key, body in bodies.items():
        if "/chain/" in key and body:
            events.setdefault(str(body.get("request_id")), set()).add(str(body.get("event", "")))
    for closed_id, status in sorted(closed.items()):
        wanted = CLOSING_EVENTS.get(status)
        if wanted is None or (request_id and closed_id != request_id):
            continue
        if present_only and not any(key.startswith(request_prefix(closed_id)) for key in bodies):
            continue
        if not any(event.startswith(wanted) for event in events.get(closed_id, set())):
            report.problems.append(
                Problem(
                    "truncated_chain",
                    chain_prefix(closed_id),
                    f"the requests table says {status} but the chain has no {wanted} record",
                )
            )


def _verify_store_links(bodies: dict[str, dict[str, Any] | None], hashes: dict[str, str], report: Report) -> None:
    """Completion records name each store record by hash: a changed or missing one is caught here too."""
    for key, body in bodies.items():
        # A re-run of a request (execution <id>--rerun-<n>) writes completed_rerun_<n> next to completed.
        if not body or not str(body.get("event", "")).startswith("completed"):
            continue
        for store, outcome in body.get("stores", {}).items():
            linked = outcome.get("record")
            if not linked:
                continue
            if linked not in hashes:
                report.problems.append(Problem("removed_record", linked, f"store {store} record named by {key}"))
            elif hashes[linked] != outcome.get("record_sha256"):
                report.problems.append(Problem("modified_record", linked, f"hash differs from the one in {key}"))


__all__ = ["CLOSING_EVENTS", "DIGEST_PREFIX", "Problem", "Report", "verify_bucket"]
