"""CLI commands: the admin endpoint (``vigie serve``) and its users (``vigie users ...``)."""

from __future__ import annotations

import sys
from decimal import Decimal, InvalidOperation

import typer

from jobs.cli_support import EXIT_BAD_INPUT, STATE, console, fail, register_error
from models.db import unit_of_work

users_app = typer.Typer(
    help="Manage the admin endpoint's users: arbiters, senior arbiters, risk managers, admins.",
    no_args_is_help=True,
)


def _password(from_stdin: bool) -> str:
    if from_stdin:
        value = sys.stdin.readline().rstrip("\r\n")
        if not value:
            fail("expected a password on standard input, found an empty line")
        return value
    value = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    return str(value)


def _authority_cents(eur: str) -> int:
    try:
        value = Decimal(eur.replace(",", "").replace(" ", ""))
    except InvalidOperation:
        fail(f"--authority: expected an amount in euros such as 250000, found {eur!r}")
    if not value.is_finite() or value < 0:
        fail(f"--authority: expected an amount in euros >= 0, found {eur!r}")
    return int(value * 100)


@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="Login name: lower-case letters, digits, . _ -"),
    role: str = typer.Option(
        ..., "--role", help="arbiter | senior_arbiter | risk_manager (read-only) | admin"
    ),
    desks: str = typer.Option(
        "", "--desks", help="Comma-separated desk codes the user acts on; * = every desk."
    ),
    authority: str = typer.Option(
        "0", "--authority", help="Delegated authority in EUR: the largest limit decided alone."
    ),
    full_name: str = typer.Option("", "--full-name", help="Display name."),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read the password from stdin (scripts)."
    ),
) -> None:
    """Create a user. The password (>= 12 characters) is prompted twice unless --password-stdin."""
    from arbitration.users import add_user

    password = _password(password_stdin)
    with unit_of_work(STATE.ready_sessions()) as session:
        user = add_user(
            session,
            username=username,
            role=role,
            desks=desks,
            authority_cents=_authority_cents(authority),
            password=password,
            full_name=full_name,
        )
        console.print(f"user {user.username} added: role {user.role}, desks {user.desks or '(none)'}")


@users_app.command("disable")
def users_disable(
    username: str = typer.Argument(..., help="The user to disable (their API token stops too)."),
) -> None:
    """Disable a user: they can no longer sign in, their token is revoked; history is kept."""
    from arbitration.users import disable_user

    with unit_of_work(STATE.ready_sessions()) as session:
        disable_user(session, username=username)
    console.print(f"user {username} disabled")


@users_app.command("set-password")
def users_set_password(
    username: str = typer.Argument(...),
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from stdin."),
) -> None:
    """Set a new password (argon2id hash; >= 12 characters)."""
    from arbitration.users import set_password

    password = _password(password_stdin)
    with unit_of_work(STATE.ready_sessions()) as session:
        set_password(session, username=username, password=password)
    console.print(f"password of {username} changed")


@users_app.command("token")
def users_token(username: str = typer.Argument(...)) -> None:
    """Issue a new API bearer token for USERNAME (printed once; the previous token stops working)."""
    from arbitration.users import issue_token

    with unit_of_work(STATE.ready_sessions()) as session:
        token = issue_token(session, username=username)
    typer.echo(token)


def serve(
    host: str | None = typer.Option(
        None, "--host", help="Interface to listen on (default VIGIE_ADMIN__HOST, loopback)."
    ),
    port: int | None = typer.Option(
        None, "--port", min=1, max=65535, help="TCP port (default VIGIE_ADMIN__PORT, 8000)."
    ),
    secure_cookies: bool = typer.Option(
        False,
        "--secure-cookies",
        help="Mark the session cookie Secure (use behind HTTPS); or VIGIE_ADMIN__SECURE_COOKIES.",
    ),
) -> None:
    """Start the admin endpoint (web pages + JSON API, OpenAPI at /docs) with uvicorn.

    Set VIGIE_ADMIN__SECRET_KEY in production so sessions survive a restart."""
    import uvicorn

    from arbitration.api import create_app

    STATE.ready_sessions()
    admin = STATE.settings.admin
    host = host or admin.host
    port = port or admin.port
    secret = admin.secret_key.get_secret_value() if admin.secret_key else None
    app = create_app(
        STATE.settings,
        secret_key=secret,
        secure_cookies=secure_cookies or admin.secure_cookies,
        idle_seconds=admin.idle_minutes * 60,
    )
    console.print(f"admin endpoint on http://{host}:{port}/ (OpenAPI: /docs)")
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the main app."""
    from arbitration.users import DomainError

    register_error(DomainError, EXIT_BAD_INPUT)
    app.command("serve")(serve)
    app.add_typer(users_app, name="users")
