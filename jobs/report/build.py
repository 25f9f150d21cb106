"""Build the portfolio report of a business date: one JSON-able dict, an HTML page, PNG plots.

The heavy aggregation (millions of limits -> a few hundred rows per country and per rating) is
done by polars over a bulk read of the tables; :mod:`jobs.report.indicators` does the maths;
this module only reads, calls and writes under ``settings.reports_dir / <as_of>/``. Each night
also writes ``report.json``, which later nights read back to plot the index over time (the
limits table only holds the present, so the report files are the index's history).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from sqlalchemy.orm import Session

from config.settings import Settings
from jobs.ledger import step_counts
from jobs.report import indicators as ind
from jobs.report import plots
from models.bulk_read import read_arrow, read_bulk
from models.codes import ResponseType
from models.db import bound_list, read_frame
from models.score import latest_score_date

TEMPLATES_DIR = Path(__file__).resolve().parents[1] / "templates"


@dataclass
class Report:
    data: dict[str, Any]
    html_path: Path
    json_path: Path
    plots: list[Path] = field(default_factory=list)


def _run_id(session: Session, as_of: date, run_id: int | None) -> int | None:
    if run_id is not None:
        return run_id
    found = read_frame(session, "SELECT run_id FROM run WHERE business_date = :d", {"d": as_of})
    return None if found.empty else int(found["run_id"].iloc[0])


_BUYER_COUNTRIES = "SELECT buyer_id, country FROM buyer"
_ACTIVE_COVER = (
    "SELECT buyer_id, granted_cents FROM credit_limit WHERE status = 'active' AND granted_cents > 0"
)
_RATINGS = "SELECT buyer_id, rating FROM score WHERE role = 'champion' AND as_of = :s"
_DECISIONS = """SELECT d.decision_id, d.decision_type, d.status, d.previous_cents, d.proposed_cents, d.final_cents,
                  d.desk, d.buyer_id
           FROM decision d WHERE d.business_date = :d"""


def bulk_reads(session: Session, as_of: date) -> list[tuple[str, dict[str, Any]]]:
    """The report's big reads (queries and parameters), in the order it makes them: the night
    sends them ahead (:func:`models.bulk_read.prefetch`) while the e-mails go out, since
    sending writes none of these tables."""
    return [
        (_BUYER_COUNTRIES, {}),
        (_DECISIONS, {"d": as_of}),
        (_ACTIVE_COVER, {}),
        (_RATINGS, {"s": latest_score_date(session, as_of)}),
    ]


def _buyer_countries(session: Session) -> pa.Table:
    """Every buyer's country, read once for the cover and the decisions."""
    return read_arrow(session, _BUYER_COUNTRIES)


def _cover_by_country_and_rating(session: Session, as_of: date, buyers: pa.Table) -> pd.DataFrame:
    """Active cover per (buyer country, champion rating at the latest score date), with the
    number of buyers: the limits summed per buyer, then joined to one buyer row and one score
    row per buyer (missing country or rating kept as a group of its own). One pass serves both
    the country index and the rating shares. The three tables are read in bulk and summed by
    polars: SQLite's GROUP BY of three million limits took 3.9-5 s, this 1.5-2 s."""
    latest = latest_score_date(session, as_of)
    limits = read_arrow(session, _ACTIVE_COVER)
    ratings = read_arrow(session, _RATINGS, {"s": latest})
    cover = (
        _keyed(limits, ["buyer_id"], ("granted_cents",))
        .group_by("buyer_id")
        .agg(pl.col("granted_cents").sum().alias("amount_cents"))
        .join(_keyed(buyers, ["buyer_id", "country"]), on="buyer_id", how="left")
        .join(_keyed(ratings, ["buyer_id", "rating"]), on="buyer_id", how="left")
        .group_by("country", "rating")
        .agg(pl.len().alias("buyers"), pl.col("amount_cents").sum())
        .collect()
    )
    return cover.to_pandas().astype({"buyers": "int64", "amount_cents": "int64"})


def _keyed(table: pa.Table, keys: list[str], amounts: tuple[str, ...] = ()) -> pl.LazyFrame:
    """``table`` for the joins: key columns as text and amounts as whole numbers, whatever the
    read gave (a table with no rows from the session's read types its columns as null)."""
    frame = pl.from_arrow(table)
    if not isinstance(frame, pl.DataFrame):
        raise TypeError(f"expected a table, found {type(frame).__name__}")
    return frame.lazy().with_columns(
        *(pl.col(k).cast(pl.String) for k in keys), *(pl.col(a).cast(pl.Int64) for a in amounts)
    )


def _summed_by(cover: pd.DataFrame, key: str, columns: list[str]) -> pd.DataFrame:
    """``cover`` summed over ``key`` (missing keys kept as one group, as SQL's GROUP BY does)."""
    if cover.empty:
        return pd.DataFrame(columns=[key, *columns])
    grouped = cover.groupby(cover[key].astype(object), dropna=False)[columns].sum().reset_index()
    grouped[key] = grouped[key].astype(object).where(grouped[key].notna(), None)
    return grouped


def _grades(session: Session, as_of: date) -> pd.DataFrame:
    raw = read_frame(
        session,
        "SELECT country, valid_from, category FROM country_grade WHERE valid_from <= :d",
        {"d": as_of},
    )
    return ind.grades_in_force(raw)


def _decisions(session: Session, as_of: date, buyers: pa.Table) -> pd.DataFrame:
    """The decisions of ``as_of`` with their buyer's country. Half a million rows on a first
    night: read in bulk, and the country joined here by hash (SQLite's join looked each buyer up
    in its index: 1.9 s of a 2.5 s read)."""
    decisions = read_bulk(session, _DECISIONS, {"d": as_of})
    keys = pa.table({"buyer_id": pa.array(decisions["buyer_id"].astype(str), type=pa.string())})
    found = (
        _keyed(keys, ["buyer_id"])
        .join(
            _keyed(buyers, ["buyer_id", "country"]).unique("buyer_id"),
            on="buyer_id",
            how="left",
            maintain_order="left",
        )
        .collect()
    )
    decisions["buyer_country"] = found["country"].to_numpy()
    return decisions


def _notifications(session: Session, as_of: date) -> dict[str, int]:
    rows = read_frame(
        session,
        "SELECT status, COUNT(*) AS n FROM notification WHERE business_date = :d GROUP BY status",
        {"d": as_of},
    )
    counts: dict[str, int] = {str(k): int(v) for k, v in zip(rows["status"], rows["n"], strict=True)}
    return {
        "sent": counts.get("sent", 0),
        "dead_letter": counts.get("dead_letter", 0),
        "pending": counts.get("pending", 0) + counts.get("retry", 0),
        "in_doubt": counts.get("sending", 0),
    }


def _monitoring(session: Session, run_id: int | None) -> dict[str, Any]:
    if run_id is None:
        return {"run_id": None, "metrics": [], "status": {}}
    rows = read_frame(
        session,
        "SELECT metric, subject, value, status FROM monitoring_metric WHERE run_id = :r ORDER BY metric, subject",
        {"r": run_id},
    )
    metrics: list[dict[str, Any]] = [
        {
            "metric": str(r["metric"]),
            "subject": str(r["subject"]),
            "value": None if pd.isna(r["value"]) else float(r["value"]),
            "status": str(r["status"]),
        }
        for r in rows.to_dict("records")
    ]
    status: dict[str, int] = {}
    for m in metrics:
        status[str(m["status"])] = status.get(str(m["status"]), 0) + 1
    return {"run_id": run_id, "metrics": metrics, "status": status}


def _missing_feeds(session: Session, run_id: int | None) -> list[str]:
    """The ingest step records the feeds absent on the night under ``missing_feeds``."""
    if run_id is None:
        return []
    counts = step_counts(session, run_id=run_id, name="ingest")
    missing = counts.get("missing_feeds", [])
    return [str(m) for m in missing] if isinstance(missing, list) else [str(missing)]


def _history(reports_dir: Path, as_of: date, stock: float | None, flow: float | None) -> pd.DataFrame:
    rows = []
    for path in sorted(reports_dir.glob("*/report.json")):
        try:
            day = date.fromisoformat(path.parent.name)
            old = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            continue
        if day < as_of:
            index = old.get("country_risk_index", {})
            rows.append({"as_of": day, "stock": index.get("stock"), "flow": index.get("flow")})
    rows.append({"as_of": as_of, "stock": stock, "flow": flow})
    return pd.DataFrame(rows).astype({"stock": float, "flow": float})


def indicators_of(
    *,
    stock_by_country: pd.DataFrame,
    grades: pd.DataFrame,
    by_rating: pd.DataFrame,
    decisions: pd.DataFrame,
) -> dict[str, Any]:
    """The report's figures from the aggregated frames (pure: tested on hand-made frames)."""
    stock = ind.country_risk_index(ind.with_grades(stock_by_country, grades))
    flow = ind.country_risk_index(ind.with_grades(ind.flow_amounts(decisions), grades))
    return {
        "country_risk_index": {
            "stock": stock["index"],
            "flow": flow["index"],
            "target_band": list(ind.TARGET_BAND),
            "stock_in_band": ind.in_band(stock["index"]),
            "flow_in_band": ind.in_band(flow["index"]),
            "stock_amount_cents": stock["amount_cents"],
            "flow_amount_cents": flow["amount_cents"],
            "unknown_country_share": {"stock": stock["unknown_share"], "flow": flow["unknown_share"]},
        },
        **ind.risk_shares(by_rating),
        "decisions": ind.decision_counts(decisions),
        "decision_labels": {str(int(c)): c.name.lower() for c in ResponseType},
        "referred": int((decisions["status"] == "referred").sum()) if not decisions.empty else 0,
        "exposure_removed": ind.exposure_removed(decisions),
        "decisions_by_desk": ind.by_column(decisions, "desk"),
        "decisions_by_country": ind.by_column(decisions, "buyer_country"),
    }


def _movers_table(session: Session, movers: pd.DataFrame) -> list[dict[str, Any]]:
    """The biggest movers with their buyer's name (read for those few buyers only: a night can
    hold hundreds of thousands of decisions); a natural person's name is never shown."""
    marks, ids = bound_list("b", movers["buyer_id"])
    names: dict[str, tuple[Any, Any]] = {}
    if ids:
        found = read_frame(
            session, f"SELECT buyer_id, name, is_natural_person FROM buyer WHERE buyer_id IN ({marks})", ids
        )
        names = {str(b): (n, p) for b, n, p in found.itertuples(index=False)}
    table = []
    for r in movers.to_dict("records"):
        name, natural = names.get(str(r["buyer_id"]), (None, None))
        person = bool(natural) if pd.notna(natural) else False
        table.append(
            {
                "buyer_id": str(r["buyer_id"]),
                "name": "(natural person)" if person else str(name if pd.notna(name) else ""),
                "country": str(r["buyer_country"] or ""),
                "decision_type": int(r["decision_type"]),
                "status": str(r["status"]),
                "previous_cents": int(r["previous_cents"]),
                "change_cents": int(r["change_cents"]),
            }
        )
    return table


def build_report(session: Session, *, as_of: date, settings: Settings, run_id: int | None) -> Report:
    """Compute the indicators of ``as_of``, write ``report.json``, ``report.html`` and the PNGs."""
    run = _run_id(session, as_of, run_id)
    buyers = _buyer_countries(session)
    decisions = _decisions(session, as_of, buyers)
    cover = _cover_by_country_and_rating(session, as_of, buyers)
    del buyers
    data: dict[str, Any] = {
        "as_of": as_of.isoformat(),
        "run_id": run,
        **indicators_of(
            stock_by_country=_summed_by(cover, "country", ["amount_cents"]),
            grades=_grades(session, as_of),
            by_rating=_summed_by(cover, "rating", ["buyers", "amount_cents"]),
            decisions=decisions,
        ),
        "notifications": _notifications(session, as_of),
        "model_monitoring": _monitoring(session, run),
        "missing_feeds": _missing_feeds(session, run),
    }
    movers = ind.biggest_movers(decisions)
    data["biggest_movers"] = _movers_table(session, movers)

    folder = settings.reports_dir / as_of.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    index = data["country_risk_index"]
    written = [
        plots.index_history(
            _history(settings.reports_dir, as_of, index["stock"], index["flow"]), folder / "index.png"
        ),
        plots.decisions_by_desk_and_country(
            data["decisions_by_desk"], data["decisions_by_country"], folder / "decisions.png"
        ),
        plots.biggest_movers(movers, folder / "movers.png"),
    ]
    json_path = folder / "report.json"
    json_path.write_text(json.dumps(data, indent=2, sort_keys=True), encoding="utf-8")
    env = Environment(
        loader=FileSystemLoader(TEMPLATES_DIR),
        autoescape=select_autoescape(enabled_extensions=("html.j2", "html")),
        undefined=StrictUndefined,
    )
    html = env.get_template("report.html.j2").render(data=data, plots=[p.name for p in written])
    html_path = folder / "report.html"
    html_path.write_text(html, encoding="utf-8")
    return Report(data=data, html_path=html_path, json_path=json_path, plots=written)
