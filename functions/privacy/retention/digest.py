"""An order-independent keyed digest over the set of expired record keys.

Each key's HMAC is added modulo 2**256, so digests computed per page, per segment or per batch
combine into the same store digest however the work was split (and whichever finished first).
Anyone holding kms:GenerateMac on the stack's key can recompute it from a candidate key list to
prove which records a run expired; nobody can recover a key from it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

_MOD = 2**256
EMPTY = "0" * 64


def add(digest: str, key_digests: Iterable[str]) -> str:
    total = int(digest, 16)
    for item in key_digests:
        total = (total + int(item, 16)) % _MOD
    return f"{total:064x}"


def combine(digests: Iterable[str]) -> str:
    return add(EMPTY, digests)


def of_keys(keys: Iterable[str], hmac: Callable[[str], str]) -> str:
    return add(EMPTY, (hmac(k) for k in keys))


def negate(digest: str) -> str:
    """What, added to a digest, removes these keys again (a key planned for expiry that a hold then kept)."""
    return f"{(-int(digest, 16)) % _MOD:064x}"
