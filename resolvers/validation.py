"""Input cleaning shared by every flow: trimmed text, e-mail, E.164 phone, country, language.

Each check appends to a `Problems` collector instead of raising at once, so a client
sending several bad fields learns about all of them in one round trip.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from resolvers.errors import ErrorCode, FieldError, ValidationFailed

ISO_COUNTRIES = frozenset(
    [
        "AD",
        "AE",
        "AF",
        "AG",
        "AI",
        "AL",
        "AM",
        "AO",
        "AQ",
        "AR",
        "AS",
        "AT",
        "AU",
        "AW",
        "AX",
        "AZ",
        "BA",
        "BB",
        "BD",
        "BE",
        "BF",
        "BG",
        "BH",
        "BI",
        "BJ",
        "BL",
        "BM",
        "BN",
        "BO",
        "BQ",
        "BR",
        "BS",
        "BT",
        "BV",
        "BW",
        "BY",
        "BZ",
        "CA",
        "CC",
        "CD",
        "CF",
        "CG",
        "CH",
        "CI",
        "CK",
        "CL",
        "CM",
        "CN",
        "CO",
        "CR",
        "CU",
        "CV",
        "CW",
        "CX",
        "CY",
        "CZ",
        "DE",
        "DJ",
        "DK",
        "DM",
        "DO",
        "DZ",
        "EC",
        "EE",
        "EG",
        "EH",
        "ER",
        "ES",
        "ET",
        "FI",
        "FJ",
        "FK",
        "FM",
        "FO",
        "FR",
        "GA",
        "GB",
        "GD",
        "GE",
        "GF",
        "GG",
        "GH",
        "GI",
        "GL",
        "GM",
        "GN",
        "GP",
        "GQ",
        "GR",
        "GS",
        "GT",
        "GU",
        "GW",
        "GY",
        "HK",
        "HM",
        "HN",
        "HR",
        "HT",
        "HU",
        "ID",
        "IE",
        "IL",
        "IM",
        "IN",
        "IO",
        "IQ",
        "IR",
        "IS",
        "IT",
        "JE",
        "JM",
        "JO",
        "JP",
        "KE",
        "KG",
        "KH",
        "KI",
        "KM",
        "KN",
        "KP",
        "KR",
        "KW",
        "KY",
        "KZ",
        "LA",
        "LB",
        "LC",
        "LI",
        "LK",
        "LR",
        "LS",
        "LT",
        "LU",
        "LV",
        "LY",
        "MA",
        "MC",
        "MD",
        "ME",
        "MF",
        "MG",
        "MH",
        "MK",
        "ML",
        "MM",
        "MN",
        "MO",
        "MP",
        "MQ",
        "MR",
        "MS",
        "MT",
        "MU",
        "MV",
        "MW",
        "MX",
        "MY",
        "MZ",
        "NA",
        "NC",
        "NE",
        "NF",
        "NG",
        "NI",
        "NL",
        "NO",
        "NP",
        "NR",
        "NU",
        "NZ",
        "OM",
        "PA",
        "PE",
        "PF",
        "PG",
        "PH",
        "PK",
        "PL",
        "PM",
        "PN",
        "PR",
        "PS",
        "PT",
        "PW",
        "PY",
        "QA",
        "RE",
        "RO",
        "RS",
        "RU",
        "RW",
        "SA",
        "SB",
        "SC",
        "SD",
        "SE",
        "SG",
        "SH",
        "SI",
        "SJ",
        "SK",
        "SL",
        "SM",
        "SN",
        "SO",
        "SR",
        "SS",
        "ST",
        "SV",
        "SX",
        "SY",
        "SZ",
        "TC",
        "TD",
        "TF",
        "TG",
        "TH",
        "TJ",
        "TK",
        "TL",
        "TM",
        "TN",
        "TO",
        "TR",
        "TT",
        "TV",
        "TW",
        "TZ",
        "UA",
        "UG",
        "UM",
        "US",
        "UY",
        "UZ",
        "VA",
        "VC",
        "VE",
        "VG",
        "VI",
        "VN",
        "VU",
        "WF",
        "WS",
        "YE",
        "YT",
        "ZA",
        "ZM",
        "ZW",
    ]
)

LANGUAGE = re.compile(r"^[a-z]{2,3}(-[a-z]{2})?$")
# Line breaks and tabs are the only control characters multi-line text may hold.
MULTILINE_ALLOWED = {"\n", "\r", "\t"}


@dataclass
class Problems:
    """Collects field errors; `raise_if_any()` turns them into one ValidationFailed."""

    prefix: tuple[str, ...] = ()
    found: list[FieldError] = field(default_factory=list)

    def add(self, name: str | tuple[str, ...], message: str) -> None:
        path = (name,) if isinstance(name, str) else name
        self.found.append(FieldError(ErrorCode.VALIDATION, message, self.prefix + path))

    def nested(self, *names: str) -> Problems:
        """A collector for a nested input object that reports into this one."""
        return Problems(self.prefix + names, self.found)

    def raise_if_any(self) -> None:
        if self.found:
            raise ValidationFailed(list(self.found))


def _has_forbidden_characters(value: str, multiline: bool) -> bool:
    for character in value:
        if character in MULTILINE_ALLOWED and multiline:
            continue
        category = unicodedata.category(character)
        # Cc: control characters (NUL, ESC, ...); Cs: lone surrogates; Zl/Zp: U+2028/U+2029.
        if category in {"Cc", "Cs", "Zl", "Zp"}:
            return True
    return False


def clean_text(
    problems: Problems,
    name: str,
    value: str | None,
    *,
    max_length: int,
    required: bool = False,
    multiline: bool = False,
    label: str | None = None,
) -> str | None:
    """Trimmed text or None for empty; length-capped; control characters refused."""
    label = label or name
    if value is None or not value.strip():
        if required:
            problems.add(name, f"{label} is required.")
        return None
    value = value.strip()
    if multiline:
        value = value.replace("\r\n", "\n")
    if _has_forbidden_characters(value, multiline):
        problems.add(name, f"{label} contains control characters.")
        return None
    if len(value) > max_length:
        problems.add(name, f"{label} is longer than {max_length} characters.")
        return None
    return value


def clean_email(
    problems: Problems, name: str, value: str | None, *, required: bool = False
) -> str | None:
    """A syntactically valid address, domain lower-cased (no DNS look-up)."""
    text = clean_text(problems, name, value, max_length=254, required=required, label="E-mail")
    if text is None:
        return None
    normalized, error = _checked_email(text)
    if error is not None:
        problems.add(name, f"E-mail is not valid: {error}")
    return normalized


@functools.lru_cache(maxsize=4096)
def _checked_email(text: str) -> tuple[str | None, str | None]:
    """(normalized address, None) or (None, why not); kept, as an import checks each
    address twice (to match rows, then with the row) and email_validator takes ~100 µs."""
    try:
        return validate_email(text, check_deliverability=False).normalized.lower(), None
    except EmailNotValidError as error:
        return None, str(error)


def clean_phone(
    problems: Problems, name: str, value: str | None, *, region: str | None = None
) -> str | None:
    """The number in E.164; national numbers need a country (address) to be understood."""
    text = clean_text(problems, name, value, max_length=40, label="Phone")
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        problems.add(
            name, "Phone is not a phone number; use the international form, e.g. +39 06 1234 5678."
        )
        return None
    if not phonenumbers.is_valid_number(number):
        problems.add(name, "Phone is not a valid number.")
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_country(problems: Problems, name: str, value: str | None) -> str | None:
    text = clean_text(problems, name, value, max_length=2, label="Country")
    if text is None:
        return None
    code = text.upper()
    if code not in ISO_COUNTRIES:
        problems.add(name, "Country must be an ISO 3166-1 alpha-2 code such as IT or DE.")
        return None
    return code


def clean_language(problems: Problems, name: str, value: str | None) -> str | None:
    text = clean_text(problems, name, value, max_length=8, label="Language")
    if text is None:
        return None
    code = text.lower().replace("_", "-")
    if not LANGUAGE.match(code):
        problems.add(name, "Language must be a language code such as en, de or it.")
        return None
    return code


def clean_tags(problems: Problems, name: str, values: Iterable[str] | None) -> list[str]:
    """Distinct, trimmed tags in the order given; at most 20 of at most 40 characters."""
    if values is None:
        return []
    tags: list[str] = []
    for index, raw in enumerate(values):
        tag = clean_text(problems, name, raw, max_length=40, label=f"Tag {index + 1}")
        if tag is not None and tag not in tags:
            tags.append(tag)
    if len(tags) > 20:
        problems.add(name, "At most 20 tags.")
    return tags


def lookup_key(value: str | None, max_length: int) -> str | None:
    """`value` if it can be a stored key (slug, e-mail, ...), else None: such text finds nothing.

    Look-ups never write, so odd text is not an error; it must only never reach the
    database (which refuses NUL and lone surrogates, and Tortoise over-long values).
    """
    if (
        value is None
        or len(value) > max_length
        or _has_forbidden_characters(value, multiline=False)
    ):
        return None
    return value


def filter_text(text: str | None, path: tuple[str, ...]) -> str:
    """A list filter's text (search, tag); over-long text or control characters are VALIDATION."""
    if not text:
        return ""
    if len(text) > 200:
        raise ValidationFailed.at(path, "Filter text must be at most 200 characters.")
    if _has_forbidden_characters(text, multiline=False):
        raise ValidationFailed.at(path, "Filter text contains control characters.")
    return text


def search_words(text: str | None, path: tuple[str, ...], limit: int = 8) -> list[str]:
    """The lower-cased words of a search filter (at most `limit`; every word must match)."""
    return filter_text(text, path).lower().split()[:limit]


def split_name(full_name: str) -> tuple[str | None, str | None]:
    """'Maria Luisa Rossi' -> ('Maria Luisa', 'Rossi'); 'Rossi, Maria' -> ('Maria', 'Rossi')."""
    full_name = " ".join(full_name.split())
    if "," in full_name:
        last, _, first = full_name.partition(",")
        return (first.strip() or None, last.strip() or None)
    parts = full_name.rsplit(" ", 1)
    if len(parts) == 1:
        return (None, parts[0] or None)
    return (parts[0], parts[1])
