"""decision.requested_cents: the amount the policyholder asked for, as the decision answered it

A decision applied at once clears the request from its limit (the limit is answered), so
anything read later from the limit no longer knows what was asked: the CAP top-up after a
partial approval, which makes up part of the shortfall between what was asked and what was
granted, found no request and offered nothing. The decision now keeps the amount it answered.
A decision still referred at this revision has not been applied: its limit still holds the
request, which is copied onto it. Other decisions made before keep NULL (their request is gone
from the limit, or the limit holds a newer one).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("decision", sa.Column("requested_cents", sa.BigInteger(), nullable=True))
    op.execute(
        "UPDATE decision SET requested_cents = (SELECT cl.requested_cents FROM credit_limit cl "
        "WHERE cl.limit_id = decision.limit_id) WHERE status = 'referred'"
    )


def downgrade() -> None:
    with op.batch_alter_table("decision", schema=None) as batch_op:
        batch_op.drop_column("requested_cents")
