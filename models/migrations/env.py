"""Alembic environment: uses the connection handed over by :func:`models.db.upgrade`, or
the URL in the config when run from the ``alembic`` command line."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

import models
from models.base import Base

_ = models  # importing the package registers every table
target_metadata = Base.metadata
config = context.config


def run_migrations() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(config.get_main_option("sqlalchemy.url") or "")
    with engine.begin() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()


run_migrations()
