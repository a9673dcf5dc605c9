"""messages and quarantine: the mail pipeline's idempotency, crash count and held messages

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from ingestd.db.columns import Timestamp

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("raw_sha256", sa.String(length=64), nullable=False),
        sa.Column("message_key", sa.String(length=64), nullable=True),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("correlation_id", sa.String(length=64), nullable=True),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("from_addr", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=998), nullable=True),
        sa.Column("vendor", sa.String(length=64), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("result", sa.String(length=24), nullable=True),
        sa.Column("reason", sa.String(length=64), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("auth", sa.Text(), nullable=True),
        sa.Column("outcome", sa.Text(), nullable=True),
        sa.Column("notify", sa.String(length=16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_messages")),
        sa.UniqueConstraint("raw_sha256", name=op.f("uq_messages_raw_sha256")),
        sa.UniqueConstraint("message_key", name=op.f("uq_messages_message_key")),
    )
    op.create_index(op.f("ix_messages_state"), "messages", ["state"], unique=False)
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_row", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("raw_path", sa.String(length=1024), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("resolved_at", Timestamp, nullable=True),
        sa.Column("resolution", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["message_row"], ["messages.id"], name=op.f("fk_quarantine_message_row_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_quarantine")),
    )
    op.create_index(op.f("ix_quarantine_state"), "quarantine", ["state"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_quarantine_state"), table_name="quarantine")
    op.drop_table("quarantine")
    op.drop_index(op.f("ix_messages_state"), table_name="messages")
    op.drop_table("messages")
