"""Talking to the IMAP server (docs/mail.md#imap): the login, the personal namespace, the
source folder selected and the target folders made, and the server's unsolicited answers. What
the server refuses for a reason an operator must fix — the login, a folder name — is an
:class:`ImapConfigError` with the server's own words; a lost connection or a refusal the server
calls temporary is raised as it is, for the poller to retry."""

from __future__ import annotations

import logging
import re
import select
import socket
import ssl
from typing import Any, NoReturn

from imapclient import IMAPClient, SocketTimeout
from imapclient.exceptions import IMAPClientAbortError, IMAPClientError

from ingestd.config import ImapAccount
from ingestd.errors import IngestdError
from ingestd.intake.imap.folders import FolderNameError, PersonalNamespace, server_folder
from ingestd.logs import kv as _kv

LOG = logging.getLogger("ingestd.imap")

# a refusal with one of these response codes (RFC 5530) is the server's passing trouble, not the
# configuration's: retried like a network failure
_TRANSIENT_CODES = ("[UNAVAILABLE]", "[SERVERBUG]", "[INUSE]", "[LIMIT]")
# imapclient's wording of a refused command: "create failed: <the server's words>"
_FAILED_PREFIX = re.compile(r"^[A-Za-z ]+ failed: ")


class ConnectionLost(Exception):
    """The server went away without an error from the socket (EOF in IDLE, BYE)."""


class ImapConfigError(Exception):
    """The account does not fit the server and only an operator can change that: the login
    was refused, a folder can be neither selected nor created, a folder name cannot be written
    in the server's hierarchy, the password cannot be read. ``server`` holds the server's own
    words when it refused something."""

    def __init__(self, message: str, *, folder: str | None = None, server: str | None = None):
        super().__init__(f"{message}: {server}" if server else message)
        self.folder = folder
        self.server = server


# errors that mean "this connection is unusable": drop it and reconnect after a delay
CONNECTION_ERRORS: tuple[type[BaseException], ...] = (
    OSError,  # socket errors, timeouts, TLS failures
    IMAPClientError,  # NO/BAD answers, aborts (IMAPClientAbortError), temporary refusals
    ConnectionLost,
)


class _Client(IMAPClient):
    """IMAPClient whose IDLE wait also sees the answers already read off the socket.

    ``idle_check`` waits for the socket to become readable, but imaplib reads it through a
    buffer: an answer that came in the same packet as the one before it stays in that buffer,
    and the socket shows nothing more. Mail delivered while IDLE starts is announced that way
    (``* 3 EXISTS`` right behind ``+ idling``) and would wait for the server's next packet —
    its keepalive, minutes later (docs/mail.md#imap)."""

    def _poll_socket(self, sock: socket.socket, timeout: float | None = None) -> Any:
        if _buffered(self):
            return [(sock.fileno(), select.POLLIN)]
        return super()._poll_socket(sock, timeout)

    def _select_poll_socket(self, sock: socket.socket, timeout: float | None = None) -> Any:
        if _buffered(self):
            return True
        return super()._select_poll_socket(sock, timeout)


def _buffered(client: IMAPClient) -> bool:
    """Whether imaplib's reader holds bytes not yet parsed. Called while ``idle_check`` has the
    socket non-blocking, so the peek never waits: an empty buffer is refilled only from what
    the socket already has."""
    reader = getattr(getattr(client, "_imap", None), "file", None)
    if reader is None or not hasattr(reader, "peek"):
        return False
    try:
        return bool(reader.peek(1))
    except OSError:  # nothing there yet (over TLS: SSLWantReadError)
        return False


def login(
    account: ImapAccount,
    ssl_context: ssl.SSLContext | None,
    timeout: SocketTimeout,
    log: logging.Logger | logging.LoggerAdapter,
) -> IMAPClient:
    """A logged-in client; ImapConfigError when the password cannot be read or the server
    refuses the login for good."""
    try:
        password = account.password()
    except IngestdError as e:
        raise ImapConfigError(str(e)) from e
    tls = account.security == "tls"
    context = ssl_context
    if context is None and account.security != "none":
        context = ssl.create_default_context()
    client = _Client(
        account.host,
        account.port,
        ssl=tls,
        ssl_context=context if tls else None,
        timeout=timeout,
    )
    try:
        if account.security == "starttls":
            client.starttls(context)
        try:
            client.login(account.username, password)
        except IMAPClientError as e:
            _refused(e, f"login refused for {account.username!r}")
    except BaseException:
        shutdown(client, log)
        raise
    return client


def resolve_namespace(client: IMAPClient, capabilities: frozenset[bytes]) -> PersonalNamespace:
    """The account's personal namespace: NAMESPACE (RFC 2342) when offered, else the
    delimiter that ``LIST "" ""`` reports, with no prefix."""
    if b"NAMESPACE" in capabilities:
        personal = client.namespace().personal
        if personal:
            prefix, delimiter = personal[0]
            return PersonalNamespace(prefix or "", _text(delimiter))
    listed = client.list_folders("", "")
    return PersonalNamespace("", _text(listed[0][1]) if listed else None)


def _text(value: str | bytes | None) -> str | None:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return value or None


def server_names(account: ImapAccount, namespace: PersonalNamespace) -> dict[str, str]:
    """The server's names of the account's three folders, keyed by their configured names."""
    names = {}
    for folder in (account.folder, account.processed_folder, account.quarantine_folder):
        try:
            names[folder] = server_folder(folder, namespace)
        except FolderNameError as e:
            raise ImapConfigError(str(e), folder=folder) from e
    return names


def ensure_folder(client: IMAPClient, folder: str, name: str) -> bool:
    """Create the target folder ``folder`` (``name`` on the server) when it is missing, and
    subscribe it so mail clients show it; True when it was created."""
    if client.folder_exists(name):
        return False
    try:
        client.create_folder(name)
    except IMAPClientError as e:
        if client.folder_exists(name):  # another poller made it meanwhile
            return False
        _refused(e, f"folder {_shown(folder, name)} cannot be created", folder=folder)
    client.subscribe_folder(name)
    return True


def select_source(client: IMAPClient, folder: str, name: str, *, readonly: bool = False) -> int:
    """Select the folder to watch (never created: a mistyped name must not become an empty
    folder watched forever); returns its UIDVALIDITY."""
    try:
        selected = client.select_folder(name, readonly=readonly)
    except IMAPClientError as e:
        _refused(e, f"folder {_shown(folder, name)} cannot be selected", folder=folder)
    return int(selected[b"UIDVALIDITY"])


def _refused(e: IMAPClientError, message: str, *, folder: str | None = None) -> NoReturn:
    """Raise the server's refusal ``e`` as it is when it is transient (the poller retries),
    else as an ImapConfigError saying ``message`` and the server's words."""
    if _transient(e):
        raise e
    raise ImapConfigError(message, folder=folder, server=_server_words(e)) from e


def _shown(folder: str, name: str) -> str:
    """A folder as an error names it: configured name and server name, each clipped so the
    server's words after them fit in the published status."""

    def clip(text: str) -> str:
        return repr(text if len(text) <= 80 else text[:80] + "…")

    if folder == name:
        return clip(folder)
    return f"{clip(folder)} (server name {clip(name)})"


def _refusal(e: BaseException) -> IMAPClientError | None:
    """The server's refusal behind ``e`` (imapclient wraps a refused login in LoginError)."""
    seen: BaseException | None = e
    innermost = None
    while isinstance(seen, IMAPClientError):
        innermost = seen
        seen = seen.__context__
    return innermost


def _transient(e: IMAPClientError) -> bool:
    """A lost connection, or a refusal the server itself calls temporary: not configuration."""
    if isinstance(e.__context__, OSError) or isinstance(_refusal(e), IMAPClientAbortError):
        return True
    return any(code in _server_words(e).upper() for code in _TRANSIENT_CODES)


def _server_words(e: IMAPClientError) -> str:
    """What the server said, without the client's wording around it."""
    refusal = _refusal(e) or e
    said = refusal.args[0] if refusal.args else str(refusal)
    text = said.decode("utf-8", "replace") if isinstance(said, bytes) else str(said)
    return _FAILED_PREFIX.sub("", text, count=1).strip()


def take_arrivals(client: IMAPClient) -> bool:
    """Whether the server announced new messages (``* n EXISTS``) in the answers to commands
    since the last call, forgetting the announcements. imaplib keeps such unsolicited answers
    in ``untagged_responses`` (IMAPClient's own ``select_folder`` reads them there); False when
    that is not available."""
    pending = getattr(getattr(client, "_imap", None), "untagged_responses", None)
    if not isinstance(pending, dict):
        return False
    found = [pending.pop(key, None) for key in ("EXISTS", b"EXISTS")]
    return any(found)


def is_keepalive(response: tuple) -> bool:
    """``* OK Still here``: the server's IDLE keepalive, not news about the folder."""
    return bool(response) and response[0] == b"OK"


def is_bye(response: tuple) -> bool:
    return bool(response) and response[0] == b"BYE"


def shutdown(client: IMAPClient, log: logging.Logger | logging.LoggerAdapter) -> None:
    """Close the socket of a connection we give up on; it is often already dead."""
    try:
        client.shutdown()
    except OSError as e:
        log.debug(_kv("shutdown_failed", error=e))
