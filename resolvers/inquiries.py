"""Inquiries from public profiles: submit, list, convert into a customer, dismiss."""

from __future__ import annotations

from models.inquiry import Inquiry, InquiryStatus
from resolvers.actor import Actor


async def new_inquiry_count(actor: Actor) -> int:
    """Inquiries of the signed-in partner still waiting for a decision."""
    return await Inquiry.filter(partner_id=actor.require_partner_id(), status=InquiryStatus.NEW).count()
