"""Portfolio I/O: one extract file into its table, idempotent and resolved by own dates.

The entity comes from the file name (``portfolio_<entity>*.csv`` or ``.parquet``). Rows are
written with one set-based statement per file (``INSERT ... ON CONFLICT``), never ORM
objects. Where the extract carries a date, the database keeps the most recent state: a limit
with an older effective date, a request with an older request date or an outstanding
declaration with an older declaration date never overwrites a newer one, whatever order the
files arrive in.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import polars as pl
from sqlalchemy import select
from sqlalchemy.orm import Session

from feeds.common import FeedFileError, FileReport, ParseResult, ingest_file
from feeds.payments.frames import read_text_table, rejected_to_pandas
from feeds.portfolio.parse import ENTITIES, Entity, Known, validate
from models.credit_limit import CreditLimit
from models.db import executemany, placeholder, upsert_rows
from models.policy import Policy
from models.policyholder import Policyholder

SOURCE = "portfolio"


def entity_of(path: Path) -> Entity:
    """The entity a file holds, from its name; a name that says none is a whole-file error."""
    name = path.name.lower()
    for key, entity in ENTITIES.items():
        if name.startswith(f"portfolio_{key}") and name.endswith((".csv", ".parquet")):
            return entity
    expected = ", ".join(f"portfolio_{k}*.csv" for k in ENTITIES)
    raise FeedFileError(f"{path}: expected a portfolio file name ({expected}), found {path.name!r}")


def known_rows(session: Session, entity: Entity) -> Known:
    """Only what this entity refers to is read (the limit pairs only for requests and outstanding)."""
    if entity.name == "policies":
        holders = session.execute(select(Policyholder.policyholder_id)).scalars()
        return Known(policyholders=frozenset(holders))
    if entity.name in {"limits", "requests", "outstanding"}:
        policies = frozenset(session.execute(select(Policy.policy_id)).scalars())
        if not entity.needs_limit:
            return Known(policies=policies)
        pairs = session.execute(select(CreditLimit.policy_id, CreditLimit.buyer_id)).all()
        limits = pl.DataFrame(
            {"policy_id": [p for p, _ in pairs], "buyer_id": [b for _, b in pairs]},
            schema={"policy_id": pl.String, "buyer_id": pl.String},
        )
        return Known(policies=policies, limits=limits)
    return Known()


def _marks(session: Session, count: int) -> str:
    return ", ".join([placeholder(session)] * count)


def _upsert(session: Session, table: str, frame: pl.DataFrame, key: list[str]) -> int:
    return upsert_rows(session, table, frame.columns, frame.rows(), key)


def write(session: Session, entity: Entity, rows: pl.DataFrame) -> dict[str, int]:
    """Write accepted rows of one entity; returns ``{"written": n}``.

    Rows go in key order: the index pages are then touched once each instead of at random,
    which is several times faster for a few million limits."""
    now = datetime.now(UTC)
    rows = rows.sort(entity.key)
    if entity.name == "policyholders":
        return {"written": _upsert(session, "policyholder", rows, ["policyholder_id"])}
    if entity.name == "policies":
        return {"written": _upsert(session, "policy", rows, ["policy_id"])}
    if entity.name == "buyers":
        dropped = int(rows["_legal_form_dropped"].sum())
        rows = rows.drop("_legal_form_dropped").with_columns(pl.lit(now).alias("updated_at"))
        return {"written": _upsert(session, "buyer", rows, ["buyer_id"]), "legal_form_not_kept": dropped}
    if entity.name == "limits":
        rows = rows.with_columns(
            pl.lit(0, dtype=pl.Int64).alias("outstanding_cents"),
            pl.lit(1, dtype=pl.Int64).alias("version"),
            pl.lit(now).alias("updated_at"),
        )
        columns = rows.columns
        sql = (
            f"INSERT INTO credit_limit ({', '.join(columns)}) VALUES ({_marks(session, len(columns))}) "
            "ON CONFLICT (policy_id, buyer_id) DO UPDATE SET granted_cents = excluded.granted_cents, "
            "effective_date = excluded.effective_date, expiry_date = excluded.expiry_date, "
            "status = excluded.status, version = credit_limit.version + 1, updated_at = excluded.updated_at "
            "WHERE credit_limit.effective_date IS NULL OR credit_limit.effective_date <= excluded.effective_date"
        )
        return {"written": executemany(session, sql, rows.rows(), "credit_limit")}
    if entity.name == "requests":
        rows = rows.with_columns(
            pl.lit(0, dtype=pl.Int64).alias("granted_cents"),
            pl.lit(0, dtype=pl.Int64).alias("outstanding_cents"),
            pl.lit("requested").alias("status"),
            pl.lit(1, dtype=pl.Int64).alias("version"),
            pl.lit(now).alias("updated_at"),
        )
        columns = rows.columns
        sql = (
            f"INSERT INTO credit_limit ({', '.join(columns)}) VALUES ({_marks(session, len(columns))}) "
            "ON CONFLICT (policy_id, buyer_id) DO UPDATE SET request_id = excluded.request_id, "
            "request_type = excluded.request_type, requested_cents = excluded.requested_cents, "
            "request_date = excluded.request_date, version = credit_limit.version + 1, "
            "updated_at = excluded.updated_at "
            "WHERE credit_limit.request_date IS NULL OR credit_limit.request_date <= excluded.request_date"
        )
        return {"written": executemany(session, sql, rows.rows(), "credit_limit")}
    # outstanding: only existing limits (checked by the parse), newest declaration wins
    mark = placeholder(session)
    sql = (
        f"UPDATE credit_limit SET outstanding_cents = {mark}, outstanding_date = {mark}, "
        f"version = version + 1, updated_at = {mark} "
        f"WHERE policy_id = {mark} AND buyer_id = {mark} "
        f"AND (outstanding_date IS NULL OR outstanding_date <= {mark})"
    )
    params = rows.select(
        "outstanding_cents",
        "outstanding_date",
        pl.lit(now).alias("updated_at"),
        "policy_id",
        "buyer_id",
        pl.col("outstanding_date").alias("_not_older_than"),
    ).rows()
    return {"written": executemany(session, sql, params, "credit_limit")}


def ingest(session: Session, path: Path) -> FileReport:
    """Validate one portfolio extract file, quarantine bad rows and write the good ones to
    the entity's table (the entity is chosen from the file name). The caller commits."""
    entity = entity_of(path)
    accepted: dict[str, pl.DataFrame] = {}

    def parse(file: Path) -> ParseResult:
        raw = read_text_table(file, required=entity.columns)
        rows, rejected, duplicates = validate(entity, raw, known_rows(session, entity))
        accepted["rows"] = rows
        return ParseResult(
            accepted=rows.to_pandas(),
            rejected=rejected_to_pandas(rejected),
            duplicates=duplicates,
            read=len(raw),
        )

    def load(load_session: Session, _frame: object) -> dict[str, int]:
        return write(load_session, entity, accepted["rows"])

    return ingest_file(session, source=SOURCE, path=path, parse=parse, load=load)
