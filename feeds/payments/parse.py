"""Payment experience, invoice level: validate rows and resolve repeated invoices (pure).

The natural key is (policyholder_id, invoice_id). A policyholder reports the same invoice
again when its state moves (unpaid -> declared overdue -> paid); the record that wins is the
one furthest along by its own dates, whatever the order files arrive in: a paid record beats
an unpaid one, a later payment date beats an earlier one, a declared-overdue record beats an
undeclared one, and only then does the later record (line, then batch) win.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from feeds.common import ParseResult
from feeds.payments.frames import (
    CURRENCIES,
    IDENTIFIER,
    LINE,
    Check,
    as_cents,
    as_date,
    buyer_id_bad,
    keep_latest,
    read_text_table,
    rejected_to_pandas,
    split_checked,
)

COLUMNS = [
    "policyholder_id",
    "buyer_id",
    "invoice_id",
    "invoice_date",
    "due_date",
    "amount",
    "currency",
    "paid_date",
    "overdue_declared",
]
KEY = ["policyholder_id", "invoice_id"]
PRECEDENCE = ["paid_date", "overdue_declared"]
"""Sort order of the states of one invoice, least advanced first (nulls = unpaid first)."""

INVOICE_SCHEMA = pl.Schema(
    {
        "policyholder_id": pl.String(),
        "buyer_id": pl.String(),
        "invoice_id": pl.String(),
        "invoice_date": pl.Date(),
        "due_date": pl.Date(),
        "amount_cents": pl.Int64(),
        "currency": pl.String(),
        "paid_date": pl.Date(),
        "overdue_declared": pl.Boolean(),
    }
)
"""The accepted invoice: what the payment history keeps and the aggregate reads."""


TYPED = {
    "invoice_date": "_invoice_date",
    "due_date": "_due_date",
    "paid_date": "_paid_date",
    "amount": "_amount_cents",
}
"""Each text column parsed once into a typed helper column the checks and the result share."""


def _parsed(raw: pl.DataFrame) -> pl.DataFrame:
    return raw.with_columns(
        as_date("invoice_date").alias("_invoice_date"),
        as_date("due_date").alias("_due_date"),
        as_date("paid_date").alias("_paid_date"),
        as_cents("amount").alias("_amount_cents"),
    )


def _bad_date(name: str, *, required: bool) -> pl.Expr:
    present = pl.col(name).is_not_null()
    invalid = present & pl.col(TYPED[name]).is_null()
    return (invalid | ~present) if required else invalid


def checks() -> list[Check]:
    """Field checks of one (parsed) invoice row, in the order their failure is reported."""
    text_id = "a non-empty identifier of at most 32 characters"
    cents = pl.col("_amount_cents")
    return [
        Check("policyholder_id", ~pl.col("policyholder_id").fill_null("").str.contains(IDENTIFIER), text_id),
        Check(
            "buyer_id",
            buyer_id_bad("buyer_id"),
            "a SIREN (9 digits with a valid check digit) or <ISO2>-<local id>",
        ),
        Check("invoice_id", ~pl.col("invoice_id").fill_null("").str.contains(IDENTIFIER), text_id),
        Check("invoice_date", _bad_date("invoice_date", required=True), "a date YYYY-MM-DD"),
        Check("due_date", _bad_date("due_date", required=True), "a date YYYY-MM-DD"),
        Check(
            "due_date",
            pl.col("_due_date") < pl.col("_invoice_date"),
            "a due date on or after the invoice date",
        ),
        Check(
            "amount",
            cents.is_null() | (cents < 1),
            "a positive amount in euros with at most 2 decimals",
        ),
        Check(
            "currency",
            ~pl.col("currency").fill_null("").is_in(list(CURRENCIES)),
            "an ISO 4217 currency code",
        ),
        Check("paid_date", _bad_date("paid_date", required=False), "a date YYYY-MM-DD or empty"),
        Check(
            "paid_date",
            pl.col("_paid_date") < pl.col("_invoice_date"),
            "a payment date on or after the invoice date",
        ),
        Check(
            "overdue_declared",
            ~pl.col("overdue_declared").fill_null("").is_in(["0", "1"]),
            "0 or 1",
        ),
    ]


def typed(frame: pl.DataFrame) -> pl.DataFrame:
    """Validated, parsed rows -> the invoice schema (plus ``_line``)."""
    return frame.select(
        LINE,
        "policyholder_id",
        "buyer_id",
        "invoice_id",
        pl.col("_invoice_date").alias("invoice_date"),
        pl.col("_due_date").alias("due_date"),
        pl.col("_amount_cents").alias("amount_cents"),
        "currency",
        pl.col("_paid_date").alias("paid_date"),
        (pl.col("overdue_declared") == "1").alias("overdue_declared"),
    )


def validate(raw: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(accepted invoices, rejected rows, superseded repeats) of text rows (pure)."""
    good, rejected = split_checked(_parsed(raw), checks(), raw_columns=COLUMNS)
    accepted, duplicates = keep_latest(typed(good), key=KEY, order=[*PRECEDENCE, LINE])
    return accepted.sort(LINE).drop(LINE), rejected, duplicates


def parse_file(path: Path) -> tuple[pl.DataFrame, ParseResult]:
    """Read and validate one payments file (CSV or Parquet). Returns the accepted invoices as
    polars (what the store writes) and the :class:`ParseResult` the ledger records."""
    raw = read_text_table(path, required=COLUMNS)
    accepted, rejected, duplicates = validate(raw)
    result = ParseResult(
        accepted=accepted.to_pandas(use_pyarrow_extension_array=True),
        rejected=rejected_to_pandas(rejected),
        duplicates=duplicates,
        read=len(raw),
    )
    return accepted, result


def parse(path: Path) -> ParseResult:
    """The :data:`feeds.common.ingest_file` parse step for a payments file."""
    return parse_file(path)[1]
