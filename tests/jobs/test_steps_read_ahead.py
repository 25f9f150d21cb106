"""The night's own unit for the payment aggregates lets the reader process read what scoring
reads next, meanwhile: the queries sent ahead are exactly those scoring asks (else the reads
would be done twice), and what scoring takes equals a read done then."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings
from jobs import steps
from jobs.nightly import NightContext
from models import bulk_read
from scoring.dataset import read_inputs
from tests.arbitration.portfolio import AS_OF, seed_portfolio


def test_the_aggregate_step_sends_ahead_the_reads_scoring_takes(
    session_factory: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    collect = bulk_read._collect
    taken_ahead: list[int] = []

    def counted(ahead: Any) -> Any:
        taken_ahead.append(1)
        return collect(ahead)

    monkeypatch.setattr(bulk_read, "_collect", counted)
    with session_factory() as session:
        seed_portfolio(session)
        session.commit()
    with bulk_read.reads_ahead(), session_factory() as session:
        ctx = NightContext(session, session_factory, settings, AS_OF, run_id=1, group=("aggregate",))
        counts = steps.aggregate(ctx)
        sent = len(bulk_read._PREFETCHED)
        session.commit()
        payments = ctx.handed["payment_aggregates"]
        assert counts == {"payment_aggregates": len(payments)}
        taken = read_inputs(session, as_of=AS_OF, payment_dates=[AS_OF], payments=payments)
        assert bulk_read._PREFETCHED == {}  # every read sent ahead was taken by scoring's reads
        read_now = read_inputs(session, as_of=AS_OF, payment_dates=[AS_OF], payments=payments)
    # a SQLite file: the three bulk reads (buyers, accounts, legal events), each taken as it was
    # read ahead (not read again); PostgreSQL: none
    assert sent == len(taken_ahead) == (3 if session.get_bind().dialect.name == "sqlite" else 0)
    assert len(taken.buyers) > 0
    for ahead, now in zip(
        (taken.buyers, taken.financials, taken.legal_events),
        (read_now.buyers, read_now.financials, read_now.legal_events),
        strict=True,
    ):
        pd.testing.assert_frame_equal(ahead, now)
