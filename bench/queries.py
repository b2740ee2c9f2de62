"""The benchmark's GraphQL documents, shared by the runner, the reference and the checks.

PartnerDesk and the reference receive the same request body (document + variables).
PostGraphile has its own generated schema, so Q1-Q3 have a PEER_* twin that asks it for
the same rows and values (rowId instead of the global id, a condition instead of the
tenant scope and the status filter, its own cursors, nodes instead of plain lists);
bench/checks.py compares the two after normalising both.
"""

from __future__ import annotations

from dataclasses import dataclass

# The 8 customer fields of every list workload.
LIST_FIELDS = "id customerNumber kind displayName email phone status createdAt"

Q1 = """query Customer($id: ID!) {
  customer(id: $id) {
    id customerNumber kind displayName firstName lastName companyName email phone tags status createdAt
  }
}"""

Q2 = f"""query CustomerPage($first: Int, $after: String) {{
  customers(first: $first, after: $after) {{
    edges {{
      node {{
        {LIST_FIELDS}
        domains {{ id name status expiresOn }}
        contracts {{ id contractNumber status monthlyFee {{ amount currency }} }}
        tasks(status: OPEN) {{ id title priority dueOn }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""

# Q3, and with other variables (a status filter, a search) the rotating runs and checks.
Q3 = f"""query CustomerList($first: Int, $after: String, $filter: CustomerFilter) {{
  customers(first: $first, after: $after, filter: $filter) {{
    edges {{ node {{ {LIST_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""

Q4 = """query Badges {
  pendingInvitationCount
  viewer { member { partner { newInquiryCount } } }
}"""

M1 = """mutation SubmitInquiry($input: SubmitInquiryInput!) {
  submitInquiry(input: $input) { accepted errors { code field message } }
}"""

M2 = """mutation ConvertInquiry($input: ConvertInquiryInput!) {
  convertInquiry(input: $input) {
    inquiry { id status }
    customer { id customerNumber displayName }
    errors { code field message }
  }
}"""

# Access authorizations: accept into an existing customer, or decline with a message.
M3 = """mutation ConnectCustomer($input: ConnectCustomerInput!) {
  connectCustomer(input: $input) {
    invitation { id status }
    customer { id customerNumber displayName }
    errors { code field message }
  }
}"""

M4 = """mutation DeclineInvitation($input: DeclineInvitationInput!) {
  declineInvitation(input: $input) {
    invitation { id status }
    email { id status }
    errors { code field message }
  }
}"""

LOGIN = """mutation Login($input: LoginInput!) {
  login(input: $input) { token errors { code message } }
}"""

# ---------------------------------------------------------------- PostGraphile v5 (amber preset)

PEER_LIST_FIELDS = "rowId customerNumber kind displayName email phone status createdAt"

PEER_Q1 = """query Customer($rowId: Int!) {
  customerByRowId(rowId: $rowId) {
    rowId customerNumber kind displayName firstName lastName companyName email phone tags status createdAt
  }
}"""

PEER_Q2 = f"""query CustomerPage($condition: CustomerCondition!, $first: Int, $after: Cursor) {{
  allCustomers(condition: $condition, orderBy: [SORT_NAME_ASC, ROW_ID_ASC], first: $first, after: $after) {{
    edges {{
      node {{
        {PEER_LIST_FIELDS}
        domainsByCustomerId(orderBy: [NAME_ASC, ROW_ID_ASC]) {{ nodes {{ rowId name status expiresOn }} }}
        contractsByCustomerId(orderBy: [STARTS_ON_ASC, ROW_ID_ASC]) {{ nodes {{ rowId contractNumber status feeAmount feeCurrency }} }}
        tasksByCustomerId(condition: {{status: "OPEN"}}, orderBy: [DUE_ON_ASC, ROW_ID_ASC]) {{ nodes {{ rowId title priority dueOn }} }}
      }}
    }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""

PEER_Q3 = f"""query CustomerList($condition: CustomerCondition!, $first: Int, $after: Cursor) {{
  allCustomers(condition: $condition, orderBy: [SORT_NAME_ASC, ROW_ID_ASC], first: $first, after: $after) {{
    edges {{ node {{ {PEER_LIST_FIELDS} }} }}
    pageInfo {{ hasNextPage endCursor }}
  }}
}}"""


@dataclass(frozen=True)
class Workload:
    key: str
    title: str
    document: str
    peer_document: str | None = None
    # Sent with the signed-in owner's bearer token (M1 is a public form: no token).
    authenticated: bool = True
    mutation: bool = False
    # Writes: the fewest SQL statements the flow can do with (BEGIN/COMMIT apart), and why.
    minimum_statements: tuple[int, str] | None = None


WORKLOADS = {
    workload.key: workload
    for workload in (
        Workload("Q1", "customer(id): 12 fields", Q1, PEER_Q1),
        Workload(
            "Q2",
            "customers(first: 20): 8 fields + domains, contracts, tasks(status: OPEN)",
            Q2,
            PEER_Q2,
        ),
        Workload("Q3", "customers(first: 100): 8 fields", Q3, PEER_Q3),
        Workload("Q4", "pendingInvitationCount + viewer.member.partner.newInquiryCount", Q4),
        Workload(
            "M1",
            "submitInquiry (public form)",
            M1,
            authenticated=False,
            mutation=True,
            minimum_statements=(
                4,
                "the partner and its team are read before anything is written (an unknown or "
                "private profile writes nothing; each member's settings choose what follows); the "
                "inquiry and its activity row can share one INSERT … WITH; the notification "
                "window's upsert must answer before the e-mail or digest entry it chooses is written",
            ),
        ),
        Workload(
            "M2",
            "convertInquiry to a new customer",
            M2,
            mutation=True,
            minimum_statements=(
                4,
                "the token; the inquiry claimed by one conditional UPDATE returning the fields the "
                "customer is made of; the partner's next number and the customer in one INSERT … "
                "WITH; the two activity rows in one INSERT",
            ),
        ),
        Workload(
            "M3",
            "connectCustomer to an existing customer",
            M3,
            mutation=True,
            minimum_statements=(
                3,
                "the token; one conditional UPDATE of the authorization that joins the customer "
                "(same partner, not erased), the holder and the partner and returns what the "
                "e-mail needs; the e-mail and the activity row in one INSERT … WITH",
            ),
        ),
        Workload(
            "M4",
            "declineInvitation with a personal message (queues an e-mail)",
            M4,
            mutation=True,
            minimum_statements=(
                3,
                "the token; one conditional UPDATE of the authorization returning the holder and "
                "partner the e-mail needs; the e-mail, its link from the authorization and the "
                "activity row in one statement of data-modifying WITHs",
            ),
        ),
    )
}
