"""The GraphiQL explorer and the live dashboard in real headless Chromium, against `partnerdesk serve`.

Every test records each request the page makes and fails if one leaves loopback (such
requests are also aborted, so a regression can never reach the internet). Each test
saves a screenshot under its pytest temporary directory.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from schema import create_schema
from tests.browser import CHROMIUM_ARGS, ServerProcess, ensure_chromium, leaves_loopback
from tests.factories import DECLINE, SEND_INVITATION
from tests.support import (
    REGISTER_PARTNER,
    GraphQLClient,
    PartnerLogin,
    create_customer,
    register_account,
    register_partner,
    rendered_at,
)
from tests.webhook_receiver import Receiver

if TYPE_CHECKING:
    from playwright.async_api import Browser, FilePayload, Page, Route

playwright_api = pytest.importorskip(
    "playwright.async_api", reason="needs Playwright: pip install -e '.[dev]'"
)
expect = playwright_api.expect

# `partnerdesk serve` on its own SQLite database, whatever the backend under test.
pytestmark = pytest.mark.no_test_database

SUBMIT_INQUIRY = """
mutation($input: SubmitInquiryInput!) {
  submitInquiry(input: $input) { accepted errors { code message field } }
}"""


@pytest.fixture(scope="session")
def chromium() -> Path:
    path, reason = ensure_chromium()
    if path is None:
        pytest.skip(reason)
    return path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    # With its mail worker and no SMTP host: e-mails go to the development mailbox (/dev/mail).
    # Webhooks may go to the tests' receiver on loopback; a failed delivery waits for a retry
    # far longer than a test runs, so the page shows it RETRYING.
    process = ServerProcess(
        tmp_path_factory.mktemp("server"),
        extra_environment={
            "PARTNERDESK_MAIL_WORKER": "true",
            "PARTNERDESK_MAIL_RETRY_BASE_SECONDS": "0.1",
            "PARTNERDESK_WEBHOOK_ALLOW_PRIVATE": "true",
            "PARTNERDESK_WEBHOOK_RETRY_BASE_SECONDS": "3600",
        },
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="session")
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    async with playwright_api.async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(chromium), headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        await launched.close()


class RecordedPage:
    """A fresh browser page whose every request is recorded; non-loopback ones are aborted."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.requests: list[str] = []
        page.on("request", lambda request: self.requests.append(request.url))
        page.on("websocket", lambda socket: self.requests.append(socket.url))

    @property
    def outside_requests(self) -> list[str]:
        return [url for url in self.requests if leaves_loopback(url)]


@pytest.fixture
async def recorded(browser: Browser, tmp_path: Path) -> AsyncIterator[RecordedPage]:
    """The page; its last state is saved as page-at-end.png, also when the test failed."""
    context = await browser.new_context(viewport={"width": 1280, "height": 800})

    async def only_loopback(route: Route) -> None:
        if leaves_loopback(route.request.url):
            await route.abort()
        else:
            await route.continue_()

    await context.route("**/*", only_loopback)
    page = RecordedPage(await context.new_page())
    try:
        yield page
    finally:
        await page.page.screenshot(path=tmp_path / "page-at-end.png", full_page=True)
        await context.close()


@pytest.fixture
async def api(server: ServerProcess) -> AsyncIterator[GraphQLClient]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        yield GraphQLClient(http)


async def submit_inquiry(api: GraphQLClient, partner: PartnerLogin, name: str) -> None:
    payload = await api.mutate(
        SUBMIT_INQUIRY,
        {
            "input": {
                "partnerSlug": partner.slug,
                "name": name,
                "email": "visitor@example.org",
                "message": "We need a new website.",
                "privacyConsent": True,
                "renderedAt": rendered_at(),
            }
        },
    )
    assert payload["accepted"] is True


async def sign_in(page: Page, server: ServerProcess, partner: PartnerLogin) -> None:
    await page.goto(f"{server.base_url}/dashboard")
    await page.fill("#login-email", partner.email)
    await page.fill("#login-password", partner.password)
    await page.click("#login-submit")


async def test_graphiql_runs_a_query_without_leaving_loopback(
    server: ServerProcess, recorded: RecordedPage, tmp_path: Path
) -> None:
    page = recorded.page

    # given
    await page.goto(f"{server.base_url}/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await expect(editor).to_be_visible(timeout=15_000)

    # when: a person opens a new tab, types a query and presses the run button
    await page.click(".graphiql-tab-add")
    await expect(page.locator(".graphiql-tab")).to_have_count(3)
    await editor.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.type("{ __typename ")
    await page.click(".graphiql-execute-button")

    # then
    result = page.locator(".graphiql-response")
    await expect(result).to_contain_text('"__typename": "Query"', timeout=10_000)
    await page.screenshot(path=tmp_path / "graphiql.png")
    assert recorded.outside_requests == []
    assert any(url.endswith("/static/vendor/graphiql/graphiql.min.js") for url in recorded.requests)


async def test_dashboard_signs_in_and_shows_the_counts(
    server: ServerProcess, api: GraphQLClient, recorded: RecordedPage, tmp_path: Path
) -> None:
    page = recorded.page

    # given: a partner with one new inquiry
    partner = await register_partner(api, public=True)
    await submit_inquiry(api, partner, "Giulia Verdi")

    # when
    await sign_in(page, server, partner)

    # then
    await expect(page.locator("#new-inquiries")).to_have_text("1", timeout=10_000)
    await expect(page.locator("#pending-invitations")).to_have_text("0")
    await expect(page.locator("#activity")).to_contain_text("Giulia Verdi")
    await expect(page.locator("#login")).to_be_hidden()
    await page.screenshot(path=tmp_path / "dashboard.png", full_page=True)
    assert recorded.outside_requests == []


async def test_dashboard_refuses_a_wrong_password(
    server: ServerProcess, api: GraphQLClient, recorded: RecordedPage, tmp_path: Path
) -> None:
    page = recorded.page

    # given
    partner = await register_partner(api)

    # when
    await page.goto(f"{server.base_url}/dashboard")
    await page.fill("#login-email", partner.email)
    await page.fill("#login-password", "not the password")
    await page.click("#login-submit")

    # then
    await expect(page.locator("#login-error")).to_be_visible(timeout=10_000)
    await expect(page.locator("#dashboard")).to_be_hidden()
    await expect(page.locator("#status")).to_have_text("Signed out")
    await page.screenshot(path=tmp_path / "dashboard-login-error.png")


async def test_dashboard_updates_live(
    server: ServerProcess, api: GraphQLClient, recorded: RecordedPage, tmp_path: Path
) -> None:
    if "pendingCounts" not in create_schema().as_str():
        pytest.skip("needs Subscription.pendingCounts, which the schema does not have yet")
    page = recorded.page

    # given: a signed-in dashboard, live
    partner = await register_partner(api, public=True)
    await sign_in(page, server, partner)
    await expect(page.locator("#new-inquiries")).to_have_text("0", timeout=10_000)
    await expect(page.locator("#status")).to_have_attribute("data-state", "live", timeout=10_000)

    # when: a visitor sends an inquiry
    sent = time.monotonic()
    await submit_inquiry(api, partner, "Luca Neri")

    # then: the count changes without a reload, within 2 seconds
    await expect(page.locator("#new-inquiries")).to_have_text("1", timeout=2_000)
    elapsed = time.monotonic() - sent
    await page.screenshot(path=tmp_path / "dashboard-live.png", full_page=True)
    assert elapsed <= 2.0
    assert recorded.outside_requests == []


INVITATION_EMAILS = """
{ viewer { member { partner { memberInvitations(status: [PENDING]) { email role } } } } }"""


async def test_team_page_lists_members_invites_and_saves_preferences(
    server: ServerProcess, api: GraphQLClient, recorded: RecordedPage, tmp_path: Path
) -> None:
    page = recorded.page

    # given a signed-in owner on the dashboard, who follows the link to the team page
    partner = await register_partner(api)
    await sign_in(page, server, partner)
    await expect(page.locator("#team-link")).to_be_visible(timeout=10_000)
    await page.click("#team-link")

    # then the page lists the owner
    await expect(page.locator("#members")).to_contain_text("Owner Person", timeout=10_000)
    await expect(page.locator("#members")).to_contain_text("OWNER")

    # when the owner invites a colleague as ADMIN
    await page.fill("#invite-email", "colleague@example.net")
    await page.select_option("#invite-role", "ADMIN")
    await page.click("#invite-submit")

    # then the invitation is listed as pending, and the API agrees
    await expect(page.locator("#pending-invitations")).to_contain_text(
        "colleague@example.net", timeout=10_000
    )
    pending = await api.gql(INVITATION_EMAILS, token=partner.token)
    invitations = pending["viewer"]["member"]["partner"]["memberInvitations"]
    assert invitations == [{"email": "colleague@example.net", "role": "ADMIN"}]

    # when the owner turns inquiry e-mails off and picks German
    await expect(page.locator("#pref-new-inquiry")).to_be_checked()
    await page.uncheck("#pref-new-inquiry")
    await page.select_option("#pref-language", "de")
    await page.click("#preferences-submit")

    # then the preferences are saved
    await expect(page.locator("#preferences-message")).to_have_text(
        "Preferences saved.", timeout=10_000
    )
    saved = await api.gql(
        "{ viewer { notificationPreferences { newInquiry language } } }", token=partner.token
    )
    assert saved["viewer"]["notificationPreferences"] == {"newInquiry": False, "language": "de"}
    await page.screenshot(path=tmp_path / "team.png", full_page=True)
    assert recorded.outside_requests == []


async def test_graphiql_opens_with_a_login_tab_and_a_first_query_that_work_as_they_are(
    server: ServerProcess, api: GraphQLClient, recorded: RecordedPage, tmp_path: Path
) -> None:
    page = recorded.page

    # given: the demo owner's login (the tabs use the README's demo login)
    await api.mutate(
        REGISTER_PARTNER,
        {
            "input": {
                "partnerName": "Studio Aurora",
                "slug": "studio-aurora",
                "name": "Giulia Ferri",
                "email": "owner@studio-aurora.example",
                "password": "demo-password-1",
            }
        },
    )
    await page.goto(f"{server.base_url}/graphql")
    editor = page.locator(".graphiql-query-editor .CodeMirror")
    await expect(editor).to_be_visible(timeout=15_000)
    tabs = page.locator(".graphiql-tab")
    await expect(tabs).to_have_count(2)

    # when: a person runs the first tab, then the second, as they are
    await expect(editor).to_contain_text("mutation Login")
    await page.click(".graphiql-execute-button")
    result = page.locator(".graphiql-response")
    await expect(result).to_contain_text('"token": "', timeout=10_000)
    await tabs.nth(1).locator("button").first.click()
    await expect(editor).to_contain_text("query FirstQuery")
    await expect(editor).to_contain_text('{"Authorization": "Bearer <token>"}')
    await page.click(".graphiql-execute-button")

    # then: the first query answers for the signed-in owner
    await expect(result).to_contain_text('"totalCount": 0', timeout=10_000)
    await expect(result).to_contain_text('"name": "Giulia Ferri"')
    await page.screenshot(path=tmp_path / "graphiql-tabs.png")
    assert recorded.outside_requests == []


async def test_the_dashboard_links_graphiql_and_the_development_mailbox(
    server: ServerProcess, recorded: RecordedPage
) -> None:
    page = recorded.page
    await page.goto(f"{server.base_url}/dashboard")
    await expect(page.get_by_role("link", name="GraphiQL")).to_have_attribute("href", "/graphql")
    await expect(page.get_by_role("link", name="E-mails")).to_have_attribute("href", "/dev/mail")


async def test_the_development_mailbox_shows_a_decline_email_with_its_personal_message(
    server: ServerProcess, api: GraphQLClient, recorded: RecordedPage, tmp_path: Path
) -> None:
    page = recorded.page

    # given: a partner declines an authorization with a personal message (no SMTP host set)
    partner = await register_partner(api, public=True)
    holder = await register_account(api, verified=False, email="paul.weiss@example.org")
    server.execute_sql(
        "UPDATE account_holder SET email_verified_at = ? WHERE email = ?",
        (datetime.now(UTC).isoformat(" "), "paul.weiss@example.org"),
    )
    sent = await api.mutate(
        SEND_INVITATION,
        {"input": {"partnerSlug": partner.slug, "scope": "FULL", "message": "Hello"}},
        holder.token,
    )
    personal = "Thank you for thinking of us! We are fully booked this year."
    await api.mutate(
        DECLINE,
        {"input": {"invitationId": sent["invitation"]["id"], "personalMessage": personal}},
        partner.token,
    )

    # when: the developer opens /dev/mail
    await page.goto(f"{server.base_url}/dev/mail")

    # then: the e-mail is listed and shown, its text part and its HTML part alike
    listed = page.locator("#messages button", has_text="paul.weiss@example.org")
    await expect(listed.first).to_be_visible(timeout=10_000)
    await listed.first.click()
    await expect(page.locator("#message-to")).to_contain_text("paul.weiss@example.org")
    await expect(page.locator("#text-part")).to_contain_text(personal)
    html_part = page.frame_locator("#html-part")
    await expect(html_part.locator("body")).to_contain_text(personal, timeout=5_000)
    # the header's white comes from /static/partnerdesk.css, which the page's policy allows
    await expect(page.locator("header")).to_have_css("background-color", "rgb(255, 255, 255)")
    await page.screenshot(path=tmp_path / "dev-mail.png", full_page=True)
    assert recorded.outside_requests == []


async def test_integrations_page_adds_an_endpoint_tests_it_and_redelivers(
    server: ServerProcess, api: GraphQLClient, recorded: RecordedPage, tmp_path: Path
) -> None:
    page = recorded.page
    receiver = Receiver()
    await receiver.start()
    try:
        # given: a signed-in owner who follows the dashboard's link to the integrations page
        partner = await register_partner(api)
        await sign_in(page, server, partner)
        await expect(page.locator("#dashboard")).to_be_visible(timeout=10_000)
        await page.click("#integrations-link")
        await expect(page.locator("#integrations")).to_be_visible(timeout=10_000)

        # when: they add an endpoint for customer changes
        await page.fill("#create-url", receiver.url)
        await page.check("#create-types input[value=CUSTOMER_CREATED]")
        await page.click("#create-submit")

        # then: the secret is shown once, and the endpoint is listed
        secret = page.locator("#secret-value")
        await expect(secret).to_contain_text("whsec_", timeout=10_000)
        receiver.secret = await secret.inner_text()
        endpoint = page.locator("section.endpoint")
        await expect(endpoint.locator("h2")).to_have_text(receiver.url)
        await expect(endpoint.locator(".meta")).to_have_text("customer.created")

        # when: "Send test"; then the ping is DELIVERED, verified by the receiver
        await endpoint.locator("button.send-test").click()
        ping = endpoint.locator("tbody tr", has_text="ping")
        await expect(ping.locator(".badge")).to_have_text("DELIVERED", timeout=10_000)
        assert len(receiver.accepted) == 1 and receiver.refused_signatures == 0

        # when: "Redeliver"; then the same delivery arrives again, with the same webhook-id
        await ping.locator("button.redeliver").click()
        await expect(ping.locator(".attempts")).to_have_text("2", timeout=10_000)
        assert list(receiver.ids.values()) == [2]

        # when: the receiver fails a customer.created; then the page says so
        receiver.faults[:] = ["500"]
        await create_customer(api, partner.token)
        failed = endpoint.locator("tbody tr", has_text="customer.created")
        await expect(failed.locator(".badge")).to_have_text("RETRYING", timeout=10_000)
        await expect(failed.locator(".last-error")).to_have_text(
            "The endpoint answered 500; retrying"
        )
        await page.screenshot(path=tmp_path / "integrations.png", full_page=True)
        assert recorded.outside_requests == []
    finally:
        await receiver.stop()


async def test_the_import_page_checks_a_file_then_imports_it(
    server: ServerProcess, api: GraphQLClient, recorded: RecordedPage, tmp_path: Path
) -> None:
    page = recorded.page

    # given: a signed-in member who follows the dashboard's link to the import page
    partner = await register_partner(api)
    await sign_in(page, server, partner)
    await expect(page.locator("#dashboard")).to_be_visible(timeout=10_000)
    await page.click("#import-link")
    await expect(page.locator("#importer")).to_be_visible(timeout=10_000)  # its script ran
    csv_file = (
        "Nome;Cognome;E-mail;Telefono;Paese\r\n"
        "Giulia;Verdi;giulia@example.it;+39 347 1234567;IT\r\n"
        "Marco;;marco@example.it;call me;IT\r\n"
        "Anna;Neri;anna@example.it;;XX\r\n"
    )

    # when: a file is picked
    chosen: FilePayload = {
        "name": "clienti.csv",
        "mimeType": "text/csv",
        "buffer": csv_file.encode(),
    }
    await page.set_input_files("#import-file", files=[chosen])

    # then: the dry run's report, as a table, and nothing written yet
    await expect(page.locator("#summary")).to_have_text(
        "3 rows: 1 would be created, 0 would be updated, 2 would be skipped", timeout=10_000
    )
    rows = page.locator("#problems tbody tr")
    await expect(rows).to_have_count(2)
    await expect(rows.nth(0)).to_contain_text("Telefono")
    await expect(rows.nth(1)).to_contain_text("Paese")
    count = "{ customers { totalCount } }"
    assert (await api.gql(count, token=partner.token))["customers"]["totalCount"] == 0
    await page.screenshot(path=tmp_path / "import-dry-run.png", full_page=True)

    # when: the member imports it
    await page.click("#import")

    # then
    await expect(page.locator("#message")).to_have_text(
        "Done: the valid rows are imported.", timeout=15_000
    )
    await expect(page.locator("#summary")).to_have_text("3 rows: 1 created, 0 updated, 2 skipped")
    assert (await api.gql(count, token=partner.token))["customers"]["totalCount"] == 1
    await page.screenshot(path=tmp_path / "import-done.png", full_page=True)
    assert recorded.outside_requests == []
