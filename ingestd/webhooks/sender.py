"""One signed POST to a receiver (docs/http.md#webhooks): the Standard Webhooks headers
(``webhook-id``, ``webhook-timestamp``, ``webhook-signature: v1,<base64 HMAC-SHA256>``) made by
the specification's own library from the receiver's ``whsec_`` secret."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import httpx
from standardwebhooks import Webhook

from ingestd import __version__

# a receiver gets this long to answer; one that does not is retried later (the delivery job
# never waits longer on one receiver, so a dead one costs the others little)
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


@dataclass(frozen=True)
class Answer:
    """What the receiver did: its status (None: no answer) and, when not 2xx, why."""

    status: int | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(url: str, secret: str, event_id: str, body: str, *, client: httpx.Client) -> Answer:
    now = datetime.now(UTC)
    signature = Webhook(secret).sign(event_id, now, body)
    headers = {
        "content-type": "application/json",
        "user-agent": f"ingestd/{__version__}",
        "webhook-id": event_id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    try:
        response = client.post(url, content=body.encode("utf-8"), headers=headers)
    except httpx.HTTPError as e:
        return Answer(None, f"{type(e).__name__}: {e}"[:500] or type(e).__name__)
    if 200 <= response.status_code < 300:
        return Answer(response.status_code, None)
    return Answer(response.status_code, f"HTTP {response.status_code}: {response.text[:200]}")


def client() -> httpx.Client:
    """The client of one delivery run: no redirects followed (a receiver moved is an error to
    see, not a place to send rates to), no proxy from the environment."""
    return httpx.Client(timeout=TIMEOUT, follow_redirects=False, trust_env=False)
