"""The one-time hand-over of an initial password: sealed at rest, shown once, then erased."""

from __future__ import annotations

import base64
import os
import secrets
import string

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_ALPHABET = string.ascii_letters + string.digits
_NONCE_BYTES = 12


def generate_password(length: int = 14) -> str:
    """A random initial password with at least one lower, upper and digit."""
    while True:
        candidate = "".join(secrets.choice(_ALPHABET) for _ in range(length))
        if (
            any(c.islower() for c in candidate)
            and any(c.isupper() for c in candidate)
            and any(c.isdigit() for c in candidate)
        ):
            return candidate


class CredentialVault:
    """Seals a password for one case with the active payload key; opens it with any known key."""

    def __init__(self, keys: dict[str, bytes]) -> None:
        self._keys = keys
        self._active_id = next(iter(keys))

    def seal(self, owner_ref: str, password: str) -> str:
        nonce = os.urandom(_NONCE_BYTES)
        sealed = AESGCM(self._keys[self._active_id]).encrypt(
            nonce, password.encode(), f"reveal:{owner_ref}".encode()
        )
        return f"{self._active_id}:{base64.b64encode(nonce + sealed).decode()}"

    def open(self, owner_ref: str, token: str) -> str:
        key_id, _, b64 = token.partition(":")
        raw = base64.b64decode(b64)
        return (
            AESGCM(self._keys[key_id])
            .decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], f"reveal:{owner_ref}".encode())
            .decode()
        )
