"""A small reviewed portfolio and one user per role, on each backend.

Desks: AUTO (automotive sector) and LATAM (country desk). Decisions:
- ``auto``: buyer B1 limit L1, increase request 100k -> 200k, proposed 150k, needs 150k of authority;
- ``four_eyes``: buyer B1 limit L2 (another policyholder), proposed 400k, two approvals needed;
- ``latam``: buyer B2 limit L3, reduction 30k -> 10k;
- ``applied``: an automatic decision (already final) on B3's limit L4 in AUTO.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from arbitration.api import create_app
from arbitration.users import add_user, issue_token
from config.settings import Settings
from models.arbiter_user import ArbiterUser
from models.buyer import Buyer
from models.credit_limit import CreditLimit
from models.decision import Decision
from models.legal_event import LegalEvent
from models.payment_aggregate import PaymentAggregate
from models.policy import Policy
from models.policyholder import Policyholder
from models.review_task import ReviewTask
from models.score import Score

PASSWORD = "correct horse battery"
BUSINESS_DATE = date(2026, 11, 20)
TODAY = date(2026, 11, 23)
EUR = 100

USERS = {
    # username: (role, desks, authority in EUR)
    "ann": ("arbiter", "AUTO", 200_000),
    "bob": ("arbiter", "AUTO", 1_000_000),
    "low": ("arbiter", "AUTO", 50_000),
    "lat": ("arbiter", "LATAM", 1_000_000),
    "sen": ("senior_arbiter", "*", 10_000_000),
    "risk": ("risk_manager", "*", 0),
    "adm": ("admin", "", 10_000_000),
}


@dataclass
class World:
    decisions: dict[str, int] = field(default_factory=dict)
    limits: dict[str, int] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)


def _decision(
    limit: CreditLimit, *, desk: str, previous: int, proposed: int, dtype: int, status: str, **kw: object
) -> Decision:
    return Decision(
        limit_id=limit.limit_id,
        business_date=BUSINESS_DATE,
        policy_id=limit.policy_id,
        buyer_id=limit.buyer_id,
        policyholder_id="PH1" if limit.policy_id == "P1" else "PH2",
        decision_type=dtype,
        reason_code=15,
        previous_cents=previous,
        proposed_cents=proposed,
        status=status,
        desk=desk,
        effective_date=BUSINESS_DATE,
        rule_set_version="2026-11-01",
        model_version="3",
        fired_rules='["AUTO-PD-CAP"]',
        observed='{"pd_12m": 0.031, "grade": 6}',
        explanation="PD above the sector cap",
        **kw,
    )


def seed(session: Session) -> World:
    world = World()
    session.add_all(
        [
            Policyholder(policyholder_id="PH1", name="Acier Lyonnais", emails="a@example.com"),
            Policyholder(policyholder_id="PH2", name="Textiles du Nord", emails="t@example.com"),
        ]
    )
    session.flush()
    session.add_all(
        [
            Policy(policy_id="P1", policyholder_id="PH1", territory="BOTH"),
            Policy(policy_id="P2", policyholder_id="PH2", territory="FR"),
            Buyer(
                buyer_id="552100554",
                siren="552100554",
                name="Garage Central",
                country="FR",
                naf_code="45.20A",
            ),
            Buyer(buyer_id="BR-123", name="Importadora Sul", country="BR"),
            Buyer(buyer_id="732829320", siren="732829320", name="Pièces Auto Est", country="FR"),
        ]
    )
    session.flush()
    limits = {
        "L1": CreditLimit(
            policy_id="P1",
            buyer_id="552100554",
            granted_cents=100_000 * EUR,
            requested_cents=200_000 * EUR,
            request_type=3,
        ),
        "L2": CreditLimit(policy_id="P2", buyer_id="552100554", granted_cents=300_000 * EUR),
        "L3": CreditLimit(policy_id="P1", buyer_id="BR-123", granted_cents=30_000 * EUR),
        "L4": CreditLimit(policy_id="P1", buyer_id="732829320", granted_cents=20_000 * EUR),
    }
    session.add_all(limits.values())
    session.flush()
    world.limits = {k: v.limit_id for k, v in limits.items()}
    decisions = {
        "auto": _decision(
            limits["L1"],
            desk="AUTO",
            previous=100_000 * EUR,
            proposed=150_000 * EUR,
            dtype=5,
            status="referred",
            required_authority_cents=150_000 * EUR,
        ),
        "four_eyes": _decision(
            limits["L2"],
            desk="AUTO",
            previous=300_000 * EUR,
            proposed=400_000 * EUR,
            dtype=2,
            status="referred",
            required_authority_cents=400_000 * EUR,
            four_eyes=True,
        ),
        "latam": _decision(
            limits["L3"],
            desk="LATAM",
            previous=30_000 * EUR,
            proposed=10_000 * EUR,
            dtype=9,
            status="referred",
            required_authority_cents=30_000 * EUR,
        ),
        "applied": _decision(
            limits["L4"],
            desk="AUTO",
            previous=20_000 * EUR,
            proposed=15_000 * EUR,
            dtype=9,
            status="applied",
            final_cents=15_000 * EUR,
        ),
    }
    session.add_all(decisions.values())
    session.flush()
    world.decisions = {k: v.decision_id for k, v in decisions.items()}
    for key, needed in (("auto", 1), ("four_eyes", 2), ("latam", 1)):
        d = decisions[key]
        session.add(
            ReviewTask(
                decision_id=d.decision_id,
                desk=d.desk,
                required_authority_cents=d.required_authority_cents,
                approvals_needed=needed,
            )
        )
    for i, (pd_, grade) in enumerate([(0.008, 4), (0.014, 5), (0.031, 6)]):
        session.add(
            Score(
                buyer_id="552100554",
                as_of=date(2026, 9 + i, 1),
                role="champion",
                pd_12m=pd_,
                grade=grade,
                rating="BB",
                model_name="vigie-buyer-pd",
                model_version="3",
                reason_codes="DBT_UP,EQUITY_LOW",
            )
        )
    session.add(
        LegalEvent(
            notice_id="A2026-1",
            buyer_id="552100554",
            event_type="sanction",
            nature_raw="Jugement de sanction",
            publication_date=date(2026, 10, 2),
        )
    )
    session.add(
        PaymentAggregate(
            buyer_id="552100554",
            as_of=date(2026, 11, 1),
            invoices=42,
            amount_cents=1_234_500,
            days_beyond_terms=17.5,
            overdue_share=0.21,
            overdue_declarations=1,
            reporting_policyholders=3,
        )
    )
    password_hash = ""
    for name, (role, desks, authority) in USERS.items():
        if not password_hash:  # one real argon2id hash through the service, then reused (0.5 s each)
            user = add_user(
                session,
                username=name,
                role=role,
                desks=desks,
                authority_cents=authority * EUR,
                password=PASSWORD,
            )
            password_hash = user.password_hash
        else:
            user = ArbiterUser(
                username=name,
                role=role,
                desks=desks,
                authority_cents=authority * EUR,
                password_hash=password_hash,
                active=True,
            )
            session.add(user)
            session.flush()
        world.user_ids[name] = user.user_id
        world.tokens[name] = issue_token(session, username=name)
    session.commit()
    return world


@pytest.fixture
def world(db_engine: Engine) -> World:
    with sessionmaker(db_engine, expire_on_commit=False)() as session:
        return seed(session)


@pytest.fixture
def client(world: World, settings: Settings) -> Iterator[TestClient]:
    app = create_app(settings, secret_key="test-secret-key", today=lambda: TODAY)
    with TestClient(app) as c:
        yield c
    app.state.engine.dispose()


def bearer(world: World, name: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {world.tokens[name]}"}


CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    found = CSRF.search(html)
    assert found, "no CSRF token in the page"
    return found.group(1)


def login(client: TestClient, username: str, password: str = PASSWORD) -> str:
    """Sign in through the form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/queue").text)
