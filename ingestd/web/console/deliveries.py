"""What goes out (docs/console.md#pages): the outbox of mail and the webhook deliveries, each
failed one with a Retry button (an operator's, written to the audit log)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from ingestd.service import outbox, webhooks
from ingestd.service.sessions import Session
from ingestd.service.users import Role
from ingestd.states import OutboxState, WebhookState
from ingestd.web.console.access import actor, application, posted, role, viewer
from ingestd.web.console.render import page
from ingestd.web.console.routing import console_router

router = console_router()
PER_PAGE = 100  # outbox messages a page shows, newest first

Viewer = Annotated[Session, Depends(viewer)]
Operator = Annotated[Session, Depends(role(Role.OPERATOR))]


def state_filter(wanted: str, states: list[str]) -> str | None:
    return wanted if wanted in states else None


@router.get("/outbox")
def outbox_list(
    request: Request,
    session: Viewer,
    state: str = "",
    retried: int | None = None,
    before: Annotated[int | None, Query(ge=1)] = None,
) -> Response:
    states = [s.value for s in OutboxState]
    found = outbox.latest(
        application(request), state_filter(state, states), limit=PER_PAGE, before=before
    )
    more = urlencode({"state": state, "before": found[-1].id}) if len(found) == PER_PAGE else ""
    return page(
        request,
        "outbox.html",
        title="Outbox",
        entries=found,
        next_page=f"/ui/outbox?{more}" if more else None,
        states=states,
        state=state,
        may_retry=session.user.role.allows(Role.OPERATOR),
        notice=f"Mail {retried} is due again: the next delivery run sends it." if retried else "",
    )


@router.post("/outbox/{entry_id}/retry")
async def outbox_retry(request: Request, entry_id: int, session: Operator) -> Response:
    await posted(request, session)
    app = application(request)
    await run_in_threadpool(lambda: outbox.retry(app, entry_id, actor=actor(session)))
    return RedirectResponse(f"/ui/outbox?retried={entry_id}", 303)


@router.get("/webhooks")
def webhook_list(
    request: Request, session: Viewer, state: str = "", retried: int | None = None
) -> Response:
    states = [s.value for s in WebhookState]
    found = webhooks.deliveries(application(request), state_filter(state, states))
    return page(
        request,
        "webhooks.html",
        title="Webhooks",
        deliveries=found,
        states=states,
        state=state,
        may_retry=session.user.role.allows(Role.OPERATOR),
        notice=f"Delivery {retried} is due again: the next delivery run sends it."
        if retried
        else "",
    )


@router.post("/webhooks/{delivery_id}/retry")
async def webhook_retry(request: Request, delivery_id: int, session: Operator) -> Response:
    await posted(request, session)
    app = application(request)
    await run_in_threadpool(lambda: webhooks.retry(app, delivery_id, actor=actor(session)))
    return RedirectResponse(f"/ui/webhooks?retried={delivery_id}", 303)
