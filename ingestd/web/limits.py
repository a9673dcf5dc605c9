"""Limits on what one client may ask (docs/http.md#limits): the size of a request's body
(413) and the rate of its requests (429 with Retry-After).  Both are ASGI middleware in front of
everything, so a flood or a huge upload never reaches the application and never touches the
mail side of the daemon."""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ingestd.web.problems import Problem, response

# the buckets of this many clients are kept; the least recently seen go first
CLIENTS_KEPT = 10_000


class BodyLimit:
    """A request body larger than ``limit`` bytes is refused: at once when Content-Length says
    so, else when the bytes read pass it."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await response(self.too_large())(scope, receive, send)
            return
        seen = 0
        exceeded = started = False

        async def counted() -> Message:
            nonlocal seen, exceeded
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                exceeded = True
                raise self.too_large()
            return message

        async def sending(message: Message) -> None:
            nonlocal started
            if exceeded:  # what the application answers to a body cut short is not sent
                return
            started = True
            await send(message)

        try:
            await self.app(scope, counted, sending)
        except Problem:
            if started or not exceeded:
                raise
        if exceeded and not started:
            await response(self.too_large())(scope, receive, send)

    def too_large(self) -> Problem:
        return Problem(413, f"the request body is larger than {self.limit} bytes",
                       kind="body_too_large", limit=self.limit)  # fmt: skip


class RateLimit:
    """At most ``per_minute`` requests a minute per client (the API key presented, else the
    address), with bursts up to a sixth of that: a token bucket per client."""

    def __init__(self, app: ASGIApp, per_minute: int):
        self.app = app
        self.rate = per_minute / 60.0
        self.burst = max(1.0, per_minute / 6)
        self.buckets: OrderedDict[str, tuple[float, float]] = OrderedDict()
        self.lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.rate <= 0:
            await self.app(scope, receive, send)
            return
        wait = self.take(client_of(scope))
        if wait > 0:
            problem = Problem(429, "too many requests; slow down", kind="rate_limited",
                              headers={"Retry-After": str(max(1, round(wait)))})  # fmt: skip
            await response(problem)(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def take(self, client: str) -> float:
        """Take one token from ``client``'s bucket: 0, or the seconds until one is there."""
        now = time.monotonic()
        with self.lock:
            tokens, then = self.buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - then) * self.rate)
            if tokens >= 1.0:
                tokens -= 1.0
                wait = 0.0
            else:
                wait = (1.0 - tokens) / self.rate
            self.buckets[client] = (tokens, now)
            while len(self.buckets) > CLIENTS_KEPT:
                self.buckets.popitem(last=False)
        return wait


def client_of(scope: Scope) -> str:
    """A client is its bearer token (hashed: tokens are not kept in memory), else its address."""
    header = dict(scope["headers"]).get(b"authorization")
    if header:
        return "key:" + hashlib.sha256(header).hexdigest()[:16]
    client = scope.get("client")
    return f"addr:{client[0]}" if client else "addr:?"
