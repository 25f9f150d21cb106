"""A nightly drop folder: which file is which source, and ingesting them in dependency order.

The order matters because rows refer to earlier ones: policies to policyholders, limits and
requests to policies, outstanding declarations to limits; scoring wants the registry before
the financials and legal events that qualify it. So: country, registry, portfolio
(policyholders, policies, buyers, limits, requests, outstanding), financials, legal, payments.
Within a group, files go by name (dated names sort chronologically).

A file whose name matches no pattern is reported as source ``unknown`` (a misnamed file must
not vanish silently). Hidden files (``.name``) and sub-folders are not feed files and are
skipped. A file rejected as a whole (:class:`FeedFileError`) is recorded in its report's
``error`` and the other files still go in: the caller sees it, counts it, and exits non-zero.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from fnmatch import fnmatch
from pathlib import Path

from sqlalchemy.orm import Session

from feeds.common import FeedFileError, FileReport

UNKNOWN = "unknown"

PATTERNS: list[tuple[str, tuple[str, ...]]] = [
    ("country", ("oecd*.csv",)),
    ("registry", ("stockunitelegale*.csv",)),
    ("portfolio", ("portfolio_policyholders*.csv", "portfolio_policyholders*.parquet")),
    ("portfolio", ("portfolio_policies*.csv", "portfolio_policies*.parquet")),
    ("portfolio", ("portfolio_buyers*.csv", "portfolio_buyers*.parquet")),
    ("portfolio", ("portfolio_limits*.csv", "portfolio_limits*.parquet")),
    ("portfolio", ("portfolio_requests*.csv", "portfolio_requests*.parquet")),
    ("portfolio", ("portfolio_outstanding*.csv", "portfolio_outstanding*.parquet")),
    ("financials", ("financials*.csv",)),
    ("legal", ("bodacc*.json",)),
    ("payments", ("payments*.csv", "payments*.parquet")),
]
"""(source, file-name patterns) in ingest order; matching ignores case (feeds/LAYOUTS.md)."""

SOURCES = ("registry", "financials", "legal", "payments", "country", "portfolio")

Progress = Callable[[FileReport, int, int], None]
"""Called after each file with its report, the number of files done and the total."""


def classify(path: Path) -> tuple[int, str]:
    """(rank in the ingest order, source) of a file name; ``unknown`` ranks last."""
    name = path.name.lower()
    for rank, (source, patterns) in enumerate(PATTERNS):
        if any(fnmatch(name, pattern) for pattern in patterns):
            return rank, source
    return len(PATTERNS), UNKNOWN


def discover(folder: Path) -> list[tuple[str, Path]]:
    """Every feed file of a drop folder as (source, path), in ingest order; names that match
    no pattern come last as (``unknown``, path)."""
    if not folder.is_dir():
        raise FeedFileError(f"{folder}: expected a folder of feed files, found no such folder")
    files = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")]
    ranked = sorted((classify(p), p.name, p) for p in files)
    return [(source, path) for (_rank, source), _name, path in ranked]


def ingest_path(session: Session, source: str, path: Path, *, store_dir: Path) -> FileReport:
    """Ingest one file with its source's loader; a whole-file rejection becomes the report's
    ``error`` (nothing of that file was written). The caller commits."""
    try:
        if source == UNKNOWN:
            expected = ", ".join(p for _, patterns in PATTERNS for p in patterns)
            raise FeedFileError(f"{path}: expected a feed file name matching one of {expected}")
        if source not in SOURCES:
            raise FeedFileError(f"{path}: expected a source among {', '.join(SOURCES)}, found {source!r}")
        loader = importlib.import_module(f"feeds.{source}.load")
        if source == "payments":
            report: FileReport = loader.ingest(session, path, store_dir=store_dir)
        else:
            report = loader.ingest(session, path)
    except FeedFileError as exc:
        return FileReport(file=str(path), source=source, error=str(exc))
    return report


def ingest_folder(
    session: Session,
    folder: Path,
    *,
    store_dir: Path,
    progress: Progress | None = None,
) -> list[FileReport]:
    """Ingest every file of a drop folder in dependency order (see module doc). The caller
    commits; each file is its own savepoint inside :func:`feeds.common.ingest_file`."""
    found = discover(folder)
    reports: list[FileReport] = []
    for done, (source, path) in enumerate(found, start=1):
        report = ingest_path(session, source, path, store_dir=store_dir)
        reports.append(report)
        if progress is not None:
            progress(report, done, len(found))
    return reports
