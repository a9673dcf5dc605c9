"""What the daemon counts for ``/metrics`` (docs/http.md#metrics), defined once.

Counters and histograms live in one registry of this process and are raised where the event
happens (the pipeline, an import, DKIM, the SMTP listener, the IMAP pollers, webhook
deliveries).  Depths (the queue, the outbox, messages by state, held messages) are read fresh
at each scrape by :func:`depths`, from the database every daemon sharing it sees the same."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

REGISTRY = CollectorRegistry(auto_describe=True)

MESSAGES = Counter(
    "ingestd_messages", "Messages the pipeline finished, by outcome", ["outcome"],
    registry=REGISTRY,
)  # fmt: skip
IMPORTS = Counter(
    "ingestd_imports", "Decks imported (mail, command line or API), by status", ["status"],
    registry=REGISTRY,
)  # fmt: skip
IMPORT_SECONDS = Histogram(
    "ingestd_import_duration_seconds", "How long a file's import took",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300), registry=REGISTRY,
)  # fmt: skip
ROWS_WRITTEN = Counter(
    "ingestd_rows_written", "Rate rows written into new versions, by kind", ["kind"],
    registry=REGISTRY,
)  # fmt: skip
DKIM_RESULTS = Counter(
    "ingestd_dkim_results", "Authentication verdicts of received messages, by status and reason",
    ["status", "reason"], registry=REGISTRY,
)  # fmt: skip
SMTP_SESSIONS = Counter(
    "ingestd_smtp_sessions", "SMTP/LMTP sessions the listener accepted", registry=REGISTRY
)
SMTP_ACTIVE = Gauge(
    "ingestd_smtp_sessions_active", "SMTP/LMTP sessions open now", registry=REGISTRY
)
IMAP_UP = Gauge(
    "ingestd_imap_account_up", "1 while an IMAP account's poller is connected", ["account"],
    registry=REGISTRY,
)  # fmt: skip
WEBHOOK_DELIVERIES = Counter(
    "ingestd_webhook_deliveries", "Webhook delivery attempts, by result", ["result"],
    registry=REGISTRY,
)  # fmt: skip
HTTP_REQUESTS = Counter(
    "ingestd_http_requests", "HTTP requests answered, by status class", ["status"],
    registry=REGISTRY,
)  # fmt: skip


def depths(counts: dict, queued: dict[str, int] | None) -> CollectorRegistry:
    """The depths of a scrape as gauges in a registry of their own: ``counts`` as
    ``service.messages.counts`` gives them, ``queued`` the inbound queue's by state (None: no
    queue here)."""
    registry = CollectorRegistry(auto_describe=True)
    by_state = Gauge("ingestd_messages_by_state", "Messages recorded, by state", ["state"],
                     registry=registry)  # fmt: skip
    for state, n in counts["messages"].items():
        by_state.labels(state).set(n)
    held = Gauge("ingestd_quarantine_held", "Messages held for a person, by reason", ["reason"],
                 registry=registry)  # fmt: skip
    for reason, n in counts["quarantine_by_reason"].items():
        held.labels(reason).set(n)
    outbox = Gauge("ingestd_outbox_messages", "Outgoing mail, by state", ["state"],
                   registry=registry)  # fmt: skip
    for state, n in counts["outbox"].items():
        outbox.labels(state).set(n)
    if queued is not None:
        queue = Gauge("ingestd_queue_depth", "Messages in the inbound queue, by state", ["state"],
                      registry=registry)  # fmt: skip
        for state, n in queued.items():
            queue.labels(state).set(n)
    return registry
