"""The SMTP listener (and LMTP on a Unix socket) that feeds the inbound queue (docs/mail.md#mail-in
"SMTP").

It runs on the daemon's own event loop (``loop.create_server``), not in aiosmtpd's Controller
thread, so one loop owns every socket and a clean stop is one ``await listener.close()``.

What a sender sees:
- 550 5.1.1 at RCPT for any address not in ``[smtp] recipients`` (case-insensitive): no relay;
- 552 when the message is larger than ``max_message_size`` (aiosmtpd's ``data_size_limit``: at
  MAIL when the client declares SIZE, otherwise after DATA, and nothing is stored);
- 250 only after the raw bytes (``envelope.original_content``, never a re-encoded text) are
  durably in the queue; 451 4.3.0 when they cannot be stored, so the sender retries;
- 421 4.7.0 and a closed connection beyond ``max_sessions`` concurrent sessions;
- while the daemon stops (SIGTERM): ``421 4.3.2 <host> shutting down`` to a new connection and
  to a new transaction (MAIL) on an open one, and at the end of the drain to idle sessions,
  while a transaction begun before the stop (a message in the middle of DATA) gets its 250;
- STARTTLS when a certificate is configured (required before MAIL with ``require_starttls``).
aiosmtpd ≥ 1.4.6 ends DATA only at <CRLF>.<CRLF>, which closes the SMTP-smuggling hole.
"""

from __future__ import annotations

import asyncio
import logging
import os
import secrets
import socket
import ssl
from collections.abc import Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session, TLSSetupException

from ingestd.config import Config, SmtpConfig
from ingestd.intake.queue import InboundQueue, QueueItem
from ingestd.logs import kv as _kv
from ingestd.metrics import SMTP_ACTIVE, SMTP_SESSIONS

log = logging.getLogger("ingestd.smtp")

IDENT = "ingestd"
TOO_MANY = b"421 4.7.0 too many connections, try again later\r\n"
NOT_HERE = "550 5.1.1 mailbox unavailable: not a recipient of this server"
CANNOT_STORE = "451 4.3.0 cannot store the message now, try again later"
SHUTTING_DOWN = "421 4.3.2 {host} shutting down"  # RFC 3463 4.3.2: system not accepting messages
CLOSE_TIMEOUT = 10.0  # seconds a stop waits for messages already being received
DRAIN_POLL = 0.05  # seconds between looks at the sessions still in a transaction
STORE_THREADS = 4  # concurrent queue writes; each is mostly fsync wait


def _peer_text(peer: Any) -> str:
    """``host:port`` for TCP peers, ``[v6]:port`` for IPv6, the raw value otherwise."""
    if isinstance(peer, tuple) and len(peer) >= 2:
        host, port = peer[0], peer[1]
        return f"[{host}]:{port}" if ":" in str(host) else f"{host}:{port}"
    return str(peer) if peer else "local"


class _Session(Session):
    """aiosmtpd's session plus the correlation id every log line of the connection carries."""

    def __init__(self, loop: asyncio.AbstractEventLoop, correlation_id: str):
        super().__init__(loop)
        self.correlation_id = correlation_id


class _SessionCap:
    """The live sessions of one listener, at most ``limit`` of them."""

    def __init__(self, limit: int, kind: str):
        self.limit = limit
        self.kind = kind
        self.live: set[SMTP] = set()
        self.closing = False

    def admit(self, protocol: SMTP) -> bool:
        if self.closing or len(self.live) >= self.limit:
            return False
        self.live.add(protocol)
        return True

    def leave(self, protocol: SMTP) -> None:
        self.live.discard(protocol)


class _CappedSession:
    """Mixin for aiosmtpd's SMTP/LMTP: the session cap, correlation ids, and a graceful stop
    that never cuts a connection while its message is being received or stored."""

    # provided by aiosmtpd.smtp.SMTP
    _original_transport: asyncio.BaseTransport | None
    transport: asyncio.BaseTransport | None
    loop: asyncio.AbstractEventLoop

    hostname: str
    envelope: Envelope | None

    def __init__(self, handler: IntakeHandler, *, sessions: _SessionCap, **kwargs: Any):
        self._sessions = sessions
        self._admitted = False
        self._in_data = False
        self.correlation_id = secrets.token_hex(6)
        super().__init__(handler, **kwargs)  # type: ignore[call-arg]

    def _create_session(self) -> Session:
        return _Session(self.loop, self.correlation_id)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # after STARTTLS aiosmtpd calls this again for the TLS transport: same session slot
        if self._original_transport is None:
            if not self._sessions.admit(self):  # type: ignore[arg-type]
                log.warning(
                    _kv(
                        f"{self._sessions.kind}.refused_connection",
                        session=self.correlation_id,
                        peer=_peer_text(transport.get_extra_info("peername")),
                        reason="too many sessions" if not self._sessions.closing else "stopping",
                        limit=self._sessions.limit,
                    )
                )
                assert isinstance(transport, asyncio.WriteTransport)
                transport.write(self._shutting_down() if self._sessions.closing else TOO_MANY)
                transport.close()  # flushes the 421 first
                return
            self._admitted = True
            SMTP_SESSIONS.inc()
            SMTP_ACTIVE.inc()
        super().connection_made(transport)  # type: ignore[misc]

    def connection_lost(self, error: Exception | None) -> None:
        if not self._admitted:
            return  # refused in connection_made: aiosmtpd never set this session up
        self._admitted = False
        SMTP_ACTIVE.dec()
        self._sessions.leave(self)  # type: ignore[arg-type]
        super().connection_lost(error)  # type: ignore[misc]

    async def smtp_MAIL(self, arg: str) -> None:
        if not self._sessions.closing:
            await super().smtp_MAIL(arg)  # type: ignore[misc]
            return
        # no new transaction once the stop began: the sender keeps the message and retries
        log.info(
            _kv(
                f"{self._sessions.kind}.refused_mail",
                session=self.correlation_id,
                reason="stopping",
            )
        )
        await self.push(self._shutting_down())  # type: ignore[attr-defined]
        self.close_now()

    async def smtp_DATA(self, arg: str) -> None:
        self._in_data = True
        try:
            await super().smtp_DATA(arg)  # type: ignore[misc]
        finally:
            self._in_data = False

    @property
    def in_transaction(self) -> bool:
        """Between an accepted MAIL and the reply to its DATA (or RSET): a stop lets it end."""
        envelope = self.envelope
        return self._in_data or (envelope is not None and envelope.mail_from is not None)

    def _shutting_down(self) -> bytes:
        return (SHUTTING_DOWN.format(host=self.hostname) + "\r\n").encode("ascii", "replace")

    def say_goodbye(self) -> None:
        """The end of a stop's drain: 421 to a session, then close it (RFC 5321 §3.8)."""
        transport = self.transport
        if transport is not None and not transport.is_closing():
            assert isinstance(transport, asyncio.WriteTransport)
            transport.write(self._shutting_down())
        self.close_now()

    def close_now(self) -> None:
        if self.transport is not None:
            self.transport.close()


class _Smtp(_CappedSession, SMTP):
    pass


class _Lmtp(_CappedSession, LMTP):
    pass


class IntakeHandler:
    """aiosmtpd hooks: which recipients are ours, and storing each message in the queue."""

    def __init__(
        self,
        queue: InboundQueue,
        recipients: tuple[str, ...],
        *,
        source: str,
        on_queued: Callable[[QueueItem], None] | None,
        executor: Executor | None = None,
        precheck: Callable[[bytes], str | None] | None = None,
        check_executor: Executor | None = None,
    ):
        self.queue = queue
        self.precheck = precheck
        self.executor = executor
        self.check_executor = check_executor
        self.recipients = frozenset(address.lower() for address in recipients)
        self.source = source
        self.on_queued = on_queued
        self.per_recipient_replies = source == "lmtp"  # RFC 2033 §4.2: one reply per recipient

    async def handle_EHLO(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        session.host_name = hostname  # aiosmtpd leaves this to a 5-argument EHLO hook
        # no AUTH: nobody logs in here, so do not advertise mechanisms that always fail
        return [line for line in responses if not line.startswith("250-AUTH")]

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address.lower() not in self.recipients:
            log.info(
                _kv(
                    f"{self.source}.rcpt_refused",
                    session=_correlation(session),
                    peer=_peer_text(session.peer),
                    mail_from=envelope.mail_from,
                    rcpt=address,
                )
            )
            return NOT_HERE
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        raw = envelope.original_content
        assert isinstance(raw, bytes)
        meta = {
            # "" is the null reverse-path (bounces, auto-replies): aiosmtpd keeps it as "<>"
            "mail_from": "" if envelope.mail_from == "<>" else envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "peer": _peer_text(session.peer),
            "helo": session.host_name,
        }
        loop = asyncio.get_running_loop()
        if self.precheck is not None:
            # e.g. DKIM keys unreachable: a 4xx makes the sender retry, so the verdict is
            # never taken on a DNS outage (docs/mail.md#mail-in); runs off the loop (DNS may take
            # seconds), in a thread of its own: a session whose check waits for DNS delays no other
            refusal = await loop.run_in_executor(self.check_executor, self.precheck, raw)
            if refusal is not None:
                log.warning(
                    _kv(
                        f"{self.source}.deferred",
                        session=_correlation(session),
                        peer=meta["peer"],
                        mail_from=envelope.mail_from,
                        reply=refusal,
                    )
                )
                return self._reply(envelope, refusal)
        store = partial(self.queue.put, raw, source=self.source, meta=meta)
        try:
            # fsync blocks for milliseconds: keep it off the loop other sessions run on
            item = await loop.run_in_executor(self.executor, store)
        except Exception as error:
            # 4xx, not 5xx: the sender keeps the message and retries, nothing is lost
            log.error(
                _kv(
                    f"{self.source}.store_failed",
                    session=_correlation(session),
                    peer=meta["peer"],
                    mail_from=envelope.mail_from,
                    size=len(raw),
                    error=f"{type(error).__name__}: {error}",
                ),
                exc_info=True,
            )
            return self._reply(envelope, CANNOT_STORE)
        log.info(
            _kv(
                f"{self.source}.queued",
                queue_id=item.id,
                session=_correlation(session),
                peer=meta["peer"],
                helo=session.host_name,
                mail_from=envelope.mail_from,
                rcpt=",".join(envelope.rcpt_tos),
                size=item.size,
                sha256=item.sha256,
            )
        )
        if self.on_queued is not None:
            # runs after this coroutine returned and aiosmtpd wrote the 250 to the socket
            loop.call_soon(self._notify, item)
        return self._reply(envelope, f"250 2.0.0 OK queued as {item.id}")

    async def handle_exception(self, error: Exception) -> str:
        """A bug in a hook: log it with its traceback and ask the sender to retry later."""
        if isinstance(error, TLSSetupException):
            # a client that cannot finish the handshake is not our bug; aiosmtpd closes it
            log.warning(_kv(f"{self.source}.tls_failed", error=repr(error.__cause__ or error)))
            return "454 4.7.0 TLS handshake failed"
        log.error(
            _kv(f"{self.source}.error", error=f"{type(error).__name__}: {error}"),
            exc_info=error,
        )
        return "451 4.3.0 internal error, try again later"

    def _reply(self, envelope: Envelope, status: str) -> str:
        if self.per_recipient_replies:
            return "\r\n".join(status for _ in envelope.rcpt_tos)
        return status

    def _notify(self, item: QueueItem) -> None:
        assert self.on_queued is not None
        try:
            self.on_queued(item)
        except Exception:
            # the item is safe in the queue and the worker finds it on its next scan anyway
            log.exception(_kv(f"{self.source}.on_queued_failed", queue_id=item.id))


def _correlation(session: Session) -> str | None:
    return getattr(session, "correlation_id", None)


def tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    """The server context for STARTTLS, or None when no certificate is configured."""
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)  # no client certificates
    context.load_cert_chain(config.tls_cert_file, config.tls_key_file)
    return context


class SmtpListener:
    """The running SMTP (and LMTP) servers; ``port`` is the bound TCP port (None: SMTP off)."""

    def __init__(
        self,
        smtp_server: asyncio.Server | None,
        lmtp_server: asyncio.Server | None,
        caps: list[_SessionCap],
        lmtp_socket: Path | None,
        store_executor: ThreadPoolExecutor,
        check_executor: ThreadPoolExecutor | None = None,
    ):
        self._smtp_server = smtp_server
        self._lmtp_server = lmtp_server
        self._caps = caps
        self._store_executor = store_executor
        self._check_executor = check_executor
        self.lmtp_socket = lmtp_socket
        self.port: int | None = None
        self.host: str | None = None
        if smtp_server is not None:
            address = smtp_server.sockets[0].getsockname()
            self.host, self.port = address[0], address[1]

    def begin_stop(self) -> None:
        """The drain starts: the sockets stay open, but a new connection or a new transaction
        is answered ``421 4.3.2``; a transaction already begun may finish."""
        for cap in self._caps:
            cap.closing = True

    def _in_transaction(self) -> list[_CappedSession]:
        return [
            protocol
            for cap in self._caps
            for protocol in cap.live
            if isinstance(protocol, _CappedSession) and protocol.in_transaction
        ]

    async def drained(self, timeout: float) -> bool:
        """Wait (at most ``timeout`` seconds) until no session is in a transaction."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._in_transaction():
            if loop.time() >= deadline:
                return False
            await asyncio.sleep(DRAIN_POLL)
        return True

    async def close(self, timeout: float = CLOSE_TIMEOUT) -> None:
        """Stop: let the transactions begun get their reply (at most ``timeout`` seconds), then
        close the sockets, answering 421 to idle sessions and cutting those still sending."""
        self.begin_stop()
        await self.drained(timeout)
        for server in (self._smtp_server, self._lmtp_server):
            if server is not None:
                server.close()
        for cap in self._caps:
            for protocol in list(cap.live):
                assert isinstance(protocol, _CappedSession)
                if protocol.in_transaction:
                    # its message never got a 250: the sender still has it and retries
                    log.warning(_kv(f"{cap.kind}.cut_session", session=protocol.correlation_id))
                    protocol.close_now()
                else:
                    protocol.say_goodbye()
        for server in (self._smtp_server, self._lmtp_server):
            if server is not None:
                await server.wait_closed()
        if self.lmtp_socket is not None and self._lmtp_server is not None:
            self.lmtp_socket.unlink(missing_ok=True)
        # a store still running for a cut session finishes; its item is queued, not lost
        await asyncio.get_running_loop().run_in_executor(None, self._store_executor.shutdown)
        if self._check_executor is not None:
            # a check of a cut session has nobody to answer; it ends within the DNS budget
            self._check_executor.shutdown(wait=False, cancel_futures=True)
        log.info(_kv("smtp.stopped", port=self.port, lmtp_socket=self.lmtp_socket))


async def start_smtp(
    config: Config,
    queue: InboundQueue,
    *,
    on_queued: Callable[[QueueItem], None] | None = None,
    precheck: Callable[[bytes], str | None] | None = None,
    sockets: Mapping[str, socket.socket] | None = None,
) -> SmtpListener:
    """Start the SMTP listener (``[smtp] listen``) and LMTP socket (``lmtp_socket``) on the
    running loop; ``on_queued`` is called with each item right after its 250 went out;
    ``precheck`` may answer a message with a reply (a 4xx) instead of queueing it.
    ``sockets``: listening sockets systemd passed (socket activation), by name ``"smtp"`` and
    ``"lmtp"``; each is served instead of binding the configured address or path."""
    settings = config.smtp
    passed = dict(sockets or {})
    loop = asyncio.get_running_loop()
    # gethostname(), never getfqdn(): aiosmtpd's default does a blocking DNS lookup per session
    hostname = socket.gethostname()
    common: dict[str, Any] = {
        "data_size_limit": settings.max_message_size,
        "enable_SMTPUTF8": True,
        "hostname": hostname,
        "ident": IDENT,
        "loop": loop,
        "timeout": settings.timeout,  # idle sessions and slow senders lose their slot
    }
    context = tls_context(settings)  # first: a bad certificate fails the start, cleanly
    # its own threads for the fsyncs: a pipeline busy in the default executor must not delay
    # the 250s (docs/performance.md#targets: the listener keeps answering while a large import runs)
    store_executor = ThreadPoolExecutor(
        max_workers=min(STORE_THREADS, settings.max_sessions), thread_name_prefix="smtp-store"
    )
    # one thread per session that may be in DATA (SMTP and LMTP each have max_sessions): a
    # check waiting for DNS (up to [dns] budget) never queues another session's check
    check_executor = (
        ThreadPoolExecutor(max_workers=2 * settings.max_sessions, thread_name_prefix="smtp-check")
        if precheck is not None
        else None
    )
    caps: list[_SessionCap] = []
    smtp_server = lmtp_server = None
    address = settings.listen_address

    def handler_for(source: str) -> IntakeHandler:
        return IntakeHandler(
            queue,
            settings.recipients,
            source=source,
            on_queued=on_queued,
            executor=store_executor,
            precheck=precheck,
            check_executor=check_executor,
        )

    if address is not None or "smtp" in passed:
        handler = handler_for("smtp")
        cap = _SessionCap(settings.max_sessions, "smtp")

        def smtp_session() -> _Smtp:
            return _Smtp(
                handler,
                sessions=cap,
                tls_context=context,
                require_starttls=settings.require_starttls,
                **common,
            )

        if "smtp" in passed:
            smtp_server = await loop.create_server(smtp_session, sock=passed["smtp"])
        else:
            assert address is not None
            host, port = address
            smtp_server = await loop.create_server(smtp_session, host=host or None, port=port)
        caps.append(cap)
    if settings.lmtp_socket is not None or "lmtp" in passed:
        lmtp_handler = handler_for("lmtp")
        lmtp_cap = _SessionCap(settings.max_sessions, "lmtp")

        def lmtp_session() -> _Lmtp:
            return _Lmtp(lmtp_handler, sessions=lmtp_cap, **common)

        try:
            if "lmtp" in passed:
                lmtp_server = await loop.create_unix_server(lmtp_session, sock=passed["lmtp"])
            else:
                lmtp_server = await loop.create_unix_server(
                    lmtp_session, path=os.fspath(settings.lmtp_socket)
                )
        except BaseException:
            if smtp_server is not None:
                smtp_server.close()
            store_executor.shutdown(wait=False)
            if check_executor is not None:
                check_executor.shutdown(wait=False)
            raise
        caps.append(lmtp_cap)
    # a path systemd bound is systemd's to remove
    own_path = settings.lmtp_socket if "lmtp" not in passed else None
    listener = SmtpListener(
        smtp_server, lmtp_server, caps, own_path, store_executor, check_executor
    )
    log.info(
        _kv(
            "smtp.listening",
            host=listener.host,
            port=listener.port,
            lmtp_socket=settings.lmtp_socket if lmtp_server is not None else None,
            activation=",".join(sorted(passed)) or None,
            hostname=hostname,
            max_sessions=settings.max_sessions,
            max_message_size=settings.max_message_size,
            starttls="required"
            if settings.require_starttls
            else ("offered" if settings.tls_cert_file else "off"),
        )
    )
    return listener
