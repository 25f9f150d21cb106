"""Payment experience: invoices reported by policyholders on the buyers they hold limits on.

Days beyond terms follow each buyer's hidden payment behaviour in the year of the invoice;
in the six months before a default they lengthen, and invoices falling due close to (or after)
the default are mostly never paid. A policyholder declares an invoice overdue to the insurer
when it is long unpaid, as the policy requires."""

from __future__ import annotations

import numpy as np
import polars as pl

from feeds.synthetic import reference as ref
from feeds.synthetic.population import Population
from feeds.synthetic.portfolio import Book, holder_ids
from feeds.synthetic.registry import days_to_dates

SIZE_ACTIVITY = np.array([0.5, 1.0, 3.0, 6.0])  # invoices per buyer relative to a PME


def payments_frame(
    rng: np.random.Generator, pop: Population, book: Book, buyer_id: pl.Series, *, payments_per_buyer: float
) -> pl.DataFrame:
    """About ``payments_per_buyer`` invoices per buyer over the history window."""
    total = round(pop.n * payments_per_buyer)
    # A buyer trades from its creation (or the start of the history) until its default (or
    # the business date), at a rate set by its size. Why a rate and not a count per buyer: with
    # a count, a buyer about to default would crowd its invoices into a short life, and the
    # number of invoices (amounts, reporting policyholders) would foretell the default.
    start = np.maximum(pop.period_starts[0], pop.creation_day)
    stop = np.where(pop.default_day >= 0, pop.default_day, pop.business_day)
    active = np.maximum(stop - start, 1).astype(np.float64)
    weight = SIZE_ACTIVITY[pop.size] * active
    # Exact total, and invoices come out grouped by buyer (cheap, and compresses well).
    buyer = np.repeat(np.arange(pop.n), rng.multinomial(total, weight / weight.sum()))

    first = start[buyer]
    default = pop.default_day[buyer]
    defaulted = default >= 0
    end = stop[buyer]
    invoice = first + (rng.random(total) * np.maximum(end - first, 1)).astype(np.int64)
    terms = rng.choice(np.array([30, 45, 60, 90]), total, p=[0.35, 0.25, 0.3, 0.1])
    due = invoice + terms

    period = np.searchsorted(pop.period_starts, invoice, side="right") - 1
    mean_late = pop.pay_late_days[buyer, period.clip(0, len(pop.period_starts) - 1)]
    late = np.round(rng.exponential(1.0, total) * mean_late).astype(np.int64) - rng.integers(0, 6, total)
    to_default = np.where(defaulted, default - due, 10_000)
    distress = (to_default < 180) & (to_default >= 0)
    late += np.where(
        distress, (60 * (1 - to_default / 180) * rng.uniform(0.5, 1.5, total)).astype(np.int64), 0
    )
    never = defaulted & (to_default < 60) & (rng.random(total) < 0.8)
    paid = due + np.maximum(late, -5)
    unpaid = never | (paid > pop.business_day)
    overdue_for = np.where(unpaid, pop.business_day - due, late)
    declared = (overdue_for > 60) & (rng.random(total) < 0.85)

    pick = book.limit_start[buyer] + (rng.random(total) * book.limit_count[buyer]).astype(np.int64)
    holder = book.policy_holder[book.limit_policy[pick]]
    amount = np.round(np.exp(rng.normal(8.5, 1.1, total) + 0.4 * pop.size[buyer]), 2)
    return pl.DataFrame(
        {
            "policyholder_id": holder_ids(np.arange(int(book.policy_holder.max()) + 1)).gather(holder),
            "buyer_id": buyer_id.gather(buyer),
            "invoice_id": "F" + pl.Series(np.arange(total)).cast(pl.String).str.zfill(10),
            "invoice_date": days_to_dates(invoice),
            "due_date": days_to_dates(due),
            "amount": amount,
            "currency": ref.labels(ref.CURRENCIES, pop.country[buyer]),
            "paid_date": days_to_dates(paid),
            "overdue_declared": declared.astype(np.int8),
        }
    ).with_columns(paid_date=pl.when(pl.Series(~unpaid)).then(pl.col("paid_date")))
