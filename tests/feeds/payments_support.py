"""Helpers shared by the payments, portfolio, folder and CLI tests: writing small feed files."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

PAYMENT_COLUMNS = [
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
SIREN_A = "552100554"
SIREN_B = "732829320"
SIREN_C = "403483373"


def write_csv(
    path: Path,
    rows: Sequence[Sequence[str]],
    *,
    columns: Sequence[str] = PAYMENT_COLUMNS,
    delimiter: str = ";",
    encoding: str = "utf-8",
) -> Path:
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def invoice(
    invoice_id: str,
    *,
    policyholder: str = "P1",
    buyer: str = SIREN_A,
    invoice_date: str = "2026-01-01",
    due_date: str = "2026-01-31",
    amount: str = "100.00",
    currency: str = "EUR",
    paid: str = "",
    declared: str = "0",
) -> list[str]:
    return [policyholder, buyer, invoice_id, invoice_date, due_date, amount, currency, paid, declared]
