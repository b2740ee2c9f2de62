"""Notification e-mails for the team (issue 12, item 4): who gets them, in which language,
the digest that folds bursts, and the expiry reminders of the housekeeping sweep."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from config import Settings
from models.invitation import AccessInvitation
from models.notification import DigestEntry
from models.outbox import EmailDelivery
from models.partner import MemberRole, PartnerMember
from resolvers.notifications import DIGEST_THRESHOLD, send_due_digests
from resolvers.reminders import send_expiry_reminders
from tests.factories import add_member
from tests.mail_sink import MailSink, sink, sink_settings  # noqa: F401
from tests.support import (
    GraphQLClient,
    PartnerLogin,
    register_account,
    register_partner,
    rendered_at,
    unique,
)

SUBMIT = "mutation($input: SubmitInquiryInput!) { submitInquiry(input: $input) { accepted } }"
SEND = "mutation($slug: String!) { sendAccessInvitation(input: {partnerSlug: $slug, scope: FULL}) { invitation { id } errors { code } } }"
PREFERENCES = "mutation($input: NotificationPreferencesInput!) { updateNotificationPreferences(input: $input) { member { id } errors { code field } } }"
VIEWER = (
    "{ viewer { notificationPreferences { newInquiry newInvitation expiryReminder language } } }"
)


@pytest.fixture(scope="module")
def settings(base_settings: Settings, sink: MailSink) -> Settings:  # noqa: F811
    return sink_settings(base_settings, sink)


async def inquiry(client: GraphQLClient, partner: PartnerLogin, name: str = "Giulia Verdi") -> None:
    await client.gql(
        SUBMIT,
        {
            "input": {
                "partnerSlug": partner.slug,
                "name": name,
                "email": f"{unique('visitor')}@example.org",
                "message": "We need a new website.",
                "privacyConsent": True,
                "renderedAt": rendered_at(),
            }
        },
    )


async def emails_to(address: str, template: str) -> list[EmailDelivery]:
    return await EmailDelivery.filter(to_address=address, template=template).order_by("id")


async def test_an_inquiry_emails_who_asked_for_it_in_their_language(
    client: GraphQLClient,
    sink: MailSink,  # noqa: F811
) -> None:
    # given an owner (default on), a MEMBER (default off) and a MEMBER who opted in, in German
    owner = await register_partner(client, public=True)
    _quiet_id, _quiet = await add_member(client, owner, MemberRole.MEMBER)
    _keen_id, keen = await add_member(client, owner, MemberRole.MEMBER)
    await client.mutate(PREFERENCES, {"input": {"newInquiry": True, "language": "de"}}, keen)
    keen_email = (await PartnerMember.filter(role=MemberRole.MEMBER).order_by("-id").first()).email  # type: ignore[union-attr]
    # when a visitor sends an inquiry
    await inquiry(client, owner, "Luca Neri")
    # then the owner and the keen member are e-mailed, each in their language
    (to_owner,) = await sink.wait_for(owner.email, "New inquiry for")
    (to_keen,) = await sink.wait_for(keen_email, "Neue Anfrage für")
    assert "Luca Neri" in str(to_owner["Subject"]) and "Luca Neri" in str(to_keen["Subject"])
    assert await EmailDelivery.filter(template="new_inquiry").count() == 2
    # and the preferences read back
    preferences = (await client.gql(VIEWER, token=keen))["viewer"]["notificationPreferences"]
    assert preferences == {
        "newInquiry": True,
        "newInvitation": False,
        "expiryReminder": False,
        "language": "de",
    }


async def test_an_authorization_emails_the_team_but_not_whoever_sent_it(
    client: GraphQLClient,
) -> None:
    # given a partner whose owner also holds an account with the same address
    owner = await register_partner(client, public=True)
    _admin_id, _admin = await add_member(client, owner, MemberRole.ADMIN)
    account = await register_account(client, email=owner.email)
    # when that account sends an authorization
    await client.mutate(SEND, {"slug": owner.slug}, account.token)
    # then the ADMIN is e-mailed, the person who caused it is not
    notified = await EmailDelivery.filter(template="new_invitation").values_list(
        "to_address", flat=True
    )
    assert len(notified) == 1 and owner.email not in notified


async def test_a_burst_is_folded_into_one_digest(client: GraphQLClient, settings: Settings) -> None:
    # given an owner who receives more than five inquiries within ten minutes
    owner = await register_partner(client, public=True)
    for number in range(DIGEST_THRESHOLD + 3):
        await inquiry(client, owner, f"Visitor {number}")
    # then five are e-mailed one by one, the rest wait for the digest
    assert len(await emails_to(owner.email, "new_inquiry")) == DIGEST_THRESHOLD
    assert await DigestEntry.filter(sent_at=None).count() == 3
    assert await send_due_digests(settings) == 0  # the window is still open
    # when the window has closed and two sweeps run at once
    await DigestEntry.all().update(due_at=datetime.now(UTC) - timedelta(seconds=1))
    queued = await asyncio.gather(send_due_digests(settings), send_due_digests(settings))
    # then one digest lists the three
    assert sorted(queued) == [0, 1]
    (digest,) = await emails_to(owner.email, "notification_digest")
    assert "3 more notifications" in digest.subject
    assert digest.text_body.count("New inquiry for") == 3
    # and a new window starts after it: the next inquiry is e-mailed on its own again
    from models.notification import NotificationWindow

    await NotificationWindow.all().update(opened_at=datetime.now(UTC) - timedelta(minutes=11))
    await inquiry(client, owner, "Visitor late")
    assert len(await emails_to(owner.email, "new_inquiry")) == DIGEST_THRESHOLD + 1


async def test_two_concurrent_sweeps_send_one_reminder_per_authorization(
    client: GraphQLClient, settings: Settings
) -> None:
    # given two pending authorizations, one expiring in two days, one in ten
    owner = await register_partner(client, public=True)
    _admin_id, _admin = await add_member(client, owner, MemberRole.ADMIN)
    _member_id, _member = await add_member(client, owner, MemberRole.MEMBER)
    for days in (2, 10):
        account = await register_account(client)
        await client.mutate(SEND, {"slug": owner.slug}, account.token)
        latest = await AccessInvitation.all().order_by("-id").first()
        assert latest is not None
        await AccessInvitation.filter(id=latest.id).update(
            expires_at=datetime.now(UTC) + timedelta(days=days)
        )
    # when two workers sweep at once, and again later
    first = await asyncio.gather(send_expiry_reminders(settings), send_expiry_reminders(settings))
    later = await send_expiry_reminders(settings)
    # then the soon-expiring one is reminded of once, to the owner and the admin only
    assert sorted(first) == [0, 1] and later == 0
    reminders = await EmailDelivery.filter(template="expiry_reminder").values_list(
        "to_address", flat=True
    )
    assert sorted(reminders) == sorted(
        await PartnerMember.filter(role__in=[MemberRole.OWNER, MemberRole.ADMIN]).values_list(
            "email", flat=True
        )
    )


async def test_preferences_are_validated(client: GraphQLClient) -> None:
    owner = await register_partner(client)
    for language in ("not a language", "", "   "):
        bad = await client.gql(PREFERENCES, {"input": {"language": language}}, owner.token)
        assert bad["updateNotificationPreferences"]["errors"][0]["field"] == ["language"]
    await client.mutate(PREFERENCES, {"input": {"newInquiry": False}}, owner.token)
    preferences = (await client.gql(VIEWER, token=owner.token))["viewer"]["notificationPreferences"]
    assert preferences["newInquiry"] is False and preferences["newInvitation"] is True
