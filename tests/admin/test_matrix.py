"""Authorization matrix: every endpoint x role x scope, against an oracle written independently
of the code. Denied calls must fail AND change nothing; 0 unauthorised successes.

Authorization does not depend on the database backend, so this runs on SQLite only.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arbitration.api import create_app
from config.settings import Settings
from models.audit_log import AuditLog
from models.base import Base
from models.credit_limit import CreditLimit
from models.db import make_engine
from models.decision import Decision
from tests.admin.conftest import TODAY, World, bearer, login, seed

ROLES = ["anonymous", "ann", "lat", "sen", "risk", "adm"]
SCOPE = {"ann": {"AUTO"}, "lat": {"LATAM"}, "sen": None, "risk": None, "adm": None}  # None = every desk
WRITERS = {"ann", "lat", "sen", "adm"}


def allowed(role: str, desk: str, write: bool) -> bool:
    """The oracle: signed in, desk in scope, and (for a write) not read-only."""
    if role == "anonymous":
        return False
    scope = SCOPE[role]
    if scope is not None and desk not in scope:
        return False
    return role in WRITERS if write else True


@dataclass(frozen=True)
class Case:
    name: str
    desk: str  # AUTO (ann's) or LATAM (lat's)
    write: bool
    call: Any  # (client, bearer headers, csrf token) -> response


@pytest.fixture
def sqlite_world(sqlite_settings: Settings) -> Iterator[tuple[Settings, World]]:
    engine = make_engine(sqlite_settings.database_url)
    Base.metadata.create_all(engine)
    with Session(engine, expire_on_commit=False) as session:
        world = seed(session)
    yield sqlite_settings, world
    engine.dispose()


def _version(settings: Settings, model: type, key: int) -> int:
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        row = s.get(model, key)
        version = int(row.version) if row is not None else 1
    engine.dispose()
    return version


def _fingerprint(
    settings: Settings,
) -> tuple[int, tuple[tuple[int, int, str], ...], tuple[tuple[int, int, int], ...]]:
    engine = make_engine(settings.database_url)
    with Session(engine) as s:
        audits = s.scalar(select(func.count()).select_from(AuditLog)) or 0
        decisions = tuple(s.execute(select(Decision.decision_id, Decision.version, Decision.status)).tuples())
        limits = tuple(
            s.execute(select(CreditLimit.limit_id, CreditLimit.version, CreditLimit.granted_cents)).tuples()
        )
    engine.dispose()
    return audits, decisions, limits


def _cases(settings: Settings, world: World) -> list[Case]:
    ids = {"AUTO": world.decisions["auto"], "LATAM": world.decisions["latam"]}
    buyers = {"AUTO": "552100554", "LATAM": "BR-123"}
    limits = {"AUTO": world.limits["L4"], "LATAM": world.limits["L3"]}
    cases: list[Case] = []
    for desk in ("AUTO", "LATAM"):
        d, b, lim = ids[desk], buyers[desk], limits[desk]

        def dv(d: int = d) -> int:
            return _version(settings, Decision, d)

        def lv(lim: int = lim) -> int:
            return _version(settings, CreditLimit, lim)

        cases += [
            Case("GET /api/buyers", desk, False, lambda c, h, t, b=b: c.get(f"/api/buyers/{b}", headers=h)),
            Case(
                "GET /api/decisions",
                desk,
                False,
                lambda c, h, t, d=d: c.get(f"/api/decisions/{d}", headers=h),
            ),
            Case(
                "GET /api/limits",
                desk,
                False,
                lambda c, h, t, lim=lim: c.get(f"/api/limits/{lim}", headers=h),
            ),
            Case(
                "GET /buyers", desk, False, lambda c, h, t, b=b: c.get(f"/buyers/{b}", follow_redirects=False)
            ),
            Case(
                "GET /decisions",
                desk,
                False,
                lambda c, h, t, d=d: c.get(f"/decisions/{d}", follow_redirects=False),
            ),
            Case(
                "GET /limits",
                desk,
                False,
                lambda c, h, t, lim=lim: c.get(f"/limits/{lim}", follow_redirects=False),
            ),
        ]
        for action in ("approve", "amend", "refuse"):
            cases.append(
                Case(
                    f"POST /api/decisions/{action}",
                    desk,
                    True,
                    lambda c, h, t, d=d, a=action, dv=dv: c.post(
                        f"/api/decisions/{d}/{a}",
                        headers=h,
                        json={
                            "version": dv(),
                            "comment": "m",
                            **({"amount_cents": 100} if a == "amend" else {}),
                        },
                    ),
                )
            )
            cases.append(
                Case(
                    f"POST /decisions/act {action}",
                    desk,
                    True,
                    lambda c, h, t, d=d, a=action, dv=dv: c.post(
                        f"/decisions/{d}/act",
                        data={
                            "action": a,
                            "version": str(dv()),
                            "comment": "m",
                            "amount_eur": "1",
                            "csrf_token": t,
                        },
                        follow_redirects=False,
                    ),
                )
            )
        cases += [
            Case(
                "POST /api/limits",
                desk,
                True,
                lambda c, h, t, lim=lim, lv=lv: c.post(
                    f"/api/limits/{lim}",
                    headers=h,
                    json={"version": lv(), "granted_cents": 100, "comment": "m"},
                ),
            ),
            Case(
                "POST /limits",
                desk,
                True,
                lambda c, h, t, lim=lim, lv=lv: c.post(
                    f"/limits/{lim}",
                    data={"version": str(lv()), "amount_eur": "2", "comment": "m", "csrf_token": t},
                    follow_redirects=False,
                ),
            ),
        ]
    return cases


def _success(response: httpx.Response) -> bool:
    if response.status_code == 303:
        return response.headers.get("location", "") != "/login"
    return 200 <= response.status_code < 300


def test_zero_unauthorised_successes(sqlite_world: tuple[Settings, World]) -> None:
    settings, world = sqlite_world
    app = create_app(settings, secret_key="matrix", today=lambda: TODAY)
    clients: dict[str, tuple[TestClient, dict[str, str], str]] = {}
    for role in ROLES:
        client = TestClient(app)
        if role == "anonymous":
            clients[role] = (client, {}, "")
        else:
            clients[role] = (client, bearer(world, role), login(client, role))
    cases = _cases(settings, world)
    unauthorised: list[str] = []
    denied_total = 0
    start = _fingerprint(settings)
    # Phase 1: every call the oracle denies. None may succeed, and nothing may change.
    for case in cases:
        for role in ROLES:
            if allowed(role, case.desk, case.write):
                continue
            client, headers, token = clients[role]
            response = case.call(client, headers, token)
            denied_total += 1
            if _success(response) or response.status_code >= 500:
                unauthorised.append(f"{role} {case.name} [{case.desk}] -> {response.status_code}")
    assert unauthorised == [], unauthorised
    assert _fingerprint(settings) == start, "a denied call changed the database"
    # Queue rows are filtered by scope: no row of a foreign desk may appear.
    for role in ("ann", "lat"):
        client, headers, _ = clients[role]
        rows = client.get("/api/queue", headers=headers, params={"status": ""}).json()["rows"]
        assert rows and all(r["desk"] in (SCOPE[role] or set()) for r in rows)
    # Phase 2: allowed calls really work (the matrix is not vacuous): reads answer 200.
    for case in cases:
        if case.write:
            continue
        for role in ROLES:
            if allowed(role, case.desk, False):
                client, headers, token = clients[role]
                assert case.call(client, headers, token).status_code == 200, (role, case.name, case.desk)
    # ...and one allowed write per writer role goes through.
    writes = {
        "ann": ("AUTO", "POST /api/decisions/approve"),
        "lat": ("LATAM", "POST /decisions/act refuse"),
        "sen": ("AUTO", "POST /api/limits"),
        "adm": ("LATAM", "POST /limits"),
    }
    for role, (desk, name) in writes.items():
        case = next(c for c in cases if c.name == name and c.desk == desk)
        client, headers, token = clients[role]
        response = case.call(client, headers, token)
        assert _success(response), (role, name, response.status_code, response.text[:300])
    assert denied_total >= 70  # 28 endpoint x scope cases x 6 roles, 72 denied
    for client, _, _ in clients.values():
        client.close()
    app.state.engine.dispose()
