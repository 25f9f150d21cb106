"""notification bodies in their own table (notification_body, keyed by outbox key)

The sender updates each notification twice (claimed, then sent), and SQLite rewrites a whole
record on every update, overflow pages included: with the bodies inline, a first night's
5,000 e-mails of 60 KB were rewritten twice over (310 MB a pass). Apart, an update rewrites a
row of a few hundred bytes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_body",
        sa.Column("outbox_key", sa.String(length=80), nullable=False),
        sa.Column("body_text", sa.Text(), nullable=False),
        sa.Column("body_html", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["outbox_key"],
            ["notification.outbox_key"],
            name="fk_notification_body_outbox_key_notification",
        ),
        sa.PrimaryKeyConstraint("outbox_key", name="pk_notification_body"),
    )
    op.execute(
        "INSERT INTO notification_body (outbox_key, body_text, body_html) "
        "SELECT outbox_key, body_text, body_html FROM notification"
    )
    # plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): a rebuilt notification table would be
    # dropped under the bodies' foreign key
    op.drop_column("notification", "body_text")
    op.drop_column("notification", "body_html")


def downgrade() -> None:
    op.add_column("notification", sa.Column("body_text", sa.Text(), nullable=False, server_default=""))
    op.add_column("notification", sa.Column("body_html", sa.Text(), nullable=False, server_default=""))
    op.execute(
        "UPDATE notification SET "
        "body_text = (SELECT b.body_text FROM notification_body b WHERE b.outbox_key = notification.outbox_key), "
        "body_html = (SELECT b.body_html FROM notification_body b WHERE b.outbox_key = notification.outbox_key) "
        "WHERE EXISTS (SELECT 1 FROM notification_body b WHERE b.outbox_key = notification.outbox_key)"
    )
    op.drop_table("notification_body")
    with op.batch_alter_table("notification") as batch:  # as 0001 made them: no default
        batch.alter_column("body_text", server_default=None)
        batch.alter_column("body_html", server_default=None)
