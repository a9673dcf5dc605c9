"""vendor_profiles: the answers a person gave about a vendor's deck, kept per layout (the header
fingerprint) and used for the vendor's next decks of that layout

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

from ingestd.db.columns import Document, Timestamp

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vendor_profiles",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("answers", Document, nullable=False),
        sa.Column("sheet", sa.String(length=255), nullable=True),
        sa.Column("header", Document, nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=False),
        sa.Column("used_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_used_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vendor_profiles")),
        sa.UniqueConstraint(
            "vendor", "fingerprint", name=op.f("uq_vendor_profiles_vendor_fingerprint")
        ),
    )


def downgrade() -> None:
    op.drop_table("vendor_profiles")
