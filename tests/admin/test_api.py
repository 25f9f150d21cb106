"""The admin endpoint over HTTP on both backends: pages, JSON API, security, bad input."""

from __future__ import annotations

import html
import time

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from arbitration.api import create_app
from arbitration.api_security import LoginLimiter
from config.settings import Settings
from models.audit_log import AuditLog
from models.credit_limit import CreditLimit
from models.decision import Decision
from tests.admin.conftest import EUR, TODAY, World, bearer, csrf_of, login


def snapshot(engine: Engine, decision_id: int) -> tuple[str, int, int, int]:
    with Session(engine) as s:
        d = s.get(Decision, decision_id)
        assert d is not None
        limit = s.get(CreditLimit, d.limit_id)
        assert limit is not None
        audits = s.scalar(select(func.count()).select_from(AuditLog)) or 0
        return d.status, d.version, limit.granted_cents, audits


def test_pages_carry_security_headers_and_a_strict_httponly_cookie(client: TestClient) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie and "secure" not in cookie
    assert "<script>" not in response.text  # no inline script anywhere


def test_secure_flag_is_configurable(world: World, settings: Settings) -> None:
    app = create_app(settings, secure_cookies=True)
    with TestClient(app, base_url="https://testserver") as c:
        assert "secure" in c.get("/login").headers["set-cookie"].lower()
    app.state.engine.dispose()


def test_sign_in_then_queue_and_dossier(client: TestClient, world: World) -> None:
    assert client.get("/queue", follow_redirects=False).headers["location"] == "/login"
    login(client, "ann")
    queue = client.get("/queue")
    assert queue.status_code == 200
    assert f"/decisions/{world.decisions['auto']}" in queue.text
    assert f"/decisions/{world.decisions['latam']}" not in queue.text  # not my desk
    dossier = client.get("/buyers/552100554")
    assert dossier.status_code == 200
    for expected in (
        "Garage Central",
        "<svg",
        "DBT_UP",
        "sanction",
        "Textiles du Nord",
        "AUTO-PD-CAP",
        "17.5",
    ):
        assert expected in dossier.text
    assert client.get("/buyers/BR-123").status_code == 404  # LATAM buyer, not in ann's desks


def test_approve_through_the_page_with_csrf(client: TestClient, world: World, db_engine: Engine) -> None:
    csrf = login(client, "ann")
    did = world.decisions["auto"]
    page = client.get(f"/decisions/{did}")
    assert 'id="act-form"' in page.text
    response = client.post(
        f"/decisions/{did}/act",
        data={"action": "approve", "version": "1", "comment": "seen", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert snapshot(db_engine, did)[:3] == ("approved", 2, 150_000 * EUR)


@pytest.mark.parametrize(
    ("form", "status", "message"),
    [
        ({"action": "approve", "version": "1", "comment": "x"}, 403, "CSRF"),
        ({"action": "approve", "version": "1", "comment": "x", "csrf_token": "forged"}, 403, "CSRF"),
        ({"action": "amend", "version": "1", "comment": "x", "amount_eur": "-5"}, 422, "&gt;= 0"),
        ({"action": "amend", "version": "1", "comment": "x", "amount_eur": "douze"}, 422, "amount in euros"),
        ({"action": "amend", "version": "1", "comment": "x", "amount_eur": "250000"}, 422, "at most"),
        ({"action": "approve", "version": "1", "comment": ""}, 422, "comment is mandatory"),
        ({"action": "approve", "version": "1", "comment": "x", "status": "approved"}, 422, "status"),
        ({"action": "approve", "version": "7", "comment": "x"}, 409, "version"),
    ],
)
def test_bad_forms_get_a_clear_4xx_and_change_nothing(
    client: TestClient, world: World, db_engine: Engine, form: dict[str, str], status: int, message: str
) -> None:
    csrf = login(client, "bob")
    did = world.decisions["auto"]
    if "csrf_token" not in form and status != 403:
        form = {**form, "csrf_token": csrf}
    before = snapshot(db_engine, did)
    response = client.post(f"/decisions/{did}/act", data=form, follow_redirects=False)
    assert response.status_code == status, response.text
    assert message in response.text
    assert snapshot(db_engine, did) == before


def test_unknown_decision_is_404(client: TestClient, world: World) -> None:
    csrf = login(client, "sen")
    assert client.get("/decisions/999999").status_code == 404
    response = client.post(
        "/decisions/999999/act",
        data={"action": "approve", "version": "1", "comment": "x", "csrf_token": csrf},
    )
    assert response.status_code == 404 and "no decision 999999" in response.text
    assert client.get("/api/decisions/999999", headers=bearer(world, "sen")).status_code == 404


def test_expired_session_is_401_and_changes_nothing(
    world: World, settings: Settings, db_engine: Engine
) -> None:
    app = create_app(settings, secret_key="k", idle_seconds=4, today=lambda: TODAY)
    with TestClient(app) as c:
        csrf = login(c, "ann")
        time.sleep(5.1)
        did = world.decisions["auto"]
        before = snapshot(db_engine, did)
        response = c.post(
            f"/decisions/{did}/act",
            data={"action": "approve", "version": "1", "comment": "x", "csrf_token": csrf},
        )
        assert response.status_code == 401 and "expired" in response.text
        assert snapshot(db_engine, did) == before
    app.state.engine.dispose()


def test_wrong_password_then_throttling(world: World, settings: Settings) -> None:
    app = create_app(settings, secret_key="k", login_limiter=LoginLimiter(max_failures=2, window=300))
    with TestClient(app) as c:
        csrf = csrf_of(c.get("/login").text)
        for _ in range(2):
            bad = c.post("/login", data={"username": "ann", "password": "nope", "csrf_token": csrf})
            assert bad.status_code == 401 and "wrong username or password" in bad.text
        blocked = c.post(
            "/login", data={"username": "ann", "password": "correct horse battery", "csrf_token": csrf}
        )
        assert blocked.status_code == 429 and "too many" in blocked.text and "retry-after" in blocked.headers
        missing = c.post("/login", data={"username": "bob", "password": "correct horse battery"})
        assert missing.status_code == 403
    app.state.engine.dispose()


def test_json_api_mirrors_the_screens(client: TestClient, world: World, db_engine: Engine) -> None:
    auth = bearer(world, "bob")
    assert client.get("/api/queue").status_code == 401
    assert client.get("/api/queue", headers={"Authorization": "Bearer nope"}).status_code == 401
    queue = client.get("/api/queue", headers=auth, params={"sort": "amount", "page_size": 1})
    assert queue.status_code == 200
    body = queue.json()
    assert (
        body["total"] == 2
        and len(body["rows"]) == 1
        and body["rows"][0]["decision_id"] == world.decisions["auto"]
    )
    dossier = client.get("/api/buyers/552100554", headers=auth).json()
    assert dossier["buyer"]["name"] == "Garage Central" and len(dossier["exposure"]) == 2
    assert dossier["decisions"][0]["fired_rules"] == ["AUTO-PD-CAP"]
    did = world.decisions["auto"]
    for body_, status in (
        ({"version": 1, "comment": "x", "amount_cents": -1}, 422),
        ({"version": 1, "comment": "x", "amount_cents": "abc"}, 422),
        ({"version": 1, "comment": "x", "amount_cents": 200_000 * EUR + 1}, 422),
        ({"version": 1, "comment": "x", "amount_cents": 1, "final_cents": 5}, 422),
    ):
        assert client.post(f"/api/decisions/{did}/amend", json=body_, headers=auth).status_code == status
    assert snapshot(db_engine, did)[:2] == ("referred", 1)
    ok = client.post(
        f"/api/decisions/{did}/amend",
        json={"version": 1, "comment": "x", "amount_cents": 120_000 * EUR},
        headers=auth,
    )
    assert ok.status_code == 200 and ok.json()["status"] == "amended"
    late = client.post(
        f"/api/decisions/{did}/refuse", json={"version": 1, "comment": "late"}, headers=bearer(world, "sen")
    )
    assert late.status_code == 409 and "version" in late.json()["detail"]
    limit = client.get(f"/api/limits/{world.limits['L4']}", headers=auth).json()
    changed = client.post(
        f"/api/limits/{world.limits['L4']}",
        json={"version": limit["version"], "granted_cents": 1_000 * EUR, "comment": "by hand"},
        headers=auth,
    )
    assert changed.status_code == 200 and changed.json()["status"] == "amended"


def test_four_eyes_through_the_api(client: TestClient, world: World) -> None:
    did = world.decisions["four_eyes"]
    first = client.post(
        f"/api/decisions/{did}/approve", json={"version": 1, "comment": "p"}, headers=bearer(world, "bob")
    )
    assert first.json()["outcome"] == "awaiting_second"
    again = client.post(
        f"/api/decisions/{did}/approve", json={"version": 2, "comment": "p"}, headers=bearer(world, "bob")
    )
    assert again.status_code == 403 and "proposer" in again.json()["detail"]
    final = client.post(
        f"/api/decisions/{did}/approve", json={"version": 2, "comment": "ok"}, headers=bearer(world, "sen")
    )
    assert final.status_code == 200 and final.json()["status"] == "approved"


def test_risk_manager_reads_but_cannot_act(client: TestClient, world: World) -> None:
    auth = bearer(world, "risk")
    assert client.get("/api/queue", headers=auth).json()["total"] == 3
    did = world.decisions["auto"]
    response = client.post(f"/api/decisions/{did}/approve", json={"version": 1, "comment": "x"}, headers=auth)
    assert response.status_code == 403 and "read-only" in response.json()["detail"]


def test_tokens_are_not_logged(client: TestClient, world: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level("DEBUG")
    client.get("/api/queue", headers=bearer(world, "bob"))
    client.get("/api/queue", headers={"Authorization": "Bearer wrong-token-value"})
    assert world.tokens["bob"] not in caplog.text and "wrong-token-value" not in caplog.text


def test_the_dossier_reruns_the_rule_trace_of_one_decision(client: TestClient, world: World) -> None:
    login(client, "sen")
    page = client.get(f"/buyers/552100554?trace={world.decisions['auto']}")
    assert page.status_code == 200
    assert 'id="live-trace"' in page.text and "fired_rules" in page.text
    assert (
        client.get(f"/buyers/552100554?trace={world.decisions['latam']}").status_code == 422
    )  # not this buyer's


def test_a_decision_shows_the_motive_the_policyholder_reads(
    client: TestClient, world: World, db_engine: Engine
) -> None:
    from sqlalchemy import update

    from arbitration.rules import load_rule_set
    from config.settings import CONFIG_DIR

    motive = next(r.motive for r in load_rule_set(CONFIG_DIR / "rules").rules if r.id == "score.grade-9-10")
    assert motive is not None
    did = world.decisions["auto"]
    with db_engine.begin() as connection:
        connection.execute(
            update(Decision).where(Decision.decision_id == did).values(reason_rule="score.grade-9-10")
        )
    login(client, "ann")
    page = client.get(f"/decisions/{did}")
    assert "score.grade-9-10" in page.text
    assert f"« {motive.fr} »" in html.unescape(page.text) and motive.en in html.unescape(page.text)
    with db_engine.begin() as connection:
        connection.execute(update(Decision).where(Decision.decision_id == did).values(reason_rule=None))
    assert "The policyholder reads" not in client.get(f"/decisions/{did}").text  # a manual decision


def test_the_rule_set_behind_the_motive_is_parsed_again_only_when_a_file_changes(tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    from types import SimpleNamespace

    from arbitration.api_pages import _active_rules
    from config.settings import CONFIG_DIR

    folder = tmp_path / "rules"
    shutil.copytree(CONFIG_DIR / "rules", folder)
    state = SimpleNamespace(settings=SimpleNamespace(paths=SimpleNamespace(rules_dir=folder)))
    request = SimpleNamespace(app=SimpleNamespace(state=state))
    first = _active_rules(request)  # type: ignore[arg-type]
    assert _active_rules(request) is first  # type: ignore[arg-type]
    edited = folder / "20-score.yaml"
    edited.write_text(
        edited.read_text(encoding="utf-8").replace("severe deterioration", "sharp deterioration"),
        encoding="utf-8",
    )
    again = _active_rules(request)  # type: ignore[arg-type]
    assert again is not first
    assert any(r.motive is not None and "sharp deterioration" in r.motive.en for r in again.rules)
