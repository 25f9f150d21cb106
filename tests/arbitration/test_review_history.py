"""A buyer's history in the dossier, read date by date from the tables keyed by date."""

from __future__ import annotations

from datetime import date, timedelta

from sqlalchemy.orm import Session

from arbitration.review_history import PAYMENT_POINTS, payment_history, recent_dates
from models.payment_aggregate import PaymentAggregate
from models.score import Score

FIRST = date(2026, 6, 1)


def _aggregate(buyer_id: str, as_of: date, invoices: int) -> PaymentAggregate:
    return PaymentAggregate(
        buyer_id=buyer_id,
        as_of=as_of,
        invoices=invoices,
        amount_cents=100 * invoices,
        days_beyond_terms=1.0,
        overdue_share=0.0,
        overdue_declarations=0,
        reporting_policyholders=1,
    )


def test_the_payment_history_is_the_buyers_rows_of_the_latest_aggregate_dates(session: Session) -> None:
    days = [FIRST + timedelta(days=i) for i in range(PAYMENT_POINTS + 3)]
    # A has an aggregate on every date but the newest but one; B only on the two newest dates
    session.add_all(_aggregate("A", day, i) for i, day in enumerate(days) if i != len(days) - 2)
    session.add_all([_aggregate("B", days[-2], 98), _aggregate("B", days[-1], 99)])
    session.commit()
    history = payment_history(session, "A")
    shown = days[-PAYMENT_POINTS:]
    expected = [day for day in reversed(shown) if day != days[-2]]
    assert [row["as_of"] for row in history] == expected
    assert history[0]["invoices"] == len(days) - 1
    assert [row["invoices"] for row in payment_history(session, "B")] == [99, 98]
    assert payment_history(session, "nobody") == []


def test_recent_dates_walk_back_along_the_key_with_a_filter(session: Session) -> None:
    def score(as_of: date, role: str) -> Score:
        return Score(
            buyer_id="A",
            as_of=as_of,
            role=role,
            pd_12m=0.01,
            grade=3,
            rating="A",
            model_name="m",
            model_version="1",
            reason_codes="",
        )

    session.add_all([score(FIRST, "champion"), score(FIRST + timedelta(days=2), "challenger")])
    session.add(score(FIRST + timedelta(days=1), "champion"))
    session.commit()
    assert recent_dates(session, "score", 5, "role = 'champion'") == [FIRST + timedelta(days=1), FIRST]
    assert recent_dates(session, "score", 1) == [FIRST + timedelta(days=2)]
    assert recent_dates(session, "payment_aggregate", 5) == []
