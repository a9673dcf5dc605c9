"""Alembic environment: ingestd passes its own connection (``Database.upgrade``)."""

from alembic import context

import ingestd.db.tables
import ingestd.rates.schema  # noqa: F401  (both define their tables on the one metadata)
from ingestd.db.columns import metadata

connection = context.config.attributes.get("connection")
if connection is None:  # `alembic` run by hand with -x url=…
    from sqlalchemy import create_engine

    url = context.get_x_argument(as_dictionary=True)["url"]
    with create_engine(url).begin() as connection:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()
else:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
