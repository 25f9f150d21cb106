"""The SMTP transport against a real aiosmtpd server on a free loopback port: success, 4xx
retries, 5xx dead letter, a server that is down, and STARTTLS with authentication."""

from __future__ import annotations

import datetime as dt
import email
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from email import policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from config.settings import Settings, load_settings
from jobs.notify import send_pending
from models import Notification
from tests.jobs.test_eligibility_db import PARAMS
from tests.jobs.test_notify_seed import AS_OF, seed_portfolio


class Recorder:
    """Accepts messages, or answers the queued codes first (one per DATA command)."""

    def __init__(self, answers: list[str] | None = None, refuse: tuple[str, ...] = ()) -> None:
        self.answers = list(answers or [])
        self.refuse = refuse
        self.messages: list[email.message.EmailMessage] = []
        self.envelopes: list[list[str]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if address in self.refuse:
            return "550 5.1.1 no such user"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.answers:
            return self.answers.pop(0)
        parsed = email.message_from_bytes(envelope.original_content, policy=policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        self.envelopes.append(list(envelope.rcpt_tos))
        return "250 OK"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def port() -> int:
    return free_port()


@pytest.fixture
def smtp_settings(tmp_path: Path, db_url: str, port: int) -> Settings:
    return load_settings(
        workdir=tmp_path / "work",
        database={"url": db_url},
        mail={
            "transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_timeout_seconds": 5,
            "backoff_base_seconds": 0.01,
            "backoff_max_seconds": 0.05,
            "max_attempts": 4,
        },
    )


@pytest.fixture
def queued(session: Session, smtp_settings: Settings) -> None:
    from jobs.eligibility import compute, eligibility_inputs, persist
    from jobs.notify import enqueue

    seed_portfolio(session)
    persist(session, compute(eligibility_inputs(session, business_date=AS_OF), params=PARAMS, as_of=AS_OF))
    assert enqueue(session, business_date=AS_OF, run_id=1, settings=smtp_settings) == 2
    session.commit()


@pytest.fixture
def server(port: int) -> Iterator[tuple[Controller, Recorder]]:
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield controller, recorder
    controller.stop()


def statuses(factory: sessionmaker[Session]) -> dict[str, str]:
    with factory() as s:
        return dict(s.execute(select(Notification.policyholder_id, Notification.status)).tuples().all())


@pytest.mark.usefixtures("queued")
def test_messages_accepted_by_the_server_are_sent_once(
    session_factory: sessionmaker[Session], smtp_settings: Settings, server: tuple[Controller, Recorder]
) -> None:
    _, recorder = server
    summary = send_pending(session_factory, settings=smtp_settings)
    assert (summary.sent, summary.pending, summary.dead_letter) == (2, 0, 0)
    assert send_pending(session_factory, settings=smtp_settings).sent == 0
    assert len(recorder.messages) == 2
    assert sorted(recorder.envelopes) == [
        ["credit@export.example"],
        ["risk@acier.example", "cfo@acier.example"],
    ]
    ids = {m["Message-ID"] for m in recorder.messages}
    assert len(ids) == 2 and all(i.endswith("@vigie.example>") for i in ids)
    french = next(m for m in recorder.messages if "acier" in m["To"])
    plain = french.get_body(("plain",))
    assert plain is not None and "réduction de la garantie" in plain.get_content()


@pytest.mark.usefixtures("queued")
def test_4xx_answers_are_retried_with_backoff_then_sent_once(
    session_factory: sessionmaker[Session], smtp_settings: Settings, server: tuple[Controller, Recorder]
) -> None:
    _, recorder = server
    recorder.answers = ["451 4.7.1 greylisted, try later", "451 4.7.1 greylisted, try later"]
    summary = send_pending(session_factory, settings=smtp_settings)
    assert (summary.sent, summary.retried, summary.dead_letter, summary.pending) == (2, 2, 0, 0)
    assert len(recorder.messages) == 2
    assert len({m["Message-ID"] for m in recorder.messages}) == 2
    with session_factory() as s:
        attempts = sorted(s.scalars(select(Notification.attempts)))
    assert attempts == [2, 2]


@pytest.mark.usefixtures("queued")
def test_a_4xx_with_a_fixed_clock_waits_for_its_backoff(
    session_factory: sessionmaker[Session], smtp_settings: Settings, server: tuple[Controller, Recorder]
) -> None:
    _, recorder = server
    recorder.answers = ["421 4.3.2 busy"]
    now = dt.datetime(2026, 11, 10, 3, 0, tzinfo=dt.UTC)
    first = send_pending(session_factory, settings=smtp_settings, now=now)
    assert (first.sent, first.retried, first.pending) == (1, 1, 1)
    with session_factory() as s:
        retry = s.scalars(select(Notification).where(Notification.status == "retry")).one()
        assert retry.next_attempt_at is not None
    second = send_pending(session_factory, settings=smtp_settings, now=now + dt.timedelta(minutes=5))
    assert (second.sent, second.pending) == (1, 0)
    assert len(recorder.messages) == 2


@pytest.mark.usefixtures("queued")
def test_a_5xx_answer_moves_the_message_to_dead_letter(
    session_factory: sessionmaker[Session], smtp_settings: Settings, server: tuple[Controller, Recorder]
) -> None:
    _, recorder = server
    recorder.answers = ["554 5.7.1 rejected by policy"]
    summary = send_pending(session_factory, settings=smtp_settings)
    assert (summary.sent, summary.dead_letter, summary.pending) == (1, 1, 0)
    assert sorted(statuses(session_factory).values()) == ["dead_letter", "sent"]
    assert send_pending(session_factory, settings=smtp_settings).sent == 0
    assert len(recorder.messages) == 1


@pytest.mark.usefixtures("queued")
def test_too_many_4xx_answers_end_in_dead_letter(
    session_factory: sessionmaker[Session], smtp_settings: Settings, server: tuple[Controller, Recorder]
) -> None:
    _, recorder = server
    recorder.answers = ["450 mailbox busy"] * 20
    summary = send_pending(session_factory, settings=smtp_settings)
    assert summary.dead_letter == 2 and summary.sent == 0
    with session_factory() as s:
        assert sorted(s.scalars(select(Notification.attempts))) == [4, 4]


@pytest.mark.usefixtures("queued")
def test_a_server_that_is_down_leaves_messages_queued_then_sends_them_once(
    session_factory: sessionmaker[Session], smtp_settings: Settings, port: int
) -> None:
    down = send_pending(session_factory, settings=smtp_settings)
    assert (down.sent, down.pending, down.dead_letter) == (0, 2, 0)
    assert down.unavailable is not None and "unreachable" in down.unavailable
    assert set(statuses(session_factory).values()) == {"pending"}
    recorder = Recorder()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        up = send_pending(session_factory, settings=smtp_settings)
        again = send_pending(session_factory, settings=smtp_settings)
    finally:
        controller.stop()
    assert (up.sent, up.pending) == (2, 0)
    assert again.sent == 0
    assert len(recorder.messages) == 2


@pytest.mark.usefixtures("queued")
def test_a_message_in_doubt_is_never_resent_over_smtp(
    session_factory: sessionmaker[Session], smtp_settings: Settings, server: tuple[Controller, Recorder]
) -> None:
    from sqlalchemy import update

    _, recorder = server
    with session_factory() as s:
        s.execute(update(Notification).where(Notification.policyholder_id == "PH1").values(status="sending"))
        s.commit()
    summary = send_pending(session_factory, settings=smtp_settings)
    assert (summary.sent, summary.in_doubt) == (1, 1)
    assert statuses(session_factory)["PH1"] == "sending"
    assert len(recorder.messages) == 1


def self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = folder / "cert.pem", folder / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_file, key_file


def test_starttls_and_login_against_a_server_that_requires_both(
    tmp_path: Path, sqlite_settings: Settings, port: int
) -> None:
    from jobs.eligibility import compute, eligibility_inputs, persist
    from jobs.notify import enqueue
    from models.base import Base
    from models.db import make_engine, session_factory

    settings = load_settings(
        workdir=sqlite_settings.workdir,
        mail={
            "transport": "smtp",
            "smtp_host": "127.0.0.1",
            "smtp_port": port,
            "smtp_starttls": True,
            "smtp_username": "vigie",
            "smtp_password": "s3cret",
            "smtp_timeout_seconds": 5,
        },
    )
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = session_factory(engine)
    with factory() as s:
        seed_portfolio(s)
        persist(s, compute(eligibility_inputs(s, business_date=AS_OF), params=PARAMS, as_of=AS_OF))
        enqueue(s, business_date=AS_OF, run_id=None, settings=settings)
        s.commit()

    cert_file, key_file = self_signed(tmp_path)
    server_tls = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_tls.load_cert_chain(cert_file, key_file)
    logins: list[tuple[bytes, bytes]] = []

    def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"vigie", b"s3cret")
        logins.append((data.login, data.password))
        return AuthResult(success=ok)

    recorder = Recorder()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_tls,
        require_starttls=True,
        authenticator=authenticator,
        auth_require_tls=True,
    )
    controller.start()
    try:
        client_tls = ssl.create_default_context(cafile=str(cert_file))
        untrusted = send_pending(factory, settings=settings)  # system CAs do not know this certificate
        summary = send_pending(factory, settings=settings, tls_context=client_tls)
    finally:
        controller.stop()
    assert (untrusted.sent, untrusted.pending) == (0, 2)
    assert untrusted.unavailable is not None and "certificate verify failed" in untrusted.unavailable
    assert summary.sent == 2
    assert logins[-1] == (b"vigie", b"s3cret")
    assert len(recorder.messages) == 2
    engine.dispose()


class Stalling(Recorder):
    """Accepts the first message, then stalls on the next DATA (the sender gets killed there)."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        import asyncio

        if self.messages:
            await asyncio.sleep(3)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.slow
def test_a_sender_killed_mid_send_never_sends_a_message_twice(
    tmp_path: Path, sqlite_settings: Settings, port: int
) -> None:
    import os
    import signal
    import subprocess
    import sys
    import time

    from jobs.eligibility import compute, eligibility_inputs, persist
    from jobs.notify import enqueue
    from models.base import Base
    from models.db import make_engine, session_factory

    mail = {"transport": "smtp", "smtp_host": "127.0.0.1", "smtp_port": port, "smtp_timeout_seconds": 10}
    settings = load_settings(workdir=sqlite_settings.workdir, mail=mail)
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = session_factory(engine)
    with factory() as s:
        seed_portfolio(s)
        persist(s, compute(eligibility_inputs(s, business_date=AS_OF), params=PARAMS, as_of=AS_OF))
        enqueue(s, business_date=AS_OF, run_id=None, settings=settings)
        s.commit()
    recorder = Stalling()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    script = (
        "import sys; from config.settings import load_settings; from jobs.notify import send_pending;"
        "from models.db import make_engine, session_factory;"
        f"s = load_settings(workdir={str(settings.workdir)!r}, mail={mail!r});"
        "send_pending(session_factory(make_engine(s.database_url)), settings=s)"
    )
    try:
        child = subprocess.Popen([sys.executable, "-c", script], cwd=Path(__file__).resolve().parents[2])
        deadline = time.monotonic() + 20
        while not recorder.messages and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)  # the second message is now waiting for the server's answer
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        after = send_pending(factory, settings=settings)
        time.sleep(3.5)  # let the stalled handler finish: the server may still accept that message
    finally:
        controller.stop()
    assert statuses(factory) == {"PH1": "sent", "PH2": "sending"}
    assert (after.sent, after.in_doubt) == (0, 1)  # in doubt: reported, never sent again
    assert len(recorder.messages) <= 2
    assert len({m["Message-ID"] for m in recorder.messages}) == len(recorder.messages)
    engine.dispose()


@pytest.mark.usefixtures("queued")
def test_a_partly_refused_recipient_list_counts_as_sent_and_names_the_refused(
    session_factory: sessionmaker[Session], smtp_settings: Settings, server: tuple[Controller, Recorder]
) -> None:
    _, recorder = server
    recorder.refuse = ("cfo@acier.example",)
    summary = send_pending(session_factory, settings=smtp_settings)
    assert summary.sent == 2
    with session_factory() as s:
        row = s.scalars(select(Notification).where(Notification.policyholder_id == "PH1")).one()
    assert row.status == "sent"
    assert row.last_error is not None and "cfo@acier.example 550" in row.last_error
    assert ["risk@acier.example"] in recorder.envelopes
