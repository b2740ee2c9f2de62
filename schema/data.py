"""Customer data in and out: CSV imports, exports and download links, erasure."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, NewType

import strawberry
from graphql import GraphQLError

from models.customer_data import CustomerImport as CustomerImportModel
from models.customer_data import ImportStatus
from resolvers import erasure, exports, imports
from resolvers.exports import ExportLink
from schema.auth import OkPayload
from schema.context import Info
from schema.customer_inputs import CustomerFilter, customer_filter, customer_pk
from schema.enums import register_enum
from schema.errors import PAYLOAD_ERRORS, UserError
from schema.ids import pk_or_none, to_global_id
from schema.multipart import UploadedFile
from schema.mutations import mutation
from schema.relay import Node

register_enum(
    ImportStatus,
    "Where a CSV import or dry run stands.",
    {
        "VALIDATED": "A dry run, checked and reported; nothing written.",
        "RUNNING": "Importing in the background; the counts grow batch by batch.",
        "DONE": "Finished; rows with problems were skipped.",
        "FAILED": "Stopped by a server error; the rows before it stay imported.",
    },
)


# GraphQLError, not ValueError: graphql-core reports it as it is (a client's mistake), while
# any other exception would be taken for a server fault and masked.
def _uploaded_file(value: Any) -> UploadedFile:
    if isinstance(value, UploadedFile):
        return value
    raise GraphQLError(
        "Upload: send the file with a multipart/form-data request "
        "(GraphQL multipart request specification)."
    )


def _no_literal(*_args: Any) -> UploadedFile:
    raise GraphQLError("Upload: a file cannot be written into the query; send it as a variable.")


# The type resolvers are annotated with; create_schema() maps it to UPLOAD_SCALAR.
Upload = NewType("Upload", UploadedFile)
UPLOAD_SCALAR = strawberry.scalar(
    name="Upload",
    description=(
        "A file sent with the GraphQL multipart request specification "
        "(multipart/form-data: operations, map, files); only mutations take files, and a "
        "request with files needs a GraphQL-Require-Preflight header."
    ),
    serialize=lambda _value: None,
    parse_value=_uploaded_file,
    parse_literal=_no_literal,
)


@strawberry.type(description="One problem of an import: which row, which column, what is wrong.")
class ImportRowProblem:
    row: int = strawberry.field(
        description="1-based data row (the header row excluded); 0 for the header row itself."
    )
    field: str | None = strawberry.field(
        description="The column as the file's header names it (the CustomerInput field when the file has no such column); null for the whole row."
    )
    message: str = strawberry.field(description="What is wrong, in English.")


@strawberry.type(
    description=(
        "A CSV import or dry run and its report. A dry run is VALIDATED at once; an import "
        "is RUNNING until DONE or FAILED, and its counts grow batch by batch."
    )
)
class CustomerImport(Node):
    status: ImportStatus = strawberry.field(description="VALIDATED, RUNNING, DONE or FAILED.")
    dry_run: bool = strawberry.field(description="true for a dry run: nothing is written.")
    file_name: str | None = strawberry.field(description="The uploaded file's name, if sent.")
    rows: int = strawberry.field(description="Data rows in the file (blank rows not counted).")
    created: int = strawberry.field(description="New customers (a dry run: that it would create).")
    updated: int = strawberry.field(
        description="Existing customers changed: matched on externalId, then on e-mail."
    )
    skipped: int = strawberry.field(
        description="Rows not written: with problems, or matching a customer they would not change."
    )
    problems: list[ImportRowProblem] = strawberry.field(
        description="Every problem, by row (at most 5,000); unknown columns are listed with row 0."
    )
    created_at: datetime = strawberry.field(description="When it was started.")
    finished_at: datetime | None = strawberry.field(
        description="When it ended; null while RUNNING."
    )

    @classmethod
    def from_model(cls, found: CustomerImportModel) -> CustomerImport:
        return cls(
            id=to_global_id("CustomerImport", found.id),
            status=found.status,
            dry_run=found.dry_run,
            file_name=found.file_name,
            rows=found.rows,
            created=found.created,
            updated=found.updated,
            skipped=found.skipped,
            problems=[
                ImportRowProblem(
                    row=int(str(problem["row"])),
                    field=None if problem.get("field") is None else str(problem["field"]),
                    message=str(problem["message"]),
                )
                for problem in found.problems or []
            ],
            created_at=found.created_at,
            finished_at=found.finished_at,
        )


@strawberry.type(description="The result of importCustomers.")
class CustomerImportPayload:
    customer_import: CustomerImport | None = strawberry.field(
        description="The dry run's report, or the import just started (RUNNING)."
    )
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


class ExportFormat(StrEnum):
    CSV = "CSV"
    JSON = "JSON"


register_enum(
    ExportFormat,
    "The file format of a customer export; either lists customers by customer number.",
    {
        "CSV": "UTF-8 with a byte order mark, the import's columns and the customer number; "
        "it re-imports unchanged.",
        "JSON": 'One JSON document, {"exportedAt", "customers"}, with the API\'s field names.',
    },
)


@strawberry.type(description="A download link: GET it once, within its lifetime, without a token.")
class DataExport:
    url: str = strawberry.field(
        description="Short-lived (10 minutes) and single-use; answers the file as an attachment."
    )
    expires_at: datetime = strawberry.field(description="When the link stops working.")


@strawberry.type(description="The result of asking for an export.")
class DataExportPayload:
    export: DataExport | None = strawberry.field(description="The download link.")
    errors: list[UserError] = strawberry.field(description=PAYLOAD_ERRORS)


def _export_payload(info: Info, link: ExportLink) -> DataExportPayload:
    url = f"{str(info.context.request.base_url).rstrip('/')}/exports/{link.token}"
    return DataExportPayload(export=DataExport(url=url, expires_at=link.expires_at), errors=[])


@strawberry.input(description="Which customer to erase, confirmed.")
class EraseCustomerInput:
    customer_id: strawberry.ID = strawberry.field(description="The customer's global id.")
    confirm_customer_number: str = strawberry.field(
        description='The customer\'s number, e.g. "C-00012", typed again to confirm.'
    )


@strawberry.type
class DataQuery:
    @strawberry.field(description="One of the partner's imports or dry runs, with its report.")
    async def customer_import(
        self,
        info: Info,
        id: Annotated[strawberry.ID, strawberry.argument(description="The import's global id.")],
    ) -> CustomerImport | None:
        found = await imports.get_customer_import(
            info.context.actor, pk_or_none(id, "CustomerImport")
        )
        return CustomerImport.from_model(found) if found else None


@strawberry.type
class DataMutation:
    @mutation(
        description=(
            "Import customers from a CSV file (UTF-8, BOM accepted; comma or semicolon; a header "
            "row naming CustomerInput fields in English, Italian or German; tags separated by |; "
            "at most 10,000 rows). dryRun (the default) validates and reports only; otherwise "
            "the import runs in the background: follow it with customerImport(id)."
        )
    )
    async def import_customers(
        self,
        info: Info,
        file: Annotated[
            Upload,
            strawberry.argument(description="The CSV file, at most 5 MiB by default."),
        ],
        dry_run: Annotated[
            bool | None,
            strawberry.argument(description="true (the default) or null: only check and report."),
        ] = True,
    ) -> CustomerImportPayload:
        uploaded = _uploaded_file(file)
        found = await imports.import_customers(
            info.context.actor, uploaded.filename, uploaded.content, dry_run is not False
        )
        return CustomerImportPayload(customer_import=CustomerImport.from_model(found), errors=[])

    @mutation(
        description=(
            "A download link to the customers customers(filter:) would list: CSV (the import's "
            "columns, so the file re-imports unchanged) or JSON."
        )
    )
    async def export_customers(
        self,
        info: Info,
        format: Annotated[
            ExportFormat | None, strawberry.argument(description="CSV (the default) or JSON.")
        ] = ExportFormat.CSV,
        filter: Annotated[
            CustomerFilter | None,
            strawberry.argument(description="Only the customers that match; null: all."),
        ] = None,
    ) -> DataExportPayload:
        link = await exports.export_customers(
            info.context.actor, format == ExportFormat.JSON, customer_filter(filter)
        )
        return _export_payload(info, link)

    @mutation(
        description="A download link to everything held about one customer, as one JSON document."
    )
    async def export_customer_data(
        self,
        info: Info,
        customer_id: Annotated[
            strawberry.ID, strawberry.argument(description="The customer's global id.")
        ],
    ) -> DataExportPayload:
        customer = customer_pk(customer_id, ("customerId",))
        return _export_payload(
            info, await exports.export_customer_data(info.context.actor, customer)
        )

    @mutation(
        description=(
            "Overwrite a customer's personal data wherever the partner holds it (irreversible); "
            "the customer number and the fact of the erasure remain."
        )
    )
    async def erase_customer(
        self,
        info: Info,
        input: Annotated[
            EraseCustomerInput, strawberry.argument(description="The customer, confirmed.")
        ],
    ) -> OkPayload:
        customer = customer_pk(input.customer_id, ("input", "customerId"))
        await erasure.erase_customer(info.context.actor, customer, input.confirm_customer_number)
        return OkPayload(ok=True, errors=[])

    @mutation(description="A download link to my own data, as one JSON document.")
    async def export_my_data(self, info: Info) -> DataExportPayload:
        return _export_payload(info, await exports.export_my_data(info.context.actor))

    @mutation(
        description=(
            "Delete my account: pending and connected authorizations are closed (partners are "
            "told), personal data overwritten, every session signed out."
        )
    )
    async def delete_my_account(
        self,
        info: Info,
        password: Annotated[
            str, strawberry.argument(description="My password; a wrong one is VALIDATION.")
        ],
    ) -> OkPayload:
        await erasure.delete_my_account(info.context.actor, password)
        return OkPayload(ok=True, errors=[])
