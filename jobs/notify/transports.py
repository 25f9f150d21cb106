"""Where e-mails go: ``.eml`` files (the default) or an SMTP server (STARTTLS, auth).

Both expose the same small interface (:class:`Channel`): ``send(key, message, recipients)``
returns when the message is accepted, or raises one of three errors whose difference drives
the sender: :class:`TemporaryFailure` (a 4xx answer: retry later), :class:`PermanentFailure`
(a 5xx answer: dead letter), :class:`Unavailable` (no server, lost connection, refused login:
nothing was accepted; leave everything queued and stop this pass).
"""

from __future__ import annotations

import os
import smtplib
import ssl
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from jobs.notify.compose import as_bytes


class TransportError(Exception):
    """A message was not accepted. ``code`` is the SMTP reply code when there is one."""

    def __init__(self, message: str, code: int | None = None) -> None:
        super().__init__(message)
        self.code = code


class TemporaryFailure(TransportError):
    """4xx: the server may accept the message later."""


class PermanentFailure(TransportError):
    """5xx: the server will never accept this message as it is."""


class Unavailable(TransportError):
    """The transport cannot be used now; no message was accepted."""


class Channel(Protocol):
    def send(self, key: str, message: EmailMessage, recipients: list[str]) -> str | None:
        """Return None when every recipient got it, else a note on those refused."""
        ...


class Transport(Protocol):
    resolves_doubt: bool
    """True when :meth:`already_delivered` can tell whether a claimed message went out."""

    def open(self) -> AbstractContextManager[Channel]: ...

    def already_delivered(self, key: str) -> bool | None: ...


_WRITE_FLAGS = (
    os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
)


class FileChannel:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, key: str, message: EmailMessage, recipients: list[str]) -> str | None:
        """Write ``<key>.eml`` atomically (temporary file then rename): a crash leaves either
        no file or the whole message, never half of one. Plain ``os`` calls, not a buffered
        file object: one open, write and close per message (the file system is the floor)."""
        target = os.path.join(self.folder, f"{key}.eml")
        temporary = os.path.join(self.folder, f".{key}.eml.tmp")
        data = memoryview(as_bytes(message))
        try:
            fd = os.open(temporary, _WRITE_FLAGS, 0o666)
            try:
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
            os.replace(temporary, target)
        except OSError as exc:
            raise Unavailable(f"cannot write {target}: {exc.strerror}") from exc
        return None


class FileTransport:
    """The demo and test transport: one ``.eml`` file per outbox key."""

    resolves_doubt = True

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @contextmanager
    def open(self) -> Iterator[FileChannel]:
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise Unavailable(f"cannot create the outbox folder {self.folder}: {exc.strerror}") from exc
        yield FileChannel(self.folder)

    def already_delivered(self, key: str) -> bool | None:
        """Whether a message in doubt (claimed, then a crash) was written: the file says."""
        return (self.folder / f"{key}.eml").is_file()


def _classify(code: int, text: str) -> TransportError:
    if 400 <= code < 500:
        return TemporaryFailure(f"{code} {text}", code)
    if 500 <= code < 600:
        return PermanentFailure(f"{code} {text}", code)
    return Unavailable(f"unexpected SMTP answer {code} {text}", code)


def _text(raw: bytes | str) -> str:
    return raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)


class SmtpChannel:
    def __init__(self, connect: Callable[[], smtplib.SMTP], sender: str) -> None:
        self.connect = connect
        self.client = connect()
        self.sender = parseaddr(sender)[1]

    def send(self, key: str, message: EmailMessage, recipients: list[str]) -> str | None:
        if self.client.sock is None:  # the server closed the session (a 421 answer): open a new one
            self.client = self.connect()
        try:
            refused = self.client.send_message(message, from_addr=self.sender, to_addrs=recipients)
        except smtplib.SMTPRecipientsRefused as exc:  # every recipient refused
            codes = [code for code, _ in exc.recipients.values()]
            code = min(codes) if codes else 550
            detail = "; ".join(f"{code} {_text(text)}" for code, text in exc.recipients.values())
            raise _classify(code, f"all recipients refused: {detail}") from exc
        except smtplib.SMTPResponseException as exc:  # sender refused, data refused
            raise _classify(exc.smtp_code, _text(exc.smtp_error)) from exc
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            raise Unavailable(f"connection lost while sending: {exc}") from exc
        if refused:  # partly accepted: the others got it, so it counts as sent (again would double)
            return "refused recipients: " + "; ".join(
                f"{rcpt} {code} {_text(text)}" for rcpt, (code, text) in refused.items()
            )
        return None


class SmtpTransport:
    """smtplib over one connection per pass; STARTTLS and login when configured."""

    resolves_doubt = False

    def __init__(
        self,
        *,
        host: str,
        port: int,
        sender: str,
        starttls: bool = False,
        username: str | None = None,
        password: str | None = None,
        timeout: float = 10.0,
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.username, self.password = starttls, username, password
        self.timeout = timeout
        self.tls_context = tls_context

    def _connect(self) -> smtplib.SMTP:
        try:
            client = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        except (OSError, smtplib.SMTPException) as exc:
            raise Unavailable(f"SMTP server {self.host}:{self.port} unreachable: {exc}") from exc
        try:
            client.ehlo()
            if self.starttls:
                client.starttls(context=self.tls_context or ssl.create_default_context())
                client.ehlo()
            if self.username:
                client.login(self.username, self.password or "")
        except smtplib.SMTPAuthenticationError as exc:
            client.close()
            raise Unavailable(f"SMTP login refused ({exc.smtp_code}): check the mail credentials") from exc
        except (OSError, smtplib.SMTPException) as exc:
            client.close()
            raise Unavailable(f"SMTP session with {self.host}:{self.port} failed: {exc}") from exc
        return client

    @contextmanager
    def open(self) -> Iterator[SmtpChannel]:
        channel = SmtpChannel(self._connect, self.sender)
        try:
            yield channel
        finally:
            try:
                channel.client.quit()
            except (OSError, smtplib.SMTPException):
                channel.client.close()

    def already_delivered(self, key: str) -> bool | None:
        """Unknown: an SMTP server cannot be asked whether it accepted a message."""
        return None
