"""Deck uploads (docs/http.md#uploads): ``POST /api/v1/decks`` runs the very import a mailed
deck gets (the same reader, semantics, guards, versions, and idempotency by the file's hash),
with the API key as the versions' provenance."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request, UploadFile

from ingestd.config import name_problem
from ingestd.ingest import ImportOutcome
from ingestd.logs import kv
from ingestd.service import decks
from ingestd.service.apikeys import ApiKey, Scope
from ingestd.service.app import App
from ingestd.states import ImportStatus
from ingestd.web.access import application, requires, vendor_for_upload
from ingestd.web.documents import document
from ingestd.web.problems import Problem, response

log = logging.getLogger("ingestd.http")

router = APIRouter(prefix="/api/v1", tags=["decks"])


@router.post("/decks", summary="Import a rate deck", status_code=200)
def upload_deck(
    file: UploadFile,
    request: Request,
    app: Annotated[App, Depends(application)],
    key: Annotated[ApiKey, Depends(requires(Scope.UPLOAD))],
    vendor: Annotated[str | None, Form()] = None,
    table: Annotated[str | None, Form()] = None,
    kind: Annotated[str | None, Form()] = None,
    mode: Annotated[str | None, Form()] = None,
    dry_run: Annotated[bool, Form()] = False,
) -> Any:
    """One file (csv, txt, xlsx, xls, ods or a zip of them), each deck into its rate table.
    201 with every deck's summary when a version was written, 200 when it was there already
    or a dry run says what would be; 409 when a guard holds a deck for a person; 422 when every
    deck was refused, with the reason; 202 with a link to that answer when the import takes
    longer than ``[http] upload_wait``."""
    named = vendor_for_upload(key, vendor)
    if problem := name_problem(named, "a vendor id"):
        raise Problem(422, problem, kind="invalid_request")
    data = file.file.read()
    log.info(kv("http.upload", key=key.name, vendor=named, file=file.filename, size=len(data)))

    def work() -> list[ImportOutcome]:
        return decks.import_deck(
            app,
            named,
            data,
            file_name=file.filename or "upload",
            table=table,
            kind=kind,
            mode=mode,
            dry_run=dry_run,
            sender=key.label,
            authentication={"method": "api_key", "key": key.name, "scope": str(key.scope)},
            source="api",
        )

    job = request.app.state.uploads.submit(key.name, work)
    try:
        outcomes = job.future.result(timeout=app.config.http.upload_wait)
    except TimeoutError:
        link = f"/api/v1/uploads/{job.id}"
        body = {"status": "running", "upload": job.id, "link": link}
        return document(body, 202, headers={"Location": link})
    return answer(outcomes)


@router.get("/uploads/{upload_id}", summary="The answer of an upload that took long")
def upload_answer(
    upload_id: str,
    request: Request,
    key: Annotated[ApiKey, Depends(requires(Scope.UPLOAD))],
) -> Any:
    """202 while the import runs; then what ``POST /decks`` would have answered."""
    job = request.app.state.uploads.get(upload_id)
    if job is None or (job.key != key.name and key.scope is not Scope.ADMIN):
        raise Problem(404, f"no upload {upload_id} (answers are kept an hour)", kind="no_upload")
    if not job.future.done():
        link = f"/api/v1/uploads/{job.id}"
        return document({"status": "running", "upload": job.id, "link": link}, 202)
    return answer(job.future.result())


def answer(outcomes: list[ImportOutcome]) -> Any:
    """The import's answer: the summaries with the status that says what became of them."""
    summaries = [o.as_dict() for o in outcomes]
    statuses = {o.status for o in outcomes}
    done = {ImportStatus.IMPORTED, ImportStatus.DUPLICATE, ImportStatus.DRY_RUN}
    if statuses & done:
        return document({"decks": summaries}, default_status(statuses))
    first = outcomes[0]
    if ImportStatus.HELD in statuses:
        held = next(o for o in outcomes if o.status == ImportStatus.HELD)
        return response(Problem(409, held.message or "a guard holds the deck for a person",
                                kind=held.reason or "held", reason=held.reason,
                                decks=summaries))  # fmt: skip
    return response(Problem(422, first.message or "the deck was refused",
                            kind=first.reason or "refused", reason=first.reason,
                            decks=summaries))  # fmt: skip


def default_status(statuses: set[ImportStatus]) -> int:
    """201 when a version was written, else 200 (a duplicate, a dry run)."""
    return 201 if ImportStatus.IMPORTED in statuses else 200
