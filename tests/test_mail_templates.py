"""E-mail templates and the outbox: languages, escaping, and no header injection."""

from __future__ import annotations

import random
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest
from starlette.applications import Starlette

from mailers.outbox import queue_email
from mailers.templates import (
    INVITATION_CONNECTED,
    INVITATION_DECLINED,
    TEMPLATES,
    header_text,
    render,
)
from models.outbox import EmailDelivery

VALUES = {"recipient": "Anna Bianchi", "partner": "Studio Aurora"}


def _as_sent(subject: str, to_name: str) -> EmailMessage:
    """The message as a delivery worker would build it, serialised and parsed back."""
    message = EmailMessage(policy=policy.SMTP)
    message["From"] = "PartnerDesk <no-reply@localhost>"
    message["To"] = f'"{to_name}" <anna@example.org>'
    message["Subject"] = subject
    message.set_content("body")
    parsed = message_from_bytes(message.as_bytes(), policy=policy.SMTP)
    assert isinstance(parsed, EmailMessage)
    return parsed


@pytest.mark.parametrize("template", [INVITATION_DECLINED, INVITATION_CONNECTED])
def test_every_template_exists_in_english_german_and_italian(template: str) -> None:
    assert {"en", "de", "it"} <= set(TEMPLATES[template])
    subjects = {render(template, language, VALUES).subject for language in ("en", "de", "it")}
    assert len(subjects) == 3
    assert all("Studio Aurora" in subject for subject in subjects)


@pytest.mark.parametrize(
    ("asked", "sent"),
    [
        ("de", "de"),
        ("de-CH", "de"),
        ("it_IT", "it"),
        ("IT", "it"),
        ("fr", "en"),
        ("", "en"),
        (None, "en"),
    ],
)
def test_language_falls_back_to_english(asked: str | None, sent: str) -> None:
    assert render(INVITATION_DECLINED, asked, VALUES).language == sent


def test_decline_mail_carries_the_personal_message_as_text_and_escaped_html() -> None:
    # given
    message = 'Thanks!\n<script>alert("x")</script> & more'
    # when
    mail = render(INVITATION_DECLINED, "en", {**VALUES, "message": message})
    # then
    assert message in mail.text_body
    assert "A personal message from Studio Aurora:" in mail.text_body
    assert "<script>" not in mail.html_body
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; more" in mail.html_body
    assert "Thanks!<br>" in mail.html_body
    assert mail.html_body.startswith("<!DOCTYPE html>")
    assert '<html lang="en">' in mail.html_body


def test_without_a_personal_message_the_block_is_left_out() -> None:
    for language in ("en", "de", "it"):
        mail = render(INVITATION_DECLINED, language, VALUES)
        wording = TEMPLATES[INVITATION_DECLINED][language]
        intro = wording.message_intro.replace("$partner", "Studio Aurora")
        assert intro not in mail.text_body
        assert "<blockquote" not in mail.html_body
        assert "$" not in mail.text_body + mail.html_body


def test_names_are_escaped_in_html() -> None:
    mail = render(INVITATION_CONNECTED, "de", {"recipient": "<b>Anna</b>", "partner": "A & B"})
    assert "&lt;b&gt;Anna&lt;/b&gt;" in mail.html_body
    assert "A &amp; B" in mail.html_body
    assert "Guten Tag <b>Anna</b>," in mail.text_body


def test_header_breaking_characters_never_reach_the_subject() -> None:
    partner = (
        "Evil\r\nBcc: victim@example.com\u2028X-Injected: 1\x0b\x0c\x1c\x85\u2029\x00\u202eend"
    )
    mail = render(INVITATION_DECLINED, "en", {**VALUES, "partner": partner})
    assert mail.subject.splitlines() == [mail.subject]
    sent = _as_sent(mail.subject, header_text("Anna\nBcc: x@example.com"))
    assert sent["Bcc"] is None
    assert sent["X-Injected"] is None
    assert sent["Subject"] == mail.subject


def test_a_thousand_fuzzed_names_add_no_header() -> None:
    randomness = random.Random(42)
    alphabet = [
        "a",
        "B",
        " ",
        ":",
        "\r",
        "\n",
        "\u2028",
        "\u2029",
        "\x0b",
        "\x85",
        "\x1e",
        "é",
        "@",
    ]
    for _ in range(1000):
        partner = "".join(randomness.choice(alphabet) for _ in range(randomness.randint(0, 40)))
        recipient = "".join(randomness.choice(alphabet) for _ in range(randomness.randint(0, 40)))
        mail = render(INVITATION_DECLINED, "it", {"recipient": recipient, "partner": partner})
        sent = _as_sent(mail.subject, header_text(recipient))
        assert sorted(sent.keys()) == sorted(
            ["From", "To", "Subject", "Content-Type", "Content-Transfer-Encoding", "MIME-Version"]
        )


def test_header_text_caps_and_collapses() -> None:
    assert header_text("  a \n\n b  ") == "a b"
    assert header_text(None) == ""
    assert len(header_text("x" * 500)) == 120
    long_partner = render(INVITATION_DECLINED, "en", {**VALUES, "partner": "P" * 1000})
    assert len(long_partner.subject) <= 300


async def test_queue_email_writes_a_queued_row(app: Starlette) -> None:
    # when
    email = await queue_email(
        template=INVITATION_DECLINED,
        language="de",
        to_address="anna@example.org",
        to_name="Anna\r\nBianchi",
        values={**VALUES, "message": "Leider nein."},
    )
    # then
    stored = await EmailDelivery.get(id=email.id)
    assert (stored.status, stored.attempts, stored.template, stored.language) == (
        "QUEUED",
        0,
        "invitation_declined",
        "de",
    )
    assert stored.to_address == "anna@example.org"
    assert stored.to_name == "Anna Bianchi"
    assert stored.subject == "Studio Aurora hat Ihre Zugriffsberechtigung abgelehnt"
    assert "Leider nein." in stored.text_body
    assert "Leider nein." in stored.html_body
    assert stored.next_attempt_at is not None


async def test_queue_email_refuses_an_unsafe_address(app: Starlette) -> None:
    with pytest.raises(ValueError):
        await queue_email(
            template=INVITATION_DECLINED,
            language="en",
            to_address="anna@example.org\r\nBcc: x@example.com",
            to_name=None,
            values=VALUES,
        )
    assert await EmailDelivery.all().count() == 0
