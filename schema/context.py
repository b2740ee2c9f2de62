"""The typed request context: who is calling, the settings, and this request's DataLoaders."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import Any

import strawberry
from starlette.requests import HTTPConnection
from strawberry.dataloader import DataLoader

from config import Settings
from resolvers import loaders
from resolvers.actor import Actor
from telemetry.logs import new_request_id


class Loaders:
    """DataLoaders reading what one actor may see; built per request (and per subscription event).

    Each loader is made on first use: most operations need one or two of them, and an idle
    websocket connection (a dashboard) needs none (~5 KiB saved per connection).
    """

    def __init__(self, actor: Actor) -> None:
        self.actor = actor

    def _scoped(self, batch: Any) -> DataLoader[Any, Any]:
        return DataLoader(load_fn=functools.partial(batch, self.actor))

    @functools.cached_property
    def customer(self) -> DataLoader[Any, Any]:
        return self._scoped(loaders.customers_by_id)

    @functools.cached_property
    def member(self) -> DataLoader[Any, Any]:
        return self._scoped(loaders.members_by_id)

    @functools.cached_property
    def domains_of_customer(self) -> DataLoader[Any, Any]:
        return self._scoped(loaders.domains_by_customer)

    @functools.cached_property
    def contracts_of_customer(self) -> DataLoader[Any, Any]:
        return self._scoped(loaders.contracts_by_customer)

    @functools.cached_property
    def tasks_of_customer(self) -> DataLoader[Any, Any]:
        return self._scoped(loaders.tasks_by_customer)

    @functools.cached_property
    def inquiries_of_customer(self) -> DataLoader[Any, Any]:
        return self._scoped(loaders.inquiries_by_customer)

    @functools.cached_property
    def invitation_of_customer(self) -> DataLoader[Any, Any]:
        return self._scoped(loaders.invitation_by_customer)

    @functools.cached_property
    def partner(self) -> DataLoader[int, Any]:
        return DataLoader(load_fn=loaders.partners_by_id)

    @functools.cached_property
    def account(self) -> DataLoader[int, Any]:
        return DataLoader(load_fn=loaders.accounts_by_id)

    @functools.cached_property
    def email(self) -> DataLoader[int, Any]:
        return self._scoped(loaders.emails_by_id)


@dataclass
class Context:
    request: HTTPConnection
    settings: Settings
    actor: Actor
    loaders: Loaders
    response: Any = None
    # Websockets: the connection_init payload; the actor comes from its "authorization".
    connection_params: dict[str, Any] | None = None
    # The id the operation's log line, span and any masked server fault carry.
    request_id: str = field(default_factory=new_request_id)

    @classmethod
    def build(
        cls,
        request: HTTPConnection,
        settings: Settings,
        actor: Actor,
        request_id: str | None = None,
        response: Any = None,
    ) -> Context:
        return cls(
            request=request,
            settings=settings,
            actor=actor,
            loaders=Loaders(actor),
            response=response,
            request_id=request_id or new_request_id(),
        )


Info = strawberry.Info[Context, None]
