"""Rate mails for the pipeline tests: decks (CSV, XLSX, ZIP), whole messages with attachments,
DKIM-signed with a key pinned in the vendor's configuration (no DNS where DNS is not the
point), and configurations loaded from a TOML file the way the daemon loads them.

    key = rsa_key(1024)                                   # once per module: keys are slow
    config = make_config(tmp_path, db_url=url, pin=key)   # vendor "acme", key pinned
    raw = signed(rate_message([("rates.csv", csv_deck(codes(5)))]), key)
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Sequence
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path

import openpyxl

from ingestd.config import Config, load_config
from rig.signers import SigningKey, sign_dkimpy

VENDOR = "acme"
SENDER = "rates@acme.example"
DOMAIN = "acme.example"
SELECTOR = "sel1"
DATE = "Mon, 06 Jan 2025 10:00:00 +0000"

Rows = Sequence[tuple[str, str]]  # (code, price)


def codes(n: int, *, price: str = "0.0100", first: int = 4400) -> list[tuple[str, str]]:
    """``n`` voice codes with one price: ("4400", "0.0100"), ("4401", "0.0100"), …"""
    return [(str(first + i), price) for i in range(n)]


def csv_deck(rows: Rows) -> bytes:
    lines = ["Destination,Prefix,Rate"] + [f"Dest {code},{code},{price}" for code, price in rows]
    return ("\r\n".join(lines) + "\r\n").encode("ascii")


def xlsx_deck(rows: Rows, *, sheet: str = "Rates") -> bytes:
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = sheet
    ws.append(["Destination", "Prefix", "Rate"])
    for code, price in rows:
        ws.append([f"Dest {code}", code, float(price)])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def zip_of(files: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return out.getvalue()


PDF = b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"

_TYPES = {
    ".csv": ("text", "csv"),
    ".xlsx": ("application", "vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ".zip": ("application", "zip"),
    ".pdf": ("application", "pdf"),
}


def rate_message(
    attachments: Sequence[tuple[str, bytes]] = (),
    *,
    from_header: str = f"Acme Rates <{SENDER}>",
    subject: str = "Acme rate update",
    message_id: str = "<deck-1@acme.example>",
    date: str = DATE,
    body: str = "Dear customer,\nplease find our rates attached.\n",
) -> bytes:
    """A multipart message (CRLF line ends, as it arrives over SMTP) with these attachments
    (file name, bytes); the MIME type follows the file name's suffix."""
    msg = EmailMessage()
    msg["From"] = from_header
    msg["To"] = "rates@carrier.example"
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = message_id
    msg.set_content(body)
    for name, data in attachments:
        maintype, subtype = _TYPES.get(Path(name).suffix.lower(), ("application", "octet-stream"))
        msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
    return msg.as_bytes(policy=SMTP)


def signed(raw: bytes, key: SigningKey, *, domain: str = DOMAIN, selector: str = SELECTOR) -> bytes:
    """``raw`` with a DKIM signature by ``key`` (dkimpy, relaxed/relaxed)."""
    return sign_dkimpy(raw, key, domain=domain, selector=selector)


def config_text(
    tmp_path: Path,
    *,
    db_url: str | None = None,
    pin: SigningKey | None = None,
    nameserver: str | None = None,
    timeout: str = "2s",
    vendor_extra: str = "",
    http: str = "",
    tables: str = "",
) -> str:
    """The TOML of a test configuration: state under ``tmp_path/var``, vendor ``acme`` (sender
    rates@acme.example, its key pinned when ``pin`` is given), DNS at ``nameserver``, ``http``
    the body of an ``[http]`` section, ``tables`` more top-level tables (``[[webhooks]]``)."""
    state = tmp_path / "var"
    db = db_url or f"sqlite:///{state / 'ingestd.db'}"
    pins = f'dkim_keys = {{ "{SELECTOR}._domainkey.{DOMAIN}" = "{pin.record}" }}\n' if pin else ""
    dns = f'nameservers = ["{nameserver}"]\n' if nameserver else ""
    return (
        f'[daemon]\nstate_dir = "{state}"\n\n'
        f'[database]\nurl = "{db}"\n\n'
        f'[dns]\n{dns}timeout = "{timeout}"\n\n'
        f'[outbound]\ndir = "{state / "outbox"}"\n\n'
        + (f"[http]\n{http}\n\n" if http else "")
        + f'[[vendors]]\nid = "{VENDOR}"\nname = "Acme Voice Wholesale"\n'
        f'senders = ["{SENDER}"]\n{pins}{vendor_extra}\n' + tables
    )


def make_config(tmp_path: Path, **kwargs) -> Config:
    """``config_text`` written to ``tmp_path/ingestd.toml`` and loaded (no environment)."""
    path = config_path(tmp_path, **kwargs)
    return load_config(path, env={})


def config_path(tmp_path: Path, **kwargs) -> Path:
    path = tmp_path / "ingestd.toml"
    path.write_text(config_text(tmp_path, **kwargs), encoding="utf-8")
    return path
