"""What travels through the broker: small, JSON-safe notices that something changed.

An event names what happened and to which partner, with the ids of the objects
concerned; it never carries the objects. Subscribers re-read fresh data, so an event
that arrives late or twice shows the current state, never a stale copy.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

WIRE_VERSION = 1


class EventKind(StrEnum):
    """The kinds PartnerDesk publishes. `Event.kind` is a plain string, so new kinds need no edit here.

    The domain kinds are named after the activity verb that records the change
    (ActivityVerb.ACCESS_REVOKED -> "access.revoked"): events/activity.py derives one from the
    other, so a change has one name from its activity row to its subscription event.
    """

    INQUIRY_RECEIVED = "inquiry.received"
    INQUIRY_CONVERTED = "inquiry.converted"
    INQUIRY_DISMISSED = "inquiry.dismissed"
    INVITATION_RECEIVED = "invitation.received"
    INVITATION_CONNECTED = "invitation.connected"
    INVITATION_DECLINED = "invitation.declined"
    INVITATION_WITHDRAWN = "invitation.withdrawn"
    INVITATION_EXPIRED = "invitation.expired"
    ACCESS_REVOKED = "access.revoked"
    ITEM_UPDATED = "item.updated"
    ITEM_DELETED = "item.deleted"
    CUSTOMERS_IMPORTED = "customers.imported"
    CUSTOMER_ERASED = "customer.erased"
    ACTIVITY_RECORDED = "activity.recorded"
    # Team changes (resolvers/team.py); subject_id is the member or member invitation.
    MEMBER_INVITED = "member.invited"
    MEMBER_JOINED = "member.joined"
    MEMBER_ROLE_CHANGED = "member.role_changed"
    MEMBER_REMOVED = "member.removed"
    OWNERSHIP_TRANSFERRED = "ownership.transferred"
    # Bearer tokens were revoked (sign-out, a member removed, a password reset): every server
    # instance closes the websockets that were opened with them. Payload: {"token_ids": [...]}
    # or {"member_id": n} for every token of one member.
    SESSIONS_REVOKED = "sessions.revoked"
    # Broker notices (see Event.is_notice): made by the broker for each subscriber, never published.
    BROKER_RECONNECTED = "broker.reconnected"
    EVENTS_DROPPED = "broker.events_dropped"


NOTICE_KINDS = frozenset({EventKind.BROKER_RECONNECTED, EventKind.EVENTS_DROPPED})


class EventDecodeError(ValueError):
    """Bytes from the wire that are not an event of ours."""


@dataclass(frozen=True, slots=True)
class Event:
    """Something changed for one partner.

    kind:        what happened, e.g. "inquiry.received" (see EventKind).
    partner_id:  the partner concerned; only that partner's subscribers receive it.
    subject_id:  database id of the object concerned (inquiry, invitation, activity row...).
    payload:     further plain JSON data (ids, statuses); never model objects.
    id:          unique per event, so that a consumer can resolve an event once and share
                 the result among all subscribers that received the same event.
    """

    kind: str
    partner_id: int
    subject_id: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict, hash=False)
    id: str = field(default_factory=lambda: uuid.uuid4().hex, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.partner_id, int) or isinstance(self.partner_id, bool):
            raise TypeError(
                f"Event.partner_id must be a database id (int), not {self.partner_id!r}"
            )
        if self.subject_id is not None and (
            not isinstance(self.subject_id, int) or isinstance(self.subject_id, bool)
        ):
            raise TypeError(f"Event.subject_id must be an int or None, not {self.subject_id!r}")
        _require_plain_json(self.payload, "payload")

    @property
    def is_notice(self) -> bool:
        """True for the broker's own notices: events may have been missed, re-send current state."""
        return self.kind in NOTICE_KINDS

    def to_json(self) -> bytes:
        return orjson.dumps(
            {
                "v": WIRE_VERSION,
                "id": self.id,
                "kind": self.kind,
                "partner_id": self.partner_id,
                "subject_id": self.subject_id,
                "payload": self.payload,
            }
        )

    @classmethod
    def from_json(cls, data: bytes | str) -> Event:
        try:
            fields = orjson.loads(data)
            if fields.get("v") != WIRE_VERSION:
                raise EventDecodeError(f"unknown event wire version {fields.get('v')!r}")
            return cls(
                kind=str(fields["kind"]),
                partner_id=fields["partner_id"],
                subject_id=fields.get("subject_id"),
                payload=fields.get("payload") or {},
                id=str(fields["id"]),
            )
        except (orjson.JSONDecodeError, AttributeError, KeyError, TypeError) as error:
            raise EventDecodeError(f"not an event: {error}") from error


def broker_notice(kind: EventKind, partner_id: int, **payload: Any) -> Event:
    """A notice from the broker itself to one partner's subscribers."""
    assert kind in NOTICE_KINDS
    return Event(kind=kind, partner_id=partner_id, payload=payload)


def _require_plain_json(value: Any, where: str) -> None:
    # The Redis broker sends JSON; checking here makes the in-process broker refuse the same
    # payloads, so that a model object in an event fails in every test, not only in production.
    if value is None or isinstance(value, str | int | float | bool):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TypeError(f"Event {where} keys must be strings, not {key!r}")
            _require_plain_json(item, f"{where}.{key}")
        return
    if isinstance(value, list):
        for index, item in enumerate(value):
            _require_plain_json(item, f"{where}[{index}]")
        return
    raise TypeError(
        f"Event {where} must be plain JSON data (ids, strings, numbers), not {type(value).__name__}"
    )
