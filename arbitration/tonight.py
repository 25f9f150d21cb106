"""The decisions one arbitration run hands over (:class:`DecidedTonight`): their ids and facts.

The ids are what the database gives the inserted decisions. On SQLite, under the write lock,
they are known before the insert (:func:`next_ids`), which lets the later steps of the unit of work start on the
decisions while they are being written (see :func:`arbitration.service.arbitrate`'s
``before_writes``); the insert then proves them (:func:`ids_given`). Elsewhere they are read
back after the insert (:func:`ids_of`).
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy import text
from sqlalchemy.orm import Session

from arbitration.handover import TONIGHT_COLUMNS, DecidedTonight
from arbitration.joins import KeyIndex
from models.codes import DecisionStatus
from models.db import is_sqlite, read_frame


def next_ids(session: Session, n: int) -> np.ndarray | None:
    """SQLite: the ids an insert of ``n`` rows written now would give them, in order: a table
    without AUTOINCREMENT gives each new row the highest id + 1. Exact when the session holds
    the write lock (:func:`models.db.hold_write_lock`): no other connection can write decisions
    before the insert. None on other databases (ids from a sequence other sessions draw from
    too)."""
    if not is_sqlite(session) or n == 0:
        return None
    last = session.execute(text("SELECT coalesce(max(decision_id), 0) FROM decision")).scalar()
    return np.arange(int(last or 0) + 1, int(last or 0) + n + 1, dtype=np.int64)


def ids_given(session: Session, rows: pd.DataFrame, *, as_of: date, run_id: int) -> np.ndarray | None:
    """SQLite: the ids the insert just gave ``rows``, in their order, without reading half a
    million of them back (0.8-1.6 s on a first night). Nobody else writes during this
    transaction, and a table without AUTOINCREMENT gives each new row the highest id + 1: the
    rows got ``last - n + 1 .. last`` in the order written. Checked (that range holds n rows of
    this run and date, the first and the last on the expected limits); None otherwise, and on
    PostgreSQL (ids from a sequence other sessions draw from too): then read back."""
    n = len(rows)
    if not is_sqlite(session) or n == 0:
        return None
    last = session.execute(text("SELECT max(decision_id) FROM decision")).scalar()
    if last is None:
        return None
    first = int(last) - n + 1
    held = session.execute(
        text(
            "SELECT count(*), min(CASE WHEN decision_id = :a THEN limit_id END), "
            "max(CASE WHEN decision_id = :b THEN limit_id END) FROM decision "
            "WHERE decision_id BETWEEN :a AND :b AND run_id = :run AND business_date = :d"
        ),
        {"a": first, "b": int(last), "run": run_id, "d": as_of},
    ).one()
    limits = rows["limit_id"].to_numpy()
    if tuple(held) != (n, int(limits[0]), int(limits[-1])):
        return None
    return np.arange(first, int(last) + 1, dtype=np.int64)


def ids_of(session: Session, rows: pd.DataFrame, *, as_of: date, run_id: int) -> np.ndarray:
    """The ids of the just inserted ``rows`` (decisions of ``run_id`` at ``as_of``, one per
    limit), in their order: :func:`ids_given` where it applies, else read back by limit."""
    given = ids_given(session, rows, as_of=as_of, run_id=run_id)
    if given is not None:
        return given
    ids = read_frame(
        session,
        "SELECT limit_id, decision_id FROM decision WHERE business_date = :d AND run_id = :run",
        {"d": as_of, "run": run_id},
    )
    by_limit = pd.Series(ids["decision_id"].to_numpy(), index=ids["limit_id"].to_numpy())
    return by_limit.reindex(rows["limit_id"].to_numpy()).to_numpy()


def values_where(mask: np.ndarray, values: np.ndarray) -> np.ndarray:
    """``values`` where ``mask``, None elsewhere (an object column the DBAPI writes as NULL)."""
    out = np.full(len(mask), None, dtype=object)
    out[mask] = np.asarray(values, dtype=object)[mask]
    return out


def decided_tonight(
    rows: pd.DataFrame,
    ids: np.ndarray,
    decided: pd.DataFrame,
    policies: pd.DataFrame,
    identities: pd.DataFrame,
    *,
    as_of: date,
    run_id: int,
    marked: bool,
) -> DecidedTonight:
    """The applied decisions of ``rows`` (decision rows as written, ``ids`` theirs in order)
    and their facts: country and grade from the evaluated ``decided`` (those two columns at
    least, same order as ``rows``),
    the OAL option from ``policies``, name and SIREN from ``identities``; ``marked``: written
    already marked notified. Pure: no database read."""
    final = (rows["status"] == DecisionStatus.APPLIED.value).to_numpy()
    out = rows.loc[final, [c for c in TONIGHT_COLUMNS if c in rows.columns]].reset_index(drop=True)
    out.insert(0, "decision_id", np.asarray(ids)[final])
    out["buyer_country"] = decided["country"].astype(object).to_numpy()[final]
    out["grade"] = pd.to_numeric(decided["grade"].to_numpy()[final], errors="coerce")
    option = pd.Series(policies["oal_option"].to_numpy(), index=policies["policy_id"].to_numpy())
    out["oal_option"] = option.reindex(out["policy_id"].to_numpy()).to_numpy()
    position = KeyIndex(identities["buyer_id"]).positions(out["buyer_id"])  # a million buyers
    known = position >= 0
    for column, source in (("buyer_name", "name"), ("siren", "siren")):
        out[column] = values_where(
            known, identities[source].to_numpy(dtype=object)[np.where(known, position, 0)]
        )
    return DecidedTonight(as_of, run_id, out[list(TONIGHT_COLUMNS)], marked_notified=marked)
