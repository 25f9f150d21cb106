"""Render a policyholder's notification (Jinja2, fr/en, text + HTML) and build the e-mail.

Why ``EmailMessage`` with the default policy (:data:`POLICY` is ``email.policy.default`` plus
output-neutral caches, for the 2,000 e-mails/s target): it refuses a header value carrying CR
or LF, so no feed value (a buyer name, an address list) can add a header. Feed values only ever
reach the body anyway: the subject is fixed text plus the date, and recipients are parsed and
validated one by one (:func:`parse_recipients`). The HTML template is auto-escaped.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import date
from email.headerregistry import HeaderRegistry
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid, parseaddr
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape

from jobs.notify.wording import LANGUAGES, day

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"
SUBJECTS = {
    "fr": "Vigie - modifications de vos garanties au {date}",
    "en": "Vigie - changes to your credit limits on {date}",
}
_ADDRESS = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+$")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


@cache
def environment() -> Environment:
    """One Jinja environment: HTML templates auto-escaped, undefined names an error."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )


def language_of(value: object) -> str:
    """French by default; English only when the policyholder's language says so."""
    text = str(value or "").strip().lower()
    return "en" if text.startswith("en") else "fr"


def render(*, language: str, business_date: date, items: list[dict[str, Any]], reply_to: str) -> Rendered:
    """The subject, plain-text and HTML bodies of one notification. ``items`` are already
    worded (see :func:`jobs.notify.outbox.word_items`)."""
    if language not in LANGUAGES:
        raise ValueError(f"expected a language in {LANGUAGES}, found {language!r}")
    env = environment()
    subject = SUBJECTS[language].format(date=day(business_date, language))
    context = {
        "business_date": day(business_date, language),
        "items": items,
        "reply_to": reply_to,
        "subject": subject,
    }
    text = env.get_template(f"notification_{language}.txt.j2").render(context)
    html = env.get_template(f"notification_{language}.html.j2").render(context)
    return Rendered(subject=subject, text=text, html=html)


def parse_recipients(raw: object) -> list[str]:
    """Addresses from a ``;``- or ``,``-separated feed value; anything that is not one plain
    address (spaces, CR/LF, display names, missing domain) is dropped, never passed on."""
    out: list[str] = []
    for part in re.split(r"[;,]", str(raw or "")):
        candidate = part.strip()
        if candidate and _ADDRESS.fullmatch(candidate) and candidate.lower() not in (o.lower() for o in out):
            out.append(candidate)
    return out


def message_id_for(sender: str) -> str:
    """A globally unique Message-ID in the sender's domain, made once at enqueue time and
    stored, so a message re-sent after a crash carries the same id (receivers can dedupe)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "vigie.invalid"
    return make_msgid(domain=domain)


def _one_line(value: str) -> str:
    return " ".join(str(value).split())


class _CachingRegistry(HeaderRegistry):
    """The default header registry, except that it makes each header class once (the stdlib
    builds a new class on every lookup, a third of the cost of a message)."""

    def __init__(self) -> None:
        super().__init__()
        self._classes: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        key = name.lower()
        found = self._classes.get(key)
        if found is None:
            found = self._classes[key] = super().__getitem__(name)
        return found


_SHARED_HEADERS = frozenset(
    {"from", "reply-to", "subject", "date", "mime-version", "content-type", "content-transfer-encoding"}
)


class OutboxPolicy(EmailPolicy):
    """``email.policy.default`` (same settings, same CR/LF refusal in ``header_store_parse``),
    with caches that do not change a byte of output: header classes are made once, and the
    headers every message shares (sender, subject of the night, MIME structure) fold once."""

    def fold_binary(self, name: str, value: Any) -> bytes:
        if name.lower() not in _SHARED_HEADERS:
            return super().fold_binary(name, value)
        # the generator clones the policy per part, so key on the settings that shape the output
        key = (self.linesep, self.max_line_length, self.utf8, self.cte_type, name, str(value))
        folded = _FOLDED.get(key)
        if folded is None:
            folded = super().fold_binary(name, value)
            if len(_FOLDED) >= 4096:
                _FOLDED.clear()  # bounded: a long-running scheduler sees a new Date every second
            _FOLDED[key] = folded
        return folded


_FOLDED: dict[tuple[Any, ...], bytes] = {}


POLICY = OutboxPolicy(header_factory=_CachingRegistry())
BOUNDARY = "=-vigie-alternative-=_"
"""Fixed multipart boundary: both parts are base64, whose alphabet has no ``-``, so no body can
ever contain it (a feed value cannot close a part early)."""


@lru_cache(maxsize=4096)
def _header(name: str, value: str) -> Any:
    """A parsed (validated) header object, shared between messages for constant values."""
    return POLICY.header_factory(name, _one_line(value))


def _part(content_type: str, body: str) -> EmailMessage:
    part = EmailMessage(policy=POLICY)
    part["Content-Type"] = _header("Content-Type", content_type)
    part["Content-Transfer-Encoding"] = _header("Content-Transfer-Encoding", "base64")
    part.set_payload(base64.encodebytes(body.encode("utf-8")).decode("ascii"))
    return part


def build_message(
    *,
    sender: str,
    reply_to: str,
    recipients: list[str],
    subject: str,
    text: str,
    html: str,
    message_id: str,
    outbox_key: str = "",
) -> EmailMessage:
    """The multipart/alternative e-mail (text, then HTML), UTF-8 in base64. ``outbox_key`` is
    not a header (the Message-ID, stored with the row, traces a message); it is kept in the
    signature for callers that log it.

    Every header goes through the policy's ``header_store_parse``, which raises on CR/LF; the
    values are also folded to one line first, so a stray line break in a setting is harmless."""
    msg = EmailMessage(policy=POLICY)
    msg["From"] = _header("From", sender)
    msg["To"] = ", ".join(_one_line(r) for r in recipients)
    msg["Reply-To"] = _header("Reply-To", reply_to)
    msg["Subject"] = _header("Subject", subject)
    msg["Date"] = _header("Date", formatdate(usegmt=True))  # shared by the messages of one second
    msg["Message-ID"] = _one_line(message_id)
    msg["MIME-Version"] = _header("MIME-Version", "1.0")
    msg["Content-Type"] = _header("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"')
    msg.set_payload([_part('text/plain; charset="utf-8"', text), _part('text/html; charset="utf-8"', html)])
    return msg
