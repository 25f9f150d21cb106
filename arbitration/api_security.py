"""Security plumbing of the admin endpoint: who is calling, CSRF, login throttling, headers.

- Pages use a signed session cookie (Starlette ``SessionMiddleware``: itsdangerous signature,
  HttpOnly, SameSite=Strict, Secure when configured). The session holds only the user id, the
  time of the last request (idle expiry, checked here) and the CSRF synchroniser token.
- The JSON API uses ``Authorization: Bearer <token>`` only, never the cookie, so it needs no
  CSRF token and a browser cannot be tricked into calling it.
- Login throttling is in-process (per username + client IP): enough for one server process;
  several processes would each keep their own counts.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from arbitration.users import AuthenticationError, Principal, principal_for_id, principal_for_token
from models.db import unit_of_work


class LoginRequired(Exception):
    """No session: pages redirect to the login screen, other calls get 401."""


class SessionExpired(Exception):
    """The session was idle too long."""


class CsrfError(Exception):
    """A form came without the synchroniser token of this session."""


class RateLimited(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many failed sign-ins: try again in {retry_after} s")
        self.retry_after = retry_after


class LoginLimiter:
    """At most ``max_failures`` failed sign-ins per key within ``window`` seconds."""

    def __init__(
        self, max_failures: int = 5, window: float = 300.0, clock: Callable[[], float] = time.monotonic
    ):
        self.max_failures = max_failures
        self.window = window
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, key: str, now: float) -> deque[float]:
        times = self._failures.setdefault(key, deque())
        while times and now - times[0] > self.window:
            times.popleft()
        return times

    def check(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            times = self._recent(key, now)
            if len(times) >= self.max_failures:
                raise RateLimited(int(self.window - (now - times[0])) + 1)

    def failure(self, key: str) -> None:
        with self._lock:
            self._recent(key, self._clock()).append(self._clock())

    def success(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


@contextmanager
def uow(request: Request) -> Iterator[Session]:
    """One request = one unit of work (commit on success, rollback on any error)."""
    with unit_of_work(request.app.state.sessions) as session:
        yield session


def csrf_token(request: Request) -> str:
    token = request.session.get("csrf")
    if not isinstance(token, str):
        token = secrets.token_urlsafe(32)
        request.session["csrf"] = token
    return token


def verify_csrf(request: Request, submitted: str) -> None:
    expected = request.session.get("csrf")
    if not submitted or not isinstance(expected, str) or not hmac.compare_digest(expected, submitted):
        raise CsrfError("missing or wrong CSRF token: reload the page and submit the form again")


def page_user(request: Request) -> Principal:
    """The signed-in user of a page request; refreshes the idle clock."""
    uid = request.session.get("uid")
    seen = request.session.get("seen")
    if not isinstance(uid, int) or not isinstance(seen, int | float):
        raise LoginRequired("you are not signed in, or your session expired: sign in again")
    now = time.time()
    if now - seen > request.app.state.idle_seconds:
        request.session.pop("uid", None)
        raise SessionExpired("your session expired after inactivity: sign in again")
    try:
        with uow(request) as session:
            principal = principal_for_id(session, user_id=uid)
    except AuthenticationError:
        request.session.clear()
        raise
    request.session["seen"] = int(now)
    return principal


BEARER = HTTPBearer(auto_error=False, description="API token from `vigie users token USERNAME`")


def api_user(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)]
) -> Principal:
    """The caller of a JSON endpoint, from ``Authorization: Bearer`` (declared in the OpenAPI schema)."""
    if credentials is None or not credentials.credentials.strip():
        raise AuthenticationError("expected an Authorization: Bearer <token> header, found none")
    with uow(request) as session:
        return principal_for_token(session, token=credentials.credentials.strip())


def client_key(request: Request, username: str) -> str:
    host = request.client.host if request.client else "?"
    return f"{username.lower()}|{host}"


PAGE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
)


class SecurityHeaders:
    """Pure ASGI middleware (no BaseHTTPMiddleware overhead) adding headers to every response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope.get("path", "") in ("/docs", "/redoc") else PAGE_CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                headers += [
                    (b"content-security-policy", csp.encode()),
                    (b"x-frame-options", b"DENY"),
                    (b"x-content-type-options", b"nosniff"),
                    (b"referrer-policy", b"no-referrer"),
                    (b"cache-control", b"no-store"),
                    (b"cross-origin-opener-policy", b"same-origin"),
                ]
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
