"""`GET /v1/blacklist/{uscc}` answered in front of the framework's routing.

Banks check every borrower with this request, so it is by far the busiest; FastAPI's routing,
request objects and dependency injection cost several times what the lookup itself does. This
plain ASGI middleware recognises exactly that request (GET, that path with a valid code, no
query string) and answers it with the route's own functions: the same token and role checks,
the same answer and audit row (`api_blacklist.current_status`), and for errors the
application's own exception handlers. Everything else goes on to the framework unchanged: `as_of`
and any other query parameter, other methods and paths, and invalid codes (rare, and answered
422 by the route; this also leaves the route's siblings such as `/v1/blacklist/changes` alone,
as no valid code spells a word).

It sits inside the application's middleware: the request metrics (by route template) and the
last-resort error handling are the ones every other request gets.
"""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from events.uscc import InvalidUscc, validate
from services import api_blacklist
from services.api_blacklist import READER_KINDS, current_status
from services.http import admit, authenticate, json_response

PREFIX = "/v1/blacklist/"


class FastLookup:
    """Install with `app.add_middleware(FastLookup)` before the request metrics middleware
    (added later, so it wraps this one and counts these requests too)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.served = 0
        # Set in the scope as the framework's router would: the metrics label comes from it.
        self._route = _status_route()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        uscc = _code_in(scope)
        if uscc is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self._route
        try:
            response = await self._answer(scope["app"], scope["headers"], uscc)
        except Exception as exc:
            handler = _handler_for(scope["app"], exc)
            if handler is None:
                raise  # to the last-resort handler, as from the route
            response = handler(Request(scope, receive), exc)
            if inspect.isawaitable(response):
                response = await response
        self.served += 1
        await response(scope, receive, send)

    @staticmethod
    async def _answer(app: FastAPI, headers: list[tuple[bytes, bytes]], uscc: str) -> Response:
        authorization = ""
        for name, value in headers:
            if name == b"authorization":  # the first one, as the framework reads it
                authorization = value.decode("latin-1")
                break
        state = app.state
        who = admit(await authenticate(authorization, state.verifier), READER_KINDS)
        answer = await current_status(state.status_reader, state.audit, who, uscc)
        return json_response(200, answer)


def _code_in(scope: Scope) -> str | None:
    """The path's code if this request is answered here, else None."""
    if scope["type"] != "http" or scope["method"] != "GET" or scope["query_string"]:
        return None
    path: str = scope["path"]
    if not path.startswith(PREFIX) or scope.get("root_path"):
        return None
    uscc = path[len(PREFIX) :]
    try:
        return validate(uscc)
    except InvalidUscc:
        return None


def _status_route() -> APIRoute:
    for route in api_blacklist.router.routes:
        if isinstance(route, APIRoute) and route.endpoint is api_blacklist.status:
            assert route.path == PREFIX + "{uscc}", route.path
            return route
    raise RuntimeError("the status route is missing")


def _handler_for(app: FastAPI, exc: Exception) -> Any:
    """The application's handler for `exc`, as the framework's exception middleware picks it;
    None for what only the last-resort handler (`Exception`) takes."""
    handlers = app.exception_handlers
    for cls in type(exc).__mro__:
        if cls is Exception:
            return None
        if cls in handlers:
            return handlers[cls]
    return None
