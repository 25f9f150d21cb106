"""The night's reads of the decisions still to notify go through ``ix_decision_pending``: a
short range of it, not a walk of every final decision ever made (which grows with the history)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import event
from sqlalchemy.orm import Session

from arbitration.handover import TONIGHT_COLUMNS, DecidedTonight
from jobs.eligibility import eligibility_inputs
from jobs.notify.outbox import _eligible_rows, _pending_decisions
from models.base import Base
from models.db import make_engine
from tests.jobs.test_notify_seed import AS_OF, seed_portfolio

NOTHING_HANDED = DecidedTonight(AS_OF, 7, pd.DataFrame(columns=list(TONIGHT_COLUMNS)))


@pytest.mark.parametrize(
    "read",
    [
        lambda s: eligibility_inputs(s, business_date=AS_OF),
        lambda s: eligibility_inputs(s, business_date=AS_OF, tonight=NOTHING_HANDED),
        lambda s: _pending_decisions(s, AS_OF, besides_run=None),
        lambda s: _pending_decisions(s, AS_OF, besides_run=7),
        lambda s: _eligible_rows(s, AS_OF, marked_run=None),
        lambda s: _eligible_rows(s, AS_OF, marked_run=7),
    ],
    ids=[
        "eligibility",
        "eligibility besides a run",
        "outbox decisions",
        "outbox decisions besides a run",
        "outbox eligibility",
        "outbox eligibility with a run's decisions written marked",
    ],
)
def test_pending_decisions_are_read_through_their_index(
    tmp_path: Path, read: Callable[[Session], Any]
) -> None:
    engine = make_engine(f"sqlite:///{(tmp_path / 'plan.db').as_posix()}")
    Base.metadata.create_all(engine)
    seen: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "FROM decision d" in statement or "JOIN decision d" in statement:
            seen.append((statement, parameters))

    with Session(engine) as session:
        seed_portfolio(session)
        session.commit()
        event.listen(engine, "before_cursor_execute", capture)
        read(session)
        event.remove(engine, "before_cursor_execute", capture)
        assert seen, "the read issued no query on decision"
        raw = session.connection().connection.dbapi_connection
        assert raw is not None
        for statement, parameters in seen:
            plan = " | ".join(
                str(row[-1]) for row in raw.execute(f"EXPLAIN QUERY PLAN {statement}", parameters)
            )
            assert "ix_decision_pending" in plan, plan
            assert "ix_decision_queue (status=?)" not in plan, plan
    engine.dispose()
