"""The identity and team e-mails (issue 12), in English, German and Italian.

Importing this module adds them to mailers.templates.TEMPLATES; the resolvers that queue
them import their names from here. Links go through the LINK_SLOT paragraph, so the HTML
part gets an anchor and the text part the bare URL on a line of its own.
"""

from __future__ import annotations

from mailers.templates import LINK_SLOT, MESSAGE_SLOT, TEMPLATES, Wording

VERIFY_EMAIL = "verify_email"
PASSWORD_RESET = "password_reset"
REGISTRATION_ATTEMPT = "registration_attempt"
MEMBER_INVITATION = "member_invitation"
NEW_INQUIRY = "new_inquiry"
NEW_INVITATION = "new_invitation"
EXPIRY_REMINDER = "expiry_reminder"
NOTIFICATION_DIGEST = "notification_digest"

EN_SIGN_OFF = ("Kind regards", "PartnerDesk")
DE_SIGN_OFF = ("Freundliche Grüße", "PartnerDesk")
IT_SIGN_OFF = ("Cordiali saluti", "PartnerDesk")

IDENTITY_TEMPLATES: dict[str, dict[str, Wording]] = {
    VERIFY_EMAIL: {
        "en": Wording(
            subject="Confirm your e-mail address for PartnerDesk",
            paragraphs=(
                "Hello $recipient,",
                "please confirm that this is your e-mail address by opening this link:",
                LINK_SLOT,
                "The link works once and for $hours hours. If you did not sign up for "
                "PartnerDesk, you can ignore this e-mail.",
            ),
            sign_off=EN_SIGN_OFF,
        ),
        "de": Wording(
            subject="Bestätigen Sie Ihre E-Mail-Adresse für PartnerDesk",
            paragraphs=(
                "Guten Tag $recipient,",
                "bitte bestätigen Sie mit diesem Link, dass dies Ihre E-Mail-Adresse ist:",
                LINK_SLOT,
                "Der Link gilt einmal und $hours Stunden lang. Wenn Sie sich nicht bei "
                "PartnerDesk angemeldet haben, können Sie diese E-Mail ignorieren.",
            ),
            sign_off=DE_SIGN_OFF,
        ),
        "it": Wording(
            subject="Conferma il tuo indirizzo e-mail per PartnerDesk",
            paragraphs=(
                "Buongiorno $recipient,",
                "conferma che questo è il tuo indirizzo e-mail aprendo questo link:",
                LINK_SLOT,
                "Il link vale una volta sola e per $hours ore. Se non ti sei registrato a "
                "PartnerDesk, puoi ignorare questa e-mail.",
            ),
            sign_off=IT_SIGN_OFF,
        ),
    },
    PASSWORD_RESET: {
        "en": Wording(
            subject="Reset your PartnerDesk password",
            paragraphs=(
                "Hello $recipient,",
                "someone (we hope you) asked to reset the password of your PartnerDesk login. "
                "Choose a new password here:",
                LINK_SLOT,
                "The link works once and for $minutes minutes. Setting a new password signs "
                "you out everywhere else. If you did not ask for this, ignore this e-mail: "
                "your password stays as it is.",
            ),
            sign_off=EN_SIGN_OFF,
        ),
        "de": Wording(
            subject="Setzen Sie Ihr PartnerDesk-Passwort zurück",
            paragraphs=(
                "Guten Tag $recipient,",
                "jemand (hoffentlich Sie) möchte das Passwort Ihres PartnerDesk-Zugangs "
                "zurücksetzen. Wählen Sie hier ein neues Passwort:",
                LINK_SLOT,
                "Der Link gilt einmal und $minutes Minuten lang. Ein neues Passwort meldet Sie "
                "überall sonst ab. Wenn Sie das nicht angefordert haben, ignorieren Sie diese "
                "E-Mail: Ihr Passwort bleibt unverändert.",
            ),
            sign_off=DE_SIGN_OFF,
        ),
        "it": Wording(
            subject="Reimposta la tua password di PartnerDesk",
            paragraphs=(
                "Buongiorno $recipient,",
                "qualcuno (speriamo tu) ha chiesto di reimpostare la password del tuo accesso "
                "a PartnerDesk. Scegli una nuova password qui:",
                LINK_SLOT,
                "Il link vale una volta sola e per $minutes minuti. Una nuova password chiude "
                "tutte le altre sessioni. Se non l'hai chiesto tu, ignora questa e-mail: la "
                "tua password resta invariata.",
            ),
            sign_off=IT_SIGN_OFF,
        ),
    },
    REGISTRATION_ATTEMPT: {
        "en": Wording(
            subject="Someone tried to register with your e-mail address",
            paragraphs=(
                "Hello $recipient,",
                "someone just tried to create a new PartnerDesk login with your e-mail "
                "address, which already has one. If that was you: sign in, or reset your "
                "password here:",
                LINK_SLOT,
                "If it was not you, nothing has changed and you need not do anything.",
            ),
            sign_off=EN_SIGN_OFF,
        ),
        "de": Wording(
            subject="Jemand wollte sich mit Ihrer E-Mail-Adresse registrieren",
            paragraphs=(
                "Guten Tag $recipient,",
                "soeben wollte jemand mit Ihrer E-Mail-Adresse einen neuen PartnerDesk-Zugang "
                "anlegen; die Adresse hat bereits einen. Waren Sie das? Dann melden Sie sich "
                "an oder setzen Sie hier Ihr Passwort zurück:",
                LINK_SLOT,
                "Wenn nicht, hat sich nichts geändert und Sie müssen nichts tun.",
            ),
            sign_off=DE_SIGN_OFF,
        ),
        "it": Wording(
            subject="Qualcuno ha provato a registrarsi con il tuo indirizzo e-mail",
            paragraphs=(
                "Buongiorno $recipient,",
                "qualcuno ha appena provato a creare un nuovo accesso a PartnerDesk con il tuo "
                "indirizzo e-mail, che ne ha già uno. Se eri tu: accedi, oppure reimposta la "
                "password qui:",
                LINK_SLOT,
                "Se non eri tu, non è cambiato nulla e non devi fare niente.",
            ),
            sign_off=IT_SIGN_OFF,
        ),
    },
    MEMBER_INVITATION: {
        "en": Wording(
            subject="$inviter invited you to join $partner on PartnerDesk",
            paragraphs=(
                "Hello,",
                "$inviter invited you to join the team of $partner on PartnerDesk as $role. "
                "Accept the invitation and choose your password here:",
                LINK_SLOT,
                "The link works once and for $hours hours.",
            ),
            sign_off=EN_SIGN_OFF,
        ),
        "de": Wording(
            subject="$inviter lädt Sie in das Team von $partner auf PartnerDesk ein",
            paragraphs=(
                "Guten Tag,",
                "$inviter lädt Sie als $role in das Team von $partner auf PartnerDesk ein. "
                "Nehmen Sie die Einladung hier an und wählen Sie Ihr Passwort:",
                LINK_SLOT,
                "Der Link gilt einmal und $hours Stunden lang.",
            ),
            sign_off=DE_SIGN_OFF,
        ),
        "it": Wording(
            subject="$inviter ti ha invitato nel team di $partner su PartnerDesk",
            paragraphs=(
                "Buongiorno,",
                "$inviter ti ha invitato nel team di $partner su PartnerDesk come $role. "
                "Accetta l'invito e scegli la tua password qui:",
                LINK_SLOT,
                "Il link vale una volta sola e per $hours ore.",
            ),
            sign_off=IT_SIGN_OFF,
        ),
    },
    NEW_INQUIRY: {
        "en": Wording(
            subject="New inquiry for $partner from $sender",
            paragraphs=(
                "Hello $recipient,",
                "$sender has sent $partner an inquiry through your public profile:",
                MESSAGE_SLOT,
                "Open the dashboard to answer it:",
                LINK_SLOT,
            ),
            sign_off=EN_SIGN_OFF,
        ),
        "de": Wording(
            subject="Neue Anfrage für $partner von $sender",
            paragraphs=(
                "Guten Tag $recipient,",
                "$sender hat $partner über Ihr öffentliches Profil eine Anfrage gesendet:",
                MESSAGE_SLOT,
                "Beantworten Sie sie im Dashboard:",
                LINK_SLOT,
            ),
            sign_off=DE_SIGN_OFF,
        ),
        "it": Wording(
            subject="Nuova richiesta per $partner da $sender",
            paragraphs=(
                "Buongiorno $recipient,",
                "$sender ha inviato a $partner una richiesta tramite il vostro profilo pubblico:",
                MESSAGE_SLOT,
                "Rispondi dalla dashboard:",
                LINK_SLOT,
            ),
            sign_off=IT_SIGN_OFF,
        ),
    },
    NEW_INVITATION: {
        "en": Wording(
            subject="New access authorization for $partner from $sender",
            paragraphs=(
                "Hello $recipient,",
                "$sender has sent $partner an access authorization ($scope). It is waiting "
                "for your decision until $date:",
                LINK_SLOT,
            ),
            sign_off=EN_SIGN_OFF,
        ),
        "de": Wording(
            subject="Neue Zugriffsberechtigung für $partner von $sender",
            paragraphs=(
                "Guten Tag $recipient,",
                "$sender hat $partner eine Zugriffsberechtigung ($scope) gesendet. Sie wartet "
                "bis $date auf Ihre Entscheidung:",
                LINK_SLOT,
            ),
            sign_off=DE_SIGN_OFF,
        ),
        "it": Wording(
            subject="Nuova autorizzazione di accesso per $partner da $sender",
            paragraphs=(
                "Buongiorno $recipient,",
                "$sender ha inviato a $partner un'autorizzazione di accesso ($scope). Attende "
                "la vostra decisione fino al $date:",
                LINK_SLOT,
            ),
            sign_off=IT_SIGN_OFF,
        ),
    },
    EXPIRY_REMINDER: {
        "en": Wording(
            subject="Access authorization from $sender expires on $date",
            paragraphs=(
                "Hello $recipient,",
                "the access authorization that $sender sent $partner is still waiting for a "
                "decision and expires on $date. Connect or decline it here:",
                LINK_SLOT,
            ),
            sign_off=EN_SIGN_OFF,
        ),
        "de": Wording(
            subject="Zugriffsberechtigung von $sender läuft am $date ab",
            paragraphs=(
                "Guten Tag $recipient,",
                "die Zugriffsberechtigung, die $sender an $partner gesendet hat, wartet noch "
                "auf eine Entscheidung und läuft am $date ab. Verbinden oder ablehnen:",
                LINK_SLOT,
            ),
            sign_off=DE_SIGN_OFF,
        ),
        "it": Wording(
            subject="L'autorizzazione di accesso di $sender scade il $date",
            paragraphs=(
                "Buongiorno $recipient,",
                "l'autorizzazione di accesso che $sender ha inviato a $partner attende ancora "
                "una decisione e scade il $date. Collegala o rifiutala qui:",
                LINK_SLOT,
            ),
            sign_off=IT_SIGN_OFF,
        ),
    },
    NOTIFICATION_DIGEST: {
        "en": Wording(
            subject="$partner on PartnerDesk: $count more notifications",
            paragraphs=(
                "Hello $recipient,",
                "so as not to flood your inbox, these $count notifications of the last "
                "minutes come in one e-mail:",
                MESSAGE_SLOT,
                LINK_SLOT,
            ),
            message_intro="",
            sign_off=EN_SIGN_OFF,
        ),
        "de": Wording(
            subject="$partner auf PartnerDesk: $count weitere Benachrichtigungen",
            paragraphs=(
                "Guten Tag $recipient,",
                "damit Ihr Posteingang nicht überläuft, kommen diese $count Benachrichtigungen "
                "der letzten Minuten in einer E-Mail:",
                MESSAGE_SLOT,
                LINK_SLOT,
            ),
            message_intro="",
            sign_off=DE_SIGN_OFF,
        ),
        "it": Wording(
            subject="$partner su PartnerDesk: altre $count notifiche",
            paragraphs=(
                "Buongiorno $recipient,",
                "per non riempire la tua casella, queste $count notifiche degli ultimi minuti "
                "arrivano in un'unica e-mail:",
                MESSAGE_SLOT,
                LINK_SLOT,
            ),
            message_intro="",
            sign_off=IT_SIGN_OFF,
        ),
    },
}

TEMPLATES.update(IDENTITY_TEMPLATES)
