"""One-time codes and status tokens: randomness, keyed digests, constant-time checks, expiry, attempts, single use."""

from __future__ import annotations

import hashlib
import hmac
import re
from datetime import UTC, datetime, timedelta

import pytest

from functions.privacy.requests import verification
from functions.privacy.requests.verification import MAX_ATTEMPTS, CodeCheck, IssuedCode, check_code, code_digest


class Keys:
    """A local stand-in for the KMS-derived key."""

    def __init__(self, secret: bytes = b"test-secret") -> None:
        self.secret = secret

    def digest(self, text: str) -> str:
        return hmac.new(self.secret, text.encode(), hashlib.sha256).hexdigest()


NOW = datetime(2026, 5, 1, 12, 0, tzinfo=UTC)
KEYS = Keys()


def issued(code: str = "123456", attempts: int = 0, expires_in: timedelta = timedelta(hours=24)) -> IssuedCode:
    return IssuedCode(digest=code_digest(KEYS, "req-1", code), expires_at=NOW + expires_in, attempts=attempts)


def test_codes_are_six_random_digits():
    codes = {verification.new_code() for _ in range(500)}
    assert all(re.fullmatch(r"\d{6}", c) for c in codes)
    assert len(codes) > 490  # no visible bias or repetition in 500 draws from a million
    assert {c[0] for c in codes} == set("0123456789")  # leading zeros are kept, not dropped


def test_status_tokens_carry_256_random_bits():
    tokens = {verification.new_status_token() for _ in range(100)}
    assert len(tokens) == 100
    assert all(len(t) >= 43 for t in tokens)


def test_digests_are_keyed_and_bound_to_the_request():
    assert code_digest(KEYS, "req-1", "123456") == code_digest(KEYS, "req-1", "123456")
    assert code_digest(KEYS, "req-1", "123456") != code_digest(KEYS, "req-2", "123456")
    assert code_digest(KEYS, "req-1", "123456") != code_digest(Keys(b"other"), "req-1", "123456")
    assert "123456" not in code_digest(KEYS, "req-1", "123456")
    assert verification.token_digest(KEYS, "req-1", "123456") != code_digest(KEYS, "req-1", "123456")


def test_the_right_code_verifies_and_a_wrong_one_does_not():
    assert check_code(issued(), code_digest(KEYS, "req-1", "123456"), NOW) is CodeCheck.VERIFIED
    assert check_code(issued(), code_digest(KEYS, "req-1", "654321"), NOW) is CodeCheck.WRONG


def test_a_code_stops_working_when_it_expires():
    right = code_digest(KEYS, "req-1", "123456")
    assert check_code(issued(expires_in=timedelta(seconds=1)), right, NOW) is CodeCheck.VERIFIED
    assert check_code(issued(expires_in=timedelta(0)), right, NOW) is CodeCheck.EXPIRED
    assert check_code(issued(expires_in=-timedelta(hours=1)), right, NOW) is CodeCheck.EXPIRED


def test_after_five_wrong_codes_even_the_right_one_is_refused():
    right = code_digest(KEYS, "req-1", "123456")
    assert check_code(issued(attempts=MAX_ATTEMPTS - 1), right, NOW) is CodeCheck.VERIFIED
    assert check_code(issued(attempts=MAX_ATTEMPTS), right, NOW) is CodeCheck.EXHAUSTED
    assert MAX_ATTEMPTS == 5


def test_a_used_code_is_gone_so_it_cannot_verify_again():
    # Verifying removes the stored digest (consume_code); what remains is "no code issued".
    assert IssuedCode.from_item({"status": "verified"}) is None
    assert check_code(None, code_digest(KEYS, "req-1", "123456"), NOW) is CodeCheck.NOT_ISSUED


def test_comparisons_take_constant_time_even_without_a_stored_digest(monkeypatch):
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(verification.hmac, "compare_digest", spy)
    candidate = code_digest(KEYS, "req-1", "123456")
    assert verification.digests_match(candidate, candidate)
    assert not verification.digests_match(None, candidate)
    assert not verification.digests_match("", candidate)
    check_code(None, candidate, NOW)
    # Every path, including "nothing stored", goes through compare_digest with same-length inputs.
    assert len(compared) == 4
    assert all(len(a) == len(b) for a, b in compared)


@pytest.mark.parametrize("stored", [None, ""])
def test_a_missing_digest_never_matches_the_placeholder(stored):
    assert not verification.digests_match(stored, "0" * 64)


def test_issued_code_reads_the_record():
    item = {"code_digest": "ab" * 32, "code_expires_at": "2026-05-02T12:00:00Z", "code_attempts": 3}
    assert IssuedCode.from_item(item) == IssuedCode("ab" * 32, datetime(2026, 5, 2, 12, tzinfo=UTC), 3)
