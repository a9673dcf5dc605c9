"""Messages and the quarantine over HTTP (docs/http.md#read): what the pipeline did with each
message, the held ones, and (admin keys) releasing or dropping them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query
from pydantic import BaseModel

from ingestd.errors import UsageError
from ingestd.service import messages
from ingestd.service.apikeys import ApiKey, Scope
from ingestd.service.app import App
from ingestd.service.decks import answers as typed_answers
from ingestd.web.access import application, requires
from ingestd.web.problems import Problem

router = APIRouter(prefix="/api/v1", tags=["messages"])

Ingestd = Annotated[App, Depends(application)]
Reader = Depends(requires(Scope.READ))


class Release(BaseModel):
    """A person's decision to let a held message through, with the answers of
    docs/reading.md#decks-nobody-taught-us when the reader asked a question."""

    note: str | None = None
    accept_unauthenticated: bool = False
    vendor: str | None = None
    map: list[str] = []
    increments: list[str] = []
    date_order: str | None = None
    hyphen: str | None = None


class Drop(BaseModel):
    note: str | None = None


@router.get("/messages", summary="The latest messages", dependencies=[Reader])
def list_messages(
    app: Ingestd,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    before: int | None = None,
) -> dict[str, Any]:
    """Newest first; ``next_before`` pages back."""
    found = messages.received(app, limit=limit, before=before)
    return {
        "messages": [m.as_dict() for m in found],
        "next_before": found[-1].row["id"] if len(found) == limit else None,
    }


@router.get("/messages/{message_id}", summary="One message and its outcome", dependencies=[Reader])
def one_message(app: Ingestd, message_id: int) -> dict[str, Any]:
    return messages.received_message(app, message_id).as_dict(full=True)


def held_entry(app: App, held_id: int):
    try:
        return messages.held_message(app, held_id)
    except UsageError as e:
        raise Problem(404, str(e), kind="no_held") from None


@router.get("/quarantine", summary="The held messages", dependencies=[Reader])
def list_held(app: Ingestd, all: bool = False) -> dict[str, Any]:
    """Oldest first; with ``all``, also the released, dropped and superseded ones."""
    return {"held": [h.as_dict() for h in messages.held(app, all_states=all)]}


@router.get("/quarantine/{held_id}", summary="One held message", dependencies=[Reader])
def one_held(app: Ingestd, held_id: int) -> dict[str, Any]:
    return held_entry(app, held_id).as_dict(full=True)


@router.post("/quarantine/{held_id}/release", summary="Release a held message")
def release_held(
    app: Ingestd,
    held_id: int,
    key: Annotated[ApiKey, Depends(requires(Scope.ADMIN))],
    decision: Annotated[Release | None, Body()] = None,
) -> dict[str, Any]:
    """Run it through the pipeline again, guards accepted; the note names the key."""
    decision = decision or Release()
    held_entry(app, held_id)
    given = typed_answers(
        map=decision.map, increments=decision.increments,
        date_order=decision.date_order, hyphen=decision.hyphen,
    )  # fmt: skip
    outcome = messages.release(
        app,
        held_id,
        actor=key.label,
        accept_unauthenticated=decision.accept_unauthenticated,
        vendor=decision.vendor,
        note=noted(key, decision.note),
        answers=given,
    )
    return outcome.as_dict()


@router.post("/quarantine/{held_id}/drop", summary="Drop a held message")
def drop_held(
    app: Ingestd,
    held_id: int,
    key: Annotated[ApiKey, Depends(requires(Scope.ADMIN))],
    decision: Annotated[Drop | None, Body()] = None,
) -> dict[str, Any]:
    held_entry(app, held_id)
    decision = decision or Drop()
    dropped = messages.drop(app, held_id, actor=key.label, note=noted(key, decision.note))
    return dropped.as_dict(full=True)


def noted(key: ApiKey, note: str | None) -> str:
    """The decision's note, saying which key made it."""
    return f"{note} ({key.label})" if note else f"by {key.label}"
