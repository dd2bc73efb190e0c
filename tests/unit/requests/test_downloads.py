"""Download tokens: random, bound to their request by a keyed digest, and good only until their own expiry."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from functions.privacy.requests import downloads
from tests.unit.requests.test_verification import Keys

NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
KEY = "exports/req-1/archive.zip"


def _item(*tokens: tuple[str, datetime], archive_key: str | None = KEY) -> dict:
    item: dict = {"download_tokens": [{"digest": d, "expires_at": e.strftime("%Y-%m-%dT%H:%M:%SZ")} for d, e in tokens]}
    if archive_key:
        item["export_archive_key"] = archive_key
    return item


def test_tokens_are_random_and_their_digest_is_bound_to_the_request_and_the_key():
    tokens = {downloads.new_download_token() for _ in range(50)}
    assert len(tokens) == 50 and all(len(t) >= 43 for t in tokens)
    token = next(iter(tokens))
    digest = downloads.token_digest(Keys(), "req-1", token)
    assert token not in digest and len(digest) == 64
    assert digest != downloads.token_digest(Keys(), "req-2", token)  # another request's digest says nothing
    assert digest != downloads.token_digest(Keys(b"other-secret"), "req-1", token)


def test_a_token_opens_its_archive_until_its_own_expiry_only():
    digest = downloads.token_digest(Keys(), "req-1", "t1")
    item = _item((digest, NOW + timedelta(days=7)))

    assert downloads.granted(item, digest, NOW) == downloads.Grant(KEY, NOW + timedelta(days=7))
    assert downloads.granted(item, digest, NOW + timedelta(days=7) - timedelta(seconds=1)) is not None
    assert downloads.granted(item, digest, NOW + timedelta(days=7)) is None
    assert downloads.granted(item, downloads.token_digest(Keys(), "req-1", "t2"), NOW) is None


def test_each_of_several_tokens_keeps_its_own_expiry_and_nothing_opens_without_an_archive_key():
    first, second = (downloads.token_digest(Keys(), "req-1", t) for t in ("t1", "t2"))
    item = _item((first, NOW + timedelta(days=1)), (second, NOW + timedelta(days=8)))

    assert downloads.granted(item, first, NOW + timedelta(days=2)) is None
    assert downloads.granted(item, second, NOW + timedelta(days=2)) == downloads.Grant(KEY, NOW + timedelta(days=8))
    assert downloads.granted(_item((first, NOW + timedelta(days=1)), archive_key=None), first, NOW) is None
    assert downloads.granted({}, first, NOW) is None  # an unknown request
