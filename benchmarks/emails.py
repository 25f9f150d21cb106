"""E-mails rendered to files per second (target >= 2,000/s).

Two figures:
  render+write  Jinja2 text + HTML, EmailMessage (default policy), atomic .eml write; no database.
  end to end    enqueue (read decisions, render, insert the outbox, mark decisions) + send_pending
                with the file transport (claim, build, write; one commit per batch of 500) on SQLite.

The file-system floor is printed too: on a shared disk under load, creating files alone can
fall below the target (set TMPDIR to a tmpfs folder to see the CPU-bound figures).

Usage: python benchmarks/emails.py [--emails 5000] [--decisions-per-email 3]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import pandas as pd

from config.settings import load_settings
from jobs.notify import enqueue, send_pending
from jobs.notify.compose import as_bytes, build_message, message_id_for, render
from jobs.notify.transports import FileTransport
from jobs.notify.worded import items_of, runs, word_frame
from models.base import Base
from models.db import bulk_insert, make_engine, session_factory

AS_OF = date(2026, 11, 10)


def decisions_frame(emails: int, per_email: int) -> pd.DataFrame:
    n = emails * per_email
    ids = range(1, n + 1)
    return pd.DataFrame(
        {
            "decision_id": list(ids),
            "limit_id": list(ids),
            "business_date": AS_OF,
            "policy_id": [f"P{i // per_email}" for i in range(n)],
            "buyer_id": [f"{100000000 + i}" for i in range(n)],
            "policyholder_id": [f"PH{i // per_email}" for i in range(n)],
            "decision_type": [9 if i % 2 else 8 for i in range(n)],
            "reason_code": 12,
            "previous_cents": 100_000_00,
            "proposed_cents": [40_000_00 if i % 2 else 0 for i in range(n)],
            "final_cents": None,
            "status": "applied",
            "effective_date": AS_OF,
            "rule_set_version": "bench",
            "notified": False,
            "version": 1,
            "four_eyes": False,
            "fired_rules": "[]",
            "observed": "{}",
            "created_at": pd.Timestamp("2026-11-10 01:00", tz="UTC"),
            "buyer_name": [f"Acheteur {i} SAS" for i in range(n)],
            "siren": [f"{100000000 + i}" for i in range(n)],
            "effective": AS_OF,
        }
    )


def file_floor(folder: Path, count: int, size: int) -> tuple[float, float]:
    """The floor of this file system: the same number of files of the same size, written the
    same way (temporary file + rename), with no e-mail work at all."""
    folder.mkdir(parents=True)
    data = b"x" * size
    start, cpu = time.perf_counter(), time.process_time()
    for i in range(count):
        temporary = folder / f".{i}.eml.tmp"
        temporary.write_bytes(data)
        os.replace(temporary, folder / f"{i}.eml")
    return count / (time.perf_counter() - start), count / (time.process_time() - cpu)


def render_and_write(frame: pd.DataFrame, folder: Path, *, write: bool = True) -> tuple[float, float]:
    """Render, build and serialise every e-mail; ``write`` also writes the ``.eml`` files.
    The decisions are worded once by whole columns, then rendered per policyholder, as the
    outbox does (:func:`jobs.notify.outbox.enqueue`)."""
    settings = load_settings(workdir=folder)
    transport = FileTransport(folder / "outbox")
    start, cpu = time.perf_counter(), time.process_time()
    count = 0
    holders = frame["policyholder_id"].to_numpy(dtype=object)
    english = pd.Series(holders).str.removeprefix("PH").astype(int).to_numpy() % 5 == 0
    no_offers = pd.DataFrame(columns=["decision_id", "scheme", "amount_cents", "deadline"])
    text, html = word_frame(frame, no_offers, english=english)
    with transport.open() as channel:
        for begin, end in runs(holders):
            holder = holders[begin]
            rendered = render(
                language="en" if english[begin] else "fr",
                business_date=AS_OF,
                items=items_of(text, begin, end),
                reply_to=settings.mail.reply_to,
                html_items=items_of(html, begin, end),
            )
            message = build_message(
                sender=settings.mail.sender,
                reply_to=settings.mail.reply_to,
                recipients=["risk@example.com"],
                subject=rendered.subject,
                text=rendered.text,
                html=rendered.html,
                message_id=message_id_for(settings.mail.sender),
                outbox_key=f"20261110-{holder}",
            )
            if write:
                channel.send(f"20261110-{holder}", message, ["risk@example.com"])
            else:
                as_bytes(message)
            count += 1
    return count / (time.perf_counter() - start), count / (time.process_time() - cpu)


def end_to_end(frame: pd.DataFrame, folder: Path, emails: int) -> tuple[float, float]:
    settings = load_settings(workdir=folder)
    engine = make_engine(settings.database_url)
    Base.metadata.create_all(engine)
    factory = session_factory(engine)
    holders = pd.DataFrame(
        {
            "policyholder_id": [f"PH{i}" for i in range(emails)],
            "name": [f"Assuré {i}" for i in range(emails)],
            "emails": [f"risk{i}@example.com; cfo{i}@example.com" for i in range(emails)],
            "language": ["en" if i % 5 == 0 else "fr" for i in range(emails)],
        }
    )
    buyers = pd.DataFrame(
        {
            "buyer_id": frame["buyer_id"],
            "siren": frame["siren"],
            "name": frame["buyer_name"],
            "country": "FR",
            "status": "A",
            "is_natural_person": False,
            "updated_at": pd.Timestamp("2026-11-10", tz="UTC"),
        }
    )
    columns = [c for c in frame.columns if c not in ("buyer_name", "siren", "effective")]
    with factory() as s:
        bulk_insert(s, "policyholder", holders, list(holders.columns))
        bulk_insert(s, "buyer", buyers, list(buyers.columns))
        policies = pd.DataFrame(
            {
                "policy_id": [f"P{i}" for i in range(emails)],
                "policyholder_id": holders["policyholder_id"],
                "territory": "BOTH",
                "named_threshold_domestic_cents": 500_000,
                "named_threshold_export_cents": 1_000_000,
                "indemnity_share_named": 0.9,
                "indemnity_share_unnamed": 0.7,
                "oal_option": True,
                "currency": "EUR",
            }
        )
        bulk_insert(s, "policy", policies, list(policies.columns))
        limits = pd.DataFrame(
            {
                "limit_id": frame["limit_id"],
                "policy_id": frame["policy_id"],
                "buyer_id": frame["buyer_id"],
                "granted_cents": frame["proposed_cents"],
                "outstanding_cents": 0,
                "status": "active",
                "version": 1,
                "updated_at": pd.Timestamp("2026-11-10", tz="UTC"),
            }
        )
        bulk_insert(s, "credit_limit", limits, list(limits.columns))
        bulk_insert(s, "decision", frame[columns], columns)
        s.commit()
    start, cpu = time.perf_counter(), time.process_time()
    with factory() as s:
        queued = enqueue(s, business_date=AS_OF, run_id=1, settings=settings)
        s.commit()
    enqueue_wall, enqueue_cpu = time.perf_counter() - start, time.process_time() - cpu
    start, cpu = time.perf_counter(), time.process_time()
    summary = send_pending(factory, settings=settings)
    send_wall, send_cpu = time.perf_counter() - start, time.process_time() - cpu
    engine.dispose()
    print(f"enqueue (SQLite): {queued / enqueue_wall:,.0f} e-mails/s wall, {queued / enqueue_cpu:,.0f}/s CPU")
    print(
        f"send_pending, file transport (SQLite, batches of 500): {summary.sent / send_wall:,.0f} e-mails/s wall, "
        f"{summary.sent / send_cpu:,.0f}/s CPU"
    )
    return queued / (enqueue_wall + send_wall), queued / (enqueue_cpu + send_cpu)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--emails", type=int, default=5000)
    parser.add_argument("--decisions-per-email", type=int, default=3)
    args = parser.parse_args()
    frame = decisions_frame(args.emails, args.decisions_per_email)
    with tempfile.TemporaryDirectory() as tmp:
        load = os.getloadavg()[0]
        print(f"{args.emails} e-mails, {args.decisions_per_email} decisions each; load average {load:.1f}")
        render_and_write(decisions_frame(200, args.decisions_per_email), Path(tmp) / "warm-up")
        wall, cpu = render_and_write(frame, Path(tmp) / "mem", write=False)
        print(f"render+build+serialise, no file: {wall:,.0f} e-mails/s wall, {cpu:,.0f}/s CPU")
        wall, cpu = render_and_write(frame, Path(tmp) / "a")
        print(f"render+build+write: {wall:,.0f} e-mails/s wall, {cpu:,.0f}/s CPU")
        size = sum(p.stat().st_size for p in (Path(tmp) / "a" / "outbox").glob("*.eml")) // args.emails
        wall, cpu = file_floor(Path(tmp) / "floor", args.emails, size)
        print(
            f"file-system floor ({size} B files, temp + rename, no e-mail work): {wall:,.0f} files/s wall, {cpu:,.0f}/s CPU"
        )
        wall, cpu = end_to_end(frame, Path(tmp) / "b", args.emails)
        print(
            f"end to end (enqueue + send_pending): {wall:,.0f} e-mails/s wall, {cpu:,.0f}/s CPU (target >= 2,000)"
        )


if __name__ == "__main__":
    main()
