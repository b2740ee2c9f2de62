"""Global ids ("Customer:42", base64): how any layer names a row to the outside world.

The GraphQL layer (schema/ids.py) and the webhook payloads (webhooks/payloads.py) write
the same ids, so a receiver can look up what a webhook names with `node(id)`.
"""

from __future__ import annotations

import base64


def global_id(type_name: str, pk: int) -> str:
    """The opaque global id of row `pk` of GraphQL type `type_name`."""
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()
