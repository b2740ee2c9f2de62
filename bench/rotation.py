"""What each workload sends: one fixed request ("dashboard polling") or a rotation.

A rotation is V variable sets and T bearer tokens; request i sends variable set i mod V
with token (i mod V + i div V) mod T (bench/load.py), so V x T different requests pass
before one comes again, and no two consecutive requests are alike. Caches keyed on the
document's variables or on the token miss as they do in production, where dashboards of
many members page, filter and open different customers.

- Q1: 500 different customers of the read partner.
- Q2: 500 page starts (`after` = the cursor of the customer before each 20th position).
- Q3: 500 page starts of 100, three in five unfiltered, one ACTIVE, one ARCHIVED.
- Q4: no variables; the tokens rotate.
- M1: 500 different valid forms (names, e-mail and phone formats, companies, messages),
  each with `renderedAt` a minute before the run (older than PartnerDesk's spam threshold).
- M2-M4: pool ids per request; M4 with 500 different personal messages.

Tokens: 60 of 12 members of the partner (5 sign-ins each; the read partner for Q1-Q4,
the write partner for M2-M4), ordered so that consecutive tokens belong to different
members. PostGraphile (no sign-in) gets the same sequence of variable sets, in its own
terms (rowId, a condition, its own cursors).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import orjson

from bench import seed
from bench.load import POOL_PLACEHOLDER
from bench.rules import cursor, global_id

VARIABLE_SETS = 500
TOKENS_PER_MEMBER = 5
FIXED, ROTATING = "fixed", "rotating"
MODES = (FIXED, ROTATING)
PAGE = 20
Q3_FILTERS: tuple[dict[str, str] | None, ...] = (
    None,
    None,
    None,
    {"status": "ACTIVE"},
    {"status": "ARCHIVED"},
)


@dataclass
class Rotation:
    """The variable sets and tokens of one workload in one mode (see the module doc)."""

    variables: list[dict[str, Any]]
    tokens: list[str]  # empty: no Authorization header (the public form)
    peer_variables: list[dict[str, Any]] | None = None
    pool_columns: int = 0  # __POOL_1__ .. in the variables, filled per request from a pool

    def __post_init__(self) -> None:
        if self.peer_variables is not None and len(self.peer_variables) != len(self.variables):
            raise ValueError("the peer needs one variable set per variable set")

    @property
    def size(self) -> int:
        return len(self.variables) * max(1, len(self.tokens))

    def entry(self, i: int) -> tuple[int, str | None]:
        """(variable set index, token) of request number i, as the Lua script picks them."""
        v = i % len(self.variables)
        if not self.tokens:
            return v, None
        return v, self.tokens[(v + i // len(self.variables)) % len(self.tokens)]

    def fragments(self, peer: bool = False) -> list[str]:
        chosen = self.peer_variables if peer else self.variables
        assert chosen is not None
        return [orjson.dumps(variables).decode() for variables in chosen]


def body_parts(document: str) -> tuple[str, str]:
    """(prefix, suffix) of a POST body around its variables."""
    return '{"query":' + orjson.dumps(document).decode() + ',"variables":', "}"


def body(document: str, variables: dict[str, Any]) -> bytes:
    prefix, suffix = body_parts(document)
    return (prefix + orjson.dumps(variables).decode() + suffix).encode()


def interleaved(tokens_by_member: Sequence[Sequence[str]]) -> list[str]:
    """Tokens ordered member 1, member 2, ..., member 1, ...: neighbours are different people."""
    rounds = max(len(tokens) for tokens in tokens_by_member)
    return [tokens[k] for k in range(rounds) for tokens in tokens_by_member if k < len(tokens)]


# ---------------------------------------------------------------- variable sets


@dataclass
class Catalogue:
    """What the variable sets are made of, read from the seeded database (and PostGraphile)."""

    customer_ids: list[int]  # the read partner's, by id
    ordered: list[tuple[str, int]]  # the read partner's (sort_name, id), in list order
    peer_cursors: list[str] = field(default_factory=list)  # PostGraphile's, same order


def q1_sets(catalogue: Catalogue) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    step = max(1, len(catalogue.customer_ids) // VARIABLE_SETS)
    chosen = catalogue.customer_ids[::step][:VARIABLE_SETS]
    return [{"id": global_id("Customer", pk)} for pk in chosen], [{"rowId": pk} for pk in chosen]


def _page_starts(catalogue: Catalogue) -> list[int]:
    return [p * PAGE for p in range(min(VARIABLE_SETS, len(catalogue.ordered) // PAGE))]


def page_sets(
    catalogue: Catalogue, first: int, filters: Sequence[dict[str, str] | None] = (None,)
) -> tuple[list[dict[str, Any]], list[dict[str, Any]] | None]:
    """Pages of `first` starting at every 20th position, with the filters in turn."""
    ours, peers = [], []
    for n, start in enumerate(_page_starts(catalogue)):
        variables: dict[str, Any] = {"first": first}
        condition: dict[str, Any] = {"partnerId": seed.READ_PARTNER}
        peer: dict[str, Any] = {"condition": condition, "first": first}
        if start:
            variables["after"] = cursor(*catalogue.ordered[start - 1])
            if catalogue.peer_cursors:
                peer["after"] = catalogue.peer_cursors[start - 1]
        chosen = filters[n % len(filters)]
        if chosen:
            variables["filter"] = dict(chosen)
            condition.update(chosen)
        ours.append(variables)
        peers.append(peer)
    return ours, peers if catalogue.peer_cursors else None


def search_terms(count: int = VARIABLE_SETS) -> list[str]:
    """Two-word searches ("anna weber" first): few matches, every row a candidate."""
    rng = random.Random(seed.SEED + 2)
    terms = ["anna weber"]
    seen = set(terms)
    while len(terms) < count:
        term = f"{rng.choice(seed.FIRST_NAMES)} {rng.choice(seed.LAST_NAMES)}".lower()
        if term not in seen:
            seen.add(term)
            terms.append(term)
    return terms


PHONES = (
    "+493012345{:03d}",
    "+39 06 1234 5{:03d}",
    "+41 44 123 4{:03d}",
    "+43 1 234 5{:03d}",
    "+4915112345{:03d}",
    None,
)
MESSAGES = (
    "Hello,\nwe need a new website with a shop. Could you call us?",
    "Guten Tag,\n\nunser Webshop ist langsam und das SSL-Zertifikat läuft ab.\nBitte um Rückruf.",
    "Buongiorno, vorremmo spostare le caselle e-mail da un altro provider.",
    "Hi! Our WordPress site was hacked last night.\r\nCan you help today? ☎",
    "We are a small bakery (3 shops) and need online ordering.\n\u2013 Zoë",
)


def m1_inputs(rendered_at: datetime, count: int = VARIABLE_SETS) -> list[dict[str, Any]]:
    """Valid public-form inputs for the write partner, all different."""
    rng = random.Random(seed.SEED + 3)
    slug = seed.partner_slug(seed.WRITE_PARTNER)
    inputs = []
    for n in range(count):
        first, last = rng.choice(seed.FIRST_NAMES), rng.choice(seed.LAST_NAMES)
        phone = PHONES[n % len(PHONES)]
        company = f"{last} {rng.choice(seed.COMPANY_SUFFIXES)}" if n % 3 == 0 else None
        name = f"{last}, {first}" if n % 7 == 0 else f"{first} {last}"
        inputs.append(
            {
                "partnerSlug": slug,
                "name": name,
                "email": f"{seed.ascii_word(first)}.{seed.ascii_word(last)}{n}@Example.NET",
                "phone": phone.format(n) if phone else None,
                "companyName": company,
                "message": f"{MESSAGES[n % len(MESSAGES)]}\n(ref {n})",
                "privacyConsent": True,
                "renderedAt": rendered_at.isoformat(),
            }
        )
    return inputs


def decline_messages(count: int = VARIABLE_SETS) -> list[str]:
    rng = random.Random(seed.SEED + 4)
    openings = (
        "Thank you for thinking of us.",
        "Vielen Dank für Ihre Anfrage.",
        "Grazie per la fiducia!",
    )
    reasons = (
        "We do not take new hosting customers this quarter.",
        "Leider betreuen wir keine Shops mit mehr als 10.000 Artikeln.",
        "Purtroppo non lavoriamo con questo CMS.",
        "Your site needs a specialist in accessibility; we can recommend one.",
    )
    messages = []
    for n in range(count):
        lines = [rng.choice(openings), rng.choice(reasons)] * (1 + n % 3)
        joiner = "\r\n" if n % 5 == 0 else "\n"
        messages.append(joiner.join(lines) + f"{joiner}— Bench Agency 02 (#{n})")
    return messages


def m2_variables() -> dict[str, Any]:
    return {"input": {"inquiryId": POOL_PLACEHOLDER.format(1), "target": {"newCustomer": {}}}}


def m3_variables() -> dict[str, Any]:
    return {
        "input": {
            "invitationId": POOL_PLACEHOLDER.format(1),
            "target": {"existingCustomerId": POOL_PLACEHOLDER.format(2)},
        }
    }


def m4_variables(message: str) -> dict[str, Any]:
    return {"input": {"invitationId": POOL_PLACEHOLDER.format(1), "personalMessage": message}}


def pool_entry(workload: str, ids: tuple[int, int | None]) -> list[str]:
    """The values one request of a write workload takes from its pool."""
    first, second = ids
    if workload == "M2":
        return [global_id("Inquiry", first)]
    if workload == "M3":
        assert second is not None
        return [global_id("AccessInvitation", first), global_id("Customer", second)]
    return [global_id("AccessInvitation", first)]


def fill(variables: dict[str, Any], values: Sequence[str]) -> dict[str, Any]:
    """Variables with the pool placeholders replaced (for requests sent from Python)."""
    text = orjson.dumps(variables).decode()
    for k, value in enumerate(values):
        text = text.replace(POOL_PLACEHOLDER.format(k + 1), value)
    return dict(orjson.loads(text))


def rotations(
    catalogue: Catalogue,
    read_tokens: list[str],
    write_tokens: list[str],
    rendered_at: datetime,
    fixed_customer: int,
) -> dict[tuple[str, str], Rotation]:
    """(workload, mode) -> what it sends. The fixed mode is the first member's (the
    owner's) first token with one variable set, as a dashboard polls."""
    owner_read, owner_write = read_tokens[:1], write_tokens[:1]
    q1, q1_peer = q1_sets(catalogue)
    q2, q2_peer = page_sets(catalogue, 20)
    q3, q3_peer = page_sets(catalogue, 100, Q3_FILTERS)
    condition = {"partnerId": seed.READ_PARTNER}
    found = {
        ("Q1", FIXED): Rotation(
            [{"id": global_id("Customer", fixed_customer)}], owner_read, [{"rowId": fixed_customer}]
        ),
        ("Q1", ROTATING): Rotation(q1, read_tokens, q1_peer),
        ("Q2", FIXED): Rotation(
            [{"first": 20}], owner_read, [{"condition": condition, "first": 20}]
        ),
        ("Q2", ROTATING): Rotation(q2, read_tokens, q2_peer),
        ("Q3", FIXED): Rotation(
            [{"first": 100}], owner_read, [{"condition": condition, "first": 100}]
        ),
        ("Q3", ROTATING): Rotation(q3, read_tokens, q3_peer),
        ("Q4", FIXED): Rotation([{}], owner_read),
        ("Q4", ROTATING): Rotation([{}], read_tokens),
    }
    forms = m1_inputs(rendered_at)
    found[("M1", FIXED)] = Rotation([{"input": forms[0]}], [])
    found[("M1", ROTATING)] = Rotation([{"input": form} for form in forms], [])
    found[("M2", FIXED)] = Rotation([m2_variables()], owner_write, pool_columns=1)
    found[("M2", ROTATING)] = Rotation([m2_variables()], write_tokens, pool_columns=1)
    found[("M3", FIXED)] = Rotation([m3_variables()], owner_write, pool_columns=2)
    found[("M3", ROTATING)] = Rotation([m3_variables()], write_tokens, pool_columns=2)
    messages = decline_messages()
    found[("M4", FIXED)] = Rotation([m4_variables(messages[0])], owner_write, pool_columns=1)
    found[("M4", ROTATING)] = Rotation(
        [m4_variables(message) for message in messages], write_tokens, pool_columns=1
    )
    return found
