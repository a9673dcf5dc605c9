"""The HTTP server on the daemon's own event loop (docs/http.md#server): uvicorn serving
:func:`ingestd.web.app.build` on the ``[http] listen`` address, TLS when a certificate is
configured.  The daemon owns the signals: a stop stops accepting, lets the requests in hand
finish within the stop timeout, then closes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from ingestd.config import Config
from ingestd.errors import IngestdError
from ingestd.intake.queue import InboundQueue
from ingestd.service.app import App
from ingestd.web.app import build

log = logging.getLogger("ingestd.http")


class QuietServer(uvicorn.Server):
    """uvicorn without its signal handlers: the daemon has its own and tells us when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class HttpServer:
    def __init__(self, config: Config, app: App, *, queue: InboundQueue | None = None):
        self.config = config
        self.http = config.http
        self.socket = bind(self.http.listen)
        self.port: int = self.socket.getsockname()[1]
        settings = uvicorn.Config(
            build(app, self.http, queue=queue),
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,
            server_header=False,
            ssl_certfile=self.http.tls_cert_file,
            ssl_keyfile=self.http.tls_key_file,
            timeout_graceful_shutdown=max(1, round(config.daemon.stop_timeout)),
            limit_concurrency=self.http.max_connections,
        )
        self.web = settings.app
        self.server = QuietServer(settings)
        self.task: asyncio.Task | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.socket]))
        while not self.server.started and not self.task.done():
            await asyncio.sleep(0.01)
        if self.task.done():  # it could not start (a broken certificate): say why
            self.task.result()

    async def stop(self, timeout: float) -> None:
        """Stop accepting; the requests in hand get ``timeout`` seconds to finish."""
        if self.task is None:
            return
        self.server.should_exit = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            await asyncio.wait_for(asyncio.shield(self.task), timeout)
        except TimeoutError:
            self.server.force_exit = True
            await asyncio.wait_for(self.task, 5)
        # an upload answered 202 may still be importing: it gets what is left of the timeout
        uploads = self.web.state.uploads
        await asyncio.to_thread(uploads.close, max(0.0, deadline - loop.time()))


def bind(listen: str) -> socket.socket:
    """A listening socket on ``host:port`` (port 0: a free one); a clear error otherwise."""
    host, _, port = listen.rpartition(":")
    host = host.strip("[]") or "127.0.0.1"
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, int(port)))
        sock.listen(128)
    except OSError as e:
        sock.close()
        raise IngestdError(f"[http] listen {listen}: {e.strerror}") from None
    sock.set_inheritable(False)
    return sock
