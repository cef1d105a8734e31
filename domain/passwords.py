"""Login passwords as argon2id hashes: one module for the API's login and the seed script."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerifyMismatchError

_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerifyMismatchError, InvalidHashError):
        return False


@cache
def _dummy_hash() -> str:
    return _hasher.hash("no such user")


def verify_no_user(password: str) -> None:
    """Spend the time a verification takes, so a login's timing does not reveal usernames."""
    verify_password(_dummy_hash(), password)
