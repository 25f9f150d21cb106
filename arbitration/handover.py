"""Arbitration's decisions handed to the later steps of the same unit of work, and how those
steps put them together with the decisions they still read from the database.

Kept apart from :mod:`arbitration.service` (which loads the rule engine) so eligibility and the
outbox can use it without loading the engine."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

import pandas as pd

TONIGHT_COLUMNS = (
    "decision_id",
    "limit_id",
    "business_date",
    "policy_id",
    "buyer_id",
    "policyholder_id",
    "decision_type",
    "reason_code",
    "reason_rule",
    "previous_cents",
    "requested_cents",
    "proposed_cents",
    "final_cents",
    "status",
    "effective_date",
    "buyer_country",
    "buyer_name",
    "siren",
    "grade",
    "oal_option",
)
"""What :class:`DecidedTonight` holds per decision: the decision as written and the facts of
its buyer and policy that eligibility and the e-mails need."""


HAND_OVER_FROM = 50_000
"""Fewest decisions worth handing over: handing them costs reading every buyer's name (a
million rows, about half a second) and a second or so of joins, where the database joins cost
some 30 us a decision (first night: 517k decisions, 16 s in eligibility and outbox reads). A
quiet night's ten thousand decisions are cheaper read back."""


@dataclass(frozen=True, eq=False)
class DecidedTonight:
    """The final decisions one :func:`arbitration.service.arbitrate` call wrote (those applied at once), handed to
    the later steps of the same unit of work so they need not read them back: on a first night
    that is half a million decisions, each joined in SQLite to its buyer, score, policy and
    policyholder (over ten seconds of key lookups). ``decisions`` has :data:`TONIGHT_COLUMNS`;
    they all carry ``run_id``, which is how a reader tells them from the decisions it must
    still read from the database (an arbiter's, an earlier night's). That holds because a run
    is one business date and its decisions, eligibility and outbox are one transaction: no
    other final decision of this run can exist when they read (the referred ones are not final
    yet).

    The facts are those the decision was taken on, the same the database holds at that point:
    the buyer's country, name and SIREN, its grade (the latest champion score on or before the
    date), the policy's OAL option.

    ``marked_notified``: the decisions were written already marked notified, because the caller
    said the outbox runs in the same unit of work. That outbox must then queue their e-mails or
    clear the mark of those it does not queue (see :func:`jobs.notify.outbox.enqueue`); the
    mark spares marking half a million rows again one by one after the e-mails are queued."""

    business_date: date
    run_id: int
    decisions: pd.DataFrame
    marked_notified: bool = False


OTHER_RUNS = "AND (d.run_id IS NULL OR d.run_id <> :run)"
"""The condition (on ``decision d``, with ``:run`` bound to the hand-over's run) that leaves out
of a read the decisions handed over."""


def handed_on(tonight: DecidedTonight | None, business_date: date) -> DecidedTonight | None:
    """``tonight`` if it holds the decisions of ``business_date``, else None (nothing handed)."""
    return tonight if tonight is not None and tonight.business_date == business_date else None


def with_handed(
    read: pd.DataFrame, handed: pd.DataFrame | None, *, columns: Sequence[str], order: list[str]
) -> pd.DataFrame:
    """The rows read from the database and those handed over (``columns`` of each), as one
    frame sorted by ``order``: the same frame whichever part the rows came from."""
    parts = [
        part.reindex(columns=list(columns)) for part in (read, handed) if part is not None and not part.empty
    ]
    if not parts:
        return pd.DataFrame(columns=list(columns))
    frame = pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]
    return frame.sort_values(order, kind="stable").reset_index(drop=True)
