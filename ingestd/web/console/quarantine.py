"""The quarantine at the console (docs/console.md#pages): the held messages, one of them with
why it is held, its headers and each sheet's detection, and the two decisions a person makes —
release it with the answers of docs/reading.md#decks-nobody-taught-us (which become the
vendor's profile) or drop it, each with a note and an entry in the audit log."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from ingestd.errors import UsageError
from ingestd.service import messages
from ingestd.service.decks import answers as typed_answers
from ingestd.service.sessions import Session
from ingestd.service.users import Role
from ingestd.sheets.answers import DATE_ORDERS, HYPHEN_MEANINGS, IGNORE
from ingestd.sheets.vocabulary import FIELDS
from ingestd.web.api_messages import held_entry
from ingestd.web.console.access import actor, application, posted, role, viewer
from ingestd.web.console.render import page
from ingestd.web.console.routing import console_router

router = console_router()
MAP_FIELD = "map:"  # a release form's column answers: map:<header> = field

Viewer = Annotated[Session, Depends(viewer)]
Operator = Annotated[Session, Depends(role(Role.OPERATOR))]


def sheet_readings(outcome: dict[str, Any]) -> list[dict[str, Any]]:
    """Every sheet's reading in a held message's outcome: the file, the table it was for,
    the import's status and reason, the sheet's detection (columns, doubts, warnings)."""
    found = []
    for attachment in outcome.get("sheets") or []:
        for result in attachment.get("outcomes") or []:
            found.append({"file_name": attachment.get("file_name"), **result})
    return found


def columns_to_answer(readings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The columns a release form asks about, one per header (an answer holds for every sheet
    with that header), the doubtful ones first."""
    doubtful = {
        d.get("subject", "") for r in readings for d in (r.get("sheet") or {}).get("doubts") or []
    }
    seen: dict[str, dict[str, Any]] = {}
    for reading in readings:
        for column in (reading.get("sheet") or {}).get("columns") or []:
            header = str(column.get("header") or column.get("column") or "").strip()
            if header and header not in seen:
                subject = f"column {column.get('column')} '{column.get('header')}'"
                seen[header] = {**column, "answer_key": header, "doubt": subject in doubtful}
    return sorted(seen.values(), key=lambda c: not c["doubt"])


@router.get("/quarantine")
def held_list(request: Request, session: Viewer, all: bool = False) -> Response:
    app = application(request)
    return page(
        request,
        "quarantine.html",
        title="Quarantine",
        held=messages.held(app, all_states=all),
        all=all,
    )


def held_page(
    request: Request, held_id: int, *, status: int = 200, error: str = "", **extra: Any
) -> Response:
    app = application(request)
    entry = held_entry(app, held_id)
    readings = sheet_readings(entry.outcome or {})
    auth = (entry.outcome or {}).get("auth") or {}
    return page(
        request,
        "held.html",
        status,
        title=f"Held message {held_id}",
        crumbs=[("Quarantine", "/ui/quarantine"), (f"message {held_id}", None)],
        entry=entry,
        headers=messages.held_headers(app, held_id),
        readings=readings,
        columns=columns_to_answer(readings),
        fields=FIELDS,
        ignore=IGNORE,
        date_orders=DATE_ORDERS,
        hyphens=HYPHEN_MEANINGS,
        vendors=[v.id for v in app.config.vendors],
        authenticated=auth.get("status") == "pass",
        auth=auth,
        may_decide=request.state.session.user.role.allows(Role.OPERATOR),
        error=error,
        **extra,
    )


@router.get("/quarantine/{held_id}")
def held_one(request: Request, held_id: int, session: Viewer) -> Response:
    return held_page(request, held_id)


def given_answers(form: FormData):
    """The answers a release form carries: column meanings, increments (one per line), the
    date order and the meaning of a hyphen; a malformed one is a usage error."""
    mapping = [
        f"{key[len(MAP_FIELD) :]}={value}"
        for key, value in form.multi_items()
        if key.startswith(MAP_FIELD) and isinstance(value, str) and value.strip()
    ]
    increments = [
        line.strip() for line in str(form.get("increments") or "").splitlines() if line.strip()
    ]
    return typed_answers(
        map=mapping,
        increments=increments,
        date_order=str(form.get("date_order") or "") or None,
        hyphen=str(form.get("hyphen") or "") or None,
    )


@router.post("/quarantine/{held_id}/release")
async def release(request: Request, held_id: int, session: Operator) -> Response:
    form = await posted(request, session)
    app = application(request)
    await run_in_threadpool(held_entry, app, held_id)
    note = str(form.get("note") or "").strip() or None
    try:
        given = given_answers(form)
    except UsageError as e:
        return await run_in_threadpool(held_page, request, held_id, status=422, error=str(e))
    outcome = await run_in_threadpool(
        lambda: messages.release(
            app,
            held_id,
            accept_unauthenticated=form.get("accept_unauthenticated") == "yes",
            vendor=str(form.get("vendor") or "") or None,
            note=note,
            answers=given,
            actor=actor(session),
        )
    )
    result = outcome.as_dict()
    return page(
        request,
        "released.html",
        title=f"Held message {held_id}: {result.get('status')}",
        crumbs=[
            ("Quarantine", "/ui/quarantine"),
            (f"message {held_id}", f"/ui/quarantine/{held_id}"),
            ("released", None),
        ],
        held_id=held_id,
        result=result,
        readings=sheet_readings(result),
    )


@router.post("/quarantine/{held_id}/drop")
async def drop(request: Request, held_id: int, session: Operator) -> Response:
    form = await posted(request, session)
    app = application(request)
    await run_in_threadpool(held_entry, app, held_id)
    note = str(form.get("note") or "").strip() or None
    await run_in_threadpool(lambda: messages.drop(app, held_id, note=note, actor=actor(session)))
    return RedirectResponse(f"/ui/quarantine/{held_id}", 303)
