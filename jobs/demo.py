"""``vigie demo``: a whole night on a synthetic portfolio, through the real code paths.

Nothing here is a shortcut: the generator writes real feed formats, the feeds ingest them,
the model is trained and registered in MLflow, and the night is the same ``run_night`` the
scheduler calls. The demo only adds the first-day set-up an operator would do once: load the
history, train a first model (which becomes the champion)."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from arbitration.users import add_user
from config.settings import Settings
from feeds.folder import ingest_folder
from feeds.synthetic import generate
from jobs.cli_model import prepare_snapshots
from jobs.nightly import run_night
from models.arbiter_user import ArbiterUser
from models.codes import DecisionStatus, ResponseType, Role
from models.db import make_engine, session_factory, upgrade
from models.decision import Decision
from models.notification import Notification
from scoring.registry import alias_version
from scoring.training import train_and_register


@dataclass
class DemoSummary:
    business_date: date
    workdir: Path
    buyers: int
    limits: int = 0
    model_version: str = ""
    decisions: dict[str, int] = field(default_factory=dict)
    referred: int = 0
    emails: int = 0
    outbox_dir: Path | None = None
    report: Path | None = None
    run_status: str = ""
    accounts: dict[str, str] = field(default_factory=dict)


def run_demo(
    settings: Settings,
    *,
    buyers: int,
    seed: int,
    as_of: date,
    say: Callable[[str], Any] = print,
) -> DemoSummary:
    """Generate, ingest, train, run the night; return what happened."""
    summary = DemoSummary(business_date=as_of, workdir=settings.workdir, buyers=buyers)
    engine = make_engine(settings.database_url)
    say(f"database: {engine.url.render_as_string(hide_password=True)} (migrating)")
    upgrade(engine)
    sessions = session_factory(engine)
    drop = settings.feeds_dir / as_of.isoformat()
    if not drop.is_dir():
        say(f"generating a synthetic portfolio of {buyers} buyers in {drop}")
        generated = generate(
            drop, buyers=buyers, seed=seed, business_date=as_of, truth_dir=settings.workdir / "truth"
        )
        summary.limits = int(getattr(generated, "counts", {}).get("limits", 0))
    say("ingesting the feed files (history load)")
    with sessions.begin() as session:
        ingest_folder(session, drop, store_dir=settings.payments_store_dir)
    version = alias_version(settings, "champion")
    if version is None:
        say("training a default-probability model and registering it in MLflow")
        with sessions.begin() as session:
            prepare_snapshots(session, settings, as_of)
            trained = train_and_register(session, as_of=as_of, settings=settings)
        version = alias_version(settings, "champion") or str(getattr(trained, "version", ""))
    summary.model_version = version or ""
    say(f"running the night of {as_of} (champion model version {summary.model_version})")
    result = run_night(engine, settings, as_of=as_of, progress=lambda name, text: say(f"  {name}: {text}"))
    summary.run_status = "succeeded (already done)" if result.already_done else result.status
    with sessions() as session:
        rows = session.execute(
            select(Decision.decision_type, func.count())
            .where(Decision.business_date == as_of)
            .group_by(Decision.decision_type)
        ).all()
        summary.decisions = {ResponseType(code).name.lower(): int(n) for code, n in rows}
        summary.referred = int(
            session.execute(
                select(func.count()).where(
                    Decision.business_date == as_of, Decision.status == DecisionStatus.REFERRED
                )
            ).scalar_one()
        )
        summary.emails = int(
            session.execute(
                select(func.count()).where(
                    Notification.run_id == result.run_id, Notification.status == "sent"
                )
            ).scalar_one()
        )
    with sessions.begin() as session:
        summary.accounts = demo_accounts(session)
    summary.outbox_dir = settings.outbox_dir
    summary.report = settings.reports_dir / as_of.isoformat() / "report.html"
    return summary


DEMO_ACCOUNTS = (
    ("arbitre", Role.ARBITER, 150_000_00, "Arbitre de démonstration"),
    ("senior", Role.SENIOR_ARBITER, 1_500_000_00, "Arbitre senior de démonstration"),
)


def demo_accounts(session: Session) -> dict[str, str]:
    """Two arbiters on every desk so the referred decisions can be worked in `vigie serve`
    (four-eyes included). Created once, with fresh random passwords shown only then."""
    if session.execute(select(func.count()).select_from(ArbiterUser)).scalar_one():
        return {}
    created = {}
    for username, role, authority_cents, full_name in DEMO_ACCOUNTS:
        password = secrets.token_urlsafe(12)
        add_user(
            session,
            username=username,
            role=role,
            desks="*",
            authority_cents=authority_cents,
            password=password,
            full_name=full_name,
        )
        created[username] = password
    return created


def print_summary(summary: DemoSummary, console: Console) -> None:
    table = Table(title=f"Vigie demo — night of {summary.business_date}", show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("business date", summary.business_date.isoformat())
    table.add_row("run", summary.run_status)
    table.add_row("champion model version", summary.model_version)
    for name, count in sorted(summary.decisions.items()):
        table.add_row(f"decisions: {name}", str(count))
    table.add_row("referred to an arbiter", str(summary.referred))
    table.add_row("e-mails written", f"{summary.emails} in {summary.outbox_dir}")
    table.add_row("report", str(summary.report))
    table.add_row("work directory", str(summary.workdir))
    console.print(table)
    if summary.accounts:
        logins = ", ".join(f"{user} / {password}" for user, password in summary.accounts.items())
        console.print(f"admin endpoint: `vigie serve` then sign in as {logins} (shown once)")
