"""score and payment_aggregate indexed by date

The primary keys start with the buyer: every query by date alone (the nightly's idempotent
DELETE of a date, the latest score date, the previous night's scores) scanned the whole
history, which grows by two million rows a night on a million-buyer book (1 s per scan after
ten nights). Created if missing: a database may already have them.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_score_as_of_role", "score", ["as_of", "role"], if_not_exists=True)
    op.create_index("ix_payment_aggregate_as_of", "payment_aggregate", ["as_of"], if_not_exists=True)


def downgrade() -> None:
    op.drop_index("ix_payment_aggregate_as_of", table_name="payment_aggregate", if_exists=True)
    op.drop_index("ix_score_as_of_role", table_name="score", if_exists=True)
