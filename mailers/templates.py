"""E-mail templates: subject, text and HTML body per language, English when one is missing.

Each wording is a list of paragraphs; the text and the HTML part are both built from
it, so the two never say different things. Values are substituted with
`string.Template` (no attribute access, no format specs); in the HTML part every value
is escaped first. Anything that ends up in a header (the subject, the recipient's
name) goes through `header_text`, so user data can never add a header line.
"""

from __future__ import annotations

import html
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from string import Template

DEFAULT_LANGUAGE = "en"
# Where a wording puts the optional personal message (its own paragraph).
MESSAGE_SLOT = "$message_block"
# Where a wording puts its link ($link): a line of its own in text, an anchor in HTML.
LINK_SLOT = "$link_block"
LINK_MAX_LENGTH = 2000
SUBJECT_MAX_LENGTH = 300  # EmailDelivery.subject
NAME_MAX_LENGTH = 120
# Bidirectional overrides and isolates: harmless to SMTP, but they can disguise a subject.
BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


@dataclass(frozen=True)
class Wording:
    """One template in one language; placeholders: $recipient, $partner, any other value
    passed to `render` ($count, $summary, ...), and the slots for $message and $link."""

    subject: str
    paragraphs: tuple[str, ...]
    sign_off: tuple[str, ...]
    message_intro: str = ""


@dataclass(frozen=True)
class RenderedEmail:
    template: str
    language: str
    subject: str
    text_body: str
    html_body: str


def _breaks_a_header(character: str) -> bool:
    if character in BIDI_CONTROLS:
        return True
    # str.splitlines() is what email.message uses to detect header injection; it also
    # splits on \x0b, \x0c, \x1c-\x1e, \x85, U+2028 and U+2029.
    if len(f"a{character}b".splitlines()) > 1:
        return True
    return unicodedata.category(character) in {"Cc", "Cs", "Zl", "Zp"}


def header_text(value: str | None, max_length: int = NAME_MAX_LENGTH) -> str:
    """`value` made safe for a header: one line, no control characters, capped."""
    cleaned = "".join(
        " " if _breaks_a_header(character) else character for character in value or ""
    )
    return " ".join(cleaned.split())[:max_length].strip()


def resolve_language(template: str, language: str | None) -> str:
    """The language `template` is sent in: the primary subtag if we have it, else English."""
    primary = (language or "").strip().lower().replace("_", "-").split("-")[0]
    return primary if primary in TEMPLATES[template] else DEFAULT_LANGUAGE


HTML_PAGE = Template(
    """<!DOCTYPE html>
<html lang="$language">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
</head>
<body style="margin:0;padding:24px;background:#f5f7fa;">
<div style="max-width:560px;margin:0 auto;padding:24px;background:#ffffff;border-radius:8px;font-family:Helvetica,Arial,sans-serif;font-size:15px;line-height:1.5;color:#1f2933;">
$content
</div>
</body>
</html>
"""
)
MESSAGE_HTML = (
    '<blockquote style="margin:16px 0;padding:12px 16px;border-left:4px solid #cbd2d9;'
    'background:#f5f7fa;white-space:normal;">{message}</blockquote>'
)


def render(template: str, language: str | None, values: Mapping[str, str | None]) -> RenderedEmail:
    """Subject, text and HTML body of `template` in `language` (English as the fallback).

    `values` holds `recipient` and `partner` (display names) and, where the template has
    a slot for it, the optional personal `message` (validated plain text).
    """
    language = resolve_language(template, language)
    wording = TEMPLATES[template][language]
    names = {
        name: header_text(value)
        for name, value in values.items()
        if name not in ("message", "link") and isinstance(value, str)
    }
    names.setdefault("recipient", "")
    names.setdefault("partner", "")
    escaped = {name: html.escape(value, quote=True) for name, value in names.items()}
    message = (values.get("message") or "").replace("\r\n", "\n").strip()
    link = header_text(values.get("link"), LINK_MAX_LENGTH)

    text_parts: list[str] = []
    html_parts: list[str] = []
    for paragraph in wording.paragraphs:
        if paragraph == LINK_SLOT:
            text_parts.append(link)
            safe = html.escape(link, quote=True)
            html_parts.append(f'<p><a href="{safe}" style="color:#2457d6;">{safe}</a></p>')
            continue
        if paragraph == MESSAGE_SLOT:
            if message:
                if wording.message_intro:
                    intro = Template(wording.message_intro)
                    text_parts.append(intro.substitute(names))
                    html_parts.append(f"<p>{intro.substitute(escaped)}</p>")
                text_parts.append(message)
                html_parts.append(
                    MESSAGE_HTML.format(
                        message=html.escape(message, quote=True).replace("\n", "<br>\n")
                    )
                )
            continue
        text_parts.append(Template(paragraph).substitute(names))
        html_parts.append(f"<p>{Template(paragraph).substitute(escaped)}</p>")
    text_parts.append("\n".join(Template(line).substitute(names) for line in wording.sign_off))
    html_parts.append(
        "<p>"
        + "<br>\n".join(Template(line).substitute(escaped) for line in wording.sign_off)
        + "</p>"
    )

    subject = header_text(Template(wording.subject).substitute(names), SUBJECT_MAX_LENGTH)
    return RenderedEmail(
        template=template,
        language=language,
        subject=subject,
        text_body="\n\n".join(text_parts) + "\n",
        html_body=HTML_PAGE.substitute(
            language=language,
            title=html.escape(subject, quote=True),
            content="\n".join(html_parts),
        ),
    )


INVITATION_DECLINED = "invitation_declined"
INVITATION_CONNECTED = "invitation_connected"
# To a partner's owners when the webhook worker disables an endpoint; the message slot holds
# the endpoint's URL and the reason (webhooks/endpoints.py).
WEBHOOK_DISABLED = "webhook_disabled"

TEMPLATES: dict[str, dict[str, Wording]] = {
    INVITATION_DECLINED: {
        "en": Wording(
            subject="$partner has declined your access authorization",
            paragraphs=(
                "Hello $recipient,",
                "$partner has declined the access authorization you sent through PartnerDesk. "
                "Your account and your data stay as they are; $partner has not been given access to them.",
                MESSAGE_SLOT,
                "You can send a new authorization from your account at any time.",
            ),
            message_intro="A personal message from $partner:",
            sign_off=("Kind regards", "PartnerDesk"),
        ),
        "de": Wording(
            subject="$partner hat Ihre Zugriffsberechtigung abgelehnt",
            paragraphs=(
                "Guten Tag $recipient,",
                "$partner hat die Zugriffsberechtigung, die Sie über PartnerDesk gesendet haben, "
                "abgelehnt. Ihr Konto und Ihre Daten bleiben unverändert; $partner hat keinen "
                "Zugriff darauf erhalten.",
                MESSAGE_SLOT,
                "Sie können jederzeit aus Ihrem Konto eine neue Berechtigung senden.",
            ),
            message_intro="Eine persönliche Nachricht von $partner:",
            sign_off=("Freundliche Grüße", "PartnerDesk"),
        ),
        "it": Wording(
            subject="$partner ha rifiutato la tua autorizzazione di accesso",
            paragraphs=(
                "Buongiorno $recipient,",
                "$partner ha rifiutato l'autorizzazione di accesso che hai inviato tramite "
                "PartnerDesk. Il tuo account e i tuoi dati restano invariati; $partner non ha "
                "ricevuto alcun accesso.",
                MESSAGE_SLOT,
                "Puoi inviare una nuova autorizzazione dal tuo account in qualsiasi momento.",
            ),
            message_intro="Un messaggio personale da $partner:",
            sign_off=("Cordiali saluti", "PartnerDesk"),
        ),
    },
    INVITATION_CONNECTED: {
        "en": Wording(
            subject="$partner has accepted your access authorization",
            paragraphs=(
                "Hello $recipient,",
                "$partner has accepted the access authorization you sent through PartnerDesk "
                "and now looks after you as a customer.",
                "You can see the authorization in your account and revoke it there at any time.",
            ),
            sign_off=("Kind regards", "PartnerDesk"),
        ),
        "de": Wording(
            subject="$partner hat Ihre Zugriffsberechtigung angenommen",
            paragraphs=(
                "Guten Tag $recipient,",
                "$partner hat die Zugriffsberechtigung, die Sie über PartnerDesk gesendet haben, "
                "angenommen und betreut Sie nun als Kundin oder Kunde.",
                "Sie sehen die Berechtigung in Ihrem Konto und können sie dort jederzeit widerrufen.",
            ),
            sign_off=("Freundliche Grüße", "PartnerDesk"),
        ),
        "it": Wording(
            subject="$partner ha accettato la tua autorizzazione di accesso",
            paragraphs=(
                "Buongiorno $recipient,",
                "$partner ha accettato l'autorizzazione di accesso che hai inviato tramite "
                "PartnerDesk e ora ti segue come cliente.",
                "Puoi vedere l'autorizzazione nel tuo account e revocarla lì in qualsiasi momento.",
            ),
            sign_off=("Cordiali saluti", "PartnerDesk"),
        ),
    },
    WEBHOOK_DISABLED: {
        "en": Wording(
            subject="$partner: a webhook endpoint was disabled",
            paragraphs=(
                "Hello $recipient,",
                "PartnerDesk has stopped sending events to one of the webhook endpoints of "
                "$partner, because its deliveries kept failing or the receiving system asked "
                "not to be sent any more.",
                MESSAGE_SLOT,
                "Once the receiving system works again, enable the endpoint on the integrations "
                'page; failed deliveries can be sent again there with "Redeliver".',
            ),
            message_intro="The endpoint, and why it was disabled:",
            sign_off=("Kind regards", "PartnerDesk"),
        ),
        "de": Wording(
            subject="$partner: ein Webhook-Endpunkt wurde deaktiviert",
            paragraphs=(
                "Guten Tag $recipient,",
                "PartnerDesk sendet keine Ereignisse mehr an einen der Webhook-Endpunkte von "
                "$partner, weil die Zustellungen dorthin immer wieder fehlschlugen oder das "
                "empfangende System keine mehr erhalten möchte.",
                MESSAGE_SLOT,
                "Sobald das empfangende System wieder funktioniert, aktivieren Sie den Endpunkt "
                "auf der Seite „Integrationen“; fehlgeschlagene Zustellungen lassen sich dort "
                "mit „Erneut senden“ wiederholen.",
            ),
            message_intro="Der Endpunkt und der Grund der Deaktivierung:",
            sign_off=("Freundliche Grüße", "PartnerDesk"),
        ),
        "it": Wording(
            subject="$partner: un endpoint webhook è stato disattivato",
            paragraphs=(
                "Buongiorno $recipient,",
                "PartnerDesk non invia più eventi a uno degli endpoint webhook di $partner, "
                "perché le consegne continuavano a fallire o il sistema ricevente ha chiesto "
                "di non riceverne più.",
                MESSAGE_SLOT,
                "Quando il sistema ricevente funziona di nuovo, riattiva l'endpoint nella pagina "
                "delle integrazioni; lì puoi inviare di nuovo le consegne fallite con «Reinvia».",
            ),
            message_intro="L'endpoint e il motivo della disattivazione:",
            sign_off=("Cordiali saluti", "PartnerDesk"),
        ),
    },
}
