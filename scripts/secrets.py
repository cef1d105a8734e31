"""Create the local secrets file once: `python scripts/secrets.py var/secrets.env`.

PAYLOAD_KEYS encrypts personal data in Temporal payloads and SECRET_KEY signs logins. The file is
never overwritten: a new payload key could not read what the old one encrypted.

This file is named like the standard library's `secrets` module, which it therefore must not use.
"""

from __future__ import annotations

import base64
import os
import sys
from pathlib import Path


def _random_b64(n: int) -> str:
    return base64.b64encode(os.urandom(n)).decode()


def _token(n: int) -> str:
    return base64.urlsafe_b64encode(os.urandom(n)).rstrip(b"=").decode()


def create(path: Path) -> bool:
    """Write a new secrets file with mode 0600; False (and untouched) if it already exists."""
    path.parent.mkdir(parents=True, exist_ok=True)
    body = (
        "# Created by scripts/secrets.py. Keep it: the payload key decrypts stored data.\n"
        f"PAYLOAD_KEYS=k1:{_random_b64(32)}\n"
        f"SECRET_KEY={_token(48)}\n"
    )
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(body)
    os.chmod(path, 0o600)  # in case the umask took bits away; never wider than 0600
    return True


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(f"usage: {argv[0]} PATH", file=sys.stderr)
        return 2
    path = Path(argv[1])
    if create(path):
        print(f"secrets: created {path} (mode 0600)")
    else:
        print(f"secrets: {path} exists, kept as it is")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
