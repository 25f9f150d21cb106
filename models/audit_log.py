"""Append-only audit trail of every act on a decision or limit."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Integer, String, Text, event
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class AuditLog(Base):
    """Rows are only ever inserted (who, what, before, after, when, why); ``before`` and
    ``after`` are JSON text."""

    __tablename__ = "audit_log"

    audit_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(40))
    entity: Mapped[str] = mapped_column(String(40))
    entity_id: Mapped[str] = mapped_column(String(40), index=True)
    before: Mapped[str] = mapped_column(Text, default="{}")
    after: Mapped[str] = mapped_column(Text, default="{}")
    reason: Mapped[str] = mapped_column(Text, default="")


class AppendOnlyError(Exception):
    """An audit row was about to be changed or deleted: the trail is append-only."""


@event.listens_for(AuditLog, "before_update")
@event.listens_for(AuditLog, "before_delete")
def _append_only(_mapper: Any, _connection: Any, target: AuditLog) -> None:
    """ORM guard: no code path may rewrite history (the database grants are the second guard)."""
    raise AppendOnlyError(f"audit_log row {target.audit_id} is append-only: it cannot be changed or deleted")
