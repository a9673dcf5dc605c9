"""rate snapshots: the latest version's rows of a table as one Arrow file (SQLite fast path)

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_snapshots",
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("row_count", sa.Integer(), nullable=False),
        sa.Column("id_sum", sa.BigInteger(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"], ["rate_tables.id"], name=op.f("fk_rate_snapshots_table_id_rate_tables")
        ),
        sa.PrimaryKeyConstraint("table_id", name=op.f("pk_rate_snapshots")),
    )


def downgrade() -> None:
    op.drop_table("rate_snapshots")
