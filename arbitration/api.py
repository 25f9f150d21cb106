"""The admin endpoint: FastAPI app factory.

Pages (signed session cookie + CSRF) and a JSON API (bearer tokens, OpenAPI at
``/openapi.json``, ``/docs``) over the same review services as the batch. Middleware order
(outermost first): security headers, then the session cookie.

The session secret: pass ``secret_key``; otherwise a random one is drawn at start, which
signs everyone out when the server restarts (safe default, never a constant in the code).
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.middleware.sessions import SessionMiddleware

from arbitration import api_auth, api_json, api_pages
from arbitration.api_errors import install_error_handlers
from arbitration.api_security import LoginLimiter, SecurityHeaders
from config.settings import Settings
from models.codes import ReasonCode, ResponseType
from models.db import make_engine, session_factory

TEMPLATES_DIR = Path(__file__).resolve().parent / "templates"
DECISION_TYPES = {int(t): t.name.replace("_", " ").lower() for t in ResponseType}
REASONS = {int(r): r.name.replace("_", " ").lower() for r in ReasonCode}


def eur(cents: Any) -> str:
    """Integer cents as ``12,345.00 EUR`` (thin space grouping kept ASCII for screen readers)."""
    if cents is None:
        return "—"
    value = int(cents)
    sign = "-" if value < 0 else ""
    whole, frac = divmod(abs(value), 100)
    return f"{sign}{whole:,}.{frac:02d} EUR"


def _templates() -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(TEMPLATES_DIR))
    templates.env.filters["eur"] = eur
    templates.env.filters["dtype"] = lambda code: f"{code} {DECISION_TYPES.get(int(code), '?')}"
    templates.env.filters["reason"] = lambda code: f"{code} {REASONS.get(int(code), '?')}"
    templates.env.globals["decision_types"] = DECISION_TYPES
    return templates


def create_app(
    settings: Settings,
    *,
    secret_key: str | None = None,
    secure_cookies: bool = False,
    idle_seconds: int = 30 * 60,
    login_limiter: LoginLimiter | None = None,
    today: Callable[[], date] | None = None,
) -> FastAPI:
    """Build the app on ``settings.database_url``.

    ``secure_cookies`` sets the cookie's Secure flag (turn it on behind HTTPS; off for plain
    loopback tests). ``idle_seconds``: a session unused that long must sign in again.
    ``today`` gives the business date of manual limit changes (default: the scheduler's time zone).
    """
    app = FastAPI(
        title="Vigie admin endpoint",
        version="1",
        description=(
            "Arbiters review referred credit-limit decisions, approve, amend or refuse them, and "
            "change limits by hand. JSON endpoints take `Authorization: Bearer <token>` "
            "(`vigie users token USERNAME`). Amounts are integer euro cents."
        ),
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessions = session_factory(engine)
    app.state.templates = _templates()
    app.state.idle_seconds = idle_seconds
    app.state.login_limiter = login_limiter or LoginLimiter()
    zone = ZoneInfo(settings.scheduler.timezone)
    app.state.today = today or (lambda: datetime.now(zone).date())

    app.include_router(api_auth.router)
    app.include_router(api_pages.router)
    app.include_router(api_json.router)
    app.mount("/static", StaticFiles(directory=str(TEMPLATES_DIR / "static")), name="static")
    install_error_handlers(app)

    app.add_middleware(
        SessionMiddleware,
        secret_key=secret_key or secrets.token_urlsafe(48),
        session_cookie="vigie_session",
        max_age=max(idle_seconds, 12 * 3600),  # the idle expiry itself is checked per request
        same_site="strict",
        https_only=secure_cookies,
    )
    app.add_middleware(SecurityHeaders)
    return app
