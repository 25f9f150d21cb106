"""Small, deterministic buyer tables for scoring tests: risk driven by equity ratio and
payment delays, defaults drawn from it, so a model has something real to learn."""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
from sqlalchemy.orm import Session

from models.db import bulk_insert
from scoring.dataset import snapshot_dates

BUYER_COLUMNS = [
    "buyer_id", "siren", "name", "country", "naf_code", "legal_category", "creation_date",
    "headcount_band", "size_category", "status", "is_natural_person", "updated_at",
]  # fmt: skip
FIN_COLUMNS = [
    "buyer_id", "fiscal_year_end", "filed_date", "revenue_cents", "equity_cents", "total_assets_cents",
    "net_income_cents", "total_debt_cents", "operating_income_cents", "headcount",
]  # fmt: skip
EVENT_COLUMNS = [
    "notice_id", "buyer_id", "event_type", "family", "nature_raw", "event_date", "publication_date",
    "accounts_closing_date", "cancelled",
]  # fmt: skip
PAY_COLUMNS = [
    "buyer_id", "as_of", "invoices", "amount_cents", "days_beyond_terms", "overdue_share",
    "overdue_declarations", "dbt_trend_3m", "dbt_trend_12m", "reporting_policyholders",
]  # fmt: skip


def portfolio(n: int, *, as_of: date, seed: int = 1) -> dict[str, pd.DataFrame]:
    """Frames for ``n`` buyers with history good for training as of ``as_of`` and scoring then."""
    rng = np.random.default_rng(seed)
    ids = np.array([f"B{i:06d}" for i in range(n)])
    quality = rng.normal(size=n)  # latent risk: low = risky
    buyers = pd.DataFrame(
        {
            "buyer_id": ids,
            "siren": None,
            "name": [f"Company {i}" for i in range(n)],
            "country": np.where(rng.random(n) < 0.8, "FR", "BR"),
            "naf_code": rng.choice(["47.11Z", "10.11Z", "45.11Z", "41.20A", "62.01Z"], n),
            "legal_category": rng.choice(["5710", "5499", "5599"], n),
            "creation_date": [date(2000 + int(k), 1, 15) for k in rng.integers(0, 15, n)],
            "headcount_band": rng.choice(["11", "12", "21"], n),
            "size_category": rng.choice(["PME", "ETI"], n),
            "status": "A",
            "is_natural_person": False,
            "updated_at": pd.Timestamp("2026-01-01", tz="UTC"),
        }
    )
    years = range(as_of.year - 5, as_of.year + 1)
    fin_rows = []
    for year in years:
        noise = rng.normal(scale=0.3, size=n)
        assets = rng.uniform(1e7, 1e9, n).round()
        equity_ratio = 0.25 + 0.12 * (quality + noise)
        fin_rows.append(
            pd.DataFrame(
                {
                    "buyer_id": ids,
                    "fiscal_year_end": date(year, 12, 31),
                    "filed_date": date(year + 1, 6, 30),
                    "revenue_cents": (assets * 1.5).astype("int64"),
                    "equity_cents": (assets * equity_ratio).astype("int64"),
                    "total_assets_cents": assets.astype("int64"),
                    "net_income_cents": (assets * 0.03 * (quality + noise)).astype("int64"),
                    "total_debt_cents": (assets * (0.4 - 0.1 * quality)).clip(0).astype("int64"),
                    "operating_income_cents": (assets * 0.05 * (quality + noise)).astype("int64"),
                    "headcount": 20,
                }
            )
        )
    financials = pd.concat(fin_rows, ignore_index=True)
    snaps = [*snapshot_dates(as_of), as_of]
    pay_rows = []
    for snap in snaps:
        dbt = np.clip(8 - 6 * quality + rng.normal(scale=3, size=n), 0, None)
        pay_rows.append(
            pd.DataFrame(
                {
                    "buyer_id": ids,
                    "as_of": snap,
                    "invoices": 10,
                    "amount_cents": 1_000_000,
                    "days_beyond_terms": dbt,
                    "overdue_share": np.clip(dbt / 60, 0, 1),
                    "overdue_declarations": (dbt > 20).astype(int),
                    "dbt_trend_3m": rng.normal(size=n),
                    "dbt_trend_12m": rng.normal(size=n),
                    "reporting_policyholders": 2,
                }
            )
        )
    payments = pd.concat(pay_rows, ignore_index=True)
    # defaults: each buyer at most once, hazard from the latent quality
    pd_year = 1 / (1 + np.exp(3.2 + 1.6 * quality))
    start = pd.Timestamp(snaps[0])
    span_days = (pd.Timestamp(as_of) - start).days
    defaults = rng.random(n) < pd_year * span_days / 365
    when = start + pd.to_timedelta(rng.integers(1, span_days, n), unit="D")
    events = pd.DataFrame(
        {
            "notice_id": [f"N{i:06d}" for i in range(n)],
            "buyer_id": ids,
            "event_type": "open_rj",
            "family": "collective",
            "nature_raw": "Jugement d'ouverture d'une procédure de redressement judiciaire",
            "event_date": when.date,
            "publication_date": (when + pd.Timedelta(days=10)).date,
            "accounts_closing_date": None,
            "cancelled": False,
        }
    )[defaults]
    grades = pd.DataFrame(
        {"country": ["FR", "BR"], "valid_from": [date(2015, 1, 1)] * 2, "category": [None, 4]}
    )
    return {
        "buyer": buyers,
        "buyer_financials": financials,
        "legal_event": events,
        "payment_aggregate": payments,
        "country_grade": grades,
    }


def load(session: Session, frames: dict[str, pd.DataFrame]) -> None:
    columns = {
        "buyer": BUYER_COLUMNS,
        "buyer_financials": FIN_COLUMNS,
        "legal_event": EVENT_COLUMNS,
        "payment_aggregate": PAY_COLUMNS,
        "country_grade": ["country", "valid_from", "category"],
    }
    for table, cols in columns.items():
        frame = frames[table].copy()
        for col in frame.columns:
            if frame[col].dtype == object:
                frame[col] = frame[col].where(frame[col].notna(), None)
        bulk_insert(session, table, frame, cols)
    session.flush()
