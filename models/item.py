"""Domains, contracts and tasks: a partner's items, each assignable to one customer."""

from enum import StrEnum

from tortoise import fields
from tortoise.models import Model

from models.customer import Customer
from models.partner import Partner, PartnerMember


class DomainStatus(StrEnum):
    ACTIVE = "ACTIVE"
    PENDING = "PENDING"
    EXPIRED = "EXPIRED"


class ContractStatus(StrEnum):
    ACTIVE = "ACTIVE"
    CANCELLED = "CANCELLED"
    ENDED = "ENDED"


class TaskStatus(StrEnum):
    OPEN = "OPEN"
    IN_PROGRESS = "IN_PROGRESS"
    DONE = "DONE"


class TaskPriority(StrEnum):
    LOW = "LOW"
    NORMAL = "NORMAL"
    HIGH = "HIGH"


class Domain(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "partnerdesk.Customer", related_name="domains", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None
    name = fields.CharField(max_length=253)
    ascii_name = fields.CharField(max_length=253)
    status = fields.CharEnumField(DomainStatus, max_length=10, default=DomainStatus.ACTIVE)
    expires_on = fields.DateField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "domain"
        unique_together = (("partner", "ascii_name"),)


class Contract(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "partnerdesk.Customer", related_name="contracts", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None
    contract_number = fields.CharField(max_length=40)
    product = fields.CharField(max_length=200)
    status = fields.CharEnumField(ContractStatus, max_length=10, default=ContractStatus.ACTIVE)
    starts_on = fields.DateField()
    ends_on = fields.DateField(null=True)
    fee_amount = fields.DecimalField(max_digits=14, decimal_places=4, null=True)
    fee_currency = fields.CharField(max_length=3, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "contract"
        unique_together = (("partner", "contract_number"),)


class Task(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "partnerdesk.Partner", related_name=False, on_delete=fields.CASCADE
    )
    partner_id: int
    customer: fields.ForeignKeyNullableRelation[Customer] = fields.ForeignKeyField(
        "partnerdesk.Customer", related_name="tasks", null=True, on_delete=fields.SET_NULL
    )
    customer_id: int | None
    title = fields.CharField(max_length=200)
    description = fields.TextField(null=True)
    status = fields.CharEnumField(TaskStatus, max_length=12, default=TaskStatus.OPEN)
    priority = fields.CharEnumField(TaskPriority, max_length=10, default=TaskPriority.NORMAL)
    due_on = fields.DateField(null=True)
    assignee: fields.ForeignKeyNullableRelation[PartnerMember] = fields.ForeignKeyField(
        "partnerdesk.PartnerMember", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    assignee_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    completed_at = fields.DatetimeField(null=True)

    class Meta:
        table = "task"
