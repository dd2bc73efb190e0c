"""Verify the audit bucket: every record's hash, every chain link, every digest signature, and that
every record is listed in a digest. Each problem is reported precisely, by key and kind.

Kinds: modified_record, removed_record, reordered_chain, broken_chain, forged_digest,
broken_digest_chain, undigested_record, unreadable_record.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any

from functions.privacy.core.timestamps import parse_utc
from functions.privacy.evidence.digests import DIGEST_PREFIX, list_digests, list_records, signed_body
from functions.privacy.evidence.records import chain_prefix, request_prefix, sha256


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


def _load(s3: Any, bucket: str, key: str) -> tuple[bytes | None, dict[str, Any] | None]:
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None, None
    try:
        return body, json.loads(body)
    except ValueError:
        return body, None


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
    except (KeyError, ValueError):
        return False
    except kms.exceptions.KMSInvalidSignatureException:
        return False


def verify_bucket(s3: Any, kms: Any, bucket: str, request_id: str | None = None) -> Report:
    """Verify everything (or one request's records) and return what is wrong."""
    report = Report()
    hashes: dict[str, str] = {}
    bodies: dict[str, dict[str, Any] | None] = {}
    prefix = request_prefix(request_id) if request_id else None
    for record in list_records(s3, bucket):
        if prefix and not record["key"].startswith(prefix):
            continue
        raw, parsed = _load(s3, bucket, record["key"])
        if raw is None:
            continue
        hashes[record["key"]] = sha256(raw)
        bodies[record["key"]] = parsed
        if parsed is None:
            report.problems.append(Problem("unreadable_record", record["key"], "not valid JSON"))
    report.records_checked = len(hashes)

    digested = _verify_digests(s3, kms, bucket, hashes, prefix, report)
    _verify_chains(bodies, hashes, report)
    _verify_store_links(bodies, hashes, report)
    for key in sorted(set(hashes) - set(digested)):
        report.pending.append(key)
    # Records older than the newest digest's cut-off must be in some digest.
    last_until = digested.get("__until__")
    if last_until:
        modified = {r["key"]: r["modified"] for r in list_records(s3, bucket)}
        for key in list(report.pending):
            if modified[key].replace(microsecond=0) <= parse_utc(last_until, "until"):
                report.pending.remove(key)
                report.problems.append(
                    Problem("undigested_record", key, f"written before the last digest's cut-off {last_until}")
                )
    return report


def _verify_digests(
    s3: Any, kms: Any, bucket: str, hashes: dict[str, str], prefix: str | None, report: Report
) -> dict[str, str]:
    """Check signatures, the digest chain and every listed record; returns key -> digested hash."""
    digested: dict[str, str] = {}
    previous: tuple[str, str] | None = None
    for key in list_digests(s3, bucket):
        raw, digest = _load(s3, bucket, key)
        report.digests_checked += 1
        if raw is None or digest is None:
            report.problems.append(Problem("forged_digest", key, "unreadable digest"))
            continue
        if not _verify_signature(kms, digest):
            report.problems.append(Problem("forged_digest", key, "signature does not verify with the signing key"))
        expected = (previous[0], previous[1]) if previous else (None, None)
        if (digest.get("previous_digest"), digest.get("previous_digest_sha256")) != expected:
            report.problems.append(
                Problem("broken_digest_chain", key, f"does not link to the previous digest {expected[0]}")
            )
        previous = (key, sha256(raw))
        digested["__until__"] = digest.get("until", "")
        for entry in digest.get("records", []):
            if prefix and not entry["key"].startswith(prefix):
                continue
            digested[entry["key"]] = entry["sha256"]
            actual = hashes.get(entry["key"])
            if actual is None:
                report.problems.append(Problem("removed_record", entry["key"], f"listed in digest {key} but missing"))
            elif actual != entry["sha256"]:
                report.problems.append(
                    Problem(
                        "modified_record",
                        entry["key"],
                        f"sha256 {actual[:12]}… but digest {key} says {entry['sha256'][:12]}…",
                    )  # fmt: skip
                )
    return digested


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


__all__ = ["DIGEST_PREFIX", "Problem", "Report", "verify_bucket"]
