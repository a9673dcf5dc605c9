"""Logging in and out of the console (docs/console.md#users-and-sessions).

A login opens a new session whatever cookie the browser brought, so a session can never be
planted before a login nor carried from one person's login to another's; logging out closes
it in the database. Failed logins are throttled per name and per address (``Throttle``)."""

from __future__ import annotations

import hmac
import logging
import secrets
import threading
import time
from collections import deque
from typing import Annotated

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from ingestd.logs import kv
from ingestd.service import sessions, users
from ingestd.service.sessions import Session
from ingestd.web.console.access import (
    COOKIE,
    LOGIN_COOKIE,
    Refused,
    current,
    posted,
    set_signed,
    signed_value,
    viewer,
)
from ingestd.web.console.render import page
from ingestd.web.console.routing import console_router

log = logging.getLogger("ingestd.console")

router = console_router()

WINDOW = 300.0  # seconds over which failed logins are counted
FAILURES_PER_NAME = 5
FAILURES_PER_ADDRESS = 20


class Throttle:
    """Failed logins of the last ``WINDOW`` seconds, per name and per client address: past
    the limit, a login is refused without checking the password until the oldest failure
    ages out."""

    def __init__(self) -> None:
        self.failures: dict[str, deque[float]] = {}
        self.lock = threading.Lock()

    def wait(self, name: str, address: str) -> float:
        """Seconds before a login of ``name`` from ``address`` is tried again; 0 if now."""
        now = time.monotonic()
        waits = [0.0]
        with self.lock:
            for key, limit in (
                (f"name:{name.lower()}", FAILURES_PER_NAME),
                (f"address:{address}", FAILURES_PER_ADDRESS),
            ):
                seen = self.failures.get(key)
                if not seen:
                    continue
                while seen and seen[0] <= now - WINDOW:
                    seen.popleft()
                if len(seen) >= limit:
                    waits.append(seen[0] + WINDOW - now)
        return max(waits)

    def failed(self, name: str, address: str) -> None:
        now = time.monotonic()
        with self.lock:
            for key in (f"name:{name.lower()}", f"address:{address}"):
                self.failures.setdefault(key, deque()).append(now)

    def succeeded(self, name: str) -> None:
        with self.lock:
            self.failures.pop(f"name:{name.lower()}", None)


def throttle(request: Request) -> Throttle:
    state = request.app.state
    if not hasattr(state, "login_throttle"):
        state.login_throttle = Throttle()
    return state.login_throttle


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a page of the console, never another site."""
    if target and target.startswith("/ui") and not target.startswith("//"):
        return target
    return "/ui/"


def login_form(request: Request, next_path: str, error: str = "", status: int = 200) -> Response:
    token = secrets.token_urlsafe(32)
    response = page(request, "login.html", status, next=next_path, login_token=token, error=error)
    set_signed(request, response, LOGIN_COOKIE, token, "/ui/login")
    return response


@router.get("/login")
def show_login(request: Request, next: str | None = None) -> Response:
    if current(request) is not None:
        return RedirectResponse(safe_next(next), 303)
    return login_form(request, safe_next(next))


@router.post("/login")
async def log_in(request: Request) -> Response:
    form = await request.form()
    name = str(form.get("name") or "").strip()
    password = str(form.get("password") or "")
    next_path = safe_next(str(form.get("next") or ""))
    expected = signed_value(request, LOGIN_COOKIE)
    given = form.get("csrf")
    if expected is None or not isinstance(given, str) or not hmac.compare_digest(given, expected):
        raise Refused(
            "the login form was refused: its security token is missing or out of date "
            "(reload the page and log in again)"
        )
    address = request.client.host if request.client else "unknown"
    guard = throttle(request)
    wait = guard.wait(name, address)
    if wait > 0:
        log.warning(kv("console.login_throttled", user=name, client=address))
        return login_form(
            request, next_path, f"Too many failed logins: try again in {int(wait) + 1} s.", 429
        )
    app = request.app.state.ingestd
    user = await run_in_threadpool(users.authenticate, app, name, password) if name else None
    if user is None:
        guard.failed(name, address)
        log.warning(kv("console.login_failed", user=name, client=address))
        return login_form(request, next_path, "The name or the password is wrong.", 401)
    guard.succeeded(name)
    token, _ = await run_in_threadpool(sessions.open, app, user)
    log.info(kv("console.login", user=user.name, role=str(user.role), client=address))
    response = RedirectResponse(next_path, 303)
    set_signed(request, response, COOKIE, token, "/ui")
    response.delete_cookie(LOGIN_COOKIE, path="/ui/login")
    return response


@router.post("/logout")
async def log_out(request: Request, session: Annotated[Session, Depends(viewer)]) -> Response:
    await posted(request, session)
    token = signed_value(request, COOKIE)
    if token is not None:
        await run_in_threadpool(sessions.close, request.app.state.ingestd, token)
    log.info(kv("console.logout", user=session.user.name))
    response = RedirectResponse("/ui/login", 303)
    response.delete_cookie(COOKIE, path="/ui")
    return response
