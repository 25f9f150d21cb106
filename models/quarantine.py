"""Feed rows that failed validation, kept with where they came from and why."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class QuarantinedRow(Base):
    """``line`` is the physical line (CSV) or record number (JSON, Parquet), 1-based."""

    __tablename__ = "quarantine"

    quarantine_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feed_file_id: Mapped[int | None] = mapped_column(Integer, index=True)
    source: Mapped[str] = mapped_column(String(16))
    file: Mapped[str] = mapped_column(String(500))
    line: Mapped[int] = mapped_column(Integer)
    field: Mapped[str] = mapped_column(String(80))
    reason: Mapped[str] = mapped_column(Text)
    raw: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
