"""The webhook worker against a real receiver (tests/webhook_receiver.py: uvicorn on loopback,
verifying every signature with the `standardwebhooks` package), including a `partnerdesk
worker` process killed mid-delivery and, on PostgreSQL, two workers draining one outbox.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpcore
import orjson
import pytest
from starlette.applications import Starlette

from config import Settings
from models.activity import ActivityEvent, ActivityVerb
from models.global_ids import global_id
from models.outbox import EmailDelivery
from models.partner import MemberRole, Partner, PartnerMember
from models.webhook import (
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
    WebhookEventType,
)
from telemetry import metrics
from tests.support import GraphQLClient, create_customer, register_partner
from tests.test_mail_worker import run_partnerdesk, start_partnerdesk
from tests.webhook_receiver import HUGE_CHUNKS, Receiver, verifies
from webhooks.payloads import body
from webhooks.signing import new_secret
from webhooks.worker import UNRECORDED_PER_SENDER, WebhookWorker

Status = WebhookDeliveryStatus
TIMEOUT = 0.5
CREATE_ENDPOINT = """
mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { endpoint { id } secret errors { code message field } }
}"""
DELIVERIES = """
{ viewer { member { partner { webhookEndpoints {
  enabled disabledReason
  deliveries { edges { node { id eventType status attempts lastStatusCode lastError deliveredAt } } }
} } } } }"""


# ---------------------------------------------------------------- fixtures and helpers


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[Receiver]:
    listening = Receiver()
    await listening.start()
    try:
        yield listening
    finally:
        await listening.stop()


@pytest.fixture
def settings(
    base_settings: Settings, receiver: Receiver, request: pytest.FixtureRequest
) -> Settings:
    """Tiny backoff, a short attempt deadline and lease; loopback receivers allowed."""
    receiver.reset()
    return replace(
        base_settings,
        webhook_retry_base_seconds=0.01,
        webhook_timeout_seconds=TIMEOUT,
        webhook_lease_seconds=5,
        **getattr(request, "param", {}),
    )


async def an_endpoint(receiver: Receiver, **fields: Any) -> WebhookEndpoint:
    """A partner with an owner and an endpoint pointing at the receiver, which gets its secret."""
    partner = await Partner.create(
        slug=f"aurora-{time.monotonic_ns()}", name="Aurora", display_name="Studio Aurora"
    )
    await PartnerMember.create(
        partner_id=partner.id,
        email=f"owner-{partner.id}@aurora.example",
        name="Olga Owner",
        role=MemberRole.OWNER,
        password_hash="x",
    )
    endpoint = await WebhookEndpoint.create(
        partner_id=partner.id, url=fields.pop("url", receiver.url), secret=new_secret(), **fields
    )
    receiver.secret = endpoint.secret
    return endpoint


async def queued(endpoint: WebhookEndpoint, count: int = 1, **fields: Any) -> list[WebhookDelivery]:
    now = datetime.now(UTC)
    rows = [
        WebhookDelivery(
            partner_id=endpoint.partner_id,
            endpoint_id=endpoint.id,
            event_type=WebhookEventType.CUSTOMER_CREATED,
            payload=body(WebhookEventType.CUSTOMER_CREATED, now, {"customer": {"number": n}}),
            status=Status.QUEUED,
            queued_at=fields.get("queued_at", now),
            next_attempt_at=now,
        )
        for n in range(count)
    ]
    await WebhookDelivery.bulk_create(rows, batch_size=500)
    return list(await WebhookDelivery.filter(endpoint_id=endpoint.id).order_by("id"))


async def pending_count() -> int:
    return await WebhookDelivery.filter(
        status__in=[Status.QUEUED, Status.RETRYING, Status.SENDING]
    ).count()


async def until_none_pending(poll: float = 0.02) -> None:
    while await pending_count():
        await asyncio.sleep(poll)


@contextlib.asynccontextmanager
async def running_worker(settings: Settings, **options: Any) -> AsyncIterator[WebhookWorker]:
    worker = WebhookWorker(settings, poll_seconds=options.pop("poll_seconds", 0.05), **options)
    worker.start()
    try:
        yield worker
    finally:
        await asyncio.wait_for(worker.stop(), timeout=10)


async def deliver_everything(settings: Settings, within: float = 15, **options: Any) -> None:
    async with running_worker(settings, **options):
        await asyncio.wait_for(until_none_pending(), timeout=within)


async def attempt_once(settings: Settings, **options: Any) -> int:
    worker = WebhookWorker(settings, **options)
    try:
        return await worker.run_once()
    finally:
        await worker.stop()


async def wait_for_received(receiver: Receiver, count: int, within: float) -> None:
    deadline = time.monotonic() + within
    while len(receiver.ids) < count:
        assert time.monotonic() < deadline, f"only {len(receiver.ids)} of {count} received"
        await asyncio.sleep(0.01)


# ---------------------------------------------------------------- delivered, signed


@pytest.mark.parametrize("settings", [{"webhook_worker": True}], indirect=True)
async def test_a_change_reaches_the_receiver_signed_as_the_specification_says(
    client: GraphQLClient, receiver: Receiver
) -> None:
    # given: an endpoint registered through the API (the app runs the worker, as `serve` does)
    owner = await register_partner(client)
    created = await client.mutate(CREATE_ENDPOINT, {"input": {"url": receiver.url}}, owner.token)
    receiver.secret = created["secret"]

    # when
    customer = await create_customer(client, owner.token, firstName="Ada", lastName="Lovelace")

    # then: one delivery, verified with standardwebhooks by the receiver, woken by the commit
    await wait_for_received(receiver, 1, within=3)
    [received] = receiver.accepted
    assert received.body["type"] == "customer.created"
    assert received.body["data"]["customer"]["id"] == customer["id"]
    assert received.body["data"]["customer"]["displayName"] == "Ada Lovelace"
    assert received.body["data"]["actorName"] == "Owner Person"
    assert received.signature.startswith("v1,") and " " not in received.signature
    assert abs(int(received.timestamp) - time.time()) < 5
    assert receiver.refused_signatures == 0
    data = await client.gql(DELIVERIES, token=owner.token)
    [endpoint] = data["viewer"]["member"]["partner"]["webhookEndpoints"]
    [edge] = endpoint["deliveries"]["edges"]
    assert edge["node"]["id"] == received.webhook_id  # the webhook-id is the delivery's id
    assert edge["node"]["status"] == "DELIVERED"
    assert (edge["node"]["attempts"], edge["node"]["lastStatusCode"]) == (1, 204)
    assert edge["node"]["deliveredAt"] is not None


def final_statuses() -> dict[str, float]:
    """partnerdesk_webhook_deliveries_total by status, as /metrics would show it."""
    return {
        status: metrics.REGISTRY.get_sample_value(
            "partnerdesk_webhook_deliveries_total", {"status": status}
        )
        or 0.0
        for status in ("DELIVERED", "FAILED")
    }


async def test_transient_failures_then_success_deliver_once_with_one_id(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: the receiver is down, then answers 500, then hangs, then works
    endpoint = await an_endpoint(receiver)
    [delivery] = await queued(endpoint)
    await receiver.stop()
    try:
        assert await attempt_once(settings) == 1  # connection refused
        await delivery.refresh_from_db()
        assert (delivery.status, delivery.attempts) == (Status.RETRYING, 1)
        assert delivery.last_error == "Could not connect to the endpoint; retrying"
    finally:
        await receiver.start()
    receiver.faults[:] = ["500", "hang"]
    before = final_statuses()

    # when
    await deliver_everything(settings)

    # then: delivered, once, after four attempts; counted once as DELIVERED
    await delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (Status.DELIVERED, 4)
    assert delivery.last_status_code == 204
    assert delivery.last_error == f"The endpoint did not answer within {TIMEOUT:g} s; retrying"
    assert receiver.ids == {global_id("WebhookDelivery", delivery.id): 1}
    after = final_statuses()
    assert (after["DELIVERED"] - before["DELIVERED"], after["FAILED"] - before["FAILED"]) == (1, 0)


async def test_410_disables_the_endpoint_and_tells_its_owners_once(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: two deliveries; the receiver answers the first with 410 Gone
    endpoint = await an_endpoint(receiver)
    first, second = await queued(endpoint, 2)
    receiver.faults[:] = ["410"]
    before = final_statuses()

    # when
    await deliver_everything(settings, concurrency=1)

    # then
    await endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert endpoint.disabled_reason == "The endpoint answered 410 Gone"
    await first.refresh_from_db()
    await second.refresh_from_db()
    assert (first.status, first.last_status_code) == (Status.FAILED, 410)
    assert first.last_error == "The endpoint answered 410 Gone; endpoint disabled"
    assert (second.status, second.attempts) == (Status.FAILED, 0)
    assert second.last_error == "The endpoint is disabled"
    [email] = await EmailDelivery.filter(template="webhook_disabled")
    assert email.to_address == f"owner-{endpoint.partner_id}@aurora.example"
    assert endpoint.url in email.text_body and "410 Gone" in email.text_body
    [event] = await ActivityEvent.filter(verb=ActivityVerb.WEBHOOK_DISABLED)
    assert (event.subject_type, event.subject_id) == ("WebhookEndpoint", endpoint.id)
    assert receiver.accepted == []
    after = final_statuses()
    assert (after["DELIVERED"] - before["DELIVERED"], after["FAILED"] - before["FAILED"]) == (0, 2)


async def test_an_endpoint_failing_every_attempt_for_three_days_is_disabled(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: an endpoint failing since just over the maximum age, and a new delivery that fails
    endpoint = await an_endpoint(
        receiver,
        failing_since=datetime.now(UTC)
        - timedelta(hours=settings.webhook_max_age_hours, minutes=1),
    )
    [delivery] = await queued(endpoint)
    receiver.faults[:] = ["500"]

    # when
    assert await attempt_once(settings) == 1

    # then
    await endpoint.refresh_from_db()
    assert endpoint.enabled is False
    assert endpoint.disabled_reason == "Every delivery failed for 3 days"
    await delivery.refresh_from_db()
    assert delivery.status == Status.FAILED and delivery.last_error == "The endpoint is disabled"
    assert await EmailDelivery.filter(template="webhook_disabled").count() == 1


async def test_a_success_clears_the_failing_clock(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: an endpoint that has been failing for an hour
    endpoint = await an_endpoint(receiver, failing_since=datetime.now(UTC) - timedelta(hours=1))
    await queued(endpoint)
    # when
    await deliver_everything(settings)
    # then
    await endpoint.refresh_from_db()
    assert endpoint.failing_since is None and endpoint.enabled is True


async def test_a_delivery_retried_for_three_days_fails(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: a delivery queued just over the maximum age ago
    endpoint = await an_endpoint(receiver)
    age = timedelta(hours=settings.webhook_max_age_hours, minutes=1)
    [delivery] = await queued(endpoint, queued_at=datetime.now(UTC) - age)
    receiver.faults[:] = ["500"]

    # when
    await attempt_once(settings)

    # then
    await delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        Status.FAILED,
        1,
        500,
    )
    assert delivery.last_error == "The endpoint answered 500; gave up after 3 days"
    await endpoint.refresh_from_db()
    assert endpoint.enabled is True  # the endpoint itself only started failing now


async def test_a_redirect_is_not_followed(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given
    endpoint = await an_endpoint(receiver)
    [delivery] = await queued(endpoint)
    receiver.faults[:] = ["redirect"]

    # when
    await attempt_once(settings)

    # then: retried later, and nothing went to the Location
    await delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (Status.RETRYING, 302)
    assert delivery.last_error == "The endpoint answered 302 (redirects are not followed); retrying"
    assert receiver.paths == ["/hooks/partnerdesk"]


async def test_an_answer_is_read_no_further_than_64_kib(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: a receiver answering 200 with 4 MiB, slowly (reading it all would take 3 s)
    endpoint = await an_endpoint(receiver)
    [delivery] = await queued(endpoint)
    receiver.faults[:] = ["huge"]
    assert HUGE_CHUNKS * 0.05 > 5 * TIMEOUT

    # when
    await attempt_once(settings)

    # then: delivered within the attempt's deadline
    await delivery.refresh_from_db()
    assert (delivery.status, delivery.last_status_code) == (Status.DELIVERED, 200)


async def test_an_unreachable_endpoint_is_waited_for_once_per_batch(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: five deliveries, one sender, a receiver that hangs on every request
    endpoint = await an_endpoint(receiver)
    await queued(endpoint, 5)
    receiver.faults[:] = ["hang"] * 5

    # when
    started = time.monotonic()
    await attempt_once(settings, concurrency=1)
    elapsed = time.monotonic() - started

    # then: one timeout, shared by the batch, not five
    assert receiver.paths == ["/hooks/partnerdesk"]
    assert elapsed < 3 * TIMEOUT
    rows = await WebhookDelivery.filter(endpoint_id=endpoint.id)
    assert {(row.status, row.attempts) for row in rows} == {(Status.RETRYING, 1)}


# ---------------------------------------------------------------- signing


async def test_after_rotation_both_secrets_sign_for_a_day(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: the secret was rotated; the receiver still holds the old one
    endpoint = await an_endpoint(receiver)
    old_secret, new = endpoint.secret, new_secret()
    await WebhookEndpoint.filter(id=endpoint.id).update(
        secret=new,
        previous_secret=old_secret,
        previous_secret_until=datetime.now(UTC) + timedelta(hours=24),
    )
    await queued(endpoint)

    # when
    await deliver_everything(settings)

    # then: two signatures; a receiver with either secret accepts the delivery
    [received] = receiver.accepted
    assert len(received.signature.split(" ")) == 2
    assert verifies(old_secret, received) and verifies(new, received)

    # when the day is over
    await WebhookEndpoint.filter(id=endpoint.id).update(
        previous_secret_until=datetime.now(UTC) - timedelta(seconds=1)
    )
    receiver.secret = new
    await queued(endpoint)
    await deliver_everything(settings)

    # then only the new secret signs
    latest = receiver.accepted[-1]
    assert len(latest.signature.split(" ")) == 1
    assert verifies(new, latest) and not verifies(old_secret, latest)


async def test_the_secret_appears_in_no_log_line_and_no_error(
    app: Starlette, settings: Settings, receiver: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    # given: one delivery that fails once, then succeeds, with every logger at DEBUG
    endpoint = await an_endpoint(receiver)
    [delivery] = await queued(endpoint)
    receiver.faults[:] = ["500"]

    # when
    with caplog.at_level(logging.DEBUG):
        await deliver_everything(settings)

    # then
    key = endpoint.secret.removeprefix("whsec_")
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert f"webhook delivery {delivery.id}" in logged  # the failure was logged, by id
    assert key not in logged and endpoint.secret not in logged
    await delivery.refresh_from_db()
    assert key not in f"{delivery.last_error} {delivery.last_error_detail}"


# ---------------------------------------------------------------- where webhooks may go


class RecordingSockets(httpcore.AsyncNetworkBackend):
    """Opens every socket to the receiver, recording the address it was asked for."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.asked: list[str] = []
        self.inner = httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        self.asked.append(host)
        return await self.inner.connect_tcp("127.0.0.1", self.port, *args, **kwargs)

    async def sleep(self, seconds: float) -> None:
        await self.inner.sleep(seconds)


@pytest.mark.parametrize("settings", [{"webhook_allow_private": False}], indirect=True)
async def test_a_host_resolving_to_a_private_address_is_refused_at_every_attempt(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: a host name that resolves to loopback (the receiver), without the setting
    endpoint = await an_endpoint(receiver, url=f"http://hooks.internal.test:{receiver.port}/h")
    [delivery] = await queued(endpoint)

    async def to_loopback(host: str, port: int) -> list[str]:
        return ["127.0.0.1"]

    # when
    await attempt_once(settings, resolver=to_loopback)

    # then: nothing was sent
    await delivery.refresh_from_db()
    assert delivery.status == Status.RETRYING
    assert delivery.last_error == (
        "The endpoint's address is not allowed (a private or reserved network address); retrying"
    )
    assert receiver.paths == []


@pytest.mark.parametrize("settings", [{"webhook_allow_private": False}], indirect=True)
async def test_the_connection_goes_to_the_address_that_was_checked(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: DNS answers a public address for the check and loopback a moment later (rebinding)
    endpoint = await an_endpoint(receiver, url="http://hooks.rebinding.test/h")
    [delivery] = await queued(endpoint)
    answers = [["93.184.216.34"]]

    async def rebinding(host: str, port: int) -> list[str]:
        return answers.pop(0) if answers else ["127.0.0.1"]

    sockets = RecordingSockets(receiver.port)

    # when
    await attempt_once(settings, resolver=rebinding, sockets=sockets)

    # then: the socket was opened to the checked address, and the name was resolved once
    assert sockets.asked == ["93.184.216.34"]
    assert answers == []
    await delivery.refresh_from_db()
    assert delivery.status == Status.DELIVERED
    [received] = receiver.accepted
    assert received.headers["host"] == "hooks.rebinding.test"


# ---------------------------------------------------------------- shutdown, crash, concurrency


async def test_stop_finishes_what_is_being_sent_and_releases_the_rest(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: 20 deliveries sent slowly, one at a time
    endpoint = await an_endpoint(receiver)
    await queued(endpoint, 20)
    receiver.delay = 0.05
    worker = WebhookWorker(settings, poll_seconds=0.05, concurrency=1)
    worker.start()
    await wait_for_received(receiver, 3, within=5)

    # when
    await asyncio.wait_for(worker.stop(), timeout=3)

    # then: what was received is DELIVERED, the rest QUEUED and free for any worker
    delivered = await WebhookDelivery.filter(status=Status.DELIVERED).count()
    assert delivered == len(receiver.accepted) and 3 <= delivered < 20
    assert await WebhookDelivery.filter(status=Status.QUEUED, claimed_by=None).count() == (
        20 - delivered
    )
    assert await WebhookDelivery.filter(status=Status.SENDING).count() == 0


async def test_a_slow_run_renews_its_lease_so_no_other_worker_takes_it_over(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: a run that takes about three leases (one sender, 0.5 s per delivery, 2 s lease).
    # A sender renews between deliveries once half the lease is gone, so the slack is one
    # delivery's time: 0.5 s of a busy machine (a parallel `make test`) must not lose it.
    endpoint = await an_endpoint(receiver)
    await queued(endpoint, 12)
    receiver.delay = 0.5
    slow = replace(settings, webhook_lease_seconds=2, webhook_timeout_seconds=1)

    # when: a second worker polls all the while, ready to take any lease that runs out
    async with running_worker(slow, concurrency=1), running_worker(slow, poll_seconds=0.02):
        await asyncio.wait_for(until_none_pending(), timeout=30)

    # then: each delivery was sent once
    assert len(receiver.accepted) == 12 and set(receiver.ids.values()) == {1}


def worker_environment(settings: Settings, **extra: str) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "PARTNERDESK_DATABASE_URL": settings.database_url,
        "PARTNERDESK_WEBHOOK_ALLOW_PRIVATE": "true",
        "PARTNERDESK_WEBHOOK_RETRY_BASE_SECONDS": "0.01",
        "PARTNERDESK_WEBHOOK_TIMEOUT_SECONDS": "2",
        "PARTNERDESK_WEBHOOK_LEASE_SECONDS": "2",
        "PARTNERDESK_PASSWORD_HASH_PROFILE": "fast",
        **extra,
    }


async def test_worker_killed_mid_delivery_loses_nothing_after_restart(
    app: Starlette, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    # given: 1,000 deliveries queued and a `partnerdesk worker` process sending them
    endpoint = await an_endpoint(receiver)
    await queued(endpoint, 1000)
    receiver.delay = 0.002  # a receiver that does a little work per event
    env = worker_environment(settings)
    log = tmp_path / "worker.log"
    first = await start_partnerdesk(env, "worker", log=log)
    try:
        await wait_for_received(receiver, 350, within=60)  # mid-batch
    finally:
        # when: it is killed mid-delivery, then a new worker starts
        first.send_signal(signal.SIGKILL)
        await first.wait()
    received_at_kill = len(receiver.accepted)
    held_at_kill = await WebhookDelivery.filter(status=Status.SENDING).count()
    restarted = time.monotonic()
    second = await start_partnerdesk(env, "worker", log=log)
    try:
        await asyncio.wait_for(until_none_pending(poll=0.1), timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        exit_code = await asyncio.wait_for(second.wait(), timeout=15)
    drained_in = time.monotonic() - restarted

    # then: every delivery arrived; a receiver de-duplicating on webhook-id processes each once
    ids = receiver.ids
    duplicates = sum(ids.values()) - len(ids)
    print(
        f"\nwebhook crash test: {received_at_kill} received before SIGKILL, {held_at_kill} "
        f"deliveries left SENDING by the killed worker; after restart all drained in "
        f"{drained_in:.1f} s; {sum(ids.values())} received in total, {len(ids)} distinct "
        f"webhook-ids, {duplicates} duplicate(s), each with the same id and body"
    )
    assert exit_code == 0, log.read_text()
    assert held_at_kill > 0  # the restart really had to wait for the dead worker's lease
    assert len(ids) == 1000
    assert await WebhookDelivery.filter(status=Status.DELIVERED).count() == 1000
    bodies: dict[str, bytes] = {}
    for received in receiver.accepted:  # a duplicate is the same delivery, byte for byte
        assert bodies.setdefault(received.webhook_id, received.raw) == received.raw
    # At most the sends in flight and those waiting for their commit go out twice.
    assert duplicates <= settings.webhook_concurrency * (UNRECORDED_PER_SENDER + 1)


@pytest.mark.postgres_only
async def test_two_workers_on_postgres_send_each_delivery_exactly_once(
    app: Starlette, settings: Settings, receiver: Receiver, tmp_path: Path
) -> None:
    # given
    endpoint = await an_endpoint(receiver)
    await queued(endpoint, 2000)
    env = worker_environment(settings, PARTNERDESK_WEBHOOK_LEASE_SECONDS="60")
    log = tmp_path / "workers.log"

    # when: two worker processes drain the outbox together
    workers = [await start_partnerdesk(env, "worker", log=log) for _ in range(2)]
    claimants: set[str] = set()

    async def drained() -> None:
        while await pending_count():
            holders = await WebhookDelivery.filter(claimed_by__isnull=False).values_list(
                "claimed_by", flat=True
            )
            claimants.update(str(holder).split("/")[0] for holder in holders)
            await asyncio.sleep(0.05)

    try:
        await asyncio.wait_for(drained(), timeout=120)
    finally:
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
        exit_codes = [await asyncio.wait_for(worker.wait(), timeout=15) for worker in workers]

    # then
    ids = receiver.ids
    assert exit_codes == [0, 0], log.read_text()
    assert len(claimants) == 2  # both workers took part
    assert len(ids) == 2000
    assert set(ids.values()) == {1}, [webhook_id for webhook_id, n in ids.items() if n > 1][:10]
    assert await WebhookDelivery.filter(status=Status.DELIVERED).count() == 2000


async def test_webhooks_status_shows_counts_and_the_last_failures_with_their_detail(
    app: Starlette, settings: Settings, receiver: Receiver
) -> None:
    # given: one delivery failed with 410, one delivered
    endpoint = await an_endpoint(receiver)
    failed, _ = await queued(endpoint, 2)
    receiver.faults[:] = ["410"]
    await deliver_everything(settings, concurrency=1)

    # when
    code, stdout, _ = await run_partnerdesk(worker_environment(settings), "webhooks", "status")

    # then: operators see what partners see, and what the receiver said
    assert code == 0
    assert "QUEUED: 0  SENDING: 0  DELIVERED: 0  RETRYING: 0  FAILED: 2" in stdout
    assert f"#{failed.id} CUSTOMER_CREATED to endpoint #{endpoint.id} ({endpoint.url})" in stdout
    assert "The endpoint answered 410 Gone; endpoint disabled" in stdout
    assert "HTTP 410 Gone" in stdout


def test_bodies_are_the_documented_shape() -> None:
    at = datetime(2026, 11, 27, 10, 15, tzinfo=UTC)
    text = body(WebhookEventType.INVITATION_CONNECTED, at, {"x": 1})
    assert orjson.loads(text) == {
        "type": "invitation.connected",
        "timestamp": "2026-11-27T10:15:00+00:00",
        "data": {"x": 1},
    }
