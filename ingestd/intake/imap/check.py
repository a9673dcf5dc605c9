"""``ingestd check-config --connect`` for one IMAP account (docs/mail.md#imap): log in as the
poller does, and say what the server thinks of the configured folders."""

from __future__ import annotations

import logging
import ssl
from dataclasses import asdict, dataclass, field
from typing import Any

from imapclient import IMAPClient, SocketTimeout

from ingestd.config import ImapAccount
from ingestd.intake.imap.session import (
    CONNECTION_ERRORS,
    LOG,
    ImapConfigError,
    ensure_folder,
    login,
    resolve_namespace,
    select_source,
    server_names,
    shutdown,
)


@dataclass
class AccountCheck:
    """What ``ingestd check-config --connect`` found for one account (see check_account)."""

    account: str
    host: str
    port: int
    ok: bool = False
    prefix: str | None = None  # the personal namespace, once logged in
    delimiter: str | None = None
    folders: list[dict[str, str]] = field(default_factory=list)  # role, folder, server, result
    error: str | None = None  # what failed, with the server's words
    config_error: bool = False  # True: the configuration does not fit; False: the connection

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


def check_account(
    account: ImapAccount,
    *,
    ssl_context: ssl.SSLContext | None = None,
    timeout: float = 30.0,
    log: logging.Logger | logging.LoggerAdapter = LOG,
) -> AccountCheck:
    """Log in as the poller does, resolve the namespace, EXAMINE the source folder and make
    sure the processed and quarantine folders exist, creating them when missing."""
    check = AccountCheck(account.name, account.host, account.port)
    client: IMAPClient | None = None
    try:
        client = login(account, ssl_context, SocketTimeout(timeout, timeout), log)
        namespace = resolve_namespace(client, frozenset(client.capabilities()))
        check.prefix, check.delimiter = namespace.prefix, namespace.delimiter
        names = server_names(account, namespace)
        select_source(client, account.folder, names[account.folder], readonly=True)
        check.folders.append(
            {"role": "source", "folder": account.folder, "server": names[account.folder],
             "result": "selectable"}
        )  # fmt: skip
        for role, folder in (
            ("processed", account.processed_folder),
            ("quarantine", account.quarantine_folder),
        ):
            created = ensure_folder(client, folder, names[folder])
            check.folders.append(
                {"role": role, "folder": folder, "server": names[folder],
                 "result": "created" if created else "exists"}
            )  # fmt: skip
        check.ok = True
    except ImapConfigError as e:
        check.error, check.config_error = str(e), True
    except CONNECTION_ERRORS as e:
        check.error = f"{type(e).__name__}: {e}"
    finally:
        if client is not None:
            try:
                client.logout()
            except CONNECTION_ERRORS:
                shutdown(client, log)
    return check
