"""The console's pages (docs/console.md): Jinja2 templates shipped in the package, every page
in the frame of ``base.html`` with the navigation, the person and the CSRF token its forms
carry."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.responses import HTMLResponse

from ingestd import __version__

NAVIGATION = (
    ("Dashboard", "/ui/"),
    ("Vendors", "/ui/vendors"),
    ("Quarantine", "/ui/quarantine"),
    ("Lookup", "/ui/lookup"),
    ("Outbox", "/ui/outbox"),
    ("Webhooks", "/ui/webhooks"),
    ("Audit log", "/ui/audit"),
)

templates = Environment(
    loader=PackageLoader("ingestd.web.console", "templates"),
    autoescape=select_autoescape(default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def page(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` filled with ``context``, the session (if any) and the navigation."""
    session = getattr(request.state, "session", None)
    body = templates.get_template(template).render(
        request=request,
        session=session,
        csrf=session.csrf if session is not None else "",
        navigation=NAVIGATION,
        here=request.url.path,
        version=__version__,
        **context,
    )
    return HTMLResponse(
        body,
        status,
        headers={
            # the pages load nothing from elsewhere and run no script
            "Content-Security-Policy": "default-src 'self'; script-src 'none'; "
            "frame-ancestors 'none'; form-action 'self'",
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "same-origin",
            "Cache-Control": "no-store",
        },
    )
