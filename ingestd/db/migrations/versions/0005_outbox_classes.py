"""outbox: the source class of each message (its own daily cap) and whom a cap held it back from

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("source_class", sa.String(length=16), nullable=False, server_default="system")
        )
        batch.add_column(sa.Column("held_for", sa.Text(), nullable=True))
    # what was stored before: answers and reports about imports, alerts as the sender was
    outbox = sa.table(
        "outbox", sa.column("purpose", sa.String), sa.column("source_class", sa.String)
    )
    op.execute(
        outbox.update()
        .where(outbox.c.purpose.in_(("confirmation", "import_report", "price_change")))
        .values(source_class="authenticated")
    )
    op.execute(
        outbox.update()
        .where(outbox.c.purpose == "quarantine_alert")
        .values(source_class="unauthenticated")
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("held_for")
        batch.drop_column("source_class")
