"""The reference server's SQL: fixed statements and the customer-page builder.

Two ways to know the caller, for every read:

- separate: the bearer token is looked up first (AUTH_SQL, its own round trip), then the
  read runs with the member's partner as `$1`;
- in the statement: the read itself derives the partner from the token (`$1` is the
  token's SHA-256), so one round trip answers, as PartnerDesk's kept compiled statements
  do. No row back (or a NULL scope) means the token is not valid.

Every statement text is fixed for a given shape of variables (page sizes and search words
are parameters, not literals), so asyncpg's per-connection statement cache prepares each
once and PostgreSQL plans it once (plan_cache_mode = force_generic_plan).
"""

from __future__ import annotations

from typing import Any

from bench.rules import MAX_PAGE_SIZE, decode_cursor

AUTH_SQL = """
SELECT m.id, m.partner_id, m.name
FROM auth_token t JOIN partner_member m ON m.id = t.member_id
WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()
"""
# The caller's scope inside a read statement ($1: the token's SHA-256).
ME = """me AS (
  SELECT m.partner_id FROM auth_token t JOIN partner_member m ON m.id = t.member_id
  WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now()
)"""


def sql_global_id(type_name: str, column: str) -> str:
    return f"encode(convert_to('{type_name}:' || {column}, 'UTF8'), 'base64')"


def sql_datetime(column: str) -> str:
    """Python's isoformat() of a UTC datetime: microseconds only when not zero."""
    return (
        f"to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS')"
        f" || CASE WHEN extract(microseconds FROM {column})::bigint % 1000000 <> 0"
        f" THEN to_char({column} AT TIME ZONE 'UTC', '.US') ELSE '' END || '+00:00'"
    )


def sql_money(amount: str, currency: str) -> str:
    return (
        f"CASE WHEN {amount} IS NOT NULL AND coalesce({currency}, '') <> '' THEN json_build_object("
        f"'amount', CASE WHEN scale(trim_scale({amount})) < 2 THEN round({amount}, 2)::text"
        f" ELSE trim_scale({amount})::text END, 'currency', upper({currency})) END"
    )


Q1_COLUMNS = (
    "c.id, c.customer_number, c.kind, c.display_name, c.first_name, c.last_name,"
    " c.company_name, c.email, c.phone, c.tags, c.status, c.created_at"
)
Q1_JSON = f"""json_build_object(
  'id', {sql_global_id("Customer", "c.id")}, 'customerNumber', c.customer_number,
  'kind', c.kind, 'displayName', c.display_name, 'firstName', c.first_name,
  'lastName', c.last_name, 'companyName', c.company_name, 'email', c.email, 'phone', c.phone,
  'tags', c.tags, 'status', c.status, 'createdAt', {sql_datetime("c.created_at")}
)::text"""

Q1_PY = f"SELECT {Q1_COLUMNS} FROM customer c WHERE c.id = $1 AND c.partner_id = $2"
Q1_PG = f"SELECT {Q1_JSON} FROM customer c WHERE c.id = $1 AND c.partner_id = $2"
# One row when the token is valid (the customer's columns NULL when not found), none otherwise.
Q1_PY1 = f"""WITH {ME}
SELECT me.partner_id, {Q1_COLUMNS}
FROM me LEFT JOIN customer c ON c.id = $2 AND c.partner_id = me.partner_id"""
Q1_PG1 = f"""WITH {ME}
SELECT me.partner_id, CASE WHEN c.id IS NOT NULL THEN {Q1_JSON} END
FROM me LEFT JOIN customer c ON c.id = $2 AND c.partner_id = me.partner_id"""

LIST_COLUMNS = (
    "id, customer_number, kind, display_name, email, phone, status, created_at, sort_name"
)


def sql_list_node(alias: str) -> str:
    return (
        f"'id', {sql_global_id('Customer', f'{alias}.id')}, 'customerNumber', {alias}.customer_number,"
        f" 'kind', {alias}.kind, 'displayName', {alias}.display_name, 'email', {alias}.email,"
        f" 'phone', {alias}.phone, 'status', {alias}.status,"
        f" 'createdAt', {sql_datetime(f'{alias}.created_at')}"
    )


def sql_items(partner: str) -> str:
    return f"""
, 'domains', (SELECT coalesce(json_agg(json_build_object(
      'id', {sql_global_id("Domain", "d.id")}, 'name', d.name, 'status', d.status,
      'expiresOn', d.expires_on) ORDER BY d.name, d.id), '[]'::json)
    FROM domain d WHERE d.customer_id = p.id AND d.partner_id = {partner})
, 'contracts', (SELECT coalesce(json_agg(json_build_object(
      'id', {sql_global_id("Contract", "k.id")}, 'contractNumber', k.contract_number,
      'status', k.status, 'monthlyFee', {sql_money("k.fee_amount", "k.fee_currency")})
      ORDER BY k.starts_on, k.id), '[]'::json)
    FROM contract k WHERE k.customer_id = p.id AND k.partner_id = {partner})
, 'tasks', (SELECT coalesce(json_agg(json_build_object(
      'id', {sql_global_id("Task", "t.id")}, 'title', t.title, 'priority', t.priority,
      'dueOn', t.due_on) ORDER BY t.due_on, t.id), '[]'::json)
    FROM task t WHERE t.customer_id = p.id AND t.partner_id = {partner} AND t.status = 'OPEN')
"""


DOMAINS_PY = """
SELECT customer_id, id, name, status, expires_on FROM domain
WHERE customer_id = ANY($1::int[]) AND partner_id = $2 ORDER BY name, id
"""
CONTRACTS_PY = """
SELECT customer_id, id, contract_number, status, fee_amount, fee_currency FROM contract
WHERE customer_id = ANY($1::int[]) AND partner_id = $2 ORDER BY starts_on, id
"""
TASKS_PY = """
SELECT customer_id, id, title, priority, due_on FROM task
WHERE customer_id = ANY($1::int[]) AND partner_id = $2 AND status = 'OPEN' ORDER BY due_on, id
"""

_COUNTS = """(SELECT count(*) FROM access_invitation
        WHERE partner_id = {p} AND status = 'PENDING' AND expires_at > now()),
       (SELECT count(*) FROM inquiry WHERE partner_id = {p} AND status = 'NEW')"""
Q4_PY = "SELECT " + _COUNTS.format(p="$1")
Q4_PY1 = f"WITH {ME}\nSELECT " + _COUNTS.format(p="me.partner_id") + " FROM me"

STATUSES = ("ACTIVE", "ARCHIVED")


def page_sql(
    variables: dict[str, Any], pg_json: bool, with_items: bool, token_in_statement: bool
) -> tuple[str, list[Any], int]:
    """The customers(first, after, filter) page query; (sql, parameters after $1, page size).

    `$1` is the partner id, or with `token_in_statement` the token hash. Rows of the
    asyncpg variant: its columns (LIST_COLUMNS); with the token in the statement, the
    partner (NULL: not signed in) first, and one row with NULL columns for an empty page.
    The JSON variant's one row: has next page, edges JSON, last sort name and id (and
    the partner first, with the token in the statement). ValueError for bad variables.
    """
    first = variables.get("first")
    first = 20 if first is None else int(first)
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise ValueError("first out of range")
    partner = "(SELECT partner_id FROM me)" if token_in_statement else "$1"
    args: list[Any] = []
    conditions = [f"partner_id = {partner}"]

    def parameter(value: Any, cast: str = "") -> str:
        args.append(value)
        return f"${len(args) + 1}{cast}"

    if variables.get("after"):
        sort_name, pk = decode_cursor(variables["after"])
        name_mark, id_mark = parameter(sort_name, "::text"), parameter(pk, "::int")
        # The first key's inclusive bound lets the index range-scan (as PartnerDesk's does).
        conditions.append(
            f"sort_name >= {name_mark} AND (sort_name, id) > ({name_mark}, {id_mark})"
        )
    given = variables.get("filter") or {}
    if given.get("status") is not None:
        if given["status"] not in STATUSES:
            raise ValueError("status")
        conditions.append(f"status = {parameter(given['status'], '::text')}")
    search = given.get("search") or ""
    if len(search) > 200:
        raise ValueError("search too long")
    for word in search.lower().split()[:8]:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        conditions.append(f"search_text LIKE {parameter(f'%{escaped}%', '::text')}")
    size = parameter(first, "::int")
    where = " AND ".join(conditions)
    me = f"WITH {ME}\n" if token_in_statement else ""
    if not pg_json:
        page = (
            f"SELECT {LIST_COLUMNS} FROM customer WHERE {where}"
            f" ORDER BY sort_name, id LIMIT {size} + 1"
        )
        if not token_in_statement:
            return page, args, first
        sql = (
            f"{me}SELECT (SELECT partner_id FROM me), page.* FROM (SELECT 1) one"
            f" LEFT JOIN LATERAL ({page}) page ON true"
        )
        return sql, args, first
    items_partner = "(SELECT partner_id FROM me)" if token_in_statement else "$1"
    scope = "(SELECT partner_id FROM me), " if token_in_statement else ""
    more = "WITH more AS" if not token_in_statement else f"WITH {ME}, more AS"
    sql = f"""
{more} (
  SELECT c.*, row_number() OVER (ORDER BY c.sort_name, c.id) AS position
  FROM (SELECT * FROM customer WHERE {where} ORDER BY sort_name, id LIMIT {size} + 1) c
), page AS (SELECT * FROM more WHERE position <= {size})
SELECT {scope}(SELECT count(*) FROM more) > {size},
       (SELECT coalesce(json_agg(json_build_object('node', json_build_object(
           {sql_list_node("p")} {sql_items(items_partner) if with_items else ""}
        )) ORDER BY p.position), '[]'::json) FROM page p)::text,
       last.sort_name, last.id
FROM (SELECT 1) one LEFT JOIN LATERAL (
  SELECT sort_name, id FROM page ORDER BY position DESC LIMIT 1
) last ON true
"""
    return sql, args, first


# ---------------------------------------------------------------- writes

EMAIL_COLUMNS = (
    "partner_id, template, language, to_address, to_name, subject, text_body, html_body,"
    " status, attempts, queued_at, next_attempt_at"
)
# The partner and its active team (for the notification e-mails), in one read.
M1_PARTNER_AND_TEAM = """
SELECT p.id AS partner_id, p.display_name AS partner_name, m.id AS member_id, m.name, m.email,
       m.language, m.role, m.notify_new_inquiry
FROM partner p LEFT JOIN partner_member m ON m.partner_id = p.id AND m.removed_at IS NULL
WHERE p.slug = $1 AND p.is_public
ORDER BY m.id
"""
# Whether the partner of the new activity row has an enabled webhook endpoint (PartnerDesk
# asks the same in its activity INSERT, and queues deliveries when it has).
HAS_WEBHOOKS = """EXISTS (SELECT 1 FROM webhook_endpoint w
  WHERE w.partner_id = activity_event.partner_id AND w.enabled)"""
M1_INSERT_AND_LOG = f"""
WITH new AS (
  INSERT INTO inquiry (partner_id, status, name, email, phone, company_name, message, received_at)
  VALUES ($1, 'NEW', $2, $3, $4, $5, $6, $7) RETURNING id
)
INSERT INTO activity_event (partner_id, verb, at, actor_name, summary, customer_id, subject_type, subject_id)
SELECT $1, 'INQUIRY_RECEIVED', $7, NULL, $8, NULL, 'Inquiry', id FROM new
RETURNING subject_id, {HAS_WEBHOOKS}
"""
# One notification of a kind to a member: its number in the member's current window.
NOTIFICATION_WINDOW = """
INSERT INTO notification_window AS w (member_id, kind, opened_at, "count")
VALUES ($3, $4, $2, 1) ON CONFLICT (member_id, kind) DO UPDATE SET
  "count" = CASE WHEN w.opened_at > $1 THEN w."count" + 1 ELSE 1 END,
  opened_at = CASE WHEN w.opened_at > $1 THEN w.opened_at ELSE $2 END
RETURNING "count", opened_at
"""
M1_NOTIFY_EMAIL = f"""
INSERT INTO email_delivery ({EMAIL_COLUMNS})
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'QUEUED', 0, $9, $9)
"""
DIGEST_ENTRY = """
INSERT INTO digest_entry (member_id, kind, summary, created_at, due_at) VALUES ($1, $2, $3, $4, $5)
"""

M2_DECIDE = """
UPDATE inquiry SET status = 'ASSIGNED', assigned_at = $3, assigned_by_id = $4
WHERE id = $1 AND partner_id = $2 AND status = 'NEW'
RETURNING name, email, phone, company_name
"""
M2_NUMBER = (
    "UPDATE partner SET customer_seq = customer_seq + 1 WHERE id = $1 RETURNING customer_seq"
)
M2_CUSTOMER = """
INSERT INTO customer (partner_id, number, customer_number, kind, first_name, last_name,
  company_name, display_name, sort_name, email, phone, language, tags, tags_text, search_text,
  status, source, version, created_at, updated_at)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, '[]', $13, $14, 'ACTIVE', 'INQUIRY', 1, $15, $15)
RETURNING id
"""
M2_LINK_AND_LOG = f"""
WITH linked AS (UPDATE inquiry SET customer_id = $1 WHERE id = $2)
INSERT INTO activity_event (partner_id, verb, at, actor_name, summary, customer_id, subject_type, subject_id)
VALUES ($3, 'CUSTOMER_CREATED', $4, $5, $6, $1, 'Customer', $1),
       ($3, 'INQUIRY_CONVERTED', $4, $5, $7, $1, 'Inquiry', $2)
RETURNING {HAS_WEBHOOKS}
"""

# connectCustomer to an existing customer: the decision, with what it needs to know (the
# account holder, the partner's customer, not linked to another account, the partner's
# name for the e-mail) in its conditions and RETURNING.
M3_DECIDE = """
UPDATE access_invitation i
SET status = 'CONNECTED', decided_at = $4, decided_by_id = $5, customer_id = $3
FROM account_holder a, customer c, partner p
WHERE i.id = $1 AND i.partner_id = $2 AND i.status = 'PENDING' AND i.expires_at > $4
  AND a.id = i.account_id AND c.id = $3 AND c.partner_id = $2 AND p.id = $2
  AND NOT EXISTS (SELECT 1 FROM access_invitation o
                  WHERE o.customer_id = $3 AND o.status = 'CONNECTED' AND o.id <> $1)
RETURNING a.name, a.email, a.language, c.customer_number, c.display_name, p.display_name
"""
M3_MAIL_AND_LOG = f"""
WITH email AS (
  INSERT INTO email_delivery ({EMAIL_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'QUEUED', 0, $9, $9) RETURNING id
)
INSERT INTO activity_event (partner_id, verb, at, actor_name, summary, customer_id, subject_type, subject_id)
SELECT $1, 'INVITATION_CONNECTED', $9, $10, $11, $12, 'AccessInvitation', $13 FROM email
RETURNING {HAS_WEBHOOKS}
"""

M4_DECIDE = """
UPDATE access_invitation i
SET status = 'DECLINED', decided_at = $3, decided_by_id = $4, decline_message = $5
FROM account_holder a, partner p
WHERE i.id = $1 AND i.partner_id = $2 AND i.status = 'PENDING' AND i.expires_at > $3
  AND a.id = i.account_id AND p.id = $2
RETURNING a.name, a.email, a.language, p.display_name
"""
M4_MAIL_LINK_AND_LOG = f"""
WITH email AS (
  INSERT INTO email_delivery ({EMAIL_COLUMNS})
  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 'QUEUED', 0, $9, $9) RETURNING id
), linked AS (
  UPDATE access_invitation SET decline_email_id = (SELECT id FROM email) WHERE id = $12
)
INSERT INTO activity_event (partner_id, verb, at, actor_name, summary, customer_id, subject_type, subject_id)
SELECT $1, 'INVITATION_DECLINED', $9, $10, $11, NULL, 'AccessInvitation', $12 FROM email
RETURNING (SELECT id FROM email), {HAS_WEBHOOKS}
"""
