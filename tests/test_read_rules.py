"""The read rules are declared once: resolvers/read_rules.py is the only place that writes
the tenant condition, and its declarations mean the same to Tortoise and to SQL."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from resolvers.conditions import NOW, AllOf, AnyOf, Compare, Contains, IsNull, OneOf, to_q, to_sql
from resolvers.read_rules import READ_RULES

ROOT = Path(__file__).resolve().parent.parent
pytestmark = [pytest.mark.no_graphql, pytest.mark.no_test_database]
PRODUCT_PACKAGES = ("schema", "resolvers", "mailers", "events", "models", "webhooks", "telemetry")
PRODUCT_MODULES = ("app.py", "endpoints.py", "config.py")
THE_ONE_PLACE = ROOT / "resolvers" / "read_rules.py"
# Reads no actor makes: the webhook worker and the outbox act for the partner whose row they
# hold (an endpoint's owners, the endpoints an event of that partner goes to). They sit
# below resolvers/ (imports run down the layers), so they can't call `scoped`; each is named
# here, and any other hand-written tenant filter fails the test.
SYSTEM_SIDE = {
    "webhooks/endpoints.py filter(partner_id=...)",  # the owners told of a disabled endpoint
    "webhooks/outbox.py SQL '\" AS endpoint WHERE endpoint.partner_id = \"'",  # has_endpoints_sql
    "webhooks/outbox.py filter(partner_id=...)",  # _targets: the endpoints an event goes to
}
FILTERING_CALLS = {"filter", "get", "get_or_none", "exclude", "exists", "Q", "count"}
TENANT_SQL = re.compile(r"\bpartner_id\s*(=|IN\b)", re.IGNORECASE)


def _product_files() -> list[Path]:
    files = [path for package in PRODUCT_PACKAGES for path in (ROOT / package).rglob("*.py")]
    files += [ROOT / module for module in PRODUCT_MODULES]
    return [path for path in files if "migrations" not in path.parts and path != THE_ONE_PLACE]


def _tenant_filters(path: Path) -> list[str]:
    """Places in `path` that filter on partner_id by hand: a Tortoise filter keyword, or SQL."""
    found = []
    where = path.relative_to(ROOT) if path.is_relative_to(ROOT) else path.name
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            keywords = [keyword.arg or "" for keyword in node.keywords]
            if name in FILTERING_CALLS and any(
                k.startswith(("partner_id", "partner__")) for k in keywords
            ):
                found.append(f"{where}:{node.lineno} {name}(partner_id=...)")
        elif (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and TENANT_SQL.search(node.value)
        ):
            found.append(f"{where}:{node.lineno} SQL {node.value[:60]!r}")
    return found


def test_no_module_but_the_read_rules_filters_on_partner_id_by_hand() -> None:
    hand_written = [place for path in _product_files() for place in _tenant_filters(path)]
    # Line numbers apart, so that moving code doesn't break the test but adding a filter does.
    assert sorted(re.sub(r":\d+ ", " ", place, count=1) for place in hand_written) == sorted(
        SYSTEM_SIDE
    )


def test_the_grep_would_catch_a_hand_written_tenant_filter(tmp_path: Path) -> None:
    # given code that filters by hand, in each of the ways the check looks for
    sample = tmp_path / "sample.py"
    sample.write_text(
        "Customer.filter(partner_id=1)\n"
        "Customer.get_or_none(id=1, partner_id=2)\n"
        "Q(partner__slug='x')\n"
        "SQL = 'SELECT 1 FROM customer WHERE partner_id = $1'\n",
        encoding="utf-8",
    )
    # then every one is reported
    assert len(_tenant_filters(sample)) == 4


def test_every_aggregate_declares_its_scope_and_orders() -> None:
    for model, rules in READ_RULES.items():
        column = rules.scope.member_column
        assert {column, column.removesuffix("_id")} & set(model._meta.fields_map), model
        for keys in rules.orders.values():
            assert keys[-1].field == "id", (model, keys)  # the last key makes the order total


@pytest.mark.parametrize(
    "condition",
    [
        Compare("status", "=", "NEW"),
        Compare("expires_at", ">", NOW),
        OneOf("status", ("A", "B")),
        IsNull("customer_id"),
        IsNull("customer_id", null=False),
        Contains("search_text", "50%_off\\"),
        Contains("name", "Ab", ignore_case=True),
        AnyOf((Compare("a", "<", 1), AllOf((Compare("a", "=", 1), Compare("id", ">", 2))))),
    ],
)
def test_each_condition_renders_for_both_paths(condition: object) -> None:
    params: list[object] = []

    def bind(value: object) -> str:
        params.append(value)
        return f"${len(params)}"

    sql = to_sql([condition], "t", bind)  # type: ignore[list-item]
    assert sql and "t." in sql
    assert to_q([condition]) is not None  # type: ignore[list-item]
    if isinstance(condition, Contains):
        assert params == [
            "%" + condition.text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        ]


def test_an_empty_alternative_cannot_be_built() -> None:
    # Tortoise reads an empty OR as "no condition" and SQL as "false": refused outright
    with pytest.raises(ValueError):
        AnyOf(())
