"""decision: the policyholder index goes

No query looks decisions up by policyholder: the outbox and eligibility read the decisions
still to notify through ``ix_decision_pending`` and join the policyholder from them. The index
only cost a b-tree write per decision (half a million on a first night).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_decision_policyholder_id", table_name="decision")


def downgrade() -> None:
    op.create_index("ix_decision_policyholder_id", "decision", ["policyholder_id"])
