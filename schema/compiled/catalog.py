"""What the compiler can read, and from where: GraphQL type and field -> table and column.

A field missing here is not compiled: the operation runs on the resolvers instead. The rows
a child list holds and their order are the read rules' (resolvers/read_rules.py); only the
foreign key linking them to their parent is said here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tortoise.models import Model

from models.customer import Customer
from models.item import Contract, Domain, Task


@dataclass(frozen=True)
class Scalar:
    """A field read from one column; `kind` says how it is written as JSON."""

    column: str
    kind: str = "plain"  # plain | datetime | date | json | boolean


@dataclass(frozen=True)
class GlobalId:
    type_name: str


@dataclass(frozen=True)
class Address:
    pass


@dataclass(frozen=True)
class Money:
    pass


@dataclass(frozen=True)
class ChildList:
    """A list of another aggregate's rows that belong to this row (Customer.domains): the
    rows its read rules scope, filter (by the field's arguments, named as the rules'
    filters) and order as a child list; `foreign_key` links them to the parent row."""

    type_name: str
    model: type[Model]
    foreign_key: str


@dataclass(frozen=True)
class ObjectType:
    model: type[Model]
    fields: Mapping[str, Any] = field(default_factory=dict)

    @property
    def table(self) -> str:
        return str(self.model._meta.db_table)


def _common(type_name: str) -> dict[str, Any]:
    return {"id": GlobalId(type_name), "createdAt": Scalar("created_at", "datetime")}


TYPES: dict[str, ObjectType] = {
    "Customer": ObjectType(
        Customer,
        {
            **_common("Customer"),
            "customerNumber": Scalar("customer_number"),
            "kind": Scalar("kind"),
            "displayName": Scalar("display_name"),
            "firstName": Scalar("first_name"),
            "lastName": Scalar("last_name"),
            "companyName": Scalar("company_name"),
            "email": Scalar("email"),
            "phone": Scalar("phone"),
            "address": Address(),
            "vatId": Scalar("vat_id"),
            "language": Scalar("language"),
            "notes": Scalar("notes"),
            "tags": Scalar("tags", "json"),
            "externalId": Scalar("external_id"),
            "status": Scalar("status"),
            "source": Scalar("source"),
            "version": Scalar("version"),
            "updatedAt": Scalar("updated_at", "datetime"),
            "domains": ChildList("Domain", Domain, "customer_id"),
            "contracts": ChildList("Contract", Contract, "customer_id"),
            "tasks": ChildList("Task", Task, "customer_id"),
        },
    ),
    "Domain": ObjectType(
        Domain,
        {
            **_common("Domain"),
            "name": Scalar("name"),
            "asciiName": Scalar("ascii_name"),
            "status": Scalar("status"),
            "expiresOn": Scalar("expires_on", "date"),
        },
    ),
    "Contract": ObjectType(
        Contract,
        {
            **_common("Contract"),
            "contractNumber": Scalar("contract_number"),
            "product": Scalar("product"),
            "status": Scalar("status"),
            "startsOn": Scalar("starts_on", "date"),
            "endsOn": Scalar("ends_on", "date"),
            "monthlyFee": Money(),
        },
    ),
    "Task": ObjectType(
        Task,
        {
            **_common("Task"),
            "title": Scalar("title"),
            "description": Scalar("description"),
            "status": Scalar("status"),
            "priority": Scalar("priority"),
            "dueOn": Scalar("due_on", "date"),
            "completedAt": Scalar("completed_at", "datetime"),
        },
    ),
}
