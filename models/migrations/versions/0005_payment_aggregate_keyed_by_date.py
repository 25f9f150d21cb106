"""payment_aggregate keyed by date: (as_of, buyer_id)

The last history table keyed buyer first (see 0004 for the score): each night's aggregates of
some 900,000 buyers landed on every leaf page of a key growing with the history, so writing
them took 4.4 s after two nights and 7.1 s after eleven. Keyed by date they are appended. The
date index of 0003 is the key's first column now, so it goes.

SQLite cannot change a primary key: the table is copied into a new one in key order.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

COLUMNS = (
    "buyer_id, as_of, invoices, amount_cents, days_beyond_terms, overdue_share, overdue_declarations, "
    "dbt_trend_3m, dbt_trend_12m, reporting_policyholders"
)


def _rekey(key: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_payment_aggregate", "payment_aggregate", type_="primary")
        op.create_primary_key("pk_payment_aggregate", "payment_aggregate", key)
        return
    op.create_table(
        "payment_aggregate_rekeyed",
        sa.Column("buyer_id", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("invoices", sa.Integer(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("days_beyond_terms", sa.Float(), nullable=False),
        sa.Column("overdue_share", sa.Float(), nullable=False),
        sa.Column("overdue_declarations", sa.Integer(), nullable=False),
        sa.Column("dbt_trend_3m", sa.Float(), nullable=True),
        sa.Column("dbt_trend_12m", sa.Float(), nullable=True),
        sa.Column("reporting_policyholders", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*key, name="pk_payment_aggregate"),
    )
    op.execute(
        f"INSERT INTO payment_aggregate_rekeyed ({COLUMNS}) "
        f"SELECT {COLUMNS} FROM payment_aggregate ORDER BY {', '.join(key)}"
    )
    op.drop_table("payment_aggregate")
    op.rename_table("payment_aggregate_rekeyed", "payment_aggregate")


def upgrade() -> None:
    op.drop_index("ix_payment_aggregate_as_of", table_name="payment_aggregate", if_exists=True)
    _rekey(["as_of", "buyer_id"])


def downgrade() -> None:
    _rekey(["buyer_id", "as_of"])
    op.create_index("ix_payment_aggregate_as_of", "payment_aggregate", ["as_of"], if_not_exists=True)
