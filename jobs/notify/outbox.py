"""Queue the night's notifications: one e-mail per policyholder, in the decisions' transaction.

Why an outbox: the e-mail rows and the ``decision.notified`` flags are written in the same
transaction (the caller commits), so a crash either queues a policyholder's e-mail and marks
its decisions, or does neither. Sending is a separate step (:mod:`jobs.notify.sender`).

The unique ``outbox_key`` (business date + policyholder) makes a re-run enqueue nothing twice.
Decisions that become final after the key of their date was used (an arbiter acting after the
run) stay ``notified = false`` and go with the next night's e-mail.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, cast

import numpy as np
import pandas as pd
from sqlalchemy import String
from sqlalchemy.orm import Session

from arbitration.handover import OTHER_RUNS, DecidedTonight, handed_on, with_handed
from arbitration.rules import load_rule_set
from arbitration.rules.schema import Motive
from config.settings import Settings
from jobs.notify.compose import (
    fit_recipients,
    language_of,
    message_id_for,
    parse_recipients,
    render,
)
from jobs.notify.worded import each_distinct, items_of, runs, word_frame
from models.codes import FINAL_STATUSES
from models.db import bulk_insert, executemany, placeholder, read_frame
from models.notification import Notification

log = logging.getLogger("vigie.notify")

NOTIFICATION_COLUMNS = [
    "outbox_key",
    "run_id",
    "business_date",
    "policyholder_id",
    "recipients",
    "language",
    "subject",
    "status",
    "attempts",
    "last_error",
    "message_id",
    "created_at",
]
BODY_COLUMNS = ["outbox_key", "body_text", "body_html"]
RECIPIENTS_LENGTH: int = cast(String, Notification.__table__.c.recipients.type).length or 0
"""Width of ``notification.recipients``, read from the model."""
_FINAL = tuple(sorted(str(s) for s in FINAL_STATUSES))
WRITE_BATCH = 200
"""Rendered notifications held before they are inserted (see :func:`_write`)."""


def outbox_key(policyholder_id: str, business_date: date) -> str:
    """``YYYYMMDD-<policyholder>``, safe as a file name; an id with other characters gets a
    short hash so two ids can never share a key."""
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", str(policyholder_id))[:50]
    if safe != str(policyholder_id):
        safe += "-" + hashlib.sha256(str(policyholder_id).encode()).hexdigest()[:10]
    return f"{business_date:%Y%m%d}-{safe}"


PENDING_COLUMNS = [
    "decision_id",
    "policyholder_id",
    "decision_type",
    "reason_code",
    "previous_cents",
    "reason_rule",
    "proposed_cents",
    "final_cents",
    "effective_date",
    "buyer_id",
    "buyer_name",
    "siren",
    "emails",
    "language",
]
"""What the e-mails say of each decision, and where they go."""


def _pending_decisions(session: Session, business_date: date, *, besides_run: int | None) -> pd.DataFrame:
    """Final decisions up to ``business_date`` not yet notified, with buyer and policyholder;
    with ``besides_run``, not those that run wrote (they are handed over instead)."""
    marks = ", ".join(f":st{i}" for i in range(len(_FINAL)))
    params: dict[str, Any] = {f"st{i}": s for i, s in enumerate(_FINAL)}
    besides = "" if besides_run is None else OTHER_RUNS
    sql = f"""
        SELECT d.decision_id, d.policyholder_id, d.decision_type, d.reason_code, d.previous_cents,
               d.reason_rule, d.proposed_cents, d.final_cents, d.effective_date, d.buyer_id,
               b.name AS buyer_name, b.siren, ph.emails, ph.language
        FROM decision d
        LEFT JOIN policyholder ph ON ph.policyholder_id = d.policyholder_id
        LEFT JOIN buyer b ON b.buyer_id = d.buyer_id
        WHERE d.status IN ({marks}) AND d.notified = :false_ AND d.business_date <= :d {besides}
    """
    return read_frame(session, sql, {**params, "d": business_date, "false_": False, "run": besides_run})


def _handed_pending(session: Session, tonight: DecidedTonight) -> pd.DataFrame:
    """Arbitration's handed decisions as :func:`_pending_decisions` rows: the policyholders'
    addresses and language are the one thing read (a few thousand rows)."""
    holders = read_frame(session, "SELECT policyholder_id, emails, language FROM policyholder")
    holders = holders.set_index("policyholder_id")
    holder = tonight.decisions["policyholder_id"].to_numpy()
    return tonight.decisions.assign(
        emails=holders["emails"].reindex(holder).to_numpy(),
        language=holders["language"].reindex(holder).to_numpy(),
    )[PENDING_COLUMNS]


def pending(session: Session, business_date: date, tonight: DecidedTonight | None = None) -> pd.DataFrame:
    """Every final decision up to ``business_date`` not yet notified (:data:`PENDING_COLUMNS`),
    grouped by policyholder, in decision order within each. With ``tonight`` (what arbitration
    wrote in this unit of work), those decisions come from it and only the others are read."""
    handed = handed_on(tonight, business_date)
    read = _pending_decisions(session, business_date, besides_run=handed.run_id if handed else None)
    # sorted here, not by the database: both paths order policyholders alike on every backend
    return with_handed(
        read,
        None if handed is None else _handed_pending(session, handed),
        columns=PENDING_COLUMNS,
        order=["policyholder_id", "decision_id"],
    )


def _eligible_rows(session: Session, business_date: date, *, marked_run: int | None) -> pd.DataFrame:
    """The eligible rows of the decisions to notify; with ``marked_run``, also those of that
    run's decisions of the date, written already marked notified (the hand-over's)."""
    marks = ", ".join(f":st{i}" for i in range(len(_FINAL)))
    params: dict[str, Any] = {f"st{i}": s for i, s in enumerate(_FINAL)}
    marked = "" if marked_run is None else "OR (d.run_id = :run AND d.business_date = :d)"
    sql = f"""
        SELECT e.decision_id, e.scheme, e.amount_cents, e.deadline
        FROM eligibility e JOIN decision d ON d.decision_id = e.decision_id
        WHERE e.eligible = :true_ AND d.status IN ({marks}) AND d.business_date <= :d
          AND (d.notified = :false_ {marked})
    """
    values = {**params, "d": business_date, "false_": False, "true_": True, "run": marked_run}
    return read_frame(session, sql, values)


@dataclass
class Queueing:
    """What the outbox read to queue a night's e-mails (see :func:`read_queueing`): the pending
    decisions grouped by policyholder, what was handed over, the motives, the keys already used
    for the date and each decision's language. ``in_e_mail`` is filled by :func:`compose`."""

    business_date: date
    decisions: pd.DataFrame
    handed: DecidedTonight | None
    motives: Mapping[str, Motive]
    used: set[str]
    languages: np.ndarray
    in_e_mail: np.ndarray

    @property
    def marked(self) -> DecidedTonight | None:
        """The handed decisions if they were written already marked notified."""
        return self.handed if self.handed is not None and self.handed.marked_notified else None


def read_queueing(
    session: Session, *, business_date: date, settings: Settings, tonight: DecidedTonight | None = None
) -> Queueing | None:
    """What :func:`compose` needs from the database (``tonight``: see :func:`pending`); None
    when there is no decision to notify."""
    decisions = pending(session, business_date, tonight)
    if decisions.empty:
        return None
    taken = read_frame(
        session, "SELECT outbox_key FROM notification WHERE business_date = :d", {"d": business_date}
    )
    return Queueing(
        business_date=business_date,
        decisions=decisions,
        handed=handed_on(tonight, business_date),
        motives=load_rule_set(settings.paths.rules_dir).motives,
        used=set(taken["outbox_key"]) if not taken.empty else set(),
        languages=each_distinct(decisions["language"], language_of),
        in_e_mail=np.zeros(len(decisions), dtype=bool),
    )


def enqueue(
    session: Session,
    *,
    business_date: date,
    run_id: int | None,
    settings: Settings,
    tonight: DecidedTonight | None = None,
    eligible: pd.DataFrame | None = None,
) -> int:
    """Queue one e-mail per policyholder with final, not yet notified decisions up to
    ``business_date``; mark those decisions notified. Does not commit. Returns rows queued.
    ``tonight``: arbitration's decisions of this unit of work, if any (see :func:`pending`);
    if they were written already marked notified, the mark of those not queued here is cleared
    (their policyholder's e-mail of the date was queued before: they wait for the next one).
    ``eligible``: the eligible rows (decision_id, scheme, amount_cents, deadline) the
    eligibility step of this unit of work computed and wrote for every decision to notify, if
    it ran; else they are read back."""
    queueing = read_queueing(session, business_date=business_date, settings=settings, tonight=tonight)
    if queueing is None:
        return 0
    if eligible is None:
        marked = queueing.marked
        eligible = _eligible_rows(
            session, business_date, marked_run=None if marked is None else marked.run_id
        )
    return write_queued(session, queueing, compose(queueing, eligible, run_id=run_id, settings=settings))


def compose(
    queueing: Queueing, eligible: pd.DataFrame, *, run_id: int | None, settings: Settings
) -> Iterator[list[dict[str, Any]]]:
    """The notification rows (bodies rendered) of ``queueing``, in batches of
    :data:`WRITE_BATCH`, setting ``queueing.in_e_mail`` for the decisions each row lists.
    Pure: no database, no file (it may run in a thread of its own, see :mod:`jobs.ahead`)."""
    decisions = queueing.decisions
    business_date = queueing.business_date
    text, html = word_frame(
        decisions,
        eligible,
        english=queueing.languages == "en",
        motives=queueing.motives,
    )
    holders = decisions["policyholder_id"].astype(str).to_numpy(dtype=object)
    emails = decisions["emails"].to_numpy(dtype=object)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for start, stop in runs(holders):  # each policyholder's decisions
        if len(rows) >= WRITE_BATCH:
            yield rows
            rows = []
        policyholder_id = str(holders[start])
        key = outbox_key(policyholder_id, business_date)
        if key in queueing.used:
            continue  # already queued for this night: these decisions wait for the next one
        language = str(queueing.languages[start])
        rendered = render(
            language=language,
            business_date=business_date,
            items=items_of(text, start, stop),
            reply_to=settings.mail.reply_to,
            html_items=items_of(html, start, stop),
        )
        recipients = parse_recipients(emails[start])
        stored, left_out = fit_recipients(recipients, RECIPIENTS_LENGTH)
        if not recipients:
            problem: str | None = "no valid e-mail address for this policyholder"
        elif left_out:
            problem = (
                f"{len(left_out)} address(es) beyond {RECIPIENTS_LENGTH} characters not written to: "
                + ", ".join(left_out)
            )
            log.warning("policyholder %s: %s", policyholder_id, problem)
        else:
            problem = None
        rows.append(
            {
                "outbox_key": key,
                "run_id": run_id,
                "business_date": business_date,
                "policyholder_id": policyholder_id,
                "recipients": stored,
                "language": language,
                "subject": rendered.subject,
                "body_text": rendered.text,
                "body_html": rendered.html,
                "status": "pending" if stored else "dead_letter",
                "attempts": 0,
                "last_error": problem,
                "message_id": message_id_for(settings.mail.sender),
                "created_at": now,
            }
        )
        queueing.in_e_mail[start:stop] = True
    if rows:
        yield rows


def write_queued(session: Session, queueing: Queueing, batches: Iterable[list[dict[str, Any]]]) -> int:
    """Insert the notification rows of ``batches`` (from :func:`compose`), then set the
    decisions' ``notified`` marks to what was queued. Returns rows queued."""
    queued = sum(_write(session, rows) for rows in batches)
    decisions = queueing.decisions
    ids_of = decisions["decision_id"].astype("int64").to_numpy()
    in_e_mail = queueing.in_e_mail
    already = np.zeros(len(decisions), dtype=bool)
    if queueing.marked is not None:
        already = np.isin(ids_of, queueing.marked.decisions["decision_id"].astype("int64").to_numpy())
    _mark(session, ids_of[in_e_mail & ~already], True)
    _mark(session, ids_of[~in_e_mail & already], False)
    log.info(
        "queued %d notifications covering %d decisions for %s",
        queued,
        int(in_e_mail.sum()),
        queueing.business_date,
    )
    return queued


def _mark(session: Session, decision_ids: np.ndarray, notified: bool) -> None:
    """Set ``notified`` on these decisions: one prepared statement run per decision on the raw
    connection (the ORM's IN lists of 5,000 bound ids took 1.9 s for 517k decisions)."""
    if len(decision_ids):
        mark = placeholder(session)
        executemany(
            session,
            f"UPDATE decision SET notified = {mark} WHERE decision_id = {mark}",
            [(notified, decision_id) for decision_id in decision_ids.tolist()],
            "decision",
        )


def _write(session: Session, rows: list[dict[str, Any]]) -> int:
    """Insert the rendered notifications of ``rows``, then their bodies (their own table, see
    :class:`models.notification.NotificationBody`), and empty it: the bodies are the bulk of
    the step's memory (a first night's five thousand e-mails list half a million decisions).
    Object columns: the bodies are written as they are, not copied into Arrow text first."""
    if not rows:
        return 0
    frame = pd.DataFrame(rows, columns=[*NOTIFICATION_COLUMNS, *BODY_COLUMNS[1:]], dtype=object)
    written = bulk_insert(session, "notification", frame, NOTIFICATION_COLUMNS)
    bulk_insert(session, "notification_body", frame, BODY_COLUMNS)
    rows.clear()  # the bodies go as soon as they are written
    return written
