"""initial schema: rate tables, versions, rate rows

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from ingestd.rates.schema import Price

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The current-state views as this revision creates them (frozen: later revisions replace them).
VIEW_VOICE = """CREATE VIEW current_voice_rates AS
SELECT t.vendor AS vendor, t.name AS rate_table, t.current_version AS version,
       r.code AS prefix, r.price1, r.price_n, r.interval1, r.interval_n,
       r.effective_from AS effective_from,
       CASE WHEN r.effective_to IS NOT NULL AND (r.next_from IS NULL OR r.effective_to < r.next_from)
            THEN r.effective_to ELSE r.next_from END AS effective_to,
       r.forbidden AS forbidden, r.discontinued AS discontinued,
       r.description AS description, COALESCE(r.currency, t.currency) AS currency,
       r.change_class AS change_class
FROM (SELECT x.*, LEAD(x.effective_from) OVER (PARTITION BY x.table_id, x.code
                                              ORDER BY x.effective_from) AS next_from
      FROM voice_rates x WHERE x.version_to IS NULL) r
JOIN rate_tables t ON t.id = r.table_id"""

VIEW_SMS = """CREATE VIEW current_sms_rates AS
SELECT t.vendor AS vendor, t.name AS rate_table, t.current_version AS version,
       r.code AS mccmnc, r.price,
       r.effective_from AS effective_from,
       CASE WHEN r.effective_to IS NOT NULL AND (r.next_from IS NULL OR r.effective_to < r.next_from)
            THEN r.effective_to ELSE r.next_from END AS effective_to,
       r.forbidden AS forbidden, r.discontinued AS discontinued,
       r.description AS description, COALESCE(r.currency, t.currency) AS currency,
       r.change_class AS change_class
FROM (SELECT x.*, LEAD(x.effective_from) OVER (PARTITION BY x.table_id, x.code
                                              ORDER BY x.effective_from) AS next_from
      FROM sms_rates x WHERE x.version_to IS NULL) r
JOIN rate_tables t ON t.id = r.table_id"""

VIEW_DID = """CREATE VIEW current_did_numbers AS
SELECT t.vendor AS vendor, t.name AS rate_table, t.current_version AS version,
       r.code AS number, r.inbound_voice_price, r.inbound_sms_price, r.interval, r.mrc, r.nrc, r.docs_required, r.status, r.type, r.voice, r.sms, r.fax, r.video, r.capacity, r.notes, r.local_requirements,
       r.effective_from AS effective_from,
       CASE WHEN r.effective_to IS NOT NULL AND (r.next_from IS NULL OR r.effective_to < r.next_from)
            THEN r.effective_to ELSE r.next_from END AS effective_to,
       r.forbidden AS forbidden, r.discontinued AS discontinued,
       r.description AS description, COALESCE(r.currency, t.currency) AS currency,
       r.change_class AS change_class
FROM (SELECT x.*, LEAD(x.effective_from) OVER (PARTITION BY x.table_id, x.code
                                              ORDER BY x.effective_from) AS next_from
      FROM did_numbers x WHERE x.version_to IS NULL) r
JOIN rate_tables t ON t.id = r.table_id"""


def upgrade() -> None:
    op.create_table(
        "rate_tables",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("vendor", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("current_version", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rate_tables")),
        sa.UniqueConstraint("vendor", "kind", "name", name=op.f("uq_rate_tables_vendor_kind_name")),
    )
    op.create_table(
        "did_numbers",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("version_from", sa.Integer(), nullable=False),
        sa.Column("version_to", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("effective_from", sa.DateTime(), nullable=False),
        sa.Column("inbound_voice_price", Price(), nullable=True),
        sa.Column("inbound_sms_price", Price(), nullable=True),
        sa.Column("interval", sa.Integer(), nullable=True),
        sa.Column("mrc", Price(), nullable=True),
        sa.Column("nrc", Price(), nullable=True),
        sa.Column("docs_required", sa.Boolean(create_constraint=False), nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("type", sa.Text(), nullable=True),
        sa.Column("voice", sa.Boolean(create_constraint=False), nullable=True),
        sa.Column("sms", sa.Boolean(create_constraint=False), nullable=True),
        sa.Column("fax", sa.Boolean(create_constraint=False), nullable=True),
        sa.Column("video", sa.Boolean(create_constraint=False), nullable=True),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("local_requirements", sa.Text(), nullable=True),
        sa.Column("effective_to", sa.DateTime(), nullable=True),
        sa.Column("forbidden", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("discontinued", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("change_class", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"], ["rate_tables.id"], name=op.f("fk_did_numbers_table_id_rate_tables")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_did_numbers")),
    )
    with op.batch_alter_table("did_numbers", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_did_numbers_table_id_version_from"),
            ["table_id", "version_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_did_numbers_table_id_version_to_code"),
            ["table_id", "version_to", "code"],
            unique=False,
        )

    op.create_table(
        "sms_rates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("version_from", sa.Integer(), nullable=False),
        sa.Column("version_to", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("effective_from", sa.DateTime(), nullable=False),
        sa.Column("price", Price(), nullable=True),
        sa.Column("effective_to", sa.DateTime(), nullable=True),
        sa.Column("forbidden", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("discontinued", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("change_class", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"], ["rate_tables.id"], name=op.f("fk_sms_rates_table_id_rate_tables")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_sms_rates")),
    )
    with op.batch_alter_table("sms_rates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sms_rates_table_id_version_from"),
            ["table_id", "version_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_sms_rates_table_id_version_to_code"),
            ["table_id", "version_to", "code"],
            unique=False,
        )

    op.create_table(
        "versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("origin", sa.String(length=16), nullable=False),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.Column("rollback_to", sa.Integer(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("message_id", sa.String(length=998), nullable=True),
        sa.Column("sender", sa.String(length=320), nullable=True),
        sa.Column("subject", sa.String(length=998), nullable=True),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_hash", sa.String(length=64), nullable=True),
        sa.Column("rows_total", sa.Integer(), nullable=False),
        sa.Column("rows_added", sa.Integer(), nullable=False),
        sa.Column("rows_closed", sa.Integer(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"], ["rate_tables.id"], name=op.f("fk_versions_table_id_rate_tables")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_versions")),
        sa.UniqueConstraint("table_id", "number", name=op.f("uq_versions_table_id_number")),
    )
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_versions_table_id_file_hash"), ["table_id", "file_hash"], unique=False
        )

    op.create_table(
        "voice_rates",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("table_id", sa.Integer(), nullable=False),
        sa.Column("version_from", sa.Integer(), nullable=False),
        sa.Column("version_to", sa.Integer(), nullable=True),
        sa.Column("code", sa.String(length=32), nullable=False),
        sa.Column("effective_from", sa.DateTime(), nullable=False),
        sa.Column("price1", Price(), nullable=True),
        sa.Column("price_n", Price(), nullable=True),
        sa.Column("interval1", sa.Integer(), nullable=True),
        sa.Column("interval_n", sa.Integer(), nullable=True),
        sa.Column("effective_to", sa.DateTime(), nullable=True),
        sa.Column("forbidden", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("discontinued", sa.Boolean(create_constraint=False), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("currency", sa.String(length=3), nullable=True),
        sa.Column("change_class", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(
            ["table_id"], ["rate_tables.id"], name=op.f("fk_voice_rates_table_id_rate_tables")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_voice_rates")),
    )
    with op.batch_alter_table("voice_rates", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_voice_rates_table_id_version_from"),
            ["table_id", "version_from"],
            unique=False,
        )
        batch_op.create_index(
            batch_op.f("ix_voice_rates_table_id_version_to_code"),
            ["table_id", "version_to", "code"],
            unique=False,
        )

    for view in (VIEW_VOICE, VIEW_SMS, VIEW_DID):
        op.execute(view)


def downgrade() -> None:
    for name in ("current_voice_rates", "current_sms_rates", "current_did_numbers"):
        op.execute(f"DROP VIEW {name}")
    with op.batch_alter_table("voice_rates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_voice_rates_table_id_version_to_code"))
        batch_op.drop_index(batch_op.f("ix_voice_rates_table_id_version_from"))

    op.drop_table("voice_rates")
    with op.batch_alter_table("versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_versions_table_id_file_hash"))

    op.drop_table("versions")
    with op.batch_alter_table("sms_rates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sms_rates_table_id_version_to_code"))
        batch_op.drop_index(batch_op.f("ix_sms_rates_table_id_version_from"))

    op.drop_table("sms_rates")
    with op.batch_alter_table("did_numbers", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_did_numbers_table_id_version_to_code"))
        batch_op.drop_index(batch_op.f("ix_did_numbers_table_id_version_from"))

    op.drop_table("did_numbers")
    op.drop_table("rate_tables")
