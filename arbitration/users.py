"""Users of the admin endpoint: who they are, what they may see and decide.

No HTTP here: the errors below are domain errors; the API maps them to statuses in one place
(:mod:`arbitration.api_errors`). Passwords are argon2id hashes (argon2-cffi's default type);
API tokens are random and only their SHA-256 digest is stored, so a stolen database does not
hand out working tokens.

Scope: ``desks`` is a comma-separated list of desk codes; ``*`` means every desk. An admin
always sees every desk.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.arbiter_user import ArbiterUser
from models.codes import Role

ALL_DESKS = "*"
MIN_PASSWORD_LENGTH = 12
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
DESK_PATTERN = r"[A-Za-z0-9_.:-]{1,40}"
"""What a desk code may be made of (users, API parameters and page filters share it)."""
_DESK = re.compile(rf"^{DESK_PATTERN}$")
_HASHER = PasswordHasher()  # argon2id, RFC 9106 low-memory profile
_DUMMY_HASH = _HASHER.hash("vigie-timing-equaliser")


class DomainError(Exception):
    """Base of the errors the review workflow and the users service raise (no HTTP status)."""


class NotFoundError(DomainError):
    """The named object does not exist (or is outside the caller's scope)."""


class ForbiddenError(DomainError):
    """The caller may not do this (role, scope, authority or four-eyes rule)."""


class ConflictError(DomainError):
    """Someone else changed the object first (optimistic concurrency) or its state forbids the act."""


class InvalidInputError(DomainError):
    """A value is malformed or out of range; the message says what was expected and found."""


class AuthenticationError(DomainError):
    """Wrong credentials, unknown or disabled user, or unknown token (deliberately one message)."""


@dataclass(frozen=True)
class Principal:
    """The acting user as the services see it: an immutable snapshot read once per request."""

    user_id: int
    username: str
    role: Role
    desks: frozenset[str]
    authority_cents: int

    @property
    def all_desks(self) -> bool:
        return self.role is Role.ADMIN or ALL_DESKS in self.desks

    @property
    def can_write(self) -> bool:
        """Function-level rule: risk managers read everything in scope and change nothing."""
        return self.role is not Role.RISK_MANAGER

    def covers(self, desk: str | None) -> bool:
        """Object-level rule: a desk-less object is visible only to all-desk users."""
        return self.all_desks or (desk is not None and desk in self.desks)


def principal_of(user: ArbiterUser) -> Principal:
    return Principal(
        user_id=user.user_id,
        username=user.username,
        role=Role(user.role),
        desks=parse_desks(user.desks),
        authority_cents=int(user.authority_cents),
    )


def parse_desks(text: str) -> frozenset[str]:
    desks = frozenset(part.strip() for part in text.split(",") if part.strip())
    bad = sorted(d for d in desks if d != ALL_DESKS and not _DESK.match(d))
    if bad:
        raise InvalidInputError(f"expected desk codes of letters, digits and _.:- (or *), found {bad}")
    return desks


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise InvalidInputError(
            f"expected a password of at least {MIN_PASSWORD_LENGTH} characters, found {len(password)}"
        )


def _role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        raise InvalidInputError(
            f"expected a role among {', '.join(r.value for r in Role)}, found {role!r}"
        ) from None


def get_user(session: Session, *, username: str) -> ArbiterUser:
    user = session.scalar(select(ArbiterUser).where(ArbiterUser.username == username))
    if user is None:
        raise NotFoundError(f"no user named {username!r}")
    return user


def add_user(
    session: Session,
    *,
    username: str,
    role: str,
    desks: str,
    authority_cents: int,
    password: str,
    full_name: str = "",
) -> ArbiterUser:
    """Create an active user. Usernames are lower-case identifiers so logs never hold a free text."""
    if not _USERNAME.match(username):
        raise InvalidInputError(
            f"expected a username of 2-64 lower-case letters, digits or ._- , found {username!r}"
        )
    if authority_cents < 0:
        raise InvalidInputError(f"expected a delegated authority >= 0, found {authority_cents}")
    parsed_role = _role(role)
    desk_set = parse_desks(desks)
    _check_password(password)
    if session.scalar(select(ArbiterUser.user_id).where(ArbiterUser.username == username)) is not None:
        raise ConflictError(f"a user named {username!r} already exists")
    user = ArbiterUser(
        username=username,
        full_name=full_name,
        role=parsed_role.value,
        desks=",".join(sorted(desk_set)),
        authority_cents=authority_cents,
        password_hash=_HASHER.hash(password),
        active=True,
    )
    session.add(user)
    session.flush()
    return user


def disable_user(session: Session, *, username: str) -> ArbiterUser:
    """Disable a user and revoke their API token (rows are kept: the audit log names them)."""
    user = get_user(session, username=username)
    user.active = False
    user.token_digest = None
    session.flush()
    return user


def set_password(session: Session, *, username: str, password: str) -> ArbiterUser:
    _check_password(password)
    user = get_user(session, username=username)
    user.password_hash = _HASHER.hash(password)
    session.flush()
    return user


def issue_token(session: Session, *, username: str) -> str:
    """Return a new bearer token (shown once); any earlier token of the user stops working."""
    user = get_user(session, username=username)
    if not user.active:
        raise ForbiddenError(f"user {username!r} is disabled")
    token = secrets.token_urlsafe(32)
    user.token_digest = token_digest(token)
    session.flush()
    return token


def authenticate(session: Session, *, username: str, password: str) -> Principal:
    """Check a password. Unknown users still cost one argon2 verification (no timing oracle)."""
    user = session.scalar(select(ArbiterUser).where(ArbiterUser.username == username))
    try:
        _HASHER.verify(user.password_hash if user is not None else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        raise AuthenticationError("wrong username or password") from None
    if user is None or not user.active:
        raise AuthenticationError("wrong username or password")
    return principal_of(user)


def principal_for_token(session: Session, *, token: str) -> Principal:
    user = session.scalar(select(ArbiterUser).where(ArbiterUser.token_digest == token_digest(token)))
    if user is None or not user.active:
        raise AuthenticationError("unknown or revoked API token")
    return principal_of(user)


def principal_for_id(session: Session, *, user_id: int) -> Principal:
    """Re-read the user each request so a disable or a scope change bites at once."""
    user = session.get(ArbiterUser, user_id)
    if user is None or not user.active:
        raise AuthenticationError("your account is unknown or disabled; sign in again")
    return principal_of(user)
