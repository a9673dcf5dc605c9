"""The rates team's web console under ``/ui`` (docs/console.md): server-rendered pages over the
application layer, on the HTTP server of the API."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.responses import RedirectResponse
from starlette.staticfiles import StaticFiles

from ingestd.web.console import audit, dashboard, deliveries, login, lookup, quarantine, tables


def install(web: FastAPI) -> None:
    """The console's pages and its style sheet on ``web``; ``/`` leads to the dashboard."""
    for module in (login, dashboard, tables, quarantine, lookup, deliveries, audit):
        web.include_router(module.router)
    web.mount(
        "/ui/static",
        StaticFiles(packages=[("ingestd.web.console", "static")]),
        name="console-static",
    )
    web.add_api_route(
        "/", lambda: RedirectResponse("/ui/", 307), methods=["GET"], include_in_schema=False
    )
