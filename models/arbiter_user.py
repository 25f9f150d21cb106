"""A user of the admin endpoint (arbiter, senior arbiter, risk manager, admin)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Boolean, DateTime, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, utcnow


class ArbiterUser(Base):
    """``desks`` is a comma-separated list of desk codes (sector or country desks) the user
    may act on; ``authority_cents`` the largest limit they may decide alone.
    Passwords are argon2id hashes; API tokens are stored only as a SHA-256 digest."""

    __tablename__ = "arbiter_user"

    user_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(16))
    desks: Mapped[str] = mapped_column(String(500), default="")
    authority_cents: Mapped[int] = mapped_column(BigInteger, default=0)
    password_hash: Mapped[str] = mapped_column(String(200))
    token_digest: Mapped[str | None] = mapped_column(String(64), unique=True)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
