"""JSON documents and error texts as LONGTEXT on MySQL/MariaDB, whose TEXT stops at 64 KiB (an
import summary listing every rejected row of a large deck is longer); other databases' TEXT has
no such limit and is left alone

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# (table, column, nullable)
DOCUMENTS = (
    ("versions", "summary", False),
    ("messages", "last_error", True),
    ("messages", "auth", True),
    ("messages", "outcome", True),
    ("quarantine", "detail", False),
    ("quarantine", "resolution", True),
    ("outbox", "recipients", False),
    ("outbox", "last_error", True),
    ("outbox", "held_for", True),
)


def _retype(to: sa.types.TypeEngine, from_: sa.types.TypeEngine) -> None:
    if op.get_bind().dialect.name not in ("mysql", "mariadb"):
        return
    for table, column, nullable in DOCUMENTS:
        op.alter_column(table, column, type_=to, existing_type=from_, existing_nullable=nullable)


def upgrade() -> None:
    _retype(mysql.LONGTEXT(), sa.Text())


def downgrade() -> None:
    _retype(sa.Text(), mysql.LONGTEXT())
