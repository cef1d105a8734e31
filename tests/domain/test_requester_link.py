"""The signed link that opens one case for its requester."""

from __future__ import annotations

import hmac
import re

import pytest

from domain import requester_link as link
from domain.requester_link import (
    TOKEN_LENGTH,
    is_requester_link_token,
    requester_link,
    requester_link_token,
)

SECRET = "test-secret-key-of-at-least-32-bytes!"


def test_the_token_is_short_urlsafe_and_stable() -> None:
    token = requester_link_token(SECRET, "1234567890")
    assert len(token) == TOKEN_LENGTH and re.fullmatch(r"[A-Za-z0-9_-]+", token)
    assert token == requester_link_token(SECRET, "1234567890")
    assert is_requester_link_token(SECRET, "1234567890", token)


def test_it_opens_its_own_case_only_and_only_under_its_secret() -> None:
    token = requester_link_token(SECRET, "1234567890")
    assert not is_requester_link_token(SECRET, "1234567891", token)
    assert not is_requester_link_token("another-secret-of-at-least-32-bytes", "1234567890", token)
    assert not is_requester_link_token(SECRET, "1234567890", token[:-1])
    assert not is_requester_link_token(SECRET, "1234567890", token + "A")
    assert not is_requester_link_token(SECRET, "1234567890", "")
    assert not is_requester_link_token(SECRET, "1234567890", "۱۲۳")  # not ASCII: no crash
    assert not is_requester_link_token("", "1234567890", token)


def test_it_differs_from_other_signatures_made_with_the_same_key() -> None:
    """The receipt page signs `receipt:{code}` with the same key, in hex: never equal."""
    receipt = hmac.new(SECRET.encode(), b"receipt:1234567890", "sha256").hexdigest()
    assert requester_link_token(SECRET, "1234567890") not in receipt


def test_no_secret_makes_no_link() -> None:
    with pytest.raises(ValueError):
        requester_link_token("", "1234567890")


def test_the_compare_takes_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    compared: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(link.hmac, "compare_digest", spy)
    token = requester_link_token(SECRET, "1234567890")
    assert is_requester_link_token(SECRET, "1234567890", token)
    assert not is_requester_link_token(SECRET, "1234567890", "x" * TOKEN_LENGTH)
    assert len(compared) == 2


def test_the_link_opens_the_tracking_page() -> None:
    url = requester_link("https://peygir.example.ac.ir/", SECRET, "1234567890")
    token = requester_link_token(SECRET, "1234567890")
    assert url == f"https://peygir.example.ac.ir/track/1234567890?k={token}"
