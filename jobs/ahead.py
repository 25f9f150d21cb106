"""Eligibility and e-mails of the decisions arbitration hands over, computed while those
decisions are being written.

Why: on a first night the decisions' unit of work writes half a million decisions, updates as
many limits and builds five indexes (some ten seconds, spent in SQLite and the ADBC driver,
outside the interpreter's lock), then computes the decisions' eligibility and words and renders
five thousand e-mails (some six seconds of Python). One after the other they used one core of
two; here the computing runs in a thread of its own while the night's thread writes.

How it stays one unit of work, as before:
- Everything the computing needs from the database is read first, by the night's session, in
  its transaction, before the first write (:func:`start`, called by arbitration's
  ``before_writes``): what arbitration then writes is only tonight's decisions and limits,
  which those reads leave out (they take tonight's decisions from the hand-over).
- The thread reads and writes nothing: no database, no file. Its results (the eligibility rows,
  the rendered notifications) are written by the night's session in the eligibility and outbox
  steps, in the same transaction, as without it.
- The decision ids the thread uses are those the insert will give (known beforehand on SQLite);
  the insert proves them, or the unit of work is rolled back and run again, without hand-over.
- A unit of work that fails drops what the thread computed; a thread that fails raises its
  error in the step that asks for its result, which fails the unit of work.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from datetime import date
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy.orm import Session

from arbitration.handover import DecidedTonight
from config.settings import Settings
from jobs import eligibility as eligibility_rules
from jobs.notify.outbox import Queueing, compose, read_queueing, write_queued

T = TypeVar("T")

ELIGIBLE_COLUMNS = ["decision_id", "scheme", "amount_cents", "deadline"]
"""What the e-mails say of a decision's eligibility."""


def eligible_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The eligible rows of an eligibility frame (:func:`jobs.eligibility.compute`), as the
    e-mails word them."""
    eligible = frame[frame["eligible"]] if "eligible" in frame else frame.iloc[0:0]
    return eligible.reindex(columns=ELIGIBLE_COLUMNS)


@dataclass
class Ahead:
    """The work started on tonight's decisions: the eligibility frame, then the e-mails."""

    eligibility: Future[pd.DataFrame]
    queueing: Queueing | None
    notifications: Future[list[list[dict[str, Any]]]]

    def enqueue(self, session: Session) -> int:
        """Write the notifications computed ahead and set the decisions' marks (what
        :func:`jobs.notify.outbox.enqueue` does). Does not commit. Returns rows queued."""
        batches = self.notifications.result()
        if self.queueing is None:
            return 0
        return write_queued(session, self.queueing, batches)


def start(
    session: Session, settings: Settings, tonight: DecidedTonight, *, business_date: date, run_id: int
) -> Ahead:
    """Read what eligibility and the e-mails of ``tonight`` need (``session``, before any write
    of the unit of work), then compute them in a thread; returns at once."""
    params = eligibility_rules.load_scheme_params(settings.paths.schemes_file)
    inputs = eligibility_rules.eligibility_inputs(session, business_date=business_date, tonight=tonight)
    queueing = read_queueing(session, business_date=business_date, settings=settings, tonight=tonight)
    eligibility: Future[pd.DataFrame] = Future()
    notifications: Future[list[list[dict[str, Any]]]] = Future()

    def work() -> None:
        frame = _settle(
            eligibility, lambda: eligibility_rules.compute(inputs, params=params, as_of=business_date)
        )
        if frame is None:
            notifications.set_exception(RuntimeError("the eligibility computed ahead failed"))
            return
        if queueing is None:
            notifications.set_result([])
            return
        eligible = eligible_rows(frame)
        _settle(notifications, lambda: list(compose(queueing, eligible, run_id=run_id, settings=settings)))

    threading.Thread(target=work, name="vigie-ahead", daemon=True).start()
    return Ahead(eligibility, queueing, notifications)


def _settle(future: Future[T], compute: Callable[[], T]) -> T | None:
    """Run ``compute`` and set its result (or its error) on ``future``; the result, or None."""
    try:
        value = compute()
    except Exception as exc:  # handed to the night's thread, which raises it
        future.set_exception(exc)
        return None
    future.set_result(value)
    return value
