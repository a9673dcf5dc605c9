"""The dashboard (docs/console.md#pages): what is waiting, what came today and what became of
it, what is held, what failed to go out, the IMAP accounts and the latest imports."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import RedirectResponse, Response

from ingestd.service import messages, outbox, status, webhooks
from ingestd.service.sessions import Session
from ingestd.states import OutboxState, WebhookState
from ingestd.web.console.access import application, viewer
from ingestd.web.console.render import page
from ingestd.web.console.routing import console_router

router = console_router()
SHOWN = 10  # entries of each list on the dashboard; the list's own page has them all


@router.get("")
def to_dashboard() -> Response:
    return RedirectResponse("/ui/", 307)


@router.get("/")
def dashboard(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    app = application(request)
    return page(
        request,
        "dashboard.html",
        title="Dashboard",
        state=status.status(app),
        today=messages.today(app),
        held=messages.held(app)[:SHOWN],
        failed_mail=outbox.latest(app, OutboxState.FAILED, limit=SHOWN),
        failed_hooks=webhooks.deliveries(app, WebhookState.FAILED)[:SHOWN],
    )
