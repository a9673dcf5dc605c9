"""Vendors → tables → versions → one version's import report → the diff of any two versions
(docs/console.md#pages), and a version's rows a page at a time."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import Depends, Query, Request
from starlette.responses import Response

from ingestd.rates.model import spec_for
from ingestd.service import changes, tables, vendors
from ingestd.service.sessions import Session
from ingestd.web.api_tables import instant, table_of
from ingestd.web.console.access import application, viewer
from ingestd.web.console.render import page
from ingestd.web.console.routing import console_router

router = console_router()
ROWS_PER_PAGE = 200
CHANGES_PER_PAGE = 100

Viewer = Annotated[Session, Depends(viewer)]


def table_path(table) -> str:
    return f"/ui/tables/{table.vendor}/{table.kind}/{table.name}"


def table_crumbs(table, *more: tuple[str, str | None]) -> list[tuple[str, str | None]]:
    return [
        ("Vendors", "/ui/vendors"),
        (table.vendor, f"/ui/vendors/{table.vendor}"),
        (f"{table.name} ({table.kind})", table_path(table)),
        *more,
    ]


@router.get("/vendors")
def vendor_list(request: Request, session: Viewer) -> Response:
    app = application(request)
    found = tables.tables(app)
    names = {v.id: v.name for v in app.config.vendors}
    by_vendor: dict[str, list] = {vendor: [] for vendor in sorted(names)}
    for t in found:
        by_vendor.setdefault(t.vendor, []).append(t)
    return page(
        request, "vendors.html", title="Vendors", vendors=by_vendor, names=names, path=table_path
    )


@router.get("/vendors/{vendor}")
def one_vendor(request: Request, vendor: str, session: Viewer) -> Response:
    app = application(request)
    known = {v.id: v for v in app.config.vendors}
    found = [t for t in tables.tables(app) if t.vendor == vendor]
    if vendor not in known and not found:
        return page(
            request, "refused.html", 404, title="Not found", message=f"no vendor {vendor!r}"
        )
    return page(
        request,
        "vendor.html",
        title=f"Vendor {vendor}",
        crumbs=[("Vendors", "/ui/vendors"), (vendor, None)],
        vendor=known.get(vendor),
        vendor_id=vendor,
        tables=found,
        profiles=vendors.profiles(app, vendor),
        path=table_path,
    )


@router.get("/tables/{vendor}/{kind}/{name}")
def table_versions(request: Request, vendor: str, kind: str, name: str, session: Viewer):
    app = application(request)
    table = table_of(app, vendor, kind, name)
    found = tables.versions(app, table.vendor, table=table.name, kind=table.kind)
    return page(
        request,
        "table.html",
        title=f"{table.vendor} · {table.name} ({table.kind})",
        crumbs=[*table_crumbs(table)[:-1], (f"{table.name} ({table.kind})", None)],
        table=table,
        versions=list(reversed(found.versions)),
        path=table_path(table),
    )


@router.get("/tables/{vendor}/{kind}/{name}/versions/{number}")
def import_report(
    request: Request, vendor: str, kind: str, name: str, number: int, session: Viewer
) -> Response:
    app = application(request)
    table = table_of(app, vendor, kind, name)
    found = tables.version(app, table.vendor, number, table=table.name, kind=table.kind)
    return page(
        request,
        "version.html",
        title=f"{table.vendor} · {table.name} version {number}",
        crumbs=table_crumbs(table, (f"version {number}", None)),
        table=table,
        info=found,
        report=found.summary or {},
        path=table_path(table),
    )


@router.get("/tables/{vendor}/{kind}/{name}/versions/{number}/rows")
def version_rows(
    request: Request,
    vendor: str,
    kind: str,
    name: str,
    number: int,
    session: Viewer,
    after: str | None = None,
    at: str | None = None,
) -> Response:
    """A page of the version's rows from the code after ``after`` (one indexed read)."""
    app = application(request)
    table = table_of(app, vendor, kind, name)
    tables.version(app, table.vendor, number, table=table.name, kind=table.kind)
    when = instant(at or None, "at")
    part = tables.rows_page(
        app, table, version=number, after=after or None, rows=ROWS_PER_PAGE, at=when
    )
    columns = [c for c in spec_for(table.kind).row_columns if c in part.frame.columns]
    base = f"{table_path(table)}/versions/{number}/rows"
    more = f"{base}?{urlencode({'after': part.last, 'at': at or ''})}" if part.more else None
    return page(
        request,
        "rows.html",
        title=f"{table.vendor} · {table.name} version {number}: rows",
        crumbs=table_crumbs(
            table, (f"version {number}", f"{table_path(table)}/versions/{number}"), ("rows", None)
        ),
        table=table,
        number=number,
        columns=columns,
        rows=part.frame.select(columns).rows(),
        after=after or "",
        at=at or "",
        next_page=more,
        first_page=base if after else None,
    )


@router.get("/tables/{vendor}/{kind}/{name}/diff", response_model=None)
def version_diff(
    request: Request,
    vendor: str,
    kind: str,
    name: str,
    session: Viewer,
    from_version: Annotated[int, Query(alias="from", ge=0)],
    to_version: Annotated[int, Query(alias="to", ge=0)],
    change: str | None = None,
    q: str | None = None,
    offset: Annotated[int, Query(ge=0)] = 0,
    format: str | None = None,
) -> Response:
    """The changes from one version to another, filtered by change class and searched by
    code or destination on the server; ``format=csv`` downloads what matches."""
    app = application(request)
    table = table_of(app, vendor, kind, name)
    if format == "csv":
        data = changes.changes_csv(
            app, table, from_version, to_version, change_class=change or None, search=q
        )
        since, version = changes.ordered(from_version, to_version)
        file_name = f"{table.vendor}-{table.name}-{since}-{version}-changes.csv"
        return Response(
            data,
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{file_name}"'},
        )
    found = changes.change_page(
        app,
        table,
        from_version,
        to_version,
        change_class=change or None,
        search=q,
        offset=offset,
        limit=CHANGES_PER_PAGE,
    )
    query = urlencode(
        {"from": found.since, "to": found.version, "change": change or "", "q": q or ""}
    )
    base = f"{table_path(table)}/diff?{query}"
    return page(
        request,
        "diff.html",
        title=f"{table.vendor} · {table.name}: version {found.since} → {found.version}",
        crumbs=table_crumbs(table, (f"diff {found.since} → {found.version}", None)),
        table=table,
        found=found,
        change=change or "",
        q=q or "",
        classes=changes.CHANGE_CLASSES,
        labels=changes.LABELS,
        download=f"{base}&format=csv",
        next_page=f"{base}&offset={found.offset + found.limit}" if found.more else None,
        prev_page=f"{base}&offset={max(found.offset - found.limit, 0)}" if found.offset else None,
        increments=table.kind == "voice",
    )
