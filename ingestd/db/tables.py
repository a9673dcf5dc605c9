"""The tables of the message's life (every message received, the quarantine, the outbox), of
the HTTP API's keys, of webhook deliveries, and of the web console's users, sessions and audit
log.
The rate tables are in ``ingestd.rates.schema``; both are defined on ``db.columns.metadata``
and created by the migrations in ``ingestd/db/migrations``."""

from __future__ import annotations

import sqlalchemy as sa

from ingestd.config import NAME_LENGTH
from ingestd.db.columns import Blob, Document, Timestamp, metadata

# Every message the pipeline saw (docs/mail.md#mail-in): idempotency by the raw bytes' hash and by
# Message-ID per sender domain, the attempts that crashed, the authentication verdict and the
# outcome of every sheet, and whether its notifications are still to be sent
# (docs/mail.md#mail-out).
messages = sa.Table(
    "messages",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("raw_sha256", sa.String(64), nullable=False, unique=True),
    # sha256 of "sender domain, Message-ID": a message sent again with other bytes is the same
    sa.Column("message_key", sa.String(64), unique=True),
    sa.Column("source", sa.String(64), nullable=False),  # smtp | lmtp | imap:<account> | cli
    sa.Column("correlation_id", sa.String(64)),  # the queue item id, in every log line
    sa.Column("received_at", Timestamp, nullable=False),
    sa.Column("message_id", sa.String(998)),
    sa.Column("from_addr", sa.String(320)),
    sa.Column("subject", sa.String(998)),
    sa.Column("vendor", sa.String(NAME_LENGTH)),
    sa.Column("state", sa.String(16), nullable=False),  # states.MessageState
    sa.Column("result", sa.String(24)),  # states.MessageStatus
    sa.Column("reason", sa.String(64)),
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("last_error", Document),
    sa.Column("auth", Document),  # the authentication verdict, JSON
    sa.Column("outcome", Document),  # sheets, skipped parts and import outcomes, JSON
    sa.Column("notify", sa.String(16), nullable=False),  # states.NotifyState
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("updated_at", Timestamp, nullable=False),
    sa.Index(None, "state"),
)

# Messages held for a person (docs/mail.md#mail-in "quarantined with its exact reason"); the raw
# message is kept as a file under the state directory until it is released or dropped.
quarantine = sa.Table(
    "quarantine",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("message_row", sa.Integer, sa.ForeignKey("messages.id"), nullable=False),
    sa.Column("reason", sa.String(64), nullable=False),
    sa.Column("detail", Document, nullable=False),
    sa.Column("raw_path", sa.String(1024), nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # states.HeldState
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("resolved_at", Timestamp),
    sa.Column("resolution", Document),
    sa.Index(None, "state"),
)


# Every message ingestd sends (docs/mail.md#mail-out), stored before delivery and delivered by the
# scheduler: the final bytes (DKIM-signed when configured), the envelope, and the retry state.  A
# row is claimed for one delivery attempt by raising ``attempts`` and moving ``next_attempt_at``
# past the attempt (a lease), so two daemons sharing the database never send it twice.
outbox = sa.Table(
    "outbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("message_id", sa.String(255), nullable=False, unique=True),  # enqueue is idempotent
    # states.Purpose
    sa.Column("purpose", sa.String(32), nullable=False),
    sa.Column("recipients", Document, nullable=False),  # the envelope recipients, JSON list
    sa.Column("raw", Blob, nullable=False),
    sa.Column("message_row", sa.Integer, sa.ForeignKey("messages.id")),  # what it is about
    sa.Column("state", sa.String(16), nullable=False),  # states.OutboxState
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Timestamp),
    sa.Column("last_error", Document),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp),
    # states.SourceClass: each class has its own daily cap per recipient
    # (docs/mail.md#mail-out), so strangers never crowd out reports about vendors' imports
    sa.Column("source_class", sa.String(16), nullable=False, server_default="system"),
    sa.Column("held_for", Document),  # the recipients a cap held it back from, JSON list
    sa.Index(None, "state", "next_attempt_at"),
    sa.Index(None, "created_at"),  # the per-recipient daily cap counts the last 24 hours
)


# The HTTP API's keys (docs/http.md#keys): only the SHA-256 of a token is kept (a token is 32
# random bytes, so a fast hash is enough and lets a request find its key in one lookup); the
# prefix is what a person sees in lists to tell keys apart.
api_keys = sa.Table(
    "api_keys",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False, unique=True),
    sa.Column("scope", sa.String(16), nullable=False),  # service.apikeys.Scope
    sa.Column("vendor", sa.String(NAME_LENGTH)),  # an upload key's one vendor
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("prefix", sa.String(16), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_used_at", Timestamp),
    sa.Column("revoked_at", Timestamp),
)


# Every event for every receiver (docs/http.md#webhooks), stored before it is sent, as the outbox
# keeps mail: the exact body signed, the retry state, and what the receiver answered.  Claimed
# for one attempt like an outbox row (``db.lease``), so daemons sharing the database send each
# delivery once.
webhook_deliveries = sa.Table(
    "webhook_deliveries",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("event_id", sa.String(64), nullable=False),  # webhook-id: the same on every retry
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("url", sa.String(2048), nullable=False),
    # sha256 of the url: the unique key (an index over 2048 characters is too long for MariaDB)
    sa.Column("receiver", sa.String(64), nullable=False),
    sa.Column("payload", Document, nullable=False),  # the JSON body, byte for byte
    sa.Column("vendor", sa.String(NAME_LENGTH)),
    sa.Column("state", sa.String(16), nullable=False),  # states.WebhookState
    sa.Column("attempts", sa.Integer, nullable=False),
    sa.Column("next_attempt_at", Timestamp),
    sa.Column("last_status", sa.Integer),  # the receiver's last HTTP status
    sa.Column("last_error", Document),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("sent_at", Timestamp),
    sa.UniqueConstraint("receiver", "event_id"),
    sa.Index(None, "state", "next_attempt_at"),
)


# The web console's people (README "Users and the audit log"): a name, a role
# (service.users.Role) and an argon2 hash of the password, never the password itself.
users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("name", sa.String(NAME_LENGTH), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),  # service.users.Role
    sa.Column("password_hash", sa.String(255), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("password_changed_at", Timestamp, nullable=False),
    sa.Column("last_login_at", Timestamp),
)

# A person logged in to the console: only the SHA-256 of the session's token is kept (32 random
# bytes, found in one lookup, as API keys are); the CSRF token its forms carry; when it ends.
console_sessions = sa.Table(
    "console_sessions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("user_name", sa.String(NAME_LENGTH), nullable=False),
    sa.Column("csrf", sa.String(64), nullable=False),
    sa.Column("created_at", Timestamp, nullable=False),
    sa.Column("last_seen_at", Timestamp, nullable=False),
    sa.Column("expires_at", Timestamp, nullable=False),
    sa.Index(None, "user_name"),  # a password change or removal closes a user's sessions
    sa.Index(None, "expires_at"),  # expired sessions are deleted when a new one opens
)

# Who released, dropped or retried what, from any face (README "Users and the audit log"):
# ``actor`` is "user NAME", "api key NAME" or "cli LOGIN".
audit_log = sa.Table(
    "audit_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", Timestamp, nullable=False),
    sa.Column("actor", sa.String(128), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),  # service.audit.Action
    sa.Column("target", sa.String(255), nullable=False),  # "quarantine 12", "outbox 5", …
    sa.Column("note", Document),
    sa.Column("detail", Document),  # JSON: what came of it (a release's status and versions)
    sa.Index(None, "at"),
)
