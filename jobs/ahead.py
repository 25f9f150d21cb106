"""Eligibility and e-mails of the decisions arbitration hands over, computed while those
decisions are being written.

Why: on a first night the decisions' unit of work writes half a million decisions, updates as
many limits and builds five indexes (some ten seconds, spent in SQLite and the ADBC driver,
outside the interpreter's lock), then computes the decisions' eligibility and words and renders
five thousand e-mails (some six seconds of Python). One after the other they used one core of
two; here the computing runs in a thread of its own while the night's thread writes.

How it stays one unit of work, as before:
- Arbitration takes the database's write lock before it calls :func:`start` (SQLite:
  ``BEGIN IMMEDIATE``): from then on no other connection can commit, so everything read here
  (by the night's session, in its transaction, before the first write) is what the writes go
  over, and the decision ids are exactly those the insert gives (proven after it, else the
  unit of work is rolled back). What arbitration then writes is only tonight's decisions and
  limits, which those reads leave out (they take tonight's decisions from the hand-over).
- The thread writes nothing and reads no table: it computes, reading only the e-mail
  templates. Its results (the eligibility rows, the rendered notifications) are written by
  the night's session in the eligibility and outbox steps, in the same transaction, as
  without it.
- A failure in the thread is raised by the step that asks for its result, which fails the
  unit of work. A unit of work rolled back (or failed) cancels the thread
  (:meth:`Ahead.cancel`, through :func:`jobs.nightly.drop_handed`) and drops its results.
- Memory: the rendered e-mails are held until the outbox step writes them (a first night's
  five thousand bodies, some 300 MB), where the sequential path wrote them 200 at a time; the
  night's peak is earlier (the evaluation of every limit), and stays under it.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from arbitration.handover import DecidedTonight
from config.settings import Settings
from jobs import eligibility as eligibility_rules
from jobs.nightly import WorkUnderWay
from jobs.notify.outbox import Queueing, compose, read_queueing, write_queued


class Cancelled(Exception):
    """The unit of work the thread worked for was rolled back or failed."""


@dataclass
class Ahead(WorkUnderWay):
    """The work started on tonight's decisions: the eligibility frame, then the e-mails."""

    eligibility: Future[pd.DataFrame]
    queueing: Queueing | None
    notifications: Future[list[list[dict[str, Any]]]]
    cancelled: threading.Event = field(default_factory=threading.Event)

    def enqueue(self, session: Session) -> int:
        """Write the notifications computed ahead and set the decisions' marks (what
        :func:`jobs.notify.outbox.enqueue` does). Does not commit. Returns rows queued."""
        batches = self.notifications.result()
        if self.queueing is None:
            return 0
        return write_queued(session, self.queueing, batches)

    def cancel(self) -> None:
        """Stop the thread at its next batch of e-mails: its results will not be used."""
        self.cancelled.set()


def start(
    session: Session, settings: Settings, tonight: DecidedTonight, *, business_date: date, run_id: int
) -> Ahead:
    """Read what eligibility and the e-mails of ``tonight`` need (``session``, under the write
    lock, before any write of the unit of work), then compute them in a thread; returns at
    once."""
    params = eligibility_rules.load_scheme_params(settings.paths.schemes_file)
    inputs = eligibility_rules.eligibility_inputs(session, business_date=business_date, tonight=tonight)
    queueing = read_queueing(session, business_date=business_date, settings=settings, tonight=tonight)
    ahead = Ahead(Future(), queueing, Future())

    def work() -> None:
        try:
            frame = eligibility_rules.compute(inputs, params=params, as_of=business_date)
            eligible = eligibility_rules.eligible_rows(
                frame
            )  # before the frame is handed to the night's thread
        except BaseException as exc:  # raised in the night's thread, by the steps that wait
            ahead.eligibility.set_exception(exc)
            ahead.notifications.set_exception(exc)
            return
        ahead.eligibility.set_result(frame)
        try:
            batches: list[list[dict[str, Any]]] = []
            if queueing is not None:
                for batch in compose(queueing, eligible, run_id=run_id, settings=settings):
                    if ahead.cancelled.is_set():
                        raise Cancelled("the unit of work these e-mails were for was rolled back")
                    batches.append(batch)
        except BaseException as exc:
            ahead.notifications.set_exception(exc)
            return
        ahead.notifications.set_result(batches)

    threading.Thread(target=work, name="vigie-ahead", daemon=True).start()
    return ahead
