"""PartnerDesk's data rules, restated for the benchmark's reference server and seed.

The benchmark treats PartnerDesk as a black box over HTTP, so it does not import the
resolvers: a rewrite must not break the harness. What the reference has to reproduce
byte for byte (global ids, cursors, the derived customer columns, the name split) and
what it must check the way PartnerDesk checks it (text length and control characters,
e-mail syntax with email-validator, E.164 phone numbers with phonenumbers) is written
here again. bench/run.py compares both servers' answers and written rows before it
times anything, so a rule that drifts from PartnerDesk's stops the run instead of
skewing it.

The one thing taken from the product is the e-mail wording (mailers/templates.py
`render`): the reference writes the same outbox rows, and restating three languages of
template text would be a copy nobody keeps in step.
"""

from __future__ import annotations

import base64
import binascii
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

# Keyset cursors of the customer list: "signature|id|sort value" in unpadded base64url.
CURSOR_SIGNATURE = "sort_name,id"
MULTILINE_ALLOWED = {"\n", "\r", "\t"}
MAX_PAGE_SIZE = 100


def global_id(type_name: str, pk: int) -> str:
    return base64.b64encode(f"{type_name}:{pk}".encode()).decode()


def parse_global_id(value: Any, type_name: str) -> int | None:
    try:
        name, _, pk = base64.b64decode(str(value), validate=True).decode().partition(":")
    except (ValueError, binascii.Error):
        return None
    return int(pk) if name == type_name and pk.isdigit() else None


def cursor(sort_name: str, pk: int) -> str:
    text = f"{CURSOR_SIGNATURE}|{pk}|{sort_name}"
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(value: str) -> tuple[str, int]:
    """(sort name, id) of a customer-list cursor; ValueError for anything else."""
    try:
        padded = value + "=" * (-len(value) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode("utf-8")
    except (ValueError, binascii.Error, UnicodeError):
        raise ValueError("not a cursor") from None
    signature, _, rest = text.partition("|")
    raw_id, _, sort_name = rest.partition("|")
    if signature != CURSOR_SIGNATURE or not raw_id.isdigit() or "\x00" in sort_name:
        raise ValueError("not a cursor of this list")
    pk = int(raw_id)
    if pk >= 2**31:
        raise ValueError("id out of range")
    return sort_name, pk


def customer_number(number: int) -> str:
    return f"C-{number:05d}"


def derived(record: Mapping[str, Any]) -> dict[str, Any]:
    """Display name, sort key, tag index and search text of a customer."""
    full_name = " ".join(
        part for part in (record.get("first_name"), record.get("last_name")) if part
    )
    if record.get("kind") == "COMPANY":
        display_name = record.get("company_name") or full_name
    else:
        display_name = full_name or record.get("company_name") or record.get("email") or "—"
    phone = record.get("phone") or ""
    searchable = [
        display_name,
        full_name,
        record.get("company_name"),
        record.get("email"),
        phone,
        phone.lstrip("+"),
        record.get("customer_number"),
    ]
    tags = record.get("tags") or []
    return {
        "display_name": display_name[:255],
        "sort_name": display_name.lower()[:255],
        "tags_text": "".join(f"\n{tag.lower()}" for tag in tags) + ("\n" if tags else ""),
        "search_text": " ".join(part.lower() for part in searchable if part),
    }


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


# ---------------------------------------------------------------- input checks


@dataclass
class Problems:
    """Field errors as (path, message); the reference answers them as VALIDATION errors."""

    prefix: tuple[str, ...] = ()
    found: list[tuple[tuple[str, ...], str]] = field(default_factory=list)

    def add(self, name: str, message: str) -> None:
        self.found.append(((*self.prefix, name), message))

    def errors(self) -> list[dict[str, Any]]:
        return [
            {"code": "VALIDATION", "field": list(path), "message": message}
            for path, message in self.found
        ]


def _forbidden(value: str, multiline: bool) -> bool:
    for character in value:
        if character in MULTILINE_ALLOWED and multiline:
            continue
        if unicodedata.category(character) in {"Cc", "Cs", "Zl", "Zp"}:
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
) -> str | None:
    """Trimmed text or None; too long or with control characters is a problem."""
    if value is None or not value.strip():
        if required:
            problems.add(name, f"{name} is required.")
        return None
    value = value.strip()
    if multiline:
        value = value.replace("\r\n", "\n")
    if _forbidden(value, multiline):
        problems.add(name, f"{name} contains control characters.")
        return None
    if len(value) > max_length:
        problems.add(name, f"{name} is longer than {max_length} characters.")
        return None
    return value


def clean_email(
    problems: Problems, name: str, value: str | None, *, required: bool = False
) -> str | None:
    text = clean_text(problems, name, value, max_length=254, required=required)
    if text is None:
        return None
    try:
        return validate_email(text, check_deliverability=False).normalized.lower()
    except EmailNotValidError as error:
        problems.add(name, f"E-mail is not valid: {error}")
        return None


def clean_phone(problems: Problems, name: str, value: str | None) -> str | None:
    text = clean_text(problems, name, value, max_length=40)
    if text is None:
        return None
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        problems.add(name, "Phone is not a phone number.")
        return None
    if not phonenumbers.is_valid_number(number):
        problems.add(name, "Phone is not a valid number.")
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def clean_personal_message(problems: Problems, value: str | None) -> str | None:
    """A decline message: 2,000 characters, line breaks but no tabs or other controls."""
    message = clean_text(problems, "personalMessage", value, max_length=2000, multiline=True)
    if message is not None and "\t" in message:
        problems.add("personalMessage", "Personal message contains control characters.")
        return None
    return message.replace("\r", "\n") if message else message


def new_customer(problems: Problems, source: Mapping[str, Any]) -> dict[str, Any]:
    """The cleaned fields of a customer made from an inquiry or an account (no overrides)."""
    fields = {name: value for name, value in source.items() if value is not None}
    kind = "COMPANY" if (fields.get("company_name") or "").strip() else "PERSON"
    values: dict[str, Any] = {"kind": kind}
    for name, limit in (("first_name", 100), ("last_name", 100), ("company_name", 200)):
        if name in fields:
            values[name] = clean_text(problems, name, fields[name], max_length=limit)
    if "email" in fields:
        values["email"] = clean_email(problems, "email", fields["email"])
    if "phone" in fields:
        values["phone"] = clean_phone(problems, "phone", fields["phone"])
    values["language"] = "en"
    values["tags"] = []
    if kind == "COMPANY" and not values.get("company_name"):
        problems.add("companyName", "Company name is required for a company.")
    elif kind == "PERSON" and not (values.get("first_name") or values.get("last_name")):
        problems.add("lastName", "A person needs a first or last name.")
    return values
