"""The HTTP application (docs/http.md): the API's routers, health and metrics, behind the
limits on body size and request rate, with every error answered as problem+json."""

from __future__ import annotations

import logging
import time

from fastapi import FastAPI
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingestd import __version__, metrics
from ingestd.config import HttpConfig
from ingestd.intake.queue import InboundQueue
from ingestd.logs import kv
from ingestd.service.app import App
from ingestd.web import api_decks, api_messages, api_tables, console, health, problems
from ingestd.web.limits import BodyLimit, RateLimit
from ingestd.web.uploads import Uploads

log = logging.getLogger("ingestd.http")

DESCRIPTION = """The OpenTWPS API of ingestd: rate tables, their versions and rows, diffs and
lookups; deck uploads; messages and the quarantine. Authenticate with
`Authorization: Bearer <token>` (`ingestd apikey create`)."""


def build(app: App, http: HttpConfig, *, queue: InboundQueue | None = None) -> FastAPI:
    """The ASGI application over ``app`` (the daemon's store and configuration); ``queue`` is
    the daemon's inbound queue, whose depth ``/readyz`` and ``/metrics`` report."""
    web = FastAPI(
        title="ingestd",
        version=__version__,
        description=DESCRIPTION,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
    )
    web.state.ingestd = app
    web.state.queue = queue
    web.state.uploads = Uploads()
    problems.install(web)
    for module in (api_tables, api_decks, api_messages, health):
        web.include_router(module.router)
    console.install(web)
    # the last added runs first: the count and the log line (of refusals too), the rate, the size
    web.add_middleware(BodyLimit, limit=http.max_body_size)
    web.add_middleware(RateLimit, per_minute=http.rate_limit)
    web.add_middleware(Logged)
    return web


class Logged:
    """One count per request and one log line (never the query string: it may carry numbers
    a team would rather not log); a flood's 429s are logged at debug level, counted all the
    same."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.monotonic()
        status = 500

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            metrics.HTTP_REQUESTS.labels(f"{status // 100}xx").inc()
            (log.debug if status == 429 else log.info)(
                kv(
                    "http.request",
                    method=scope["method"],
                    path=scope["path"],
                    status=status,
                    ms=round((time.monotonic() - started) * 1000),
                )
            )
