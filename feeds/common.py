"""What every feed shares: safe file reading, parse results, reconciliation, quarantine and
the ingest ledger that makes re-ingesting a file a no-op.

The flow of one file (:func:`ingest_file`): hash the bytes; if the ledger already has this
(source, hash), report it as already ingested and change nothing; otherwise parse (pure),
then in one savepoint upsert the accepted rows, write the rejected ones to quarantine and
record the file with its counts. A whole-file failure raises :class:`FeedFileError` before
anything is written, so nothing of that file is half-loaded.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy import select
from sqlalchemy.orm import Session

from models.db import bulk_insert
from models.feed_file import FeedFile

REJECTED_COLUMNS = ["line", "field", "reason", "raw"]


class FeedFileError(Exception):
    """The whole file is unusable (encoding, delimiter, missing column...). Names file and column."""


@dataclass(frozen=True)
class ParseResult:
    """Outcome of a pure parse. ``read == len(accepted) + len(rejected) + duplicates``.

    ``rejected`` has the columns ``line`` (1-based physical line or record number),
    ``field``, ``reason`` and ``raw`` (the offending row as text)."""

    accepted: pd.DataFrame
    rejected: pd.DataFrame
    duplicates: int
    read: int

    def __post_init__(self) -> None:
        total = len(self.accepted) + len(self.rejected) + self.duplicates
        if total != self.read:
            raise ValueError(
                f"reconciliation broken: read {self.read} != accepted {len(self.accepted)} "
                f"+ quarantined {len(self.rejected)} + duplicates {self.duplicates}"
            )


@dataclass
class FileReport:
    """The reconciliation of one file, as printed by ``vigie ingest`` and stored in the ledger."""

    file: str
    source: str
    read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates: int = 0
    already_ingested: bool = False
    error: str | None = None
    extra: dict[str, int] = field(default_factory=dict)

    def as_json(self) -> str:
        keys = ("file", "read", "accepted", "quarantined", "duplicates")
        data = {k: v for k, v in asdict(self).items() if k in keys}
        data["source"] = self.source
        data["already_ingested"] = self.already_ingested
        if self.error:
            data["error"] = self.error
        return json.dumps(data, ensure_ascii=False)


def empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="int64" if c == "line" else "object") for c in REJECTED_COLUMNS})


def content_hash(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def decode(data: bytes, *, file: str) -> str:
    """UTF-8 (with or without BOM) first, then Windows-1252, as INSEE publishes both."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as exc:
        raise FeedFileError(
            f"{file}: expected UTF-8 or Windows-1252 text, found undecodable byte at offset {exc.start}"
        ) from None


def read_csv_text(
    path: Path,
    *,
    required: Sequence[str],
    delimiters: str = ",;",
) -> pd.DataFrame:
    """Read a delimited text file as strings (no type guessing), check its header, and add a
    ``_line`` column with the physical line number of each record (header = line 1).

    Raises :class:`FeedFileError` naming the file and the first missing column."""
    text = decode(path.read_bytes(), file=str(path))
    header = text.split("\n", 1)[0]
    counts = {d: header.count(d) for d in delimiters}
    delimiter = max(counts, key=lambda d: counts[d])
    if counts[delimiter] == 0 and len(required) > 1:
        raise FeedFileError(
            f"{path}: expected a header delimited by one of {delimiters!r}, found {header[:80]!r}"
        )
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        columns = [c.strip() for c in next(reader)]
    except StopIteration:
        raise FeedFileError(f"{path}: expected a header line, found an empty file") from None
    missing = [c for c in required if c not in columns]
    if missing:
        raise FeedFileError(f"{path}: expected column {missing[0]!r}, not in header ({len(columns)} columns)")
    rows: list[list[str]] = []
    lines: list[int] = []
    for record in reader:
        if not record or record == [""]:
            continue
        lines.append(reader.line_num)
        padded = record + [""] * (len(columns) - len(record))
        rows.append(padded[: len(columns)])
    frame = pd.DataFrame(rows, columns=columns, dtype="object")
    frame["_line"] = pd.Series(lines, dtype="int64")
    return frame


def raw_text(frame: pd.DataFrame, columns: Sequence[str]) -> pd.Series:
    """The offending rows as one text per row, for the quarantine's ``raw`` column."""
    if frame.empty:
        return pd.Series([], dtype="object", index=frame.index)
    parts = frame[list(columns)].astype(str).fillna("")
    return parts.agg("|".join, axis=1)


def already_ingested(session: Session, source: str, digest: str) -> bool:
    found = session.execute(
        select(FeedFile.feed_file_id).where(FeedFile.source == source, FeedFile.content_hash == digest)
    ).first()
    return found is not None


def quarantine(session: Session, *, feed_file_id: int, source: str, file: str, rejected: pd.DataFrame) -> int:
    """Write rejected rows (columns ``line``, ``field``, ``reason``, ``raw``) to the quarantine."""
    if rejected.empty:
        return 0
    frame = rejected.assign(feed_file_id=feed_file_id, source=source, file=file)
    frame["created_at"] = pd.Timestamp.now(tz="UTC").to_pydatetime()
    return bulk_insert(
        session,
        "quarantine",
        frame,
        ["feed_file_id", "source", "file", "line", "field", "reason", "raw", "created_at"],
    )


Loader = Callable[[Session, pd.DataFrame], dict[str, int]]


def ingest_file(
    session: Session,
    *,
    source: str,
    path: Path,
    parse: Callable[[Path], ParseResult],
    load: Loader,
) -> FileReport:
    """Ingest one file idempotently within the caller's transaction (the caller commits).

    ``parse`` reads and validates the file (raising :class:`FeedFileError` for a whole-file
    failure); ``load`` upserts the accepted rows and may return extra counts."""
    report = FileReport(file=str(path), source=source)
    if not path.is_file():
        raise FeedFileError(f"{path}: expected a readable file, found nothing there")
    digest = content_hash(path)
    if already_ingested(session, source, digest):
        report.already_ingested = True
        return report
    result = parse(path)
    with session.begin_nested():
        ledger = FeedFile(
            source=source,
            path=str(path),
            content_hash=digest,
            read=result.read,
            accepted=len(result.accepted),
            quarantined=len(result.rejected),
            duplicates=result.duplicates,
        )
        session.add(ledger)
        session.flush()
        report.extra = load(session, result.accepted) or {}
        quarantine(
            session, feed_file_id=ledger.feed_file_id, source=source, file=str(path), rejected=result.rejected
        )
    report.read = result.read
    report.accepted = len(result.accepted)
    report.quarantined = len(result.rejected)
    report.duplicates = result.duplicates
    return report


class Verdicts:
    """The first failed check of each row: its field and reason. Later checks never overwrite
    an earlier verdict, so every rejected row carries exactly one reason."""

    def __init__(self, index: pd.Index) -> None:
        self.field = pd.Series(pd.NA, index=index, dtype="object")
        self.reason = pd.Series(pd.NA, index=index, dtype="object")

    def flag(self, mask: pd.Series, field: str, reason: pd.Series | str) -> None:
        new = mask.fillna(False).astype(bool) & self.reason.isna()
        if not new.any():
            return
        self.field[new] = field
        self.reason[new] = reason[new] if isinstance(reason, pd.Series) else reason

    @property
    def bad(self) -> pd.Series:
        return self.reason.notna()


def rejected_rows(
    frame: pd.DataFrame, lines: pd.Series, verdicts: Verdicts, raw_columns: tuple[str, ...] | list[str]
) -> pd.DataFrame:
    """The quarantine rows (``line``, ``field``, ``reason``, ``raw``) of the flagged rows.

    ``raw_columns`` chooses what is kept as raw text: never a column holding a person's name."""
    bad = verdicts.bad
    if not bad.any():
        return empty_rejected()
    raw = raw_text(frame.loc[bad], [c for c in raw_columns if c in frame])
    return pd.DataFrame(
        {
            "line": lines[bad].astype("int64").to_numpy(),
            "field": verdicts.field[bad].to_numpy(),
            "reason": verdicts.reason[bad].to_numpy(),
            "raw": raw.to_numpy(),
        }
    )
