"""score keyed by date: (as_of, role, buyer_id)

Keyed buyer first, each night's million scores landed on every leaf page of a key that grows
with the history, and each commit rewrote them all: writing a night's scores took 4 s after
two nights and 7 s after eleven, more every night. Keyed by date, a night's scores are
appended at the end of the key. The per-buyer reads (the dossier, the latest score of a
buyer, the eligibility grade) now go through the recent dates instead.

SQLite cannot change a primary key: the table is copied into a new one in key order.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = "buyer_id, as_of, role, pd_12m, grade, rating, model_name, model_version, reason_codes, run_id"


def _rekey(key: list[str]) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.drop_constraint("pk_score", "score", type_="primary")
        op.create_primary_key("pk_score", "score", key)
        return
    op.create_table(
        "score_rekeyed",
        sa.Column("buyer_id", sa.String(length=32), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("role", sa.String(length=10), nullable=False),
        sa.Column("pd_12m", sa.Float(), nullable=False),
        sa.Column("grade", sa.Integer(), nullable=False),
        sa.Column("rating", sa.String(length=4), nullable=False),
        sa.Column("model_name", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=20), nullable=False),
        sa.Column("reason_codes", sa.String(length=120), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint(*key, name="pk_score"),
    )
    op.execute(f"INSERT INTO score_rekeyed ({COLUMNS}) SELECT {COLUMNS} FROM score ORDER BY {', '.join(key)}")
    op.drop_table("score")
    op.rename_table("score_rekeyed", "score")


def upgrade() -> None:
    op.drop_index("ix_score_as_of_role", table_name="score", if_exists=True)
    _rekey(["as_of", "role", "buyer_id"])


def downgrade() -> None:
    _rekey(["buyer_id", "as_of", "role"])
    op.create_index("ix_score_as_of_role", "score", ["as_of", "role"], if_not_exists=True)
