"""The customer CSV format, shared by the import and the export: columns, cells, files.

Columns map to CustomerInput fields by name, in English, Italian or German, case- and
accent-insensitively ("Città" = "citta" = "City"). The export writes the English labels in
COLUMNS' order, so an exported file re-imports unchanged.

Formula injection (OWASP "CSV Injection"): a cell a spreadsheet would run as a formula
(it begins with =, +, -, @, a tab or a carriage return) is written with a leading `'`,
which spreadsheets show as text. The import takes that one quote off again, so the text
stored is the text exported; any other cell, formula-like or not, is stored as it is.
"""

from __future__ import annotations

import csv
import io
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from resolvers.errors import ValidationFailed

FILE_PATH = ("file",)
MAX_ROWS = 10_000
TAG_SEPARATOR = "|"
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
# An exported file starts with a byte order mark, so that spreadsheets read it as UTF-8.
BOM = "\ufeff"


@dataclass(frozen=True)
class Column:
    key: str  # the customer field (Python name), or "customer_number" (read-only)
    label: str  # the English label the export writes
    aliases: tuple[str, ...] = ()  # further names, Italian and German among them


# The export's columns, in its order; the import also takes every alias.
COLUMNS: tuple[Column, ...] = (
    Column("customer_number", "Customer number", ("Numero cliente", "Kundennummer")),
    Column("external_id", "External ID", ("externalId", "ID esterno", "Externe ID", "Ext ID")),
    Column("kind", "Kind", ("Type", "Tipo", "Art", "Typ")),
    Column("first_name", "First name", ("firstName", "Given name", "Nome", "Vorname")),
    Column(
        "last_name", "Last name", ("lastName", "Surname", "Cognome", "Nachname", "Familienname")
    ),
    Column(
        "company_name",
        "Company",
        ("companyName", "Company name", "Azienda", "Ragione sociale", "Firma", "Unternehmen"),
    ),
    Column("email", "E-mail", ("Email address", "Indirizzo e-mail", "E-Mail-Adresse", "Mail")),
    Column(
        "phone", "Phone", ("Telephone", "Phone number", "Telefono", "Telefon", "Tel", "Cellulare")
    ),
    Column("street", "Street", ("Address", "Via", "Indirizzo", "Straße", "Adresse")),
    Column(
        "postal_code",
        "Postal code",
        ("postalCode", "Postcode", "ZIP", "ZIP code", "CAP", "PLZ", "Postleitzahl"),
    ),
    Column("city", "City", ("Town", "Città", "Comune", "Stadt", "Ort")),
    Column("country", "Country", ("Paese", "Nazione", "Land")),
    Column(
        "vat_id",
        "VAT ID",
        ("vatId", "VAT", "VAT number", "Partita IVA", "P. IVA", "USt-IdNr.", "USt-ID"),
    ),
    Column("language", "Language", ("Lingua", "Sprache")),
    Column("notes", "Notes", ("Note", "Notizen", "Bemerkungen", "Anmerkungen")),
    Column("tags", "Tags", ("Tag", "Etichette", "Schlagwörter")),
)
COLUMN_KEYS = tuple(column.key for column in COLUMNS)
ADDRESS_KEYS = ("street", "postal_code", "city", "country")
# Columns the import reads but never writes: PartnerDesk gives customer numbers itself.
READ_ONLY_KEYS = frozenset({"customer_number"})


def normalise_label(text: str) -> str:
    """'Città' -> 'citta', 'E-mail' -> 'email', 'Straße' -> 'strasse', 'firstName' -> 'firstname'."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(character for character in decomposed if character.isalnum())


_KEY_OF_LABEL: dict[str, str] = {
    normalise_label(name): column.key
    for column in COLUMNS
    for name in (column.label, column.key, *column.aliases)
}


def column_key(label: str) -> str | None:
    """The customer field a header label names, or None for an unknown column."""
    return _KEY_OF_LABEL.get(normalise_label(label))


# ---------------------------------------------------------------- cells


def _needs_quote(value: str) -> bool:
    # A leading quote is itself quoted when what follows it needs one, so that taking one
    # quote off on import always gives back exactly the text that was exported.
    if value.startswith(FORMULA_STARTS):
        return True
    return value.startswith("'") and _needs_quote(value[1:])


def escape_cell(value: str) -> str:
    """The cell as the export writes it: text a spreadsheet would run gets a leading `'`."""
    return "'" + value if _needs_quote(value) else value


def unescape_cell(cell: str) -> str:
    """The text an exported cell stands for: the one quote escape_cell added, taken off."""
    if cell.startswith("'") and _needs_quote(cell[1:]):
        return cell[1:]
    return cell


def join_tags(tags: Sequence[str]) -> str:
    """Tags as one cell: separated by |, with a | or \\ inside a tag escaped by a \\."""
    return TAG_SEPARATOR.join(
        tag.replace("\\", "\\\\").replace(TAG_SEPARATOR, "\\" + TAG_SEPARATOR) for tag in tags
    )


def split_tags(cell: str) -> list[str]:
    """The tags of a cell (join_tags reversed); other backslashes are taken as they are."""
    tags: list[str] = []
    current: list[str] = []
    position = 0
    while position < len(cell):
        character = cell[position]
        following = cell[position + 1 : position + 2]
        if character == "\\" and following in (TAG_SEPARATOR, "\\"):
            current.append(following)
            position += 2
            continue
        if character == TAG_SEPARATOR:
            tags.append("".join(current))
            current = []
        else:
            current.append(character)
        position += 1
    tags.append("".join(current))
    return [tag for tag in tags if tag.strip()]


# ---------------------------------------------------------------- files


def decode(content: bytes) -> str:
    """The file's text: UTF-8, with or without a byte order mark; else VALIDATION."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ValidationFailed.at(
            FILE_PATH,
            f"The file is not UTF-8 text (byte {error.start + 1} is not): "
            "save it as “CSV UTF-8” and upload it again.",
        ) from None
    if not text.strip():
        raise ValidationFailed.at(FILE_PATH, "The file is empty.")
    if "\x00" in text:
        raise ValidationFailed.at(FILE_PATH, "The file is not a CSV text file (it holds NUL).")
    return text


def sniff_delimiter(text: str) -> str:
    """Comma or semicolon, whichever the header line holds more of (comma on a tie)."""
    first_line = text.split("\n", 1)[0]
    return ";" if first_line.count(";") > first_line.count(",") else ","


def records(text: str, delimiter: str) -> Iterator[list[str]]:
    """The file's records (the header first); a malformed file is VALIDATION."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=False)
    try:
        yield from reader
    except csv.Error as error:
        raise ValidationFailed.at(
            FILE_PATH, f"The file is not valid CSV near line {reader.line_num}: {error}."
        ) from None


def is_blank(record: Sequence[str]) -> bool:
    return not any(cell.strip() for cell in record)


def count_data_rows(text: str, delimiter: str) -> int:
    """How many non-blank records follow the header."""
    rows = records(text, delimiter)
    next(rows, None)
    return sum(1 for record in rows if not is_blank(record))


# ---------------------------------------------------------------- writing


class CsvWriter:
    """Writes rows of cells as CSV text (RFC 4180: comma, CRLF, quotes where needed)."""

    def __init__(self) -> None:
        self.buffer = io.StringIO()
        self.writer = csv.writer(self.buffer, lineterminator="\r\n")

    def rows(self, rows: Sequence[Sequence[str]]) -> str:
        """The text of `rows`, every cell escaped against formula injection."""
        self.buffer.seek(0)
        self.buffer.truncate()
        self.writer.writerows([[escape_cell(cell) for cell in row] for row in rows])
        return self.buffer.getvalue()


def header_row() -> list[str]:
    return [column.label for column in COLUMNS]
