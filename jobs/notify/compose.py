"""Render a policyholder's notification (Jinja2, fr/en, text + HTML) and build the e-mail.

Why ``EmailMessage`` with the default policy (:data:`POLICY` is ``email.policy.default`` plus
output-neutral caches, for the 2,000 e-mails/s target): it refuses a header value carrying CR
or LF, so no feed value (a buyer name, an address list) can add a header. Feed values only ever
reach the body anyway: the subject is fixed text plus the date, and recipients are parsed and
validated one by one (:func:`parse_recipients`). The HTML template is auto-escaped.

Speed (2,000 e-mails/s to files), every shortcut giving the stdlib's bytes exactly (tested):
templates compiled once and read by subscript (``item["x"]``: Jinja's attribute lookup on a
dict costs an exception per field); the ``To`` and ``Message-ID`` headers skip the stdlib's
slow RFC 5322 parser when they hold plain dot-atom addresses (:class:`_LazyTree`); shared
headers fold once; bodies are written in one piece (:func:`as_bytes`).
"""

from __future__ import annotations

import base64
import io
import re
from dataclasses import dataclass
from datetime import date
from email.generator import BytesGenerator
from email.headerregistry import Address, AddressHeader, Group, HeaderRegistry, MessageIDHeader
from email.message import EmailMessage
from email.policy import EmailPolicy
from email.utils import formatdate, make_msgid, parseaddr
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, cast

import numpy as np
from jinja2 import Environment, FileSystemLoader, StrictUndefined, Template, select_autoescape
from markupsafe import escape

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
    """One Jinja environment: HTML templates auto-escaped, undefined names an error. Templates
    ship with the code, so they are not checked for changes on every use (``auto_reload``)."""
    return Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html"), default_for_string=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        auto_reload=False,
    )


@cache
def _template(name: str) -> Template:
    """A compiled template, looked up once per process."""
    return environment().get_template(name)


@cache
def _escaped_view_template(name: str) -> Template:
    """An HTML template compiled to write its values as they are: for a view whose every text
    is already escaped (see :func:`render`), which gives what auto-escaping gives (tested) at a
    fraction of the cost (ten escapes per decision line were most of the rendering)."""
    return environment().overlay(autoescape=False).get_template(name)


def _escaped(value: Any) -> Any:
    """A template view with every value escaped for HTML (:func:`html_escape`), through dicts,
    lists and tuples. None and booleans stay as they are: the templates test them."""
    if isinstance(value, dict):
        return {key: _escaped(inner) for key, inner in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_escaped(inner) for inner in value)
    if value is None or isinstance(value, bool):
        return value
    return html_escape(value)


def language_of(value: object) -> str:
    """French by default; English only when the policyholder's language says so."""
    text = str(value or "").strip().lower()
    return "en" if text.startswith("en") else "fr"


def render(
    *,
    language: str,
    business_date: date,
    items: list[dict[str, Any]],
    reply_to: str,
    html_items: list[dict[str, Any]] | None = None,
) -> Rendered:
    """The subject, plain-text and HTML bodies of one notification. ``items`` are already
    worded (see :mod:`jobs.notify.worded`); ``html_items``, the same escaped for HTML, when
    the caller has them (escaped by whole columns), else they are escaped here.

    The HTML template writes its view as it is: every text of the view (the items, the date,
    the reply address, the subject) is escaped before, the result the same as auto-escaping."""
    if language not in LANGUAGES:
        raise ValueError(f"expected a language in {LANGUAGES}, found {language!r}")
    subject = SUBJECTS[language].format(date=day(business_date, language))
    context = {
        "business_date": day(business_date, language),
        "items": items,
        "reply_to": reply_to,
        "subject": subject,
    }
    text = _template(f"notification_{language}.txt.j2").render(context)
    view = _escaped({**context, "items": []})
    view["items"] = _escaped(items) if html_items is None else html_items
    html = _escaped_view_template(f"notification_{language}.html.j2").render(view)
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


def fit_recipients(addresses: list[str], limit: int) -> tuple[str, list[str]]:
    """The addresses joined by ", " as far as whole ones fit in ``limit`` characters, and those
    left out. Why: cutting the joined text would leave half an address (``x@example.c``) that
    still looks valid and would be written to."""
    kept: list[str] = []
    for address in addresses:
        if len(", ".join([*kept, address])) > limit:
            break
        kept.append(address)
    return ", ".join(kept), addresses[len(kept) :]


def message_id_for(sender: str) -> str:
    """A globally unique Message-ID in the sender's domain, made once at enqueue time and
    stored, so a message re-sent after a crash carries the same id (receivers can dedupe)."""
    domain = parseaddr(sender)[1].rpartition("@")[2] or "vigie.invalid"
    return make_msgid(domain=domain)


_HTML = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&#34;", "'": "&#39;"})


def html_escape(value: object) -> str:
    """``value`` as Jinja's auto-escaping writes it: text with the five characters markupsafe
    replaces replaced by the same entities (one C-level ``translate``, a million times a first
    night); anything else (``Markup``, an object with ``__html__``, a number) by markupsafe."""
    return value.translate(_HTML) if type(value) is str else str(escape(value))


def one_line(value: object) -> str:
    """Text on one line: a value carrying CR/LF can break neither a header nor a layout."""
    return " ".join(str(value).split())


_DOT_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
_PLAIN_ADDRESS = re.compile(rf"({_DOT_ATOM})@({_DOT_ATOM})")


class _LazyTree:
    """Folding for a header whose plain value skipped the stdlib parser (``_parse_tree`` is
    None): a line that fits is written as is, which is what the stdlib writes for such a value;
    a longer one is parsed on demand and folded by the stdlib."""

    _parse_tree: Any

    def fold(self, *, policy: Any) -> str:
        if self._parse_tree is None:
            line = f"{cast(Any, self).name}: {self}"
            if not policy.max_line_length or len(line) <= policy.max_line_length:
                return line + policy.linesep
            self._parse_tree = cast(Any, self).value_parser(str(self))
        return cast(str, super().fold(policy=policy))  # type: ignore[misc]


class _PlainAddressHeader(_LazyTree, AddressHeader):
    """An address header that skips the stdlib's slow RFC 5322 parser (most of a message's
    cost) when every address is a plain ASCII ``local@domain`` dot-atom, which is all
    :func:`parse_recipients` lets through. Anything else takes the stdlib path unchanged. CR/LF
    are refused before this runs (``header_store_parse``) and cannot match the pattern anyway.
    Such a list renders as ``a@x, b@y`` either way, so the bytes are the stdlib's."""

    max_count = 1  # as the stdlib's ``To``: a second one is refused

    @classmethod
    def parse(cls, value: Any, kwds: dict[str, Any]) -> None:
        if isinstance(value, str):
            matches = [_PLAIN_ADDRESS.fullmatch(part) for part in value.split(", ")]
            if value and all(matches):
                groups = [Group(None, [Address(username=m[1], domain=m[2])]) for m in matches if m]
                kwds["groups"] = groups
                kwds["defects"] = []
                kwds["decoded"] = ", ".join(str(g) for g in groups)
                kwds["parse_tree"] = None  # made on demand by fold(), only for a long line
                return
        super().parse(value, kwds)


_PLAIN_MSGID = re.compile(rf"<{_DOT_ATOM}@{_DOT_ATOM}>")


class _PlainMessageIDHeader(_LazyTree, MessageIDHeader):
    """A Message-ID of the form ``<dot-atom@dot-atom>`` (what :func:`message_id_for` makes)
    skips the stdlib parser, whose result would be the same text; any other value is parsed."""

    @classmethod
    def parse(cls, value: Any, kwds: dict[str, Any]) -> None:
        if isinstance(value, str) and _PLAIN_MSGID.fullmatch(value):
            kwds["parse_tree"] = None
            kwds["decoded"] = value
            return
        super().parse(value, kwds)


class _CachingRegistry(HeaderRegistry):
    """The default header registry, except that it makes each header class once (the stdlib
    builds a new class on every lookup, a third of the cost of a message) and parses the
    recipients' header and the Message-ID quickly when they are plain (:class:`_LazyTree`)."""

    def __init__(self) -> None:
        super().__init__()
        # the stdlib's own map holds such specialised classes; its stub wants BaseHeader ones
        self.map_to_type("to", cast(Any, _PlainAddressHeader))
        self.map_to_type("message-id", cast(Any, _PlainMessageIDHeader))
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
    return POLICY.header_factory(name, one_line(value))


def base64_lines(data: bytes) -> str:
    """``base64.encodebytes(data)`` as text, byte for byte: lines of 76 characters, each ended
    by a newline. The stdlib encodes line by line in Python (half of the cost of sending a
    first night's e-mails, whose bodies list hundreds of decisions); here the whole body is
    encoded at once and cut into lines by one NumPy reshape."""
    encoded = np.frombuffer(base64.b64encode(data), dtype=np.uint8)
    full, rest = divmod(len(encoded), _LINE)
    lines = np.empty((full, _LINE + 1), dtype=np.uint8)
    lines[:, :_LINE] = encoded[: full * _LINE].reshape(full, _LINE)
    lines[:, _LINE] = ord("\n")
    tail = encoded[full * _LINE :].tobytes() + b"\n" if rest else b""
    return (lines.tobytes() + tail).decode("ascii")


_LINE = 76  # characters of base64 per line (RFC 2045), what ``encodebytes`` writes


def _part(content_type: str, body: str) -> EmailMessage:
    part = EmailMessage(policy=POLICY)
    part["Content-Type"] = _header("Content-Type", content_type)
    part["Content-Transfer-Encoding"] = _header("Content-Transfer-Encoding", "base64")
    part.set_payload(base64_lines(body.encode("utf-8")))
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
    msg["To"] = ", ".join(one_line(r) for r in recipients)
    msg["Reply-To"] = _header("Reply-To", reply_to)
    msg["Subject"] = _header("Subject", subject)
    msg["Date"] = _header("Date", formatdate(usegmt=True))  # shared by the messages of one second
    msg["Message-ID"] = one_line(message_id)
    msg["MIME-Version"] = _header("MIME-Version", "1.0")
    msg["Content-Type"] = _header("Content-Type", f'multipart/alternative; boundary="{BOUNDARY}"')
    msg.set_payload([_part('text/plain; charset="utf-8"', text), _part('text/html; charset="utf-8"', html)])
    return msg


_NLCRE = re.compile(r"\r\n|\r|\n")  # the generator's own definition of a line end


class _Generator(BytesGenerator):
    """The stdlib's bytes generator, except that a body's line endings are converted in one
    substitution instead of one write per line (same bytes, a fifth of a message's cost)."""

    def _write_lines(self, lines: str) -> None:
        if lines:
            end = self._NL  # type: ignore[attr-defined]  # set by flatten(), not in the stub
            self.write(lines.replace("\n", end) if "\r" not in lines else _NLCRE.sub(end, lines))


def as_bytes(message: EmailMessage) -> bytes:
    """``message.as_bytes()``, byte for byte, faster (see :class:`_Generator`)."""
    out = io.BytesIO()
    _Generator(out, mangle_from_=False, policy=message.policy).flatten(message)
    return out.getvalue()
