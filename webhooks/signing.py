"""Standard Webhooks signatures (https://www.standardwebhooks.com), with the `standardwebhooks`
package, so what we send verifies with any of the specification's libraries.

Each attempt is signed anew (a receiver refuses timestamps older than five minutes); the
`webhook-id` stays the delivery's global id on every attempt. While a rotated-out secret is
still valid, both secrets sign: two `v1,` signatures, space-separated, as the specification
allows, so a receiver holding either secret accepts the delivery.
"""

from __future__ import annotations

import base64
import functools
import secrets
from collections.abc import Sequence
from datetime import datetime

from standardwebhooks import Webhook

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32  # the specification asks for 24 to 64


def new_secret() -> str:
    """A fresh "whsec_<base64>" signing secret."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


@functools.lru_cache(maxsize=1024)
def _signer(secret: str) -> Webhook:
    # Decoding the secret is most of the cost of a signature; an endpoint signs many.
    return Webhook(secret)


def signature_headers(
    message_id: str, at: datetime, body: str, signing_secrets: Sequence[str]
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt, signed with every secret given."""
    signatures = [_signer(secret).sign(message_id, at, body) for secret in signing_secrets]
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": " ".join(signatures),
    }
