"""The nightly decision service: evaluate every limit, persist decisions, apply or refer.

Idempotent by business date: limits that already have a decision for the date are left out
before evaluation (a re-run must not reduce twice what the first run already reduced), and
review tasks are created only for referred decisions that have none. Writes go through the
bulk helpers (raw DBAPI ``executemany`` of tuples); nothing here commits: the caller's unit of
work does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import date
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from arbitration.batch import evaluate_book, without_limits
from arbitration.handover import HAND_OVER_FROM, DecidedTonight
from arbitration.inputs import read_tables
from arbitration.params import load_params
from arbitration.rules import load_rule_set
from arbitration.tonight import decided_tonight, ids_given, ids_of, next_ids, values_where
from config.settings import Settings
from models.base import utcnow
from models.bulk_read import read_bulk
from models.bulk_write import staged_count, staged_update
from models.codes import DecisionStatus
from models.db import (
    ChangedMeanwhile,
    bulk_insert,
    changed_by_each,
    frame_rows,
    hold_write_lock,
    is_sqlite,
    placeholder,
    read_frame,
)

if TYPE_CHECKING:  # scoring.service loads MLflow: not for the admin screens' imports
    from scoring.service import ScoringFrames

DECISION_COLUMNS = (
    "limit_id",
    "business_date",
    "run_id",
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
    "desk",
    "required_authority_cents",
    "four_eyes",
    "effective_date",
    "rule_set_version",
    "model_version",
    "fired_rules",
    "observed",
    "explanation",
    "notified",
    "version",
    "created_at",
    "decided_at",
)
TASK_COLUMNS = (
    "decision_id",
    "desk",
    "status",
    "required_authority_cents",
    "approvals_needed",
    "version",
    "created_at",
)


@dataclass
class ArbitrationSummary:
    """What one arbitration run did (counts by EDIFACT 4507 type, referrals, exposure)."""

    business_date: date
    rule_set_version: str
    evaluated: int = 0
    already_decided: int = 0
    decisions: int = 0
    by_type: dict[int, int] = field(default_factory=dict)
    applied: int = 0
    referred: int = 0
    four_eyes: int = 0
    review_tasks: int = 0
    exposure_removed_cents: int = 0
    exposure_referred_cents: int = 0

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["business_date"] = self.business_date.isoformat()
        data["by_type"] = {str(k): v for k, v in sorted(self.by_type.items())}
        return data


def decision_rows(decided: pd.DataFrame, *, as_of: date, run_id: int | None, version: str) -> pd.DataFrame:
    """The evaluated rows that get a decision, shaped as ``decision`` table rows. Text columns
    are taken as their arrays (Arrow text stays Arrow: through NumPy objects and back, the
    explanations and observed values of a first night's half a million decisions took 1.3 s)."""
    now = utcnow()
    applied = decided["automatic"].to_numpy()
    proposed = decided["proposed_cents"].to_numpy()
    rule_ids = decided["reason_rule"].to_numpy(dtype=object)
    return pd.DataFrame(
        {
            "limit_id": decided["limit_id"].to_numpy(),
            "business_date": [as_of] * len(decided),
            "run_id": [run_id] * len(decided),
            "policy_id": decided["policy_id"].array,
            "buyer_id": decided["buyer_id"].array,
            "policyholder_id": decided["policyholder_id"].array,
            "decision_type": decided["decision_type"].to_numpy(),
            "reason_code": decided["reason_code"].to_numpy(),
            "reason_rule": values_where(rule_ids != "", rule_ids),
            "previous_cents": decided["previous_cents"].to_numpy(),
            "requested_cents": decided["requested_cents"].array,
            "proposed_cents": proposed,
            "final_cents": values_where(applied, proposed),
            "status": np.where(applied, DecisionStatus.APPLIED.value, DecisionStatus.REFERRED.value),
            "desk": decided["desk"].array,
            "required_authority_cents": decided["required_authority_cents"].to_numpy(),
            "four_eyes": decided["four_eyes"].to_numpy(),
            "effective_date": decided["effective_date"].to_numpy(),
            "rule_set_version": [version] * len(decided),
            "model_version": decided["model_version"].array,
            "fired_rules": decided["fired_rules"].array,
            "observed": decided["observed"].array,
            "explanation": decided["explanation"].array,
            "notified": [False] * len(decided),
            "version": [1] * len(decided),
            "created_at": [now] * len(decided),
            "decided_at": values_where(applied, np.full(len(decided), now, dtype=object)),
        }
    )


def apply_to_limits(session: Session, rows: pd.DataFrame) -> int:
    """Write applied decisions onto their limits: amount, status, effective date; the answered
    request is cleared and the row version bumped (concurrent admin edits see the change).

    Each limit is written only if it is still at the version the decision was taken on
    (``rows["limit_version"]``): an arbiter's change committed since the limits were read (the
    evaluation of a first night takes 10-20 s) is never overwritten by a decision taken on what
    it replaced. A limit that moved raises :class:`models.db.ChangedMeanwhile`; the caller's
    unit of work is rolled back and run again (the night does so). The referred decisions'
    limits are held by :func:`hold_referred_limits`."""
    status = rows["status"].to_numpy()
    # the six columns used, not the whole rows: their long texts (explanations, observed values)
    # cost 0.7 s to copy on a first night
    used = ["proposed_cents", "previous_cents", "effective_date", "created_at", "limit_id", "limit_version"]
    applied = rows.loc[status == DecisionStatus.APPLIED.value, used]
    amount = applied["proposed_cents"].to_numpy()
    previous = applied["previous_cents"].to_numpy()
    written = pd.DataFrame(
        {
            "granted_cents": amount,
            "status": np.where(amount > 0, "active", np.where(previous > 0, "cancelled", "refused")),
            "effective_date": applied["effective_date"].to_numpy(),
            # the array itself: as NumPy a zoned column became 517k Timestamps, one by one (1.3 s)
            "updated_at": applied["created_at"].array,
            "limit_id": applied["limit_id"].to_numpy(),
            "version": applied["limit_version"].to_numpy(),
        }
    )
    changed = _at_read_versions(
        session,
        written,
        "requested_cents = NULL, request_type = NULL, request_date = NULL, version = credit_limit.version + 1",
        "applied",
    )
    return changed


def hold_referred_limits(session: Session, rows: pd.DataFrame) -> None:
    """Referred decisions write nothing onto their limits but were taken on them as read: raise
    :class:`models.db.ChangedMeanwhile` if any of those limits moved from the version read
    (``rows["limit_version"]``). Called once this transaction has written (the decisions'
    insert): on SQLite it then holds the write lock, so no change can come in before the
    commit."""
    referred = rows.loc[rows["status"].to_numpy() == DecisionStatus.REFERRED.value]
    held = pd.DataFrame(
        {"limit_id": referred["limit_id"].to_numpy(), "version": referred["limit_version"].to_numpy()}
    )
    _at_read_versions(session, held, None, "referred")


def _at_read_versions(session: Session, frame: pd.DataFrame, also: str | None, how: str) -> int:
    """Set each limit of ``frame`` (its columns but ``limit_id`` and ``version``, then ``also``)
    where it is still at ``frame``'s version; raise :class:`ChangedMeanwhile` if any is not.
    With nothing to set (``also`` None), the limits are only held to their versions: on SQLite
    counted in one join (called once the transaction has written: it holds the database's write
    lock, no other commit can come in between until it ends), elsewhere by an update that
    changes nothing but locks the row until the commit."""
    if frame.empty:
        return 0
    names = [name for name in frame.columns if name not in ("limit_id", "version")]
    done = None
    if is_sqlite(session):
        version = "credit_limit.version = s.version"
        if also is None:
            done = staged_count(session, "credit_limit", frame, "limit_id", only_where=version)
        else:
            assignments = ", ".join([f"{name} = s.{name}" for name in names] + [also])
            done = staged_update(session, "credit_limit", frame, "limit_id", assignments, only_where=version)
    if done is None:
        mark = placeholder(session)
        assignments = ", ".join([f"{name} = {mark}" for name in names] + [also or "version = version"])
        done = changed_by_each(
            session,
            f"UPDATE credit_limit SET {assignments} WHERE limit_id = {mark} AND version = {mark}",
            frame_rows(frame, [*names, "limit_id", "version"], "credit_limit", iso_dates=is_sqlite(session)),
            "credit_limit",
        )
    if done != len(frame):
        raise ChangedMeanwhile(
            f"{len(frame) - done} of the {len(frame)} limits {how} tonight were changed (their version "
            "moved) after they were read: the decisions are not kept; run arbitration again on what is "
            "committed now"
        )
    return done


def create_review_tasks(session: Session, *, as_of: date) -> int:
    """One review task per referred decision of ``as_of`` that has none yet (desk, authority,
    two approvals above the four-eyes threshold)."""
    pending = read_frame(
        session,
        "SELECT d.decision_id, d.desk, d.required_authority_cents, d.four_eyes FROM decision d "
        "WHERE d.business_date = :d AND d.status = :referred AND NOT EXISTS "
        "(SELECT 1 FROM review_task t WHERE t.decision_id = d.decision_id)",
        {"d": as_of, "referred": DecisionStatus.REFERRED.value},
    )
    if pending.empty:
        return 0
    tasks = pd.DataFrame(
        {
            "decision_id": pending["decision_id"].to_numpy(),
            "desk": pending["desk"].to_numpy(),
            "status": ["open"] * len(pending),
            "required_authority_cents": pending["required_authority_cents"].to_numpy(),
            "approvals_needed": np.where(pending["four_eyes"].astype(bool).to_numpy(), 2, 1),
            "version": [1] * len(pending),
            "created_at": [utcnow()] * len(pending),
        }
    )
    return bulk_insert(session, "review_task", tasks, TASK_COLUMNS)


def _ids_ahead(session: Session, n: int) -> np.ndarray | None:
    """SQLite: the ids ``n`` decisions inserted next will get, with the write lock taken first
    (:func:`models.db.hold_write_lock`): from here no other commit can come in, so the ids are
    exact and what is read before the writes is what they are written over. None elsewhere,
    or for no decision."""
    if n == 0 or not is_sqlite(session):
        return None
    hold_write_lock(session, "decision")
    return next_ids(session, n)


def arbitrate(
    session: Session,
    *,
    as_of: date,
    run_id: int | None,
    settings: Settings,
    known: ScoringFrames | None = None,
    keep: list[DecidedTonight] | None = None,
    keep_from: int | None = None,
    mark_notified: bool = False,
    before_writes: Callable[[DecidedTonight], None] | None = None,
) -> ArbitrationSummary:
    """Decide every limit at ``as_of`` with the active rule set; does not commit. ``known``:
    the score step's frames of this run, when it ran in this process (fewer reads). With
    ``keep`` (and a ``run_id``), the final decisions written are appended to it (see
    :class:`DecidedTonight`) when there are at least ``keep_from`` decisions (by default
    :data:`HAND_OVER_FROM`). ``mark_notified`` (the caller's word that the outbox queues them
    in this same transaction): the decisions handed over are written already marked notified
    (:attr:`DecidedTonight.marked_notified`).

    ``before_writes``: called with the decisions to hand over before they are written, on
    SQLite, where their ids are known then: the transaction takes the write lock first
    (:func:`models.db.hold_write_lock`), so no other commit comes in between the caller's
    reads in that call and the writes, and the ids are those the insert gives
    (:func:`arbitration.tonight.next_ids`). The caller can start its work on the decisions
    while the database writes (a first night's inserts and updates take some ten seconds,
    mostly out of the interpreter's lock). The insert proves the ids; should they differ,
    :class:`ChangedMeanwhile` is raised (the caller's unit of work is rolled back)."""
    rule_set = load_rule_set(settings.paths.rules_dir)
    params = load_params(settings.paths.arbitration_file)
    tables = read_tables(session, as_of=as_of, known=known)
    del known  # a million buyers' rows: not kept through the decisions' writes
    done = read_frame(session, "SELECT limit_id FROM decision WHERE business_date = :d", {"d": as_of})
    fresh = without_limits(tables, done["limit_id"])
    already = len(tables.limits) - len(fresh.limits)
    del tables
    summary = ArbitrationSummary(as_of, rule_set.version, already_decided=already)
    policies = fresh.policies
    result = evaluate_book(fresh, rule_set, as_of=as_of, params=params)
    taken = result["decision"].to_numpy()
    # one output row per limit, in order: each decision's limit at the version it was read
    versions = fresh.limits["limit_version"].to_numpy()[taken]
    read_ids = fresh.limits["limit_id"].to_numpy(dtype=np.int64)[taken]
    del fresh
    decided = result[taken]
    summary.evaluated = len(result)
    del result  # every limit's evaluation (2.7M rows on a first night): not held through the writes
    if not np.array_equal(read_ids, decided["limit_id"].to_numpy(dtype=np.int64)):
        raise ValueError(
            "the evaluation did not give one row per limit in the order read: the versions read cannot "
            "be matched to the decisions (arbitration.batch.evaluate_book must keep the limits' order)"
        )
    identities = None
    fewest = HAND_OVER_FROM if keep_from is None else keep_from
    if keep is not None and run_id is not None and len(decided) >= fewest:
        # read before the first write: a bulk read sees only what is committed (models.bulk_read)
        identities = read_bulk(session, "SELECT buyer_id, name, siren FROM buyer")
    rows = decision_rows(decided, as_of=as_of, run_id=run_id, version=rule_set.version)
    rows["limit_version"] = versions  # not a decision column: what apply_to_limits checks
    marked = mark_notified and identities is not None
    if marked:  # the handed decisions: those applied (final) now
        rows["notified"] = (rows["status"] == DecisionStatus.APPLIED.value).to_numpy()
    tonight: DecidedTonight | None = None
    expected = None
    if before_writes is not None and identities is not None and run_id is not None:
        expected = _ids_ahead(session, len(rows))
        if expected is not None:
            tonight = decided_tonight(
                rows, expected, decided, policies, identities, as_of=as_of, run_id=run_id, marked=marked
            )
            identities = None  # a million buyers' names: not held through the writes
            before_writes(tonight)
    _count(summary, decided)
    facts = decided[["country", "grade"]]  # what a hand-over after the insert still needs
    del decided  # every decision's evaluation (its texts are the rows'): not held through the writes
    # the limits first: their update (431k of 3M rows on a first night) took 3.4-4.7 s after the
    # decisions' insert and index builds had filled SQLite's page cache, 1.9 s before them
    apply_to_limits(session, rows)
    bulk_insert(session, "decision", rows, DECISION_COLUMNS)
    hold_referred_limits(session, rows)
    if tonight is not None and expected is not None and keep is not None:
        given = ids_given(session, rows, as_of=as_of, run_id=tonight.run_id)
        if given is None or not np.array_equal(given, expected):
            raise ChangedMeanwhile(
                "the decisions did not get the ids read before their insert, under the write lock: the "
                "ids handed to eligibility and the e-mails are not those given"
            )
        keep.append(tonight)
    elif keep is not None and run_id is not None and identities is not None:
        ids = ids_of(session, rows, as_of=as_of, run_id=run_id)
        keep.append(
            decided_tonight(rows, ids, facts, policies, identities, as_of=as_of, run_id=run_id, marked=marked)
        )
        del identities
    summary.review_tasks = create_review_tasks(session, as_of=as_of)
    return summary


def _count(summary: ArbitrationSummary, decided: pd.DataFrame) -> None:
    """The ``decided`` rows' counts by type, referral and exposure, into ``summary``."""
    removed = (decided["previous_cents"] - decided["proposed_cents"]).clip(lower=0)
    summary.decisions = len(decided)
    counts = decided["decision_type"].value_counts()
    summary.by_type = dict(zip(counts.index.astype(int).tolist(), counts.astype(int).tolist(), strict=True))
    summary.applied = int(decided["automatic"].sum())
    summary.referred = int(decided["referred"].sum())
    summary.four_eyes = int(decided["four_eyes"].sum())
    summary.exposure_removed_cents = int(removed[decided["automatic"]].sum())
    summary.exposure_referred_cents = int(removed[decided["referred"]].sum())
