"""Who is at the console (docs/console.md#users-and-sessions): a person logs in with a name and
password (``ingestd user add``), the server opens a session in the database and gives the
browser a signed, HttpOnly, SameSite cookie naming it; every form carries the session's CSRF
token, and a role says what the person may do."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path
from typing import Annotated

from fastapi import Depends, Request
from itsdangerous import BadSignature, URLSafeSerializer
from starlette.datastructures import FormData
from starlette.responses import Response

from ingestd import durable
from ingestd.service import sessions
from ingestd.service.app import App
from ingestd.service.sessions import Session
from ingestd.service.users import Role

COOKIE = "ingestd_session"
LOGIN_COOKIE = "ingestd_login"  # the login form's own CSRF token, before there is a session
SECRET_FILE = "console.key"  # under [daemon] state_dir: the key that signs the cookies


class LoginRequired(Exception):
    """No live session: the person is sent to the login page, then back to ``next``."""

    def __init__(self, next_path: str):
        super().__init__(next_path)
        self.next_path = next_path


class Refused(Exception):
    """The person may not do this (``status`` 403) or the form is stale (CSRF, 403)."""

    def __init__(self, message: str, status: int = 403):
        super().__init__(message)
        self.message = message
        self.status = status


def application(request: Request) -> App:
    return request.app.state.ingestd


def signer(app: App) -> URLSafeSerializer:
    """The cookie signer, keyed by the state directory's console key: made on first use, once
    (two servers starting together on one state directory agree on the first key written)."""
    path = Path(app.config.daemon.state_dir) / SECRET_FILE
    if not path.exists():
        draft = path.with_name(f".{SECRET_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        durable.write_file(draft, secrets.token_bytes(32), mode=0o600)
        try:
            os.link(draft, path)  # never replaces a key another process wrote first
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    return URLSafeSerializer(path.read_bytes(), salt="ingestd.console")


def cookie_signer(request: Request) -> URLSafeSerializer:
    """The server's signer, made once per server."""
    state = request.app.state
    if getattr(state, "console_signer", None) is None:
        state.console_signer = signer(application(request))
    return state.console_signer


def signed_value(request: Request, cookie: str) -> str | None:
    """The value a cookie of ours holds, if its signature is ours."""
    text = request.cookies.get(cookie)
    if not text:
        return None
    try:
        value = cookie_signer(request).loads(text)
    except BadSignature:
        return None
    return value if isinstance(value, str) else None


def set_signed(request: Request, response: Response, cookie: str, value: str, path: str) -> None:
    response.set_cookie(
        cookie,
        cookie_signer(request).dumps(value),
        path=path,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


def current(request: Request) -> Session | None:
    """The live session the request's cookie names, if any."""
    token = signed_value(request, COOKIE)
    if token is None:
        return None
    found = sessions.find(application(request), token)
    if found is not None:
        request.state.session = found
    return found


def viewer(request: Request) -> Session:
    """A dependency: the request's session (any role); without one, to the login page."""
    found = current(request)
    if found is None:
        wanted = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequired(wanted if request.method == "GET" else "/ui/")
    return found


def role(wanted: Role):
    """A dependency: the session, whose role must allow ``wanted`` (403 otherwise)."""

    def check(session: Annotated[Session, Depends(viewer)]) -> Session:
        if not session.user.role.allows(wanted):
            raise Refused(
                f"{session.user.name} has the role {session.user.role}; "
                f"this needs the role {wanted} or above"
            )
        return session

    return check


async def posted(request: Request, session: Session) -> FormData:
    """The form a person sent, once its CSRF token is the session's own (403 otherwise)."""
    form = await request.form()
    given = form.get("csrf")
    if not isinstance(given, str) or not hmac.compare_digest(given, session.csrf):
        raise Refused(
            "the form was refused: its security token is missing or out of date "
            "(reload the page and send it again)"
        )
    return form


def actor(session: Session) -> str:
    """How the audit log names a person at the console."""
    return session.user.label
