"""A number's rate at an instant in every vendor's tables, cheapest first
(docs/console.md#pages)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from ingestd.rates.model import Kind
from ingestd.service import tables
from ingestd.service.sessions import Session
from ingestd.web.api_tables import instant
from ingestd.web.console.access import application, viewer
from ingestd.web.console.render import page
from ingestd.web.console.routing import console_router

router = console_router()


@router.get("/lookup")
def lookup(
    request: Request,
    session: Annotated[Session, Depends(viewer)],
    number: str = "",
    at: str = "",
    kind: str = Kind.VOICE.value,
) -> Response:
    app = application(request)
    kinds = [k.value for k in Kind]
    found = None
    if number.strip():
        if kind not in kinds:
            kind = Kind.VOICE.value
        ranked = tables.lookup_all(app, number.strip(), kind=kind, at=instant(at or None, "at"))
        found = [r.as_dict() for r in ranked]
    return page(
        request,
        "lookup.html",
        title="Lookup",
        number=number,
        at=at,
        kind=kind,
        kinds=kinds,
        found=found,
    )
