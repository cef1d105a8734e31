"""The signed link sent to a requester (by SMS): it opens their one case on the tracking page
without asking for their identity, so they can act on the tasks the case asks of them.

The token is an HMAC-SHA256 of the tracking code under the installation's secret (SECRET_KEY,
with a purpose label of its own so it never equals another signature made with that key),
urlsafe base64, cut to `TOKEN_LENGTH` characters (132 bits). Rotating the secret voids the
links already sent; the requester can still follow the case with the code and their identity.
Pure: activities build SMS texts with it, the API checks it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from urllib.parse import quote

TOKEN_LENGTH = 22
"""Characters kept of the signature: short enough for an SMS, 132 bits of it."""
_PURPOSE = b"requester-link:"


def requester_link_token(secret: str, tracking_code: str) -> str:
    """The token that opens the case `tracking_code` (the `k` of the link)."""
    if not secret:
        raise ValueError("a requester link needs a secret")
    digest = hmac.new(secret.encode(), _PURPOSE + tracking_code.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode()[:TOKEN_LENGTH]


def is_requester_link_token(secret: str, tracking_code: str, token: str) -> bool:
    """True if `token` opens `tracking_code`; compared in constant time."""
    if not secret or not token:
        return False
    expected = requester_link_token(secret, tracking_code)
    return hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace"))


def requester_link(public_base_url: str, secret: str, tracking_code: str) -> str:
    """The tracking page of the case, opened by its token: what an SMS to the requester holds."""
    token = requester_link_token(secret, tracking_code)
    return f"{public_base_url.rstrip('/')}/track/{quote(tracking_code)}?k={token}"
