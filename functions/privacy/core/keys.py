"""Keyed hashes of personal data, so evidence can name a subject or a record without holding it.

The root secret is a KMS HMAC key that never leaves KMS. One GenerateMac call per purpose derives a
secret used locally for the many record keys of a request (thousands of KMS calls would throttle).
Anyone with kms:GenerateMac on the key can recompute a digest to prove what was erased; nobody can
reverse one.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

SUBJECT_PREFIX = b"subject-v1\x00"


def _generate_mac(kms: Any, key_id: str, message: bytes) -> bytes:
    response = kms.generate_mac(KeyId=key_id, Message=message, MacAlgorithm="HMAC_SHA_256")
    return bytes(response["Mac"])


def subject_hmac(kms: Any, key_id: str, identifier_name: str, value: str) -> str:
    """The keyed HMAC that stands for a subject identifier in evidence, events and metrics."""
    normalised = value.strip().lower() if identifier_name == "email" else value.strip()
    message = SUBJECT_PREFIX + identifier_name.encode() + b"\x00" + normalised.encode()
    return "hmac-sha256:" + _generate_mac(kms, key_id, message).hex()


class DerivedKeys:
    """Local HMAC functions derived from the KMS key for one purpose scope."""

    def __init__(self, kms: Any, key_id: str, scope: str) -> None:
        self._secret = _generate_mac(kms, key_id, b"derived-v1\x00" + scope.encode())

    def digest(self, text: str) -> str:
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()


def key_digester(kms: Any, key_id: str, request_id: str) -> DerivedKeys:
    """Digests of record keys erased for one request (scoped so digests cannot be joined across requests)."""
    return DerivedKeys(kms, key_id, f"record-keys:{request_id}")


def masking_hasher(kms: Any, key_id: str) -> DerivedKeys:
    """The keyed_hash masking strategy: stable across requests so anonymised records still join."""
    return DerivedKeys(kms, key_id, "masking")
