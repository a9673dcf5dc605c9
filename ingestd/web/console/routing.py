"""The routes of the console answer people, not programs: a missing session is a trip to the
login page, a refusal or an error of ingestd's is a page saying it in one line (never
problem+json, never a traceback)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from ingestd.errors import IngestdError, RefusedError
from ingestd.logs import kv
from ingestd.web.console.access import LoginRequired, Refused
from ingestd.web.console.render import page
from ingestd.web.problems import NOT_FOUND, Problem

log = logging.getLogger("ingestd.console")


class ConsoleRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequired as e:
                return RedirectResponse(f"/ui/login?next={quote(e.next_path, safe='/')}", 303)
            except RequestValidationError as e:  # a path or query no page of the console has
                where = {str(err.get("loc", ("",))[0]) for err in e.errors()}
                status = 404 if where == {"path"} else 422
                return page(
                    request,
                    "refused.html",
                    status,
                    title="Not found" if status == 404 else "Not done",
                    message=unreadable(e),
                )
            except Problem as e:  # a check shared with the API (a table's path, an instant)
                return page(request, "refused.html", e.status, title="Not done", message=e.detail)
            except Refused as e:
                log.info(kv("console.refused", path=request.url.path, detail=e.message))
                return page(request, "refused.html", e.status, title="Refused", message=e.message)
            except IngestdError as e:
                missing = isinstance(e, RefusedError) and e.reason in NOT_FOUND
                status = 404 if missing else 422
                title = "Not found" if missing else "Not done"
                return page(request, "refused.html", status, title=title, message=str(e))
            except Exception:
                log.exception(kv("console.error", path=request.url.path))
                return page(
                    request,
                    "refused.html",
                    500,
                    title="Not done",
                    message="an internal error; the details are in the daemon's log",
                )

        return answer


def unreadable(error: RequestValidationError) -> str:
    """What was wrong with the address, in one line."""
    parts = []
    for err in error.errors():
        loc = err.get("loc", ())
        name = loc[-1] if loc else "?"
        parts.append(f"{name}: {err.get('msg', 'not valid')}")
    return "the address is not one the console has (" + "; ".join(parts) + ")"


def console_router() -> APIRouter:
    return APIRouter(prefix="/ui", route_class=ConsoleRoute, include_in_schema=False)
