"""Response comparisons: PartnerDesk vs the reference (exact), vs PostGraphile (same rows)."""

from __future__ import annotations

import base64
import re
from datetime import datetime
from decimal import Decimal
from typing import Any


def first_difference(left: Any, right: Any, path: str = "$") -> str | None:
    """Where two parsed JSON documents differ, key order included; None when identical."""
    if type(left) is not type(right):
        return f"{path}: {_show(left)} != {_show(right)}"
    if isinstance(left, dict):
        if list(left) != list(right):
            return f"{path}: keys {list(left)} != {list(right)}"
        for key in left:
            found = first_difference(left[key], right[key], f"{path}.{key}")
            if found:
                return found
        return None
    if isinstance(left, list):
        if len(left) != len(right):
            return f"{path}: {len(left)} items != {len(right)} items"
        for index, (a, b) in enumerate(zip(left, right, strict=True)):
            found = first_difference(a, b, f"{path}[{index}]")
            if found:
                return found
        return None
    return None if left == right else f"{path}: {_show(left)} != {_show(right)}"


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) < 200 else text[:200] + "..."


def decode_global_id(value: str) -> tuple[str, int]:
    type_name, _, pk = base64.b64decode(value).decode().partition(":")
    return type_name, int(pk)


_FRACTION = re.compile(r"\.(\d{1,6})(?=[-+Z]|$)")


def instant(value: str | None) -> datetime | None:
    if value is None:
        return None
    padded = _FRACTION.sub(lambda match: "." + match.group(1).ljust(6, "0"), value)
    return datetime.fromisoformat(padded.replace("Z", "+00:00"))


def _money(amount: Any, currency: Any) -> tuple[Decimal, str] | None:
    if amount is None or not currency:
        return None
    return Decimal(amount), str(currency).upper()


# ---------------------------------------------------------------- PartnerDesk -> neutral


def _pd_customer(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "id":
            out["rowId"] = decode_global_id(value)[1]
        elif key == "createdAt":
            out[key] = instant(value)
        elif key == "domains":
            out[key] = [
                (decode_global_id(d["id"])[1], d["name"], d["status"], d["expiresOn"])
                for d in value
            ]
        elif key == "contracts":
            out[key] = [
                (
                    decode_global_id(k["id"])[1],
                    k["contractNumber"],
                    k["status"],
                    _money(k["monthlyFee"]["amount"], k["monthlyFee"]["currency"])
                    if k["monthlyFee"]
                    else None,
                )
                for k in value
            ]
        elif key == "tasks":
            out[key] = [
                (decode_global_id(t["id"])[1], t["title"], t["priority"], t["dueOn"]) for t in value
            ]
        else:
            out[key] = value
    return out


def _peer_customer(node: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "createdAt":
            out[key] = instant(value)
        elif key == "domainsByCustomerId":
            out["domains"] = [
                (d["rowId"], d["name"], d["status"], d["expiresOn"]) for d in value["nodes"]
            ]
        elif key == "contractsByCustomerId":
            out["contracts"] = [
                (
                    k["rowId"],
                    k["contractNumber"],
                    k["status"],
                    _money(k["feeAmount"], k["feeCurrency"]),
                )
                for k in value["nodes"]
            ]
        elif key == "tasksByCustomerId":
            out["tasks"] = [
                (t["rowId"], t["title"], t["priority"], t["dueOn"]) for t in value["nodes"]
            ]
        else:
            out[key] = value
    return out


def neutral_partnerdesk(workload: str, body: dict[str, Any]) -> Any:
    data = body["data"]
    if workload == "Q1":
        return _pd_customer(data["customer"]) if data["customer"] else None
    connection = data["customers"]
    return {
        "customers": [_pd_customer(edge["node"]) for edge in connection["edges"]],
        "hasNextPage": connection["pageInfo"]["hasNextPage"],
    }


def neutral_peer(workload: str, body: dict[str, Any]) -> Any:
    data = body["data"]
    if workload == "Q1":
        return _peer_customer(data["customerByRowId"]) if data["customerByRowId"] else None
    connection = data["allCustomers"]
    return {
        "customers": [_peer_customer(edge["node"]) for edge in connection["edges"]],
        "hasNextPage": connection["pageInfo"]["hasNextPage"],
    }


def mutation_shape(body: Any) -> Any:
    """A mutation response with generated values (ids, customer numbers) reduced to their kind."""
    if isinstance(body, dict):
        shaped = {}
        for key, value in body.items():
            if key == "id" and isinstance(value, str):
                shaped[key] = f"<{decode_global_id(value)[0]} id>"
            elif key == "customerNumber" and isinstance(value, str):
                shaped[key] = "<customer number>" if re.fullmatch(r"C-\d{5,}", value) else value
            else:
                shaped[key] = mutation_shape(value)
        return shaped
    if isinstance(body, list):
        return [mutation_shape(item) for item in body]
    return body
