"""The events ingestd tells webhook receivers about (docs/http.md#webhooks), defined once: the
configuration checks a receiver's list against them, the webhooks package builds their
payloads."""

from __future__ import annotations

from enum import StrEnum


class EventType(StrEnum):
    VERSION_CREATED = "version.created"  # a rate table has a new version
    RATES_CHANGED = "rates.changed"  # ... and these prices changed with it
    MESSAGE_QUARANTINED = "message.quarantined"  # a message is held for a person
    IMPORT_REFUSED = "import.refused"  # a deck was refused (mail, upload or command line)
    DELIVERY_FAILED = "delivery.failed"  # mail or a webhook was given up on
    TEST = "webhook.test"  # `ingestd webhooks test`; never stored
