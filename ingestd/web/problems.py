"""Errors as ``application/problem+json`` (RFC 9457, docs/http.md#errors): every answer that is
not a success says what failed in one line (``detail``) with a stable ``type`` a client can
branch on; a refusal of ingestd's keeps its reason code."""

from __future__ import annotations

import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from ingestd.errors import IngestdError, RefusedError, UsageError
from ingestd.logs import kv
from ingestd.web.documents import document

log = logging.getLogger("ingestd.http")

MEDIA_TYPE = "application/problem+json"
TYPE_BASE = "https://ingestd.dev/problems/"  # names, not pages: stable identifiers
# refusals that mean "there is no such thing" (404); every other refusal is 422
NOT_FOUND = frozenset({"no_table", "no_version", "no_message", "no_held", "no_key"})


class Problem(Exception):
    """An answer of ``status`` saying ``detail``; ``kind`` names the problem (``type``)."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.kind = kind or HTTPStatus(status).phrase.lower().replace(" ", "_")
        self.headers = headers
        self.extra = extra


def response(problem: Problem) -> Response:
    body = {
        "type": TYPE_BASE + problem.kind,
        "title": HTTPStatus(problem.status).phrase,
        "status": problem.status,
        "detail": problem.detail,
        **problem.extra,
    }
    return document(body, problem.status, media_type=MEDIA_TYPE, headers=problem.headers)


def of_error(error: IngestdError) -> Problem:
    """ingestd's own errors: a refusal keeps its reason as the problem's type."""
    if isinstance(error, RefusedError):
        status = 404 if error.reason in NOT_FOUND else 422
        return Problem(status, error.message, kind=error.reason, reason=error.reason)
    if isinstance(error, UsageError):
        return Problem(422, str(error), kind="bad_request")
    return Problem(422, str(error), kind="refused")


def of_http(error: HTTPException) -> Problem:
    """Starlette's own answers (no route: 404, a method no route takes: 405)."""
    detail = error.detail
    if not isinstance(detail, str):
        detail = HTTPStatus(error.status_code).phrase
    return Problem(error.status_code, detail, headers=error.headers)


def install(app: FastAPI) -> None:
    """Every error the application can meet, answered as a problem."""

    @app.exception_handler(Problem)
    async def _problem(request: Request, error: Problem) -> Response:
        return response(error)

    @app.exception_handler(IngestdError)
    async def _ingestd(request: Request, error: IngestdError) -> Response:
        return response(of_error(error))

    @app.exception_handler(HTTPException)
    async def _http(request: Request, error: HTTPException) -> Response:
        return response(of_http(error))

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, error: RequestValidationError) -> Response:
        errors = [
            {"where": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
            for e in error.errors()
        ]
        first = errors[0] if errors else {"where": "request", "problem": "invalid"}
        detail = f"{first['where']}: {first['problem']}"
        return response(Problem(422, detail, kind="invalid_request", errors=errors))

    @app.exception_handler(Exception)
    async def _crash(request: Request, error: Exception) -> Response:
        log.exception(kv("http.error", path=request.url.path))
        return response(Problem(500, "internal error; the details are in the daemon's log"))
