"""The fast paths of the e-mail builder write exactly what the standard library writes."""

from __future__ import annotations

import email
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

from jobs.notify.compose import POLICY, as_bytes, build_message, fit_recipients, message_id_for
from jobs.notify.transports import FileTransport, Unavailable

RECIPIENT_LISTS = [
    ["a@x.example"],
    ["risk.desk@x.example", "cfo+notices@y.example"],
    [f"person{i}@example{i}.com" for i in range(9)],  # longer than a line: folded by the stdlib
    ["a..b@x.example"],  # not a dot-atom: parsed by the stdlib
]


def stdlib_message(built: EmailMessage) -> EmailMessage:
    """The same headers and parts, set through ``email.policy.default`` alone."""
    reference = EmailMessage(policy=policy.default)
    for name in built:
        reference[name] = str(built[name])
    reference.set_payload(built.get_payload())
    return reference


@pytest.mark.parametrize("recipients", RECIPIENT_LISTS)
@pytest.mark.parametrize("message_id", ["", "<odd id@vigie.example>", "<" + "x" * 90 + "@vigie.example>"])
def test_a_message_is_the_stdlib_message_byte_for_byte(recipients: list[str], message_id: str) -> None:
    built = build_message(
        sender="Vigie <arbitrage@vigie.example>",
        reply_to="arbitrage@vigie.example",
        recipients=recipients,
        subject="Vigie - modifications de vos garanties au 10/11/2026",
        text="Réduction\r\nde la garantie\rà 0,00 EUR\n" * 40,
        html="<p>Acheteur &amp; fils</p>\n" * 40,
        message_id=message_id or message_id_for("Vigie <arbitrage@vigie.example>"),
    )
    raw = as_bytes(built)
    assert raw == built.as_bytes()
    assert raw == stdlib_message(built).as_bytes()
    assert [a.addr_spec for a in built["To"].addresses] == [
        a.addr_spec for a in stdlib_message(built)["To"].addresses
    ]
    parsed = email.message_from_bytes(raw, policy=policy.default)
    assert parsed["Message-ID"] == str(built["Message-ID"])
    plain = parsed.get_body(("plain",))
    assert plain is not None and "à 0,00 EUR" in plain.get_content()


def test_the_fast_headers_still_refuse_a_line_break_and_a_second_copy() -> None:
    msg = EmailMessage(policy=POLICY)
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        msg["To"] = "a@x.example\r\nBcc: victim@attacker.example"
    with pytest.raises(ValueError, match="linefeed or carriage return"):
        msg["Message-ID"] = "<1@x.example>\nBcc: victim@attacker.example"
    msg["To"] = "a@x.example"
    with pytest.raises(ValueError, match="at most 1 To"):
        msg["To"] = "b@x.example"
    assert b"Bcc" not in as_bytes(msg)


def test_the_file_channel_writes_the_whole_message_or_says_it_cannot(tmp_path: Path) -> None:
    message = build_message(
        sender="Vigie <arbitrage@vigie.example>",
        reply_to="arbitrage@vigie.example",
        recipients=["a@x.example"],
        subject="s",
        text="t" * 10_000,
        html="<p>t</p>",
        message_id=message_id_for("arbitrage@vigie.example"),
    )
    transport = FileTransport(tmp_path / "outbox")
    with transport.open() as channel:
        assert channel.send("20261110-PH1", message, ["a@x.example"]) is None
        assert transport.already_delivered("20261110-PH1")
        assert (tmp_path / "outbox" / "20261110-PH1.eml").read_bytes() == message.as_bytes()
        assert [p.name for p in (tmp_path / "outbox").iterdir()] == ["20261110-PH1.eml"]  # no temporary left
        (tmp_path / "outbox" / "20261110-PH1.eml").unlink()
        (tmp_path / "outbox").rmdir()
        with pytest.raises(Unavailable, match="cannot write"):
            channel.send("20261110-PH2", message, ["a@x.example"])
    assert not transport.already_delivered("20261110-PH2")


def test_a_long_address_list_is_stored_with_whole_addresses_only() -> None:
    addresses = [f"user{i:03d}@example.com" for i in range(40)]  # 19 characters each
    stored, left_out = fit_recipients(addresses, 500)
    assert len(stored) <= 500
    assert stored.split(", ") == addresses[: len(stored.split(", "))]  # no address cut in half
    assert left_out == addresses[len(stored.split(", ")) :] and left_out
    assert fit_recipients(addresses[:3], 500) == (", ".join(addresses[:3]), [])
    assert fit_recipients([], 500) == ("", [])
