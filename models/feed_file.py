"""The ingest ledger: one row per feed file accepted, with its reconciliation."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class FeedFile(Base):
    """The content hash makes re-ingesting the same file a no-op; the counts reconcile:
    ``read = accepted + quarantined + duplicates``."""

    __tablename__ = "feed_file"
    __table_args__ = (UniqueConstraint("source", "content_hash"),)

    feed_file_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(16))
    path: Mapped[str] = mapped_column(String(500))
    content_hash: Mapped[str] = mapped_column(String(64))
    read: Mapped[int] = mapped_column(Integer)
    accepted: Mapped[int] = mapped_column(Integer)
    quarantined: Mapped[int] = mapped_column(Integer)
    duplicates: Mapped[int] = mapped_column(Integer)
    ingested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
