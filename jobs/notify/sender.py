"""Send the queued notifications: at most once per outbox key, with retries and a dead letter.

Delivery choice: **at most once**. Each message is *claimed* (``status = 'sending'``, one
conditional UPDATE, committed) before it is handed to the transport, and marked ``sent`` in
its own commit only after the transport accepted it. A crash between the two leaves the row in
``sending``: it is *in doubt* and never sent again automatically, because a duplicate notice
of a limit cut is worse for a policyholder (and for the insurer's word) than one an operator
resends after checking the server log. Two senders can never both claim a row (the UPDATE
matches only ``pending``/``retry``). The file transport resolves doubt by itself: the
``.eml`` is written atomically, so its presence says whether the message went out.

Answers: 4xx -> ``retry`` with exponential backoff and jitter (``next_attempt_at``), until
``mail.max_attempts`` -> ``dead_letter``; 5xx -> ``dead_letter`` at once (shown in the report);
an unreachable server -> nothing is charged, messages stay queued, the pass stops and the
next call (next night, or ``vigie notify --retry``) sends them once.
"""

from __future__ import annotations

import logging
import random
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs.notify.compose import build_message
from jobs.notify.transports import (
    FileTransport,
    PermanentFailure,
    SmtpTransport,
    TemporaryFailure,
    Transport,
    Unavailable,
)
from models.notification import Notification, NotificationBody

log = logging.getLogger("vigie.notify")

QUEUED = ("pending", "retry")
FILE_BATCH = 500


@dataclass
class SendSummary:
    """What one call did; ``pending`` counts what is still queued afterwards, ``in_doubt`` the
    rows claimed by a sender that crashed before recording the outcome (SMTP only)."""

    sent: int = 0
    retried: int = 0
    dead_letter: int = 0
    pending: int = 0
    in_doubt: int = 0
    unavailable: str | None = None


def make_transport(settings: Settings, *, tls_context: ssl.SSLContext | None = None) -> Transport:
    mail = settings.mail
    if mail.transport == "file":
        return FileTransport(settings.outbox_dir)
    return SmtpTransport(
        host=mail.smtp_host,
        port=mail.smtp_port,
        sender=mail.sender,
        starttls=mail.smtp_starttls,
        username=mail.smtp_username,
        password=mail.smtp_password.get_secret_value() if mail.smtp_password else None,
        timeout=mail.smtp_timeout_seconds,
        tls_context=tls_context,
    )


def backoff_seconds(attempts: int, *, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half the capped delay plus a random half, so
    retries spread out (no thundering herd) yet never come back at once."""
    delay = min(cap, base * (2 ** max(attempts - 1, 0)))
    return delay / 2 + rng.uniform(0, delay / 2)


def _resolve_in_doubt(session: Session, transport: Transport, summary: SendSummary) -> None:
    rows = session.execute(
        select(Notification.notification_id, Notification.outbox_key).where(Notification.status == "sending")
    ).all()
    delivered_ids: list[int] = []
    lost_ids: list[int] = []
    for notification_id, key in rows:
        delivered = transport.already_delivered(key)
        if delivered is None:
            summary.in_doubt += 1
        else:
            (delivered_ids if delivered else lost_ids).append(notification_id)
    for start in range(0, max(len(delivered_ids), len(lost_ids)), FILE_BATCH):  # one UPDATE per batch
        _set(session, delivered_ids[start : start + FILE_BATCH], status="sent", sent_at=datetime.now(UTC))
        _set(session, lost_ids[start : start + FILE_BATCH], status="pending")
    session.commit()


def _due_ids(session: Session, at: datetime) -> list[int]:
    due = (Notification.next_attempt_at.is_(None)) | (Notification.next_attempt_at <= at)
    query = select(Notification.notification_id).where(Notification.status.in_(QUEUED), due)
    return list(session.scalars(query.order_by(Notification.notification_id)))


_CLAIMED = (
    Notification.notification_id,
    Notification.outbox_key,
    Notification.recipients,
    Notification.subject,
    Notification.message_id,
    Notification.attempts,
)


def _claim(session: Session, ids: list[int]) -> list[Any]:
    """Mark rows ``sending`` (one conditional UPDATE ... RETURNING, committed) and return only
    the rows this call won: a concurrent sender can never get the same one. The error of an
    earlier attempt is cleared; a note written at enqueue time (addresses left out) is kept."""
    earlier_attempt = case((Notification.status == "retry", None), else_=Notification.last_error)
    claimed = session.execute(
        update(Notification)
        .where(Notification.notification_id.in_(ids), Notification.status.in_(QUEUED))
        .values(status="sending", attempts=Notification.attempts + 1, last_error=earlier_attempt)
        .returning(*_CLAIMED)
        .execution_options(synchronize_session=False)
    ).all()
    session.commit()
    return sorted(claimed, key=lambda r: r.notification_id)


def _bodies(session: Session, ids: list[int]) -> dict[str, tuple[str, str]]:
    """The plain-text and HTML bodies of these notifications, by outbox key: one read per
    batch (they live apart from the rows the claim updates, see :class:`NotificationBody`),
    before the claim, so a failed read leaves no row claimed."""
    found = session.execute(
        select(NotificationBody.outbox_key, NotificationBody.body_text, NotificationBody.body_html)
        .join(Notification, Notification.outbox_key == NotificationBody.outbox_key)
        .where(Notification.notification_id.in_(ids))
    )
    return {key: (text_, html) for key, text_, html in found.tuples()}


def _set(session: Session, ids: list[int], **values: object) -> None:
    if ids:
        session.execute(
            update(Notification)
            .where(Notification.notification_id.in_(ids))
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _one_pass(
    factory: sessionmaker[Session],
    transport: Transport,
    settings: Settings,
    at: Callable[[], datetime],
    rng: random.Random,
    summary: SendSummary,
) -> bool:
    """Send what is due now. Returns False when the transport became unavailable.

    Outcomes are committed per batch: one message for SMTP (a crash leaves at most one row in
    doubt), 500 for the file transport, whose doubt the files themselves resolve."""
    mail = settings.mail
    batch = FILE_BATCH if transport.resolves_doubt else 1
    with factory() as session:
        ids = _due_ids(session, at())
        if not ids:
            return True
        try:
            with transport.open() as channel:
                for start in range(0, len(ids), batch):
                    sent: list[int] = []
                    bodies = _bodies(session, ids[start : start + batch])
                    rows = _claim(session, ids[start : start + batch])
                    try:
                        for i, row in enumerate(rows):
                            try:
                                body = bodies.get(row.outbox_key)
                                if _send_one(session, channel, row, body, mail, at, rng, summary):
                                    sent.append(row.notification_id)
                            except Unavailable:
                                _give_back(session, [r.notification_id for r in rows[i:]])
                                raise
                    finally:
                        _set(session, sent, status="sent", sent_at=datetime.now(UTC))
                        session.commit()
        except Unavailable as exc:
            summary.unavailable = str(exc)
            log.warning("notifications stay queued: %s", exc)
            return False
    return True


def _send_one(
    session: Session,
    channel: Any,
    row: Any,
    body: tuple[str, str] | None,
    mail: Any,
    at: Callable[[], datetime],
    rng: random.Random,
    summary: SendSummary,
) -> bool:
    """Hand one claimed row and its ``body`` (text, HTML) to the transport; record a failure at
    once, return True if sent."""
    one = [row.notification_id]
    if body is None:  # the outbox writes both rows together: only a damaged database lacks one
        _set(session, one, status="dead_letter", last_error="no body stored for this notification")
        summary.dead_letter += 1
        return False
    message = build_message(
        sender=mail.sender,
        reply_to=mail.reply_to,
        recipients=[r.strip() for r in row.recipients.split(",") if r.strip()],
        subject=row.subject,
        text=body[0],
        html=body[1],
        message_id=row.message_id or "",
        outbox_key=row.outbox_key,
    )
    try:
        note = channel.send(row.outbox_key, message, [str(a.addr_spec) for a in message["To"].addresses])
    except TemporaryFailure as exc:
        if row.attempts >= mail.max_attempts:
            _set(session, one, status="dead_letter", last_error=f"{exc} (after {row.attempts} attempts)")
            summary.dead_letter += 1
        else:
            wait = backoff_seconds(
                row.attempts, base=mail.backoff_base_seconds, cap=mail.backoff_max_seconds, rng=rng
            )
            _set(
                session,
                one,
                status="retry",
                last_error=str(exc),
                next_attempt_at=at() + timedelta(seconds=wait),
            )
            summary.retried += 1
        return False
    except PermanentFailure as exc:
        _set(session, one, status="dead_letter", last_error=str(exc))
        summary.dead_letter += 1
        return False
    summary.sent += 1
    if note:  # sent, but some recipients were refused: keep the reason on the row
        _set(session, one, last_error=note)
    return True


def _give_back(session: Session, ids: list[int]) -> None:
    """Claimed rows never accepted (the transport went away): queued again, attempt returned."""
    _set(
        session,
        ids,
        status=case((Notification.attempts <= 1, "pending"), else_="retry"),
        attempts=Notification.attempts - 1,
    )


def send_pending(
    session_factory: sessionmaker[Session],
    *,
    settings: Settings,
    now: datetime | None = None,
    tls_context: ssl.SSLContext | None = None,
    rng: random.Random | None = None,
) -> SendSummary:
    """Send every queued notification that is due; commits per message (see module doc).

    With ``now`` given (tests, replays) one pass runs at that instant. Without it, 4xx retries
    whose backoff ends within ``mail.backoff_max_seconds`` are waited for in this call, so a
    greylisting server does not delay a notice by a whole night."""
    transport = make_transport(settings, tls_context=tls_context)
    rng = rng or random.Random()  # noqa: S311 - jitter, not security
    summary = SendSummary()
    clock: Callable[[], datetime] = (lambda: now) if now is not None else (lambda: datetime.now(UTC))
    with session_factory() as session:
        _resolve_in_doubt(session, transport, summary)
    while _one_pass(session_factory, transport, settings, clock, rng, summary) and now is None:
        with session_factory() as session:
            earliest = session.scalar(
                select(func.min(Notification.next_attempt_at)).where(Notification.status == "retry")
            )
        if earliest is None:
            break
        if earliest.tzinfo is None:
            earliest = earliest.replace(tzinfo=UTC)
        wait = (earliest - clock()).total_seconds()
        if wait > settings.mail.backoff_max_seconds:
            break
        time.sleep(max(wait, 0.0))
    with session_factory() as session:
        summary.pending = int(
            session.scalar(
                select(func.count()).select_from(Notification).where(Notification.status.in_(QUEUED))
            )
            or 0
        )
    return summary
