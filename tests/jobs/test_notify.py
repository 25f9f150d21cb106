"""The outbox: one e-mail per policyholder, fr/en wording, safe headers, file transport."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email import policy
from pathlib import Path

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from config.settings import CONFIG_DIR, Settings
from jobs.eligibility import compute, eligibility_inputs, load_scheme_params, persist
from jobs.notify import enqueue, outbox, send_pending
from jobs.notify.compose import build_message, parse_recipients
from jobs.notify.wording import DECISION_WORDS, REASON_WORDS, money
from models import Decision, Notification, NotificationBody
from models.codes import ReasonCode, ResponseType
from tests.jobs.test_notify_seed import AS_OF, seed_portfolio

PARAMS = load_scheme_params(CONFIG_DIR / "schemes.yaml")


def queue(session: Session, settings: Settings, **seed: str) -> int:
    seed_portfolio(session, **seed)
    persist(session, compute(eligibility_inputs(session, business_date=AS_OF), params=PARAMS, as_of=AS_OF))
    queued = enqueue(session, business_date=AS_OF, run_id=7, settings=settings)
    session.commit()
    return queued


def notification_of(session: Session, policyholder: str) -> Notification:
    return session.scalars(select(Notification).where(Notification.policyholder_id == policyholder)).one()


def test_one_email_per_policyholder_and_decisions_marked_in_the_same_transaction(
    session: Session, settings: Settings
) -> None:
    assert queue(session, settings) == 2
    notified = dict(session.execute(select(Decision.decision_id, Decision.notified)).tuples().all())
    assert notified == {1: True, 2: True, 3: True, 4: True, 5: False}  # 5 is still referred
    assert enqueue(session, business_date=AS_OF, run_id=7, settings=settings) == 0


def test_notifications_written_in_batches_are_each_queued_once_with_their_decisions(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Written one policyholder at a time (a batch of one): the same rows as in one batch."""
    monkeypatch.setattr(outbox, "WRITE_BATCH", 1)
    assert queue(session, settings) == 2
    keys = session.scalars(select(Notification.outbox_key).order_by(Notification.outbox_key)).all()
    assert keys == ["20261110-PH1", "20261110-PH2"]
    notified = dict(session.execute(select(Decision.decision_id, Decision.notified)).tuples().all())
    assert notified == {1: True, 2: True, 3: True, 4: True, 5: False}


def test_a_decision_taken_by_an_arbiter_later_goes_with_the_next_night(
    session: Session, settings: Settings
) -> None:
    queue(session, settings)
    session.execute(update(Decision).where(Decision.decision_id == 5).values(status="approved"))
    # same night again: the key of PH1 is used, nothing is queued twice
    assert enqueue(session, business_date=AS_OF, run_id=7, settings=settings) == 0
    next_night = AS_OF.replace(day=11)
    assert enqueue(session, business_date=next_night, run_id=8, settings=settings) == 1
    session.commit()
    later = session.scalars(select(Notification).where(Notification.business_date == next_night)).one()
    assert later.outbox_key == "20261111-PH1"
    assert "Steel Inc" in later.body.body_text and "Boulangerie" not in later.body.body_text


def test_french_text_lists_every_modification_with_its_words(session: Session, settings: Settings) -> None:
    queue(session, settings)
    fr = notification_of(session, "PH1")
    assert fr.language == "fr" and fr.outbox_key == "20261110-PH1"
    text = fr.body.body_text
    assert "Boulangerie Martin - SIREN 732829320" in text
    assert DECISION_WORDS["fr"][ResponseType.REDUCTION] in text
    assert REASON_WORDS["fr"][ReasonCode.ADVERSE_INFORMATION] in text
    assert "100 000,00 EUR -> 40 000,00 EUR" in text
    assert "au plus tard le 25/11/2026" in text  # OAL: notified on the 10th, declare by the 25th
    assert "complément jusqu'à 40 000,00 EUR" in text  # CAP: at most the amount kept
    assert "Faillite SARL" in text and text.count("au plus tard") == 1  # insolvent buyer: no OAL
    assert "Demander un réexamen" in text
    assert "<td>Boulangerie Martin</td>" in fr.body.body_html
    assert fr.recipients == "risk@acier.example, cfo@acier.example"


def test_english_when_the_policyholder_language_says_so(session: Session, settings: Settings) -> None:
    queue(session, settings)
    en = notification_of(session, "PH2")
    assert en.language == "en"
    assert en.subject == "Vigie - changes to your credit limits on 10 Nov 2026"
    assert DECISION_WORDS["en"][ResponseType.CANCELLATION] in en.body.body_text
    assert "EUR 80,000.00 -> EUR 0.00" in en.body.body_text
    assert "To ask for a review" in en.body.body_text
    assert "SIREN -" in en.body.body_text  # a foreign buyer has no SIREN


def test_file_transport_writes_one_eml_per_outbox_key_and_never_twice(
    session_factory: sessionmaker[Session], session: Session, settings: Settings
) -> None:
    queue(session, settings)
    summary = send_pending(session_factory, settings=settings)
    assert (summary.sent, summary.pending, summary.dead_letter) == (2, 0, 0)
    files = sorted(p.name for p in settings.outbox_dir.glob("*.eml"))
    assert files == ["20261110-PH1.eml", "20261110-PH2.eml"]
    before = (settings.outbox_dir / files[0]).read_bytes()
    assert send_pending(session_factory, settings=settings).sent == 0
    assert (settings.outbox_dir / files[0]).read_bytes() == before
    parsed = email.message_from_bytes(before, policy=policy.default)
    assert parsed["Message-ID"].startswith("<") and parsed["Message-ID"].endswith("@vigie.example>")
    assert parsed.get_body(("plain",)) is not None and parsed.get_body(("html",)) is not None


def test_a_message_in_doubt_is_resolved_by_the_file_it_left(
    session_factory: sessionmaker[Session], session: Session, settings: Settings
) -> None:
    queue(session, settings)
    session.execute(update(Notification).values(status="sending", attempts=1))
    session.commit()
    settings.outbox_dir.mkdir(parents=True)
    (settings.outbox_dir / "20261110-PH1.eml").write_bytes(b"written before the crash")
    summary = send_pending(session_factory, settings=settings)
    assert summary.sent == 1  # PH2 had no file: it was never written, so it is sent now
    assert (settings.outbox_dir / "20261110-PH1.eml").read_bytes() == b"written before the crash"
    session.expire_all()
    assert {n.status for n in session.scalars(select(Notification))} == {"sent"}


def test_a_notification_whose_body_is_missing_goes_to_dead_letter_and_the_others_are_sent(
    session_factory: sessionmaker[Session], session: Session, settings: Settings
) -> None:
    """The bodies live in their own table: a row without one (a damaged database) is not sent
    empty, it is set aside with the reason, and the rest of the queue goes out."""
    queue(session, settings)
    session.execute(delete(NotificationBody).where(NotificationBody.outbox_key == "20261110-PH1"))
    session.commit()
    summary = send_pending(session_factory, settings=settings)
    assert (summary.sent, summary.dead_letter) == (1, 1)
    session.expire_all()
    lost = notification_of(session, "PH1")
    assert (lost.status, lost.last_error) == ("dead_letter", "no body stored for this notification")
    assert sorted(p.name for p in settings.outbox_dir.glob("*.eml")) == ["20261110-PH2.eml"]


def test_a_buyer_name_with_crlf_cannot_add_a_header(
    session_factory: sessionmaker[Session], session: Session, settings: Settings
) -> None:
    queue(session, settings, buyer_name="Evil\r\nBcc: victim@attacker.example\r\n\r\nhello")
    send_pending(session_factory, settings=settings)
    raw = (settings.outbox_dir / "20261110-PH1.eml").read_bytes()
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Bcc"] is None
    headers = raw.split(b"\n\n", 1)[0]
    assert b"Bcc" not in headers
    assert b"\nBcc:" not in raw  # the name is folded to one line in the body too
    plain = parsed.get_body(("plain",))
    assert plain is not None and "Evil Bcc: victim@attacker.example hello" in plain.get_content()
    assert sorted(parsed.keys()) == sorted(
        ["From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"]
    )


def test_recipients_from_the_feed_are_parsed_one_by_one() -> None:
    raw = "a@x.example; b@y.example,\r\nBcc: evil@z.example, not an address, A@x.example, c@nodomain"
    assert parse_recipients(raw) == ["a@x.example", "b@y.example"]


def test_build_message_folds_a_header_value_to_one_line() -> None:
    msg = build_message(
        sender="Vigie <arbitrage@vigie.example>",
        reply_to="arbitrage@vigie.example",
        recipients=["a@x.example"],
        subject="hello\r\nBcc: evil@z.example",
        text="t",
        html="<p>t</p>",
        message_id="<1@vigie.example>",
        outbox_key="k",
    )
    assert msg["Bcc"] is None
    assert "\n" not in str(msg["Subject"])


def test_a_policyholder_without_a_valid_address_goes_to_dead_letter(
    session: Session, settings: Settings
) -> None:
    seed_portfolio(session)
    from models import Policyholder

    holder = session.get(Policyholder, "PH2")
    assert holder is not None
    holder.emails = "nobody"
    session.flush()
    enqueue(session, business_date=AS_OF, run_id=None, settings=settings)
    row = notification_of(session, "PH2")
    assert row.status == "dead_letter" and row.last_error is not None


def test_addresses_left_out_of_the_recipients_column_stay_named_after_sending(
    session_factory: sessionmaker[Session], session: Session, settings: Settings
) -> None:
    from models import Policyholder

    seed_portfolio(session)
    holder = session.get(Policyholder, "PH2")
    assert holder is not None
    # 20 addresses of 24 characters fit the 500-character source column with ";" between
    # them, not once written back joined by ", ": the last one is left out
    holder.emails = ";".join(f"acct.dept{i:03d}@example.com" for i in range(20))
    session.flush()
    enqueue(session, business_date=AS_OF, run_id=None, settings=settings)
    session.commit()
    assert send_pending(session_factory, settings=settings).sent == 2
    session.expire_all()
    row = notification_of(session, "PH2")
    assert row.status == "sent" and row.last_error is not None
    assert "acct.dept019@example.com" in row.last_error and "not written to" in row.last_error
    assert "acct.dept019@example.com" not in row.recipients


@pytest.mark.parametrize(
    ("cents", "fr", "en"), [(0, "0,00 EUR", "EUR 0.00"), (123456789, "1 234 567,89 EUR", "EUR 1,234,567.89")]
)
def test_money_is_formatted_from_integer_cents(cents: int, fr: str, en: str) -> None:
    assert money(cents, "fr") == fr
    assert money(cents, "en") == en


def test_every_code_has_words_in_both_languages() -> None:
    for language in ("fr", "en"):
        assert set(DECISION_WORDS[language]) == {int(c) for c in ResponseType}
        assert set(REASON_WORDS[language]) == {int(c) for c in ReasonCode}


def test_templates_exist_for_both_languages() -> None:
    folder = Path(__file__).resolve().parents[2] / "jobs" / "templates"
    for language in ("fr", "en"):
        assert (folder / f"notification_{language}.txt.j2").is_file()
        assert (folder / f"notification_{language}.html.j2").is_file()


def test_vigie_notify_sends_the_queue_and_retry_makes_backoff_rows_due(
    tmp_path: Path, sqlite_settings: Settings
) -> None:
    from alembic import command
    from typer.testing import CliRunner

    from config.settings import load_settings
    from jobs.cli import app
    from jobs.cli_support import STATE
    from models.base import Base
    from models.db import alembic_config, make_engine, session_factory

    settings = load_settings(workdir=tmp_path / "cli")
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    with engine.begin() as connection:  # tables from the models, marked migrated
        cfg = alembic_config(settings.database_url)
        cfg.attributes["connection"] = connection
        command.stamp(cfg, "head")
    with session_factory(engine)() as s:
        queue(s, settings)
        s.execute(
            update(Notification)
            .where(Notification.policyholder_id == "PH2")
            .values(status="retry", attempts=1, next_attempt_at=datetime(2099, 1, 1, tzinfo=UTC))
        )
        s.commit()
    STATE.use_settings(settings)
    try:
        first = CliRunner().invoke(app, ["notify"])
        second = CliRunner().invoke(app, ["notify", "--retry"])
    finally:
        STATE.use_settings(sqlite_settings)
    assert first.exit_code == 1, first.output  # PH2 still waits for its backoff
    assert "sent 1" in first.output and "still queued 1" in first.output
    assert second.exit_code == 0, second.output
    assert "sent 1" in second.output
    assert sorted(p.name for p in settings.outbox_dir.glob("*.eml")) == [
        "20261110-PH1.eml",
        "20261110-PH2.eml",
    ]
    engine.dispose()
