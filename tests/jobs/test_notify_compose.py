"""The fast paths of the e-mail builder write exactly what the standard library writes, and
the HTML rendered from an escaped view exactly what Jinja's auto-escaping writes."""

from __future__ import annotations

import base64
import email
from datetime import date
from email import policy
from email.message import EmailMessage
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from markupsafe import Markup

from jobs.notify.compose import (
    POLICY,
    as_bytes,
    base64_lines,
    build_message,
    environment,
    fit_recipients,
    message_id_for,
    render,
)
from jobs.notify.transports import FileTransport, Unavailable
from jobs.notify.worded import each_distinct, items_of, runs, word_frame
from jobs.notify.wording import day

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


HOSTILE = '<b onclick="x()">Dupont & fils</b> l\'aîné'


def _hostile_frame() -> pd.DataFrame:
    """Two decisions whose every feed text is markup; the second without name or SIREN."""
    return pd.DataFrame(
        {
            "decision_id": [7, 8],
            "buyer_id": ["B<1>", "B&2"],
            "buyer_name": [HOSTILE, None],
            "siren": ["<123>", None],
            "decision_type": [9, 8],
            "reason_code": [1, 15],
            "reason_rule": [None, None],
            "previous_cents": [100_000_00, 50_000_00],
            "proposed_cents": [40_000_00, 0],
            "final_cents": [None, None],
            "effective_date": [date(2026, 11, 10), date(2026, 12, 10)],
        }
    )


@pytest.mark.parametrize("language", ["fr", "en"])
def test_the_escaped_html_view_renders_what_auto_escaping_renders(language: str) -> None:
    """The HTML template writes its pre-escaped view as it is: byte for byte what Jinja's
    auto-escaping writes from the plain view, whether the items were escaped by whole columns
    (the outbox) or here; no markup from a feed value survives."""
    offers = pd.DataFrame(
        {
            "decision_id": [7, 7],
            "scheme": ["OAL", "CAP"],
            "amount_cents": [None, 40_000_00],
            "deadline": [date(2026, 11, 25), None],
        }
    )
    english = np.full(2, language == "en")
    text, html = word_frame(_hostile_frame(), offers, english=english)
    items = items_of(text, 0, 2)
    assert items[0]["oal_deadline"] and items[0]["schemes"] and not items[1]["schemes"]
    business_date, reply_to = date(2026, 11, 10), "review<desk>@vigie.example"
    by_columns = render(
        language=language,
        business_date=business_date,
        items=items,
        reply_to=reply_to,
        html_items=items_of(html, 0, 2),
    )
    here = render(language=language, business_date=business_date, items=items, reply_to=reply_to)
    reference = (
        environment()
        .get_template(f"notification_{language}.html.j2")
        .render(
            business_date=day(business_date, language),
            items=items,
            reply_to=reply_to,
            subject=by_columns.subject,
        )
    )
    assert by_columns.html == here.html == reference
    assert HOSTILE not in reference and "<b onclick" not in reference and "<123>" not in reference
    assert "&lt;b onclick=&#34;x()&#34;&gt;Dupont &amp; fils&lt;/b&gt; l&#39;aîné" in reference
    assert HOSTILE in by_columns.text and "B&2" in by_columns.text  # the text is not escaped


@pytest.mark.parametrize("size", [0, 1, 2, 3, 56, 57, 58, 114, 1_000, 33_333])
def test_base64_lines_are_the_stdlib_encoding(size: int) -> None:
    data = bytes(np.random.default_rng(size).integers(0, 256, size, dtype=np.uint8))
    assert base64_lines(data) == base64.encodebytes(data).decode("ascii")


def test_any_view_renders_as_auto_escaping_renders_it() -> None:
    """``render`` escapes a caller's own view the way Jinja does: markup-safe text kept, text
    inside tuples escaped, numbers written as they are."""
    item = {
        "reference": 12,
        "buyer_name": Markup("<i>déjà sûr</i>"),
        "siren": "<123>",
        "decision": "a & b",
        "reason": "'quoted'",
        "previous": "1 000,00 EUR",
        "new": "0,00 EUR",
        "effective_date": "10/11/2026",
        "oal_deadline": None,
        "schemes": ({"label": "<CAP>", "amount": "x & y"},),  # a tuple, iterated by the template
    }
    rendered = render(language="fr", business_date=date(2026, 11, 10), items=[item], reply_to="r@x.example")
    reference = (
        environment()
        .get_template("notification_fr.html.j2")
        .render(business_date="10/11/2026", items=[item], reply_to="r@x.example", subject=rendered.subject)
    )
    assert rendered.html == reference
    assert "<i>déjà sûr</i>" in reference and "&lt;CAP&gt;" in reference and "&lt;123&gt;" in reference


def test_runs_are_the_bounds_of_equal_consecutive_values() -> None:
    holders = np.array(["PH1", "PH1", "PH2", "PH3", "PH3", "PH3"], dtype=object)
    assert runs(holders) == [(0, 2), (2, 3), (3, 6)]
    assert runs(np.array([], dtype=object)) == []


@pytest.mark.parametrize(
    "values",
    [
        pd.Series([7, 3, 7, 7, 3], dtype="int64"),
        np.array([7.0, np.nan, 3.5, 7.0, np.nan]),
        pd.Series(["b", None, "a", "b", None], dtype=object),
        pd.Series(["b", None, "a", "b", None], dtype="string[pyarrow]"),
        pd.Series([7, None, 3, 7, None], dtype="Int64"),
    ],
    ids=["integers", "floats", "objects", "arrow-text", "nullable-integers"],
)
def test_each_distinct_words_each_distinct_value_once_as_a_python_value(values: object) -> None:
    calls: list[object] = []

    def word(value: object) -> str:
        calls.append(value)
        return f"<{value!r}>"

    worded = each_distinct(values, word)  # type: ignore[arg-type]
    expected = [None if pd.isna(v) else v for v in pd.Series(values, dtype=object)]
    assert worded.tolist() == [f"<{v!r}>" for v in expected]
    assert len(calls) == len(set(calls)) == len(set(expected))  # once each, missing once (as None)
    expected_types = {type(v) for v in expected if v is not None}
    assert all(v is None or type(v) in expected_types for v in calls)  # ints stay ints
