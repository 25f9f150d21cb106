"""Users service and `vigie users ...` commands: argon2id, token digests, disable, bad input."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from arbitration.users import (
    AuthenticationError,
    ConflictError,
    InvalidInputError,
    add_user,
    authenticate,
    disable_user,
    issue_token,
    principal_for_token,
    set_password,
    token_digest,
)
from config.settings import Settings
from jobs.cli import app
from jobs.cli_support import STATE
from models.arbiter_user import ArbiterUser
from models.codes import Role

PASSWORD = "a long enough password"


def test_passwords_are_argon2id_and_tokens_stored_as_digests(db_engine: Engine) -> None:
    with Session(db_engine) as s:
        user = add_user(
            s, username="eve", role="arbiter", desks="AUTO,MEAT", authority_cents=5_000_000, password=PASSWORD
        )
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        token = issue_token(s, username="eve")
        assert user.token_digest == token_digest(token) and token not in (user.token_digest or "")
        me = principal_for_token(s, token=token)
        assert (me.role, me.desks, me.authority_cents) == (
            Role.ARBITER,
            frozenset({"AUTO", "MEAT"}),
            5_000_000,
        )
        with pytest.raises(AuthenticationError, match="wrong username or password"):
            authenticate(s, username="eve", password="not the password")
        with pytest.raises(AuthenticationError, match="wrong username or password"):
            authenticate(s, username="nobody", password=PASSWORD)
        set_password(s, username="eve", password="another long password")
        assert authenticate(s, username="eve", password="another long password").username == "eve"
        disable_user(s, username="eve")
        with pytest.raises(AuthenticationError):
            principal_for_token(s, token=token)
        with pytest.raises(AuthenticationError):
            authenticate(s, username="eve", password="another long password")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"username": "Bad Name"}, InvalidInputError, "username"),
        ({"role": "king"}, InvalidInputError, "expected a role"),
        ({"password": "short"}, InvalidInputError, "at least 12"),
        ({"authority_cents": -1}, InvalidInputError, ">= 0"),
        ({"desks": "AUTO,<script>"}, InvalidInputError, "desk codes"),
    ],
)
def test_bad_users_are_refused(
    db_engine: Engine, kwargs: dict[str, object], error: type, message: str
) -> None:
    base: dict[str, object] = {
        "username": "zoe",
        "role": "arbiter",
        "desks": "AUTO",
        "authority_cents": 0,
        "password": PASSWORD,
    }
    with Session(db_engine) as s, pytest.raises(error, match=message):
        add_user(s, **{**base, **kwargs})  # type: ignore[arg-type]


@pytest.fixture
def cli_settings(settings: Settings, db_engine: Engine) -> Iterator[Settings]:
    STATE.use_settings(settings)
    yield settings
    STATE.engine.dispose()
    STATE._settings = None
    STATE.__dict__.pop("engine", None)
    STATE.__dict__.pop("sessions", None)


def test_users_commands(cli_settings: Settings, db_engine: Engine, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(STATE, "ready_sessions", lambda: STATE.sessions)  # tables come from the models here
    runner = CliRunner()
    added = runner.invoke(
        app,
        [
            "users",
            "add",
            "max",
            "--role",
            "senior_arbiter",
            "--desks",
            "*",
            "--authority",
            "250000",
            "--password-stdin",
        ],
        input=PASSWORD + "\n",
    )
    assert added.exit_code == 0, added.output
    token = runner.invoke(app, ["users", "token", "max"])
    assert token.exit_code == 0
    with Session(db_engine) as s:
        user = s.scalars(select(ArbiterUser).where(ArbiterUser.username == "max")).one()
        assert (user.authority_cents, user.desks, user.role) == (25_000_000, "*", "senior_arbiter")
        assert user.token_digest == token_digest(token.output.strip())
    again = runner.invoke(
        app, ["users", "add", "max", "--role", "arbiter", "--password-stdin"], input=PASSWORD + "\n"
    )
    assert isinstance(again.exception, ConflictError)
    assert (
        runner.invoke(
            app, ["users", "set-password", "max", "--password-stdin"], input="new long password!\n"
        ).exit_code
        == 0
    )
    assert runner.invoke(app, ["users", "disable", "max"]).exit_code == 0
    with Session(db_engine) as s:
        user = s.scalars(select(ArbiterUser).where(ArbiterUser.username == "max")).one()
        assert user.active is False and user.token_digest is None
