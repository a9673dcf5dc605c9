"""A relay for ingestd's outgoing mail (docs/testing.md#real-components): aiosmtpd's own server
on a port chosen up front (so it can be down first and come up later), recording every envelope,
refusing recipients named ``bounce*`` (550) and deferring ``later*`` (451)."""

from __future__ import annotations

import email
from collections import Counter
from email import policy
from typing import Any

from aiosmtpd.controller import Controller

from rig.ports import free_port


class RecordingHandler:
    """Accepts everything except recipients named bounce* (550) and later* (451)."""

    def __init__(self) -> None:
        self.received: list[tuple[str, list[str], bytes]] = []
        self.logins: list[bytes] = []

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@")[0]
        if local.startswith("bounce"):
            return "550 5.1.1 no such mailbox"
        if local.startswith("later"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            (envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
        )
        return "250 2.0.0 queued"


class Relay:
    """aiosmtpd on a port chosen up front, so it can be down first and come up later."""

    def __init__(self, **smtp: Any) -> None:
        self.port = free_port()
        self.handler = RecordingHandler()
        self.smtp = smtp
        self.controller: Controller | None = None

    def start(self) -> Relay:
        self.controller = Controller(
            self.handler, hostname="127.0.0.1", port=self.port, **self.smtp
        )
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def message_ids(self) -> Counter[str]:
        return Counter(
            email.message_from_bytes(raw, policy=policy.SMTP)["Message-ID"]
            for _, _, raw in self.handler.received
        )
