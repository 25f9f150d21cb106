"""A small portfolio written through the ORM, shared by the eligibility, notification and
report tests (the nightly path writes in bulk; a handful of rows is clearer this way)."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from models import Buyer, CountryGrade, CreditLimit, Decision, LegalEvent, Policy, Policyholder, Score
from models.codes import ReasonCode, ResponseType

AS_OF = date(2026, 11, 10)


def seed_portfolio(session: Session, *, buyer_name: str = "Boulangerie Martin") -> dict[str, int]:
    """Two policyholders (fr, en), four buyers (FR ok, FR insolvent, DE, US), five decisions."""
    session.add_all(
        [
            Policyholder(
                policyholder_id="PH1",
                name="Acier SA",
                revenue_cents=50_000_000_00,
                size_category="PME",
                emails="risk@acier.example; cfo@acier.example",
                language="fr",
            ),
            Policyholder(
                policyholder_id="PH2",
                name="Export Ltd",
                revenue_cents=900_000_000_00,
                size_category="ETI",
                emails="credit@export.example",
                language="en",
            ),
        ]
    )
    session.flush()
    session.add_all(
        [
            Policy(policy_id="P1", policyholder_id="PH1", territory="BOTH", oal_option=True),
            Policy(policy_id="P2", policyholder_id="PH2", territory="EXPORT", oal_option=False),
            Buyer(
                buyer_id="732829320", siren="732829320", name=buyer_name, country="FR", is_natural_person=True
            ),
            Buyer(buyer_id="552100554", siren="552100554", name="Faillite SARL", country="FR"),
            Buyer(buyer_id="DE-HRB1", siren=None, name="Stahl GmbH", country="DE"),
            Buyer(buyer_id="US-1", siren=None, name="Steel Inc", country="US"),
            CountryGrade(country="FR", valid_from=date(2020, 1, 1), category=None),
            CountryGrade(country="DE", valid_from=date(2020, 1, 1), category=None),
            CountryGrade(country="US", valid_from=date(2020, 1, 1), category=0),
            LegalEvent(
                notice_id="N1",
                buyer_id="552100554",
                event_type="open_rj",
                publication_date=date(2026, 10, 1),
                event_date=date(2026, 9, 28),
            ),
        ]
    )
    session.flush()
    for buyer, grade, rating in (
        ("732829320", 3, "BBB"),
        ("552100554", 10, "D"),
        ("DE-HRB1", 6, "BB"),
        ("US-1", 2, "AA"),
    ):
        session.add(
            Score(
                buyer_id=buyer,
                as_of=AS_OF,
                role="champion",
                pd_12m=0.01,
                grade=grade,
                rating=rating,
                model_name="m",
                model_version="1",
            )
        )
    limits = [
        CreditLimit(
            limit_id=1, policy_id="P1", buyer_id="732829320", granted_cents=40_000_00, outstanding_cents=1
        ),
        CreditLimit(limit_id=2, policy_id="P1", buyer_id="552100554", granted_cents=0),
        CreditLimit(limit_id=3, policy_id="P2", buyer_id="DE-HRB1", granted_cents=0),
        CreditLimit(
            limit_id=4, policy_id="P2", buyer_id="US-1", granted_cents=30_000_00, requested_cents=100_000_00
        ),
        CreditLimit(limit_id=5, policy_id="P1", buyer_id="US-1", granted_cents=60_000_00),
    ]
    session.add_all(limits)
    session.flush()
    rows = [
        # (limit, policy, buyer, holder, type, reason, previous, proposed, status)
        (
            1,
            "P1",
            "732829320",
            "PH1",
            ResponseType.REDUCTION,
            ReasonCode.ADVERSE_INFORMATION,
            100_000_00,
            40_000_00,
            "applied",
        ),
        (
            2,
            "P1",
            "552100554",
            "PH1",
            ResponseType.CANCELLATION,
            ReasonCode.OUT_OF_BUSINESS,
            50_000_00,
            0,
            "applied",
        ),
        (
            3,
            "P2",
            "DE-HRB1",
            "PH2",
            ResponseType.CANCELLATION,
            ReasonCode.ADVERSE_INFORMATION,
            80_000_00,
            0,
            "approved",
        ),
        (
            4,
            "P2",
            "US-1",
            "PH2",
            ResponseType.PARTLY_APPROVED,
            ReasonCode.CREDIT_LIMIT_FULL,
            0,
            30_000_00,
            "applied",
        ),
        (5, "P1", "US-1", "PH1", ResponseType.APPROVED, ReasonCode.NO_COMMENT, 0, 60_000_00, "referred"),
    ]
    for limit, policy, buyer, holder, kind, reason, previous, proposed, status in rows:
        session.add(
            Decision(
                decision_id=limit,
                limit_id=limit,
                business_date=AS_OF,
                policy_id=policy,
                buyer_id=buyer,
                policyholder_id=holder,
                decision_type=int(kind),
                reason_code=int(reason),
                previous_cents=previous,
                requested_cents=100_000_00 if limit == 4 else None,  # the request limit 4 answers
                proposed_cents=proposed,
                final_cents=None,
                status=status,
                desk="automotive" if holder == "PH1" else "europe",
                effective_date=AS_OF,
                rule_set_version="test",
                notified=False,
            )
        )
    session.flush()
    return {"decisions": len(rows)}


def test_seed_portfolio_writes_five_decisions(session: Session) -> None:
    assert seed_portfolio(session) == {"decisions": 5}
    session.commit()
    assert session.get(Decision, 3) is not None
