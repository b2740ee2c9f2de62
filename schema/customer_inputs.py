"""Customers: their enums, the input objects clients send, and what those mean to resolvers/.

schema/customers.py (the Customer type, queries and mutations) builds on this module.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

import strawberry

from models.customer import CustomerKind, CustomerSource, CustomerStatus
from resolvers import customers
from resolvers.customers import CustomerSortField
from resolvers.pagination import PageRequest
from schema.enums import register_enum
from schema.ids import decode_id
from schema.inputs import given_fields
from schema.relay import page_request

register_enum(
    CustomerKind,
    "Whether a customer is a person or a company.",
    {
        "PERSON": "A private person: needs a first or last name.",
        "COMPANY": "A company: needs companyName, which is also its displayName.",
    },
)
register_enum(
    CustomerStatus,
    "Whether a customer is in use or archived; lists show both unless filtered.",
    {
        "ACTIVE": "In use.",
        "ARCHIVED": "Set aside by archiveCustomer (or eraseCustomer), data kept; "
        "restoreCustomer makes it ACTIVE again.",
    },
)
register_enum(
    CustomerSource,
    "How a customer came to be.",
    {
        "MANUAL": "Entered by a member: createCustomer or a CSV import.",
        "INQUIRY": "Created from an inquiry by convertInquiry.",
        "INVITATION": "Created from an access authorization by connectCustomer.",
    },
)
register_enum(
    CustomerSortField,
    "What customers(...) sorts by.",
    {
        "DISPLAY_NAME": "displayName, case-insensitively.",
        "CREATED_AT": "When the customer was created.",
        "UPDATED_AT": "When the customer last changed.",
        "CUSTOMER_NUMBER": "customerNumber, numerically.",
    },
)


class SortDirection(StrEnum):
    ASC = "ASC"
    DESC = "DESC"


register_enum(
    SortDirection,
    "The direction of a sort order.",
    {
        "ASC": "Ascending: A to Z, oldest first, lowest number first.",
        "DESC": "Descending: Z to A, newest first, highest number first.",
    },
)

# What the customer inputs take (resolvers/customers.py clean_customer_fields).
FIRST_NAME = "Given name(s), at most 100 characters."
LAST_NAME = "Family name, at most 100 characters."
COMPANY_NAME = "At most 200 characters; required for a COMPANY."
EMAIL = "A valid address (no DNS check), at most 254 characters; stored in lower case."
VAT_ID = "VAT identification number, at most 32 characters; stored upper case without spaces."
LANGUAGE = 'Language code such as "en", "it" or "de-CH"; stored in lower case.'
NOTES = "The partner's internal notes: multi-line, at most 10,000 characters."
TAGS = "At most 20 tags of at most 40 characters; duplicates are dropped, the order is kept."


@strawberry.input(
    description="A postal address. Text is trimmed, and empty text counts as not given."
)
class AddressInput:
    street: str | None = strawberry.field(
        default=strawberry.UNSET, description="Street and number, at most 200 characters."
    )
    postal_code: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 20 characters."
    )
    city: str | None = strawberry.field(
        default=strawberry.UNSET, description="At most 100 characters."
    )
    country: str | None = strawberry.field(
        default=strawberry.UNSET,
        description='ISO 3166-1 alpha-2 code in any case, e.g. "IT"; national phone numbers '
        "are read in this country.",
    )


@strawberry.input(
    description="A new customer: a PERSON needs a first or last name, a COMPANY its "
    "companyName. Text is trimmed, and empty text counts as not given."
)
class CustomerInput:
    kind: CustomerKind | None = strawberry.field(
        default=CustomerKind.PERSON, description="PERSON (the default) or COMPANY; not null."
    )
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description=FIRST_NAME)
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description=LAST_NAME)
    company_name: str | None = strawberry.field(default=strawberry.UNSET, description=COMPANY_NAME)
    email: str | None = strawberry.field(default=strawberry.UNSET, description=EMAIL)
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Any usual notation, stored as E.164; a national number needs address.country.",
    )
    address: AddressInput | None = strawberry.field(
        default=strawberry.UNSET, description="Where the customer is."
    )
    vat_id: str | None = strawberry.field(default=strawberry.UNSET, description=VAT_ID)
    language: str | None = strawberry.field(
        default=strawberry.UNSET, description=f'{LANGUAGE} Left out: "en".'
    )
    notes: str | None = strawberry.field(default=strawberry.UNSET, description=NOTES)
    tags: list[str] | None = strawberry.field(default=strawberry.UNSET, description=TAGS)
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Your own reference, at most 100 characters; unique per partner (CONFLICT if taken).",
    )


@strawberry.input(
    one_of=True,
    description=(
        "Either a new customer (fields may be left out: they are taken from the inquiry or "
        "account) or an existing one. A new customer is a COMPANY when it has a company name "
        "(taken over or given) or kind COMPANY is sent; kind PERSON is the input's default and "
        "cannot override that, so send companyName: null for a person. An existing customer's "
        "fields are never changed: only the link is added."
    ),
)
class CustomerTarget:
    new_customer: CustomerInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="Create a customer: the fields taken over, with these given instead.",
    )
    existing_customer_id: strawberry.ID | None = strawberry.field(
        default=strawberry.UNSET, description="Link this customer of the partner (global id)."
    )


def customer_target(target: CustomerTarget) -> customers.CustomerTarget:
    """The resolver's view of a CustomerTarget; a foreign or malformed id is NOT_FOUND."""
    if isinstance(target.existing_customer_id, str):  # "" is an id too (a malformed one)
        return customers.CustomerTarget(
            existing_customer_id=customer_pk(
                target.existing_customer_id, ("target", "existingCustomerId")
            )
        )
    return customers.CustomerTarget(new_customer=given_fields(target.new_customer) or {})


@strawberry.input(
    description="Only the fields given change; null clears a field. Validated as CustomerInput."
)
class CustomerPatch:
    kind: CustomerKind | None = strawberry.field(
        default=strawberry.UNSET, description="PERSON or COMPANY; not null."
    )
    first_name: str | None = strawberry.field(default=strawberry.UNSET, description=FIRST_NAME)
    last_name: str | None = strawberry.field(default=strawberry.UNSET, description=LAST_NAME)
    company_name: str | None = strawberry.field(default=strawberry.UNSET, description=COMPANY_NAME)
    email: str | None = strawberry.field(default=strawberry.UNSET, description=EMAIL)
    phone: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Any usual notation, stored as E.164; a national number is read in the "
        "country of the address (the new one if given).",
    )
    address: AddressInput | None = strawberry.field(
        default=strawberry.UNSET,
        description="Replaces the whole address: parts left out become null.",
    )
    vat_id: str | None = strawberry.field(default=strawberry.UNSET, description=VAT_ID)
    language: str | None = strawberry.field(
        default=strawberry.UNSET, description=f'{LANGUAGE} Null: "en".'
    )
    notes: str | None = strawberry.field(default=strawberry.UNSET, description=NOTES)
    tags: list[str] | None = strawberry.field(
        default=strawberry.UNSET, description=f"Replaces the tags. {TAGS}"
    )
    external_id: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Unique per partner (CONFLICT if taken); null clears it.",
    )


@strawberry.input(description="How customers(...) sorts.")
class CustomerOrder:
    field: CustomerSortField = strawberry.field(description="What to sort by.")
    direction: SortDirection | None = strawberry.field(
        default=SortDirection.ASC, description="ASC (the default) or DESC."
    )


@strawberry.input(
    description="Narrows customers(...) and exportCustomers; every filter given must match."
)
class CustomerFilter:
    search: str | None = strawberry.field(
        default=None,
        description="Matches name, company, e-mail, phone and customer number; every word "
        "must match (at most 200 characters, the first 8 words).",
    )
    status: CustomerStatus | None = strawberry.field(
        default=None, description="Only customers in this status; null: both."
    )
    source: CustomerSource | None = strawberry.field(
        default=None, description="Only customers of this source."
    )
    tag: str | None = strawberry.field(
        default=None, description="Only customers with this tag (the whole tag, any case)."
    )
    created_after: datetime | None = strawberry.field(
        default=None, description="Only customers created at or after this moment."
    )
    created_before: datetime | None = strawberry.field(
        default=None, description="Only customers created before this moment."
    )


def customer_list(
    first: int | None,
    after: str | None,
    last: int | None,
    before: str | None,
    filter: CustomerFilter | None,
    order_by: CustomerOrder | None,
) -> tuple[PageRequest, customers.CustomerFilter, customers.CustomerOrder]:
    """What `customers(...)`'s arguments ask for, in the resolvers' terms. The compiled read
    path reads the arguments through this too, so both paths mean the same by them."""
    order = customers.CustomerOrder()
    if order_by is not None:
        order = customers.CustomerOrder(order_by.field, order_by.direction == SortDirection.DESC)
    return page_request(first, after, last, before), customer_filter(filter), order


def customer_filter(filter: CustomerFilter | None) -> customers.CustomerFilter:
    """What a CustomerFilter asks for, in the resolvers' terms (lists and exports alike)."""
    wanted = filter or CustomerFilter()
    return customers.CustomerFilter(
        search=wanted.search,
        status=wanted.status,
        source=wanted.source,
        tag=wanted.tag,
        created_after=wanted.created_after,
        created_before=wanted.created_before,
    )


def customer_pk(global_id: str, path: tuple[str, ...] = ("id",)) -> int:
    return decode_id(global_id, "Customer", path)
