"""How an outgoing message leaves: the SMTP relay (with STARTTLS or TLS and a login), or a
folder of ``.eml`` files (a pickup directory, or for looking at what ingestd would send)."""

from __future__ import annotations

import hashlib
import re
import smtplib
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ingestd.config import ConfigError, OutboundConfig
from ingestd.durable import write_file

# 5xx replies that say "our credentials/TLS are wrong", not "this message is refused": fixing
# the configuration must not have burnt the messages meanwhile (RFC 4954 §6)
_AUTH_CODES = frozenset({530, 534, 535, 538})


@dataclass(frozen=True)
class Envelope:
    """What a transport needs: the SMTP envelope and the final bytes, never re-serialized."""

    sender: str
    recipients: tuple[str, ...]
    raw: bytes
    message_id: str


class DeliveryError(Exception):
    """A delivery attempt failed; ``permanent`` says whether trying again can help."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class RelayUnavailable(DeliveryError):
    """The transport itself does not work now (relay unreachable, TLS or login failing, the
    drop folder unwritable): every message of the run would fail the same way."""


class Transport(Protocol):
    def send(self, envelope: Envelope) -> dict[str, str]:
        """Deliver one message; returns the recipients refused while others were accepted
        (address → reply), raises :class:`DeliveryError` when nothing was delivered."""
        ...

    def close(self) -> None:
        """End a connection kept between messages of one run."""
        ...


def eml_name(message_id: str) -> str:
    """A file name for a Message-ID: its safe characters, plus a hash when any were replaced
    (or it was long), so two ids never share a file."""
    core = message_id.strip().strip("<>")
    safe = re.sub(r"[^A-Za-z0-9._@+=-]", "_", core).lstrip(".")[:180]
    if safe != core or not safe:
        safe += "-" + hashlib.sha256(message_id.encode("utf-8", "replace")).hexdigest()[:12]
    return safe + ".eml"


class FileTransport:
    """Writes each message as ``<message-id>.eml`` into a folder (the embedded default, and what
    a pickup directory takes): tmp + fsync + rename + fsync of the folder, so a file that exists
    is complete and survives a crash.  Writing it again replaces it (same name, same bytes)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def send(self, envelope: Envelope) -> dict[str, str]:
        try:
            write_file(self.folder / eml_name(envelope.message_id), envelope.raw)
        except OSError as e:
            raise RelayUnavailable(f"cannot write to {self.folder}: {e.strerror or e}") from e
        return {}

    def close(self) -> None:
        pass


class SmtpTransport:
    """The configured relay through smtplib: STARTTLS, implicit TLS or none; AUTH when a
    username is set; one connection reused for the messages of one run.  The raw bytes go out
    as stored (``sendmail``), never re-serialized: that would break the DKIM signature."""

    def __init__(self, config: OutboundConfig, *, ssl_context: ssl.SSLContext | None = None):
        if not config.host:
            raise ConfigError('transport = "smtp" needs the relay host', key="outbound.host")
        self.config = config
        self.ssl_context = ssl_context  # None: the system's CAs, verified against the host
        self._smtp: smtplib.SMTP | None = None

    def _context(self) -> ssl.SSLContext:
        return self.ssl_context or ssl.create_default_context()

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        assert c.host is not None
        where = f"{c.host}:{c.port}"
        smtp: smtplib.SMTP | None = None
        try:
            if c.security == "tls":
                smtp = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context())
            else:
                smtp = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            smtp.ehlo()
            if c.security == "starttls":
                smtp.starttls(context=self._context())
                smtp.ehlo()
            if c.username:
                smtp.login(c.username, c.password() or "")
        except ConfigError as e:
            _quit(smtp)
            raise RelayUnavailable(f"cannot log in to {where}: {e}") from e
        except smtplib.SMTPNotSupportedError as e:
            _quit(smtp)
            raise RelayUnavailable(f"{where} does not offer what we need: {e}") from e
        except smtplib.SMTPResponseException as e:
            _quit(smtp)
            raise RelayUnavailable(f"{where} refused the session: {_reply(e)}") from e
        except (smtplib.SMTPException, OSError) as e:
            _quit(smtp)
            raise RelayUnavailable(f"cannot reach {where}: {oneline(e)}") from e
        return smtp

    def send(self, envelope: Envelope) -> dict[str, str]:
        if self._smtp is None:
            self._smtp = self._connect()
        smtp = self._smtp
        options = (
            ["BODY=8BITMIME"] if not envelope.raw.isascii() and smtp.has_extn("8bitmime") else []
        )
        try:
            refused = smtp.sendmail(
                envelope.sender, list(envelope.recipients), envelope.raw, mail_options=options
            )
        except smtplib.SMTPRecipientsRefused as e:
            self.close()
            replies = {addr: (code, _text(msg)) for addr, (code, msg) in e.recipients.items()}
            text = "; ".join(f"{a}: {code} {msg}" for a, (code, msg) in replies.items())
            permanent = all(_permanent(code) for code, _ in replies.values())
            raise DeliveryError(f"every recipient refused: {text}", permanent=permanent) from e
        except smtplib.SMTPResponseException as e:  # sender refused, data refused
            self.close()
            raise DeliveryError(_reply(e), permanent=_permanent(e.smtp_code)) from e
        except (smtplib.SMTPException, OSError) as e:
            self.close()
            raise DeliveryError(f"delivery interrupted: {oneline(e)}") from e
        return {addr: f"{code} {_text(msg)}" for addr, (code, msg) in refused.items()}

    def close(self) -> None:
        smtp, self._smtp = self._smtp, None
        _quit(smtp)


def _quit(smtp: smtplib.SMTP | None) -> None:
    if smtp is None:
        return
    try:
        smtp.quit()
    except (smtplib.SMTPException, OSError):
        smtp.close()  # the session is gone anyway; close the socket


def _permanent(code: int) -> bool:
    return 500 <= code < 600 and code not in _AUTH_CODES


def _text(message: bytes | str) -> str:
    return message.decode("utf-8", "replace") if isinstance(message, bytes) else str(message)


def _reply(e: smtplib.SMTPResponseException) -> str:
    return f"{e.smtp_code} {oneline(_text(e.smtp_error))}"


def oneline(value: object) -> str:
    return " ".join(str(value).split())[:500] or type(value).__name__


def transport_for(config: OutboundConfig) -> Transport:
    """The transport ``[outbound] transport`` names."""
    if config.transport == "smtp":
        return SmtpTransport(config)
    return FileTransport(config.dir)
