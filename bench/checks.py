"""Before timing: every server must give the same answers and write the same rows.

Reads: PartnerDesk and every reference variant must return identical JSON (values and
key order) for the fixed request and for a sample of the rotating variable sets and
tokens; PostGraphile the same rows and values after normalising both. Writes: the same
responses (up to generated ids and numbers) and the same rows, column by column, for the
fixed input and several rotating ones. Any difference stops the run before timing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import httpx
import orjson

from bench import compare, rotation, seed
from bench.fixture import Fixture
from bench.harness import (
    PARTNERDESK,
    PEER,
    REF_PY,
    BenchFailure,
    Endpoints,
    Target,
    connect,
    log,
    post,
)
from bench.queries import WORKLOADS
from bench.rotation import FIXED, ROTATING, Rotation, body, fill, pool_entry

READ_WORKLOADS = ("Q1", "Q2", "Q3", "Q4")
WRITE_TABLES = ("inquiry", "customer", "activity_event", "email_delivery", "access_invitation")


def samples(rotation_: Rotation, count: int) -> list[int]:
    """Request numbers spread over a rotation's variable sets and tokens (0 included)."""
    if rotation_.size <= 1:
        return [0]
    return sorted({k * 7919 % rotation_.size for k in range(min(count, rotation_.size))})


async def _answer(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    target: Target,
    workload: str,
    rotation_: Rotation,
    i: int,
) -> dict[str, Any]:
    v, token = rotation_.entry(i)
    if target.key == PEER.key:
        assert rotation_.peer_variables is not None
        document = WORKLOADS[workload].peer_document
        assert document is not None
        return await post(
            client,
            endpoints.url(target, workload),
            body(document, rotation_.peer_variables[v]),
            None,
        )
    return await post(
        client,
        endpoints.url(target, workload),
        body(WORKLOADS[workload].document, rotation_.variables[v]),
        token,
    )


async def compare_read(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    targets: Sequence[Target],
    workload: str,
    case: str,
    rotation_: Rotation,
    i: int,
) -> int:
    """Compare request i of a rotation across `targets`; the size of PartnerDesk's answer."""
    ours = await _answer(client, endpoints, PARTNERDESK, workload, rotation_, i)
    for target in targets:
        if target.key == PARTNERDESK.key:
            continue
        if target.key == PEER.key:
            if rotation_.peer_variables is None:
                continue
            theirs = await _answer(client, endpoints, target, workload, rotation_, i)
            difference = compare.first_difference(
                compare.neutral_partnerdesk(workload, ours), compare.neutral_peer(workload, theirs)
            )
        else:
            theirs = await _answer(client, endpoints, target, workload, rotation_, i)
            difference = compare.first_difference(ours, theirs)
        if difference:
            v, _token = rotation_.entry(i)
            raise BenchFailure(
                f"{case} (request {i}, variables {rotation_.variables[v]}): PartnerDesk and "
                f"{target.label} differ at {difference}\n"
                f"PartnerDesk: {orjson.dumps(ours)[:2000]!r}\n{target.label}: {orjson.dumps(theirs)[:2000]!r}"
            )
    return len(orjson.dumps(ours))


async def check_reads(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    fixture: Fixture,
    workloads: Sequence[str],
    targets: dict[str, list[Target]],
    sample_count: int,
    with_checks: bool,
) -> list[str]:
    """Lines for the report; raises BenchFailure on the first difference."""
    lines = []
    for workload in (key for key in READ_WORKLOADS if key in workloads):
        for mode in rotation.MODES:
            chosen = fixture.rotation(workload, mode)
            numbers = samples(chosen, sample_count) if mode == ROTATING else [0]
            sizes = [
                await compare_read(
                    client, endpoints, targets[workload], workload, workload, chosen, i
                )
                for i in numbers
            ]
            references = [t for t in targets[workload] if t.key.startswith("ref-")]
            others = [f"{len(references)} reference variants"] if references else []
            if PEER in targets[workload] and chosen.peer_variables is not None:
                others.append(PEER.label)
            how = "identical JSON (values and key order)"
            if PEER in targets[workload] and chosen.peer_variables is not None:
                how += "; PostGraphile: same rows and values after normalising"
            what = "the fixed request" if mode == FIXED else f"{len(numbers)} rotating requests"
            lines.append(
                f"{workload}, {what}: PartnerDesk vs {', '.join(others)}: {how} "
                f"({min(sizes):,}-{max(sizes):,} bytes)."
            )
            log(f"equal: {workload} {mode} ({len(numbers)} requests)")
    if with_checks:
        ref_targets = [t for t in targets.get("Q3", [PARTNERDESK]) if t.key != PEER.key]
        for case, chosen in fixture.checks.items():
            numbers = samples(chosen, sample_count)
            for i in numbers:
                await compare_read(client, endpoints, ref_targets, "Q3", case, chosen, i)
            lines.append(f"Check {case}: {len(numbers)} request(s), identical JSON.")
            log(f"equal: check {case}")
    return lines


# ---------------------------------------------------------------- writes


async def _marks(url: str) -> dict[str, int]:
    connection = await connect(url)
    try:
        return {
            table: await connection.fetchval(f"SELECT coalesce(max(id), 0) FROM {table}")
            for table in WRITE_TABLES
        }
    finally:
        await connection.close()


async def _fresh_notification_windows(url: str) -> None:
    """Each checked write starts with the write partner's team outside any e-mail window, so
    both servers' first notification is an e-mail (not a digest entry of the other's burst)."""
    connection = await connect(url)
    try:
        await connection.execute(
            "DELETE FROM notification_window WHERE member_id IN"
            " (SELECT id FROM partner_member WHERE partner_id = $1)",
            seed.WRITE_PARTNER,
        )
    finally:
        await connection.close()


async def _rows_after(
    url: str, marks: dict[str, int], touched: Sequence[tuple[str, int]]
) -> dict[str, list[Any]]:
    """Rows of the write partner created since `marks`, plus the `touched` (table, id) rows."""
    connection = await connect(url)
    try:
        found = {
            table: list(
                await connection.fetch(
                    f"SELECT * FROM {table} WHERE partner_id = $1 AND id > $2 ORDER BY id",
                    seed.WRITE_PARTNER,
                    marks[table],
                )
            )
            for table in WRITE_TABLES
        }
        for n, (table, pk) in enumerate(touched):
            found[f"{table} (touched {n})"] = list(
                await connection.fetch(f"SELECT * FROM {table} WHERE id = $1", pk)
            )
        return found
    finally:
        await connection.close()


def normalised(rows: dict[str, list[Any]], subjects: dict[tuple[str, int], str]) -> dict[str, Any]:
    """The rows one mutation wrote, with generated ids, numbers and timestamps replaced."""
    names = dict(subjects)
    for n, row in enumerate(rows["customer"]):
        names[("Customer", row["id"])] = f"<new customer {n}>"
    for n, row in enumerate(rows["email_delivery"]):
        names[("EmailDelivery", row["id"])] = f"<new email {n}>"
    for n, row in enumerate(rows["inquiry"]):
        names.setdefault(("Inquiry", row["id"]), f"<new inquiry {n}>")
    columns = {
        "customer_id": "Customer",
        "decline_email_id": "EmailDelivery",
        "account_id": "AccountHolder",
        "id": None,
    }
    stamps = {
        "received_at", "assigned_at", "decided_at", "at", "queued_at", "next_attempt_at",
        "created_at", "updated_at", "number", "customer_number",
    }  # fmt: skip

    def clean(table: str, row: Any) -> dict[str, Any]:
        out = {}
        for key, value in dict(row).items():
            if key in stamps:
                continue
            if key in columns:
                kind = columns[key] or table
                value = names.get((kind, value), "<id>" if value is not None else None)
            elif key == "subject_id":
                value = names.get((row["subject_type"], value), value)
            elif key == "search_text" and row.get("customer_number"):
                value = value.replace(row["customer_number"].lower(), "<number>")
            out[key] = value
        return out

    kinds = {"inquiry": "Inquiry", "customer": "Customer", "activity_event": "ActivityEvent",
             "email_delivery": "EmailDelivery", "access_invitation": "AccessInvitation"}  # fmt: skip
    return {
        key: [clean(kinds[key.split()[0]], row) for row in found] for key, found in rows.items()
    }


def _emails_anonymised(rows: dict[str, Any], addresses: Sequence[str]) -> dict[str, Any]:
    """E-mail rows with the (per-pool-entry) recipient address replaced."""
    for row in rows.get("email_delivery", []):
        for address in addresses:
            for key in ("to_address", "text_body", "html_body"):
                if isinstance(row.get(key), str):
                    row[key] = row[key].replace(address, "<recipient>")
    return rows


async def _write_once(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    url: str,
    target: Target,
    workload: str,
    variables: dict[str, Any],
    token: str | None,
    subjects: dict[tuple[str, int], str],
    touched: Sequence[tuple[str, int]],
) -> tuple[Any, dict[str, Any]]:
    await _fresh_notification_windows(url)
    marks = await _marks(url)
    response = await post(
        client,
        endpoints.url(target, workload),
        body(WORKLOADS[workload].document, variables),
        token,
    )
    payload = next(iter(response["data"].values()))
    if payload.get("errors") or payload.get("accepted") is False:
        raise BenchFailure(f"{workload} via {target.label}: {response}")
    rows = normalised(await _rows_after(url, marks, touched), subjects)
    return compare.mutation_shape(response), rows


async def _compare_pair(
    workload: str,
    what: str,
    ours: tuple[Any, dict[str, Any]],
    theirs: tuple[Any, dict[str, Any]],
) -> None:
    difference = compare.first_difference(ours[0], theirs[0]) or compare.first_difference(
        ours[1], theirs[1]
    )
    if difference:
        raise BenchFailure(
            f"{workload} ({what}): PartnerDesk and the reference differ at {difference}\n"
            f"PartnerDesk: {ours}\nreference: {theirs}"
        )


async def check_writes(
    client: httpx.AsyncClient,
    endpoints: Endpoints,
    fixture: Fixture,
    workloads: Sequence[str],
    url: str,
) -> list[str]:
    lines = []
    if "M1" in workloads:
        forms = fixture.rotation("M1", ROTATING).variables
        for n, variables in enumerate(forms[:4]):
            pair = []
            for target in (PARTNERDESK, REF_PY):
                pair.append(
                    await _write_once(client, endpoints, url, target, "M1", variables, None, {}, ())
                )
            await _compare_pair("M1", f"form {n}", *pair)
            if len(pair[0][1]["inquiry"]) != 1 or len(pair[0][1]["activity_event"]) != 1:
                raise BenchFailure(
                    f"M1: expected one inquiry and one activity row, got {pair[0][1]}"
                )
        lines.append(
            "M1: 4 forms (the fixed one and rotating ones): identical responses; the inquiry "
            "and activity rows both wrote are equal column by column (ids and timestamps aside)."
        )
        log("equal: M1 (responses and rows written)")
    if "M2" in workloads:
        for template in range(len(seed.POOL_PEOPLE)):
            token = fixture.write_tokens[template % len(fixture.write_tokens)]
            ids = await seed.insert_inquiry_pool(url, [template, template])
            pair = []
            for target, inquiry_id in zip((PARTNERDESK, REF_PY), ids, strict=True):
                variables = fill(rotation.m2_variables(), pool_entry("M2", (inquiry_id, None)))
                subjects = {("Inquiry", inquiry_id): "<converted inquiry>"}
                pair.append(
                    await _write_once(
                        client,
                        endpoints,
                        url,
                        target,
                        "M2",
                        variables,
                        token,
                        subjects,
                        [("inquiry", inquiry_id)],
                    )
                )
            await _compare_pair("M2", seed.POOL_PEOPLE[template][0], *pair)
        lines.append(
            f"M2: {len(seed.POOL_PEOPLE)} kinds of inquiry (person, company, comma name, no phone, "
            "...), each with another member's token: responses equal up to the new ids and "
            "customer numbers; the inquiry update, the new customer and both activity rows "
            "equal column by column (ids, numbers, timestamps aside)."
        )
        log("equal: M2 (responses and rows written)")
    for workload in ("M3", "M4"):
        if workload in workloads:
            lines.append(await _check_invitations(client, endpoints, fixture, url, workload))
    return lines


async def _check_invitations(
    client: httpx.AsyncClient, endpoints: Endpoints, fixture: Fixture, url: str, workload: str
) -> str:
    chosen = fixture.rotation(workload, ROTATING)
    cases = [0, 1, 5] if len(chosen.variables) > 5 else [0, 1, 2]
    for n, case in enumerate(cases):
        token = fixture.write_tokens[(n * 7) % len(fixture.write_tokens)]
        person = (seed.FIRST_NAMES[n], seed.LAST_NAMES[n])
        pool = await seed.insert_invitation_pool(
            url, 2, with_customers=workload == "M3", people=[person, person]
        )
        addresses = await _addresses(url, [invitation for invitation, _ in pool])
        pair = []
        for target, ids in zip((PARTNERDESK, REF_PY), pool, strict=True):
            variables = fill(
                chosen.variables[case % len(chosen.variables)], pool_entry(workload, ids)
            )
            subjects = {("AccessInvitation", ids[0]): "<decided invitation>"}
            if ids[1] is not None:
                subjects[("Customer", ids[1])] = "<existing customer>"
            shape, rows = await _write_once(
                client, endpoints, url, target, workload, variables, token, subjects,
                [("access_invitation", ids[0])],
            )  # fmt: skip
            pair.append((shape, _emails_anonymised(rows, addresses)))
        await _compare_pair(workload, f"case {case}", *pair)
        written = pair[0][1]
        if len(written["email_delivery"]) != 1 or len(written["activity_event"]) != 1:
            raise BenchFailure(
                f"{workload}: expected one e-mail and one activity row, got {written}"
            )
    log(f"equal: {workload} (responses and rows written)")
    what = "connect to an existing customer" if workload == "M3" else "decline with a message"
    return (
        f"{workload}: {len(cases)} authorizations ({what}; other members' tokens, other "
        "languages): responses equal up to ids and numbers; the decided authorization, the "
        "queued e-mail (subject, text and HTML body) and the activity row equal column by "
        "column (ids, timestamps and the recipient's pool address aside)."
    )


async def _addresses(url: str, invitations: Sequence[int]) -> list[str]:
    connection = await connect(url)
    try:
        rows = await connection.fetch(
            "SELECT a.email FROM access_invitation i JOIN account_holder a ON a.id = i.account_id"
            " WHERE i.id = ANY($1::int[])",
            list(invitations),
        )
        return [row["email"] for row in rows]
    finally:
        await connection.close()
