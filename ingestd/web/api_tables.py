"""The read API of the rate tables (docs/http.md#read): tables, versions, a version's rows as
OpenTWPS JSON pages, CSV or XLSX (all of them or the ones in effect at an instant), the diff of
two versions, and the lookup of a number in one vendor's table or across all vendors."""

from __future__ import annotations

import base64
import binascii
import io
import json
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response, StreamingResponse

from ingestd.config import name_problem
from ingestd.rates.export import opentwps_frame
from ingestd.rates.model import Kind, iso
from ingestd.rates.records import TableRef
from ingestd.service import tables
from ingestd.service.apikeys import Scope
from ingestd.service.app import App
from ingestd.web.access import application, requires
from ingestd.web.documents import document
from ingestd.web.problems import Problem

router = APIRouter(
    prefix="/api/v1", tags=["rate tables"], dependencies=[Depends(requires(Scope.READ))]
)

PAGE_ROWS = 1_000  # a JSON page unless the client asks for another size
MAX_PAGE_ROWS = 10_000
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}

Ingestd = Annotated[App, Depends(application)]


def snake(header: str) -> str:
    """An OpenTWPS header as a JSON field name ("Destination Code" → "destination_code")."""
    return "_".join(header.lower().replace("/", " ").replace("-", " ").split())


def instant(text: str | None, what: str) -> datetime | None:
    """``?at=`` and its kin: ISO 8601; with an offset it is converted, without one it is UTC."""
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise Problem(
            422, f"{what} {text!r} is not an ISO 8601 instant", kind="invalid_request"
        ) from None
    if value.tzinfo is not None:
        value = value.astimezone(UTC).replace(tzinfo=None)
    return value


def table_of(app: App, vendor: str, kind: str, name: str) -> TableRef:
    """The table a path names; a name no table could have is 404 like an unknown one."""
    for text, what in ((vendor, "a vendor id"), (name, "a table name")):
        if name_problem(text, what):
            raise Problem(404, f"no rate table {vendor}/{kind}/{name}", kind="no_table")
    if kind not in {k.value for k in Kind}:
        raise Problem(404, f"no rate table {vendor}/{kind}/{name}", kind="no_table")
    return tables.find_table(app, vendor, table=name, kind=kind)


def table_link(table: TableRef) -> str:
    return f"/api/v1/tables/{table.vendor}/{table.kind}/{table.name}"


def cursor_text(version: int, after: str, at: datetime | None) -> str:
    """The next page: the version and instant of the first page, the last code given."""
    data = json.dumps({"v": version, "after": after, "at": iso(at)}).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def read_cursor(text: str) -> tuple[int, str, datetime | None]:
    try:
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        version, after = int(data["v"]), str(data["after"])
        at = datetime.fromisoformat(data["at"]) if data.get("at") else None
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise Problem(422, "the cursor is not one this API gave", kind="invalid_cursor") from None
    if version < 1:
        raise Problem(422, "the cursor is not one this API gave", kind="invalid_cursor")
    return version, after, at


@router.get("/tables", summary="Every rate table")
def list_tables(app: Ingestd, vendor: str | None = None) -> dict[str, Any]:
    found = tables.tables(app, vendor)
    return {"tables": [{**t.as_dict(), "link": table_link(t)} for t in found]}


@router.get("/tables/{vendor}/{kind}/{name}", summary="One rate table and its versions")
def table_versions(app: Ingestd, vendor: str, kind: str, name: str) -> dict[str, Any]:
    table = table_of(app, vendor, kind, name)
    return tables.versions(app, table.vendor, table=table.name, kind=table.kind).as_dict()


@router.get("/tables/{vendor}/{kind}/{name}/versions/{number}", summary="One version")
def one_version(app: Ingestd, vendor: str, kind: str, name: str, number: int) -> dict[str, Any]:
    table = table_of(app, vendor, kind, name)
    found = tables.version(app, table.vendor, number, table=table.name, kind=table.kind)
    return {"table": table.as_dict(), "version": found.as_dict()}


@router.get("/tables/{vendor}/{kind}/{name}/rows", summary="A version's rows")
def table_rows(
    app: Ingestd,
    vendor: str,
    kind: str,
    name: str,
    version: int | None = None,
    at: str | None = None,
    format: str = "json",
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_ROWS)] = PAGE_ROWS,
) -> Response:
    """The rows of ``version`` (default: the latest) in OpenTWPS columns, only those in effect
    at ``at`` when given; JSON in pages of about ``limit`` rows by code, a code's rows never
    split (follow ``next_cursor``), CSV streamed, or XLSX."""
    table = table_of(app, vendor, kind, name)
    when = instant(at, "at")
    if format not in ("json", "csv", "xlsx"):
        raise Problem(422, f"format {format!r}: json, csv or xlsx", kind="invalid_request")
    after = None
    if cursor is not None:
        version, after, when = read_cursor(cursor)
    if version is None:
        if table.current_version is None:
            raise Problem(404, f"{table.label} has no version yet", kind="no_version")
        version = table.current_version
    else:
        tables.version(app, table.vendor, version, table=table.name, kind=table.kind)
    name_of = f"{table.vendor}-{table.name}-{table.kind}-v{version}"
    if format == "csv":
        return StreamingResponse(
            tables.csv_parts(app, table, version=version, at=when),
            media_type=MEDIA["csv"],
            headers={"Content-Disposition": f'attachment; filename="{name_of}.csv"'},
        )
    if format == "xlsx":  # a workbook is written whole: the version is read whole
        out = io.BytesIO()
        tables.rows(app, table.vendor, table=table.name, kind=table.kind, version=version,
                    at=when).write(out, "xlsx")  # fmt: skip
        return Response(
            out.getvalue(),
            media_type=MEDIA["xlsx"],
            headers={"Content-Disposition": f'attachment; filename="{name_of}.xlsx"'},
        )
    found = tables.rows_page(app, table, version=version, after=after, rows=limit, at=when)
    page = opentwps_frame(found.frame, table.kind, "json")
    page = page.rename({c: snake(c) for c in page.columns})
    body = {
        "table": table.as_dict(),
        "version": version,
        "at": iso(when),
        # the version's rows; with ``at``, how many are in effect is known once read to the end
        "total": app.store.count_rows(table, version) if when is None else None,
        "rows": page.to_dicts(),
        "next_cursor": cursor_text(version, found.last, when) if found.more else None,
    }
    return document(body)


@router.get("/tables/{vendor}/{kind}/{name}/diff", summary="What changed between two versions")
def table_diff(
    app: Ingestd,
    vendor: str,
    kind: str,
    name: str,
    from_version: Annotated[int, Query(alias="from", ge=0)],
    to_version: Annotated[int, Query(alias="to", ge=0)],
    limit: Annotated[int | None, Query(ge=1)] = None,
) -> dict[str, Any]:
    table = table_of(app, vendor, kind, name)
    found = tables.diff(
        app, table.vendor, from_version, to_version, table=table.name, kind=table.kind
    )
    return found.as_dict(limit)


@router.get("/lookup", summary="The rate of a number, in one vendor's table or in all")
def lookup(
    app: Ingestd,
    number: str,
    request: Request,
    vendor: str | None = None,
    table: str | None = None,
    kind: str = Kind.VOICE.value,
    at: str | None = None,
) -> dict[str, Any]:
    """With ``vendor``: the match in that vendor's table.  Without: every vendor's match in its
    tables of ``kind``, cheapest first (each price in its table's currency)."""
    when = instant(at, "at")
    if kind not in {k.value for k in Kind}:
        raise Problem(422, f"kind {kind!r}: voice, sms or did", kind="invalid_request")
    if vendor is not None:
        found = tables.lookup(app, vendor, number, table=table, kind=kind, at=when)
        return found.as_dict()
    ranked = tables.lookup_all(app, number, kind=kind, at=when)
    return {
        "number": number,
        "kind": kind,
        "at": iso(ranked[0].at) if ranked else iso(when),
        "matches": [r.as_dict() for r in ranked],
    }
