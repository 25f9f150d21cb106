"""The steps of the nightly run: thin adapters from the run context to each package's service.

Each step returns the counts the ledger stores. None of them commits: the pipeline commits
a group of steps together with their ledger rows (see :mod:`jobs.nightly`)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import pandas as pd

from arbitration.handover import DecidedTonight
from arbitration.inputs import LIMITS_SQL
from arbitration.service import arbitrate as arbitrate_limits
from feeds.folder import discover, ingest_folder
from feeds.payments.load import refresh_aggregates
from jobs import ahead
from jobs import eligibility as eligibility_rules
from jobs.notify import enqueue, send_pending
from jobs.report.build import build_report
from jobs.report.build import bulk_reads as report_bulk_reads
from models.bulk_read import CHANGES_BY_ARBITERS, prefetch
from scoring.dataset import bulk_reads as scoring_bulk_reads
from scoring.monitoring import monitor as monitor_model
from scoring.service import ScoringFrames, score_buyers

if TYPE_CHECKING:
    from jobs.nightly import NightContext

NIGHTLY_SOURCES = ("registry", "legal", "payments", "portfolio")
"""Sources expected every night; a missing one is reported and the night runs on the last data."""


def as_counts(summary: Any) -> dict[str, Any]:
    """A service's summary (dataclass, pydantic model or dict) as the ledger's counts."""
    if summary is None:
        return {}
    if isinstance(summary, dict):
        return dict(summary)
    if dataclasses.is_dataclass(summary) and not isinstance(summary, type):
        return dataclasses.asdict(summary)
    dump = getattr(summary, "model_dump", None)
    if callable(dump):
        return dict(dump())
    return {"result": str(summary)}


def ingest(ctx: NightContext) -> dict[str, Any]:
    """Ingest the drop folder ``<feeds_dir>/<business date>``; a missing folder or source is
    recorded as ``missing_feeds`` and the night continues on the last data received."""
    folder = ctx.settings.feeds_dir / ctx.as_of.isoformat()
    store = ctx.settings.payments_store_dir
    counts: dict[str, Any] = {"folder": str(folder)}
    if folder.is_dir():
        present = {source for source, _ in discover(folder)}
        reports = ingest_folder(ctx.session, folder, store_dir=store)
        counts["files"] = len(reports)
        counts["read"] = sum(r.read for r in reports)
        counts["accepted"] = sum(r.accepted for r in reports)
        counts["quarantined"] = sum(r.quarantined for r in reports)
        counts["duplicates"] = sum(r.duplicates for r in reports)
        counts["already_ingested"] = sum(1 for r in reports if r.already_ingested)
        counts["rejected_files"] = [f"{r.file}: {r.error}" for r in reports if r.error]
    else:
        present = set()
    counts["missing_feeds"] = [s for s in NIGHTLY_SOURCES if s not in present]
    return counts


def aggregate(ctx: NightContext) -> dict[str, Any]:
    """Refresh the payment aggregates of the date from the payment store; they are handed to
    the score step. Its own unit of work, after the feeds' commit: meanwhile the reader process
    reads what scoring reads next (the buyers, their accounts and legal events, which this
    step does not write: 2.5-3 s of a first night off the critical path)."""
    for sql, params in scoring_bulk_reads(ctx.as_of):
        prefetch(ctx.session, sql, params, guard=CHANGES_BY_ARBITERS)
    kept: list[pd.DataFrame] = []
    written = refresh_aggregates(
        ctx.session, store_dir=ctx.settings.payments_store_dir, as_of=ctx.as_of, keep=kept
    )
    ctx.handed["payment_aggregates"] = kept[0]
    return {"payment_aggregates": written}


def score(ctx: NightContext) -> dict[str, Any]:
    kept: list[ScoringFrames] = []
    summary = score_buyers(
        ctx.session,
        as_of=ctx.as_of,
        settings=ctx.settings,
        run_id=ctx.run_id,
        keep=kept,
        payments=ctx.handed.pop("payment_aggregates", None),
        # while the buyers are scored, the reader process reads the limits arbitration weighs
        # next (3M rows on a first night: 2.5-3 s off the critical path); the night's steps in
        # between do not write them, and an arbiter's change meanwhile has them read again
        after_reading=lambda: prefetch(ctx.session, LIMITS_SQL, guard=CHANGES_BY_ARBITERS),
    )
    ctx.handed["scoring"] = kept[0] if kept else None
    return as_counts(summary)


def monitor(ctx: NightContext) -> dict[str, Any]:
    frames: ScoringFrames | None = ctx.handed.get("scoring")
    features = None
    if frames is not None and frames.features is not None:  # taken once, then not held any longer
        features = frames.features
        ctx.handed["scoring"] = dataclasses.replace(frames, features=None)
    summary = monitor_model(
        ctx.session, as_of=ctx.as_of, settings=ctx.settings, run_id=ctx.run_id, features=features
    )
    return as_counts(summary)


def arbitrate(ctx: NightContext) -> dict[str, Any]:
    # handed over once (popped): arbitration drops it as soon as the limit frame is built
    kept: list[DecidedTonight] = []

    def start_ahead(tonight: DecidedTonight) -> None:
        # eligibility and the e-mails of these decisions computed while they are written
        ctx.handed["ahead"] = ahead.start(
            ctx.session, ctx.settings, tonight, business_date=ctx.as_of, run_id=ctx.run_id
        )

    summary = arbitrate_limits(
        ctx.session,
        as_of=ctx.as_of,
        run_id=ctx.run_id,
        settings=ctx.settings,
        known=ctx.handed.pop("scoring", None),
        keep=kept,
        # the outbox of this unit of work queues their e-mails (or clears the mark it leaves)
        mark_notified="outbox" in ctx.group,
        before_writes=start_ahead if {"eligibility", "outbox"} <= set(ctx.group) else None,
    )
    # eligibility and the outbox run in this step's unit of work: what it wrote is theirs to read
    ctx.handed["tonight"] = kept[0] if kept else None
    # in the ledger (`vigie runs`): how many decisions the next steps took from memory
    return {**as_counts(summary), "handed_over": len(kept[0].decisions) if kept else 0}


def eligibility(ctx: NightContext) -> dict[str, Any]:
    started: ahead.Ahead | None = ctx.handed.get("ahead")
    if started is not None:
        frame = started.eligibility.result()
    else:
        params = eligibility_rules.load_scheme_params(ctx.settings.paths.schemes_file)
        inputs = eligibility_rules.eligibility_inputs(
            ctx.session, business_date=ctx.as_of, tonight=ctx.handed.get("tonight")
        )
        frame = eligibility_rules.compute(inputs, params=params, as_of=ctx.as_of)
    written = eligibility_rules.persist(ctx.session, frame)
    eligible = eligibility_rules.eligible_rows(frame)
    if "outbox" in ctx.group and started is None:  # it words these top-ups: the rows just written
        ctx.handed["eligible"] = eligible
    by_scheme = eligible["scheme"].value_counts().to_dict() if "scheme" in eligible else {}
    return {"rows": written, "eligible": {str(k): int(v) for k, v in by_scheme.items()}}


def outbox(ctx: NightContext) -> dict[str, Any]:
    started: ahead.Ahead | None = ctx.handed.pop("ahead", None)
    if started is not None:
        ctx.handed.pop("tonight", None)
        return {"queued": started.enqueue(ctx.session)}
    queued = enqueue(
        ctx.session,
        business_date=ctx.as_of,
        run_id=ctx.run_id,
        settings=ctx.settings,
        tonight=ctx.handed.pop("tonight", None),
        eligible=ctx.handed.pop("eligible", None),
    )
    return {"queued": queued}


def send(ctx: NightContext) -> dict[str, Any]:
    # while the e-mails go out, the reader process reads what the report reads next
    for sql, params in report_bulk_reads(ctx.session, ctx.as_of):
        prefetch(ctx.session, sql, params, guard=CHANGES_BY_ARBITERS)
    return as_counts(send_pending(ctx.sessions, settings=ctx.settings))


def report(ctx: NightContext) -> dict[str, Any]:
    built = build_report(ctx.session, as_of=ctx.as_of, settings=ctx.settings, run_id=ctx.run_id)
    return {"html": str(built.html_path)}
