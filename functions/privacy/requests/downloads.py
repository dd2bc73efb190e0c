"""Download tokens: the requester's key to their access archive, separate from the status token.

A token is 256 random bits minted when the archive is ready (one per confirmation email); the request record
keeps only its keyed digest (a secret derived from the KMS HMAC key, scope ``download-token-v1``), when it
stops working, and the archive's key. The intake API checks a presented token against every digest in
constant time and, if one matches and has not expired, signs a short-lived S3 URL with its own credentials.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from functions.privacy.core.keys import DerivedKeys
from functions.privacy.core.timestamps import format_utc, parse_utc
from functions.privacy.requests.record import RECORD
from functions.privacy.requests.verification import Digester

SCOPE = "download-token-v1"
# Compared against when a request holds no token, so an unknown id costs the same work as a wrong token.
_ABSENT = {"digest": "0" * 64, "expires_at": "1970-01-01T00:00:00Z"}


def download_keys(kms: Any, key_id: str) -> DerivedKeys:
    """The local HMAC for download tokens (one KMS call; the secret never leaves memory)."""
    return DerivedKeys(kms, key_id, SCOPE)


def new_download_token() -> str:
    return secrets.token_urlsafe(32)


def token_digest(keys: Digester, request_id: str, token: str) -> str:
    # Bound to the request id: one request's digest says nothing about another's token.
    return keys.digest(f"download-token\x00{request_id}\x00{token}")


def record_download_token(table: Any, request_id: str, digest: str, expires_at: datetime, archive_key: str) -> None:
    """Add a token (its digest and expiry) to the request; earlier tokens keep working until their own expiry."""
    table.update_item(
        Key={"request_id": request_id, "record": RECORD},
        UpdateExpression="SET download_tokens = list_append(if_not_exists(download_tokens, :none), :token), "
        "export_archive_key = :key",
        ConditionExpression="attribute_exists(request_id)",
        ExpressionAttributeValues={
            ":none": [],
            ":token": [{"digest": digest, "expires_at": format_utc(expires_at)}],
            ":key": archive_key,
        },
    )


@dataclass(frozen=True)
class Grant:
    archive_key: str
    expires_at: datetime


def granted(item: dict[str, Any], candidate: str, now: datetime) -> Grant | None:
    """The archive a presented token's digest opens, or None (unknown, wrong or expired: one answer for all)."""
    found: Grant | None = None
    for token in item.get("download_tokens") or [_ABSENT]:
        # Every entry is compared (no early exit), so the answer time says nothing about which one matched.
        matches = hmac.compare_digest(str(token["digest"]).encode(), candidate.encode())
        expires = parse_utc(str(token["expires_at"]), "download_tokens.expires_at")
        if matches and expires > now and item.get("export_archive_key"):
            found = Grant(str(item["export_archive_key"]), expires)
    return found
