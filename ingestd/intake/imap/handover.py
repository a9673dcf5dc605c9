"""What an IMAP poller hands to its handler and hears back (docs/mail.md#mail-in): the
message's place in the mailbox, and what became of it, which decides the folder it moves to."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass


class Disposition(enum.StrEnum):
    """What became of a message, as the handler reports it."""

    PROCESSED = "processed"  # committed: move it to the processed folder
    QUARANTINED = "quarantined"  # committed as held: move it to the quarantine folder
    RETRY = "retry"  # temporary failure: leave it in the folder, try again later


@dataclass(frozen=True)
class MessageRef:
    """Where a message came from; (account, folder, uidvalidity, uid) names it uniquely."""

    account: str
    folder: str
    uidvalidity: int
    uid: int


Handler = Callable[[bytes, MessageRef], Disposition]
