"""What erasure does to text, and to the copies of a person's data made for others.

resolvers/erasure.py decides whose data goes; this module rewrites free text that names
them ("Call Zelda back" becomes "Call erased customer back") and scrubs the copies other
parts of PartnerDesk made of it:

- e-mails to the partner's own team that name the person (a new-inquiry notification, a
  digest): their subject and bodies are rewritten, and they stay with the team;
- digest entries still waiting to go out to the team;
- webhook deliveries whose body shows the person: their objects in it (customer, inquiries,
  authorizations) are shown as erasure left the rows, any other text loses their names, and
  one that has not reached its endpoint yet is not sent any more (FAILED);
- the development mailbox's copy of any e-mail erasure touched (it holds the whole message,
  encoded, where no search finds the name).
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable, Sequence
from typing import Any

import orjson
from tortoise.expressions import Q

from models.customer import Customer
from models.dev_mail import DevMailMessage
from models.global_ids import global_id
from models.inquiry import Inquiry
from models.invitation import AccessInvitation
from models.notification import DigestEntry
from models.outbox import EmailDelivery
from models.partner import PartnerMember
from models.webhook import WebhookDelivery, WebhookDeliveryStatus
from resolvers.actor import Actor
from resolvers.read_rules import scoped
from webhooks.payloads import Data, customer_data, inquiry_data, invitation_data

ERASED = "erased customer"
# Identifiers shorter than this are not searched for in free text: "Li" is in too many words.
MIN_IDENTIFIER_LENGTH = 3
NOT_SENT = "Not sent: the customer's data was erased."


def identifiers(values: Iterable[str | None]) -> list[str]:
    """Distinct identifiers, longest first (so "Anna Bianchi" goes before "Anna")."""
    found = {
        " ".join(value.split())
        for value in values
        if value and len(value.strip()) >= MIN_IDENTIFIER_LENGTH
    }
    return sorted(found, key=lambda value: (-len(value), value))


def rewriter(names: Sequence[str]) -> re.Pattern[str] | None:
    """A pattern matching any of `names`, as typed or HTML-escaped, any case."""
    if not names:
        return None
    variants = identifiers([*names, *(html.escape(name) for name in names)])
    return re.compile("|".join(re.escape(value) for value in variants), re.IGNORECASE)


def rewritten(pattern: re.Pattern[str] | None, text: str | None) -> str | None:
    return text if pattern is None or text is None else pattern.sub(ERASED, text)


def _naming(columns: Sequence[str], names: Sequence[str]) -> Q:
    """Rows where any of `columns` holds any of `names` (any case)."""
    return Q(
        *[Q(**{f"{column}__icontains": name}) for column in columns for name in names],
        join_type=Q.OR,
    )


async def scrub_team_emails(actor: Actor, names: Sequence[str], cleared: Sequence[int]) -> int:
    """Rewrite the partner's other e-mails (to its team) that name the person; how many.
    `cleared`: the e-mails to the person, which erasure has emptied already."""
    if not names:
        return 0
    pattern = rewriter(names)
    found = await (
        scoped(EmailDelivery, actor)
        .filter(_naming(("subject", "text_body", "html_body", "last_error_detail"), names))
        .exclude(id__in=list(cleared))
    )
    for email in found:
        await EmailDelivery.filter(id=email.id).update(
            subject=rewritten(pattern, email.subject),
            text_body=rewritten(pattern, email.text_body),
            html_body=rewritten(pattern, email.html_body),
            last_error_detail=rewritten(pattern, email.last_error_detail),
        )
    await DevMailMessage.filter(delivery_id__in=[*cleared, *(email.id for email in found)]).delete()
    return len(found)


async def scrub_digest_entries(actor: Actor, names: Sequence[str]) -> None:
    """Digest entries of the partner's team that name the person lose the name."""
    if not names:
        return
    pattern = rewriter(names)
    team = scoped(PartnerMember, actor).values_list("id", flat=True)
    entries = await DigestEntry.filter(_naming(("summary",), names), member_id__in=await team)
    for entry in entries:
        summary = rewritten(pattern, entry.summary) or ERASED
        await DigestEntry.filter(id=entry.id).update(summary=summary)


async def scrub_webhook_deliveries(
    actor: Actor, subjects: Sequence[tuple[str, int]], names: Sequence[str]
) -> int:
    """Rewrite the webhook bodies that show the person; how many. Call it once the rows are
    erased: each object of theirs in a body (the customer, their inquiries and authorizations)
    is shown as its row is now, and any other text loses their names. One that has not
    reached its endpoint yet is not sent any more."""
    current = await _bodies_now(subjects)
    if not current and not names:
        return 0
    pattern = rewriter(names)
    found = await scoped(WebhookDelivery, actor).filter(_naming(("payload",), [*current, *names]))
    waiting = (WebhookDeliveryStatus.QUEUED, WebhookDeliveryStatus.RETRYING)
    for delivery in found:
        payload = _rewrite_json(orjson.loads(delivery.payload), current, pattern)
        await WebhookDelivery.filter(id=delivery.id).update(
            payload=orjson.dumps(payload).decode(),
            last_error_detail=rewritten(pattern, delivery.last_error_detail),
        )
        # One a worker holds (SENDING) is on its way: it cannot be called back.
        await WebhookDelivery.filter(id=delivery.id, status__in=waiting).update(
            status=WebhookDeliveryStatus.FAILED, last_error=NOT_SENT, next_attempt_at=None
        )
    return len(found)


async def _bodies_now(subjects: Sequence[tuple[str, int]]) -> dict[str, Data]:
    """Global id -> the object's webhook body as its (erased) row is now."""
    now: dict[str, Data] = {}
    for subject_type, pk in subjects:
        if subject_type == "Customer":
            now[global_id(subject_type, pk)] = customer_data(await Customer.get(id=pk))
        elif subject_type == "Inquiry":
            now[global_id(subject_type, pk)] = inquiry_data(await Inquiry.get(id=pk))
        elif subject_type == "AccessInvitation":
            invitation = await AccessInvitation.get(id=pk)
            now[global_id(subject_type, pk)] = await invitation_data(invitation)
    return now


def _rewrite_json(value: Any, current: dict[str, Data], pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, str):
        return rewritten(pattern, value)
    if isinstance(value, list):
        return [_rewrite_json(item, current, pattern) for item in value]
    if not isinstance(value, dict):
        return value
    object_id = value.get("id")
    now = current.get(object_id) if isinstance(object_id, str) else None
    # Same keys as the body had (a summary stays a summary), values as the row is now.
    return {
        key: now[key] if now is not None and key in now else _rewrite_json(item, current, pattern)
        for key, item in value.items()
    }
