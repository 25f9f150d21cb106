"""A small, readable portfolio in the database for service, what-if and explain tests."""

from __future__ import annotations

from datetime import date

from sqlalchemy.orm import Session

from models.buyer import Buyer
from models.buyer_financials import BuyerFinancials
from models.country_grade import CountryGrade
from models.credit_limit import CreditLimit
from models.legal_event import LegalEvent
from models.payment_aggregate import PaymentAggregate
from models.policy import Policy
from models.policyholder import Policyholder
from models.score import Score

AS_OF = date(2026, 11, 23)
EUR = 100

# buyer_id: (country, naf, grade, pd, revenue EUR, equity EUR, dbt, limit EUR, request)
BUYERS = {
    "100000001": ("FR", "29.10Z", 3, 0.01, 50_000_000, 10_000_000, 5.0, 200_000, None),  # liquidation
    "100000002": ("FR", "47.11Z", 2, 0.005, 20_000_000, 5_000_000, 2.0, 50_000, None),  # healthy: no decision
    "100000003": ("FR", "41.20A", 5, 0.03, 10_000_000, 3_000_000, 70.0, 100_000, None),  # DBT 70: halved
    "100000004": ("FR", "46.90Z", 6, 0.05, 20_000_000, 8_000_000, 3.0, 3_000_000, None),  # cap, four-eyes
    "100000005": ("FR", "47.11Z", None, None, 5_000_000, 1_000_000, 1.0, 80_000, None),  # no score
    "100000006": ("FR", "10.11Z", 2, 0.004, 30_000_000, 9_000_000, 0.0, 0, ("new", 40_000)),  # approved
    "100000007": ("FR", "47.11Z", 9, 0.3, 5_000_000, 1_000_000, 1.0, 3_000, None),  # under named threshold
    "BR-0001": ("BR", "46.90Z", 4, 0.02, 80_000_000, 20_000_000, 4.0, 600_000, None),  # OECD 5 cap, referred
}


def seed_portfolio(session: Session) -> None:
    session.add(Policyholder(policyholder_id="PH1", name="Acme", emails="a@example.com"))
    session.add(Policyholder(policyholder_id="PH2", name="Bolt", emails="b@example.com"))
    session.flush()
    session.add(Policy(policy_id="P1", policyholder_id="PH1", territory="BOTH"))
    session.add(Policy(policy_id="P2", policyholder_id="PH2", territory="BOTH"))
    session.add(CountryGrade(country="BR", valid_from=date(2020, 1, 1), category=5))
    session.add(CountryGrade(country="FR", valid_from=date(2020, 1, 1), category=None))
    session.flush()
    limit_id = 0
    for buyer_id, (country, naf, grade, pd_12m, revenue, equity, dbt, limit, request) in BUYERS.items():
        session.add(
            Buyer(
                buyer_id=buyer_id,
                name=f"Buyer {buyer_id}",
                country=country,
                naf_code=naf,
                creation_date=date(2005, 1, 1),
                legal_category="5710",
            )
        )
        session.add(
            BuyerFinancials(
                buyer_id=buyer_id,
                fiscal_year_end=date(2025, 12, 31),
                filed_date=date(2026, 5, 1),
                revenue_cents=revenue * EUR,
                equity_cents=equity * EUR,
            )
        )
        if grade is not None:
            session.add(
                Score(
                    buyer_id=buyer_id,
                    as_of=AS_OF,
                    role="champion",
                    pd_12m=pd_12m,
                    grade=grade,
                    rating="BB",
                    model_name="vigie-buyer-pd",
                    model_version="3",
                    reason_codes="DBT",
                )
            )
        session.add(
            PaymentAggregate(
                buyer_id=buyer_id,
                as_of=AS_OF,
                invoices=10,
                amount_cents=1_000_000,
                days_beyond_terms=dbt,
                overdue_share=0.0,
                overdue_declarations=0,
                reporting_policyholders=1,
            )
        )
        session.flush()
        for policy_id in ("P1", "P2"):
            limit_id += 1
            session.add(
                CreditLimit(
                    limit_id=limit_id,
                    policy_id=policy_id,
                    buyer_id=buyer_id,
                    granted_cents=limit * EUR,
                    requested_cents=request[1] * EUR if request else None,
                    request_type=2 if request else None,
                    request_date=AS_OF if request else None,
                    status="requested" if request else "active",
                    outstanding_cents=0,
                )
            )
    session.add(
        LegalEvent(
            notice_id="N1",
            buyer_id="100000001",
            event_type="open_rj",
            event_date=date(2026, 6, 1),
            publication_date=date(2026, 6, 5),
        )
    )
    session.add(
        LegalEvent(
            notice_id="N2",
            buyer_id="100000001",
            event_type="conversion_lj",
            event_date=date(2026, 11, 10),
            publication_date=date(2026, 11, 15),
        )
    )
    session.add(
        LegalEvent(
            notice_id="N3",
            buyer_id="100000002",
            event_type="open_lj",
            event_date=date(2026, 11, 10),
            publication_date=date(2026, 11, 15),
            cancelled=True,
        )
    )
    session.flush()
