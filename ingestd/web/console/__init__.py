"""The rates team's web console under ``/ui`` (docs/console.md): server-rendered pages over the
application layer, on the HTTP server of the API."""

from __future__ import annotations

from fastapi import FastAPI, Request
from starlette.exceptions import HTTPException
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from ingestd.web.console import audit, dashboard, deliveries, login, lookup, quarantine, tables
from ingestd.web.console.render import page
from ingestd.web.problems import of_http, response


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

    @web.exception_handler(HTTPException)
    async def _no_page(request: Request, error: HTTPException) -> Response:
        """An address under /ui no page has is a page saying so; the API's stay problems."""
        problem = of_http(error)
        if request.url.path == "/ui" or request.url.path.startswith("/ui/"):
            return page(
                request,
                "refused.html",
                problem.status,
                title="Not found",
                message=f"no page of the console is at {request.url.path}",
            )
        return response(problem)
