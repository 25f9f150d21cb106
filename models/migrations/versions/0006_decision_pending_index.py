"""decision: an index of the decisions still to notify; the status index goes

Eligibility and the outbox read the final decisions not yet notified. Through the status index
they walked every final decision ever made (0.9-1.3 s a query after six nights on a
million-buyer book, growing with the history); ``(notified, status, business_date)`` makes it a
short range. The status index itself is the first column of ``ix_decision_queue``: redundant,
and one b-tree less to write per decision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_decision_pending", "decision", ["notified", "status", "business_date"])
    op.drop_index("ix_decision_status", table_name="decision")


def downgrade() -> None:
    op.create_index("ix_decision_status", "decision", ["status"])
    op.drop_index("ix_decision_pending", table_name="decision")
