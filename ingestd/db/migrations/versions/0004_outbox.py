"""outbox: every outgoing message, stored before delivery, with its retry state

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from ingestd.db.columns import Blob, Timestamp

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(length=255), nullable=False),
        sa.Column("purpose", sa.String(length=32), nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.Column("raw", Blob, nullable=False),
        sa.Column("message_row", sa.Integer(), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", Timestamp, nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("sent_at", Timestamp, nullable=True),
        sa.ForeignKeyConstraint(
            ["message_row"], ["messages.id"], name=op.f("fk_outbox_message_row_messages")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
        sa.UniqueConstraint("message_id", name=op.f("uq_outbox_message_id")),
    )
    op.create_index(
        op.f("ix_outbox_state_next_attempt_at"),
        "outbox",
        ["state", "next_attempt_at"],
        unique=False,
    )
    op.create_index(op.f("ix_outbox_created_at"), "outbox", ["created_at"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_outbox_created_at"), table_name="outbox")
    op.drop_index(op.f("ix_outbox_state_next_attempt_at"), table_name="outbox")
    op.drop_table("outbox")
