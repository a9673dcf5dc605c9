"""The audit log (docs/console.md#users-and-sessions): every release, drop and retry, by whom,
from the console, the API or the command line, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request
from starlette.responses import Response

from ingestd.service import audit
from ingestd.service.sessions import Session
from ingestd.web.console.access import application, viewer
from ingestd.web.console.render import page
from ingestd.web.console.routing import console_router

router = console_router()
PER_PAGE = 100


@router.get("/audit")
def audit_log(
    request: Request,
    session: Annotated[Session, Depends(viewer)],
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    found = audit.entries(application(request), limit=PER_PAGE, before=before)
    more = f"/ui/audit?before={found[-1].id}" if len(found) == PER_PAGE else None
    return page(request, "audit.html", title="Audit log", entries=found, next_page=more)
