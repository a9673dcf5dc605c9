"""A webhook receiver (docs/testing.md#real-components): a real HTTP server on a free port of
127.0.0.1 that verifies every request with the Standard Webhooks library (not ingestd's code)
and keeps what it got.  ``answers`` is the status of each request in turn (the last one
repeats); ``down()`` closes the port, ``up()`` opens it again on the same one.

    with Receiver(secret, answers=[500, 200]) as hooks:
        ... hooks.url ...
        assert [e["type"] for e in hooks.events] == ["version.created"]
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from rig.ports import free_port


class Receiver:
    def __init__(self, secret: str, *, answers: list[int] | None = None, path: str = "/hooks"):
        self.verifier = Webhook(secret)
        self.answers = list(answers or [200])
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}{path}"
        self.requests: list[dict[str, Any]] = []  # every request: headers, verified or why not
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def events(self) -> list[dict[str, Any]]:
        """The verified events it answered 2xx, in order."""
        with self.lock:
            return [r["event"] for r in self.requests if r["event"] and r["status"] < 300]

    def __enter__(self) -> Receiver:
        self.up()
        return self

    def __exit__(self, *exc) -> None:
        self.down()

    def up(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    event = receiver.verifier.verify(body, headers)
                    problem = None
                except WebhookVerificationError as e:
                    event, problem = None, str(e)
                with receiver.lock:
                    n = len(receiver.requests)
                    status = receiver.answers[min(n, len(receiver.answers) - 1)]
                    if problem is not None:
                        status = 400
                    receiver.requests.append(
                        {"headers": headers, "body": body, "event": event,
                         "problem": problem, "status": status}
                    )  # fmt: skip
                self.send_response(status)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def down(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None


def event_json(request: dict[str, Any]) -> dict[str, Any]:
    return json.loads(request["body"])
