"""Sign-in and sign-out pages (session cookie + CSRF token + throttling)."""

from __future__ import annotations

import time
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from arbitration.api_security import client_key, csrf_token, uow, verify_csrf
from arbitration.users import AuthenticationError, authenticate

router = APIRouter(include_in_schema=False)


class LoginForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(default="", max_length=64)
    password: str = Field(default="", max_length=1024)
    csrf_token: str = Field(default="", max_length=200)


@router.get("/login")
def login_page(request: Request) -> Response:
    return request.app.state.templates.TemplateResponse(
        request, "login.html", {"csrf": csrf_token(request), "user": None, "error": None}
    )


@router.post("/login")
def login(request: Request, form: Annotated[LoginForm, Form()]) -> Response:
    verify_csrf(request, form.csrf_token)
    key = client_key(request, form.username)
    limiter = request.app.state.login_limiter
    limiter.check(key)
    try:
        with uow(request) as session:
            principal = authenticate(session, username=form.username.strip().lower(), password=form.password)
    except AuthenticationError as exc:
        limiter.failure(key)
        return request.app.state.templates.TemplateResponse(
            request,
            "login.html",
            {"csrf": csrf_token(request), "user": None, "error": str(exc), "username": form.username},
            status_code=401,
        )
    limiter.success(key)
    request.session.clear()
    request.session.update({"uid": principal.user_id, "seen": int(time.time())})
    csrf_token(request)  # a fresh synchroniser token for the signed-in session
    return RedirectResponse("/queue", status_code=303)


class LogoutForm(BaseModel):
    model_config = ConfigDict(extra="forbid")
    csrf_token: str = Field(default="", max_length=200)


@router.post("/logout")
def logout(request: Request, form: Annotated[LogoutForm, Form()]) -> Response:
    verify_csrf(request, form.csrf_token)
    request.session.clear()
    return RedirectResponse("/login", status_code=303)
