"""The insurer's policy-administration extract: policyholders, policies, foreign buyers,
credit limits, pending limit requests and outstanding declarations.

Limits are spread so that a (policy, buyer) pair is never doubled: each buyer's limits sit on
consecutive policies of a shuffled pool (domestic policies for French buyers, export policies
for foreign ones). Amounts are log-normal, larger for larger buyers, rounded to 1,000 EUR."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from feeds.synthetic import reference as ref
from feeds.synthetic.population import Population, month_ends
from feeds.synthetic.registry import _pick, buyer_names, days_to_dates

LIMIT_MEDIAN_EUR = np.array([8_000.0, 40_000.0, 250_000.0, 1_000_000.0])  # by size (EI, PME, ETI, GE)


@dataclass(frozen=True)
class Book:
    """Index arrays of the portfolio, used again by the payments feed.

    ``limit_buyer`` is sorted, so a buyer's limits are ``limit_start[b] : limit_start[b] + limit_count[b]``."""

    policy_holder: np.ndarray  # per policy: index of its policyholder
    limit_buyer: np.ndarray
    limit_policy: np.ndarray
    limit_start: np.ndarray
    limit_count: np.ndarray
    frames: dict[str, pl.DataFrame]


def holder_ids(index: np.ndarray) -> pl.Series:
    return "PH" + pl.Series(index).cast(pl.String).str.zfill(6)


def policy_ids(index: np.ndarray) -> pl.Series:
    return "POL" + pl.Series(index).cast(pl.String).str.zfill(7)


def build(rng: np.random.Generator, pop: Population, buyer_id: pl.Series, *, limits_per_buyer: float) -> Book:
    """Draw the portfolio around the population's buyers."""
    n = pop.n
    n_holders = max(30, n // 200)
    holders = np.arange(n_holders)
    second = rng.random(n_holders) < 0.15
    policy_holder = np.concatenate([holders, holders[second]])
    n_policies = len(policy_holder)
    territory = rng.choice(np.array(["FR", "EXPORT", "BOTH"]), size=n_policies, p=[0.5, 0.1, 0.4])
    territory[0] = "BOTH"  # both pools are never empty

    domestic_pool = rng.permutation(np.flatnonzero(territory != "EXPORT"))
    export_pool = rng.permutation(np.flatnonzero(territory != "FR"))
    pool_size = np.where(pop.is_foreign, len(export_pool), len(domestic_pool))
    count = np.minimum(1 + rng.poisson(max(limits_per_buyer - 1.0, 0.0), n), pool_size - 1).clip(1)
    first = (rng.random(n) * pool_size).astype(np.int64)
    limit_buyer = np.repeat(np.arange(n), count)
    start = np.concatenate([[0], np.cumsum(count)[:-1]])
    rank = np.arange(len(limit_buyer)) - np.repeat(start, count)
    slot = (first[limit_buyer] + rank) % pool_size[limit_buyer]
    limit_policy = np.where(
        pop.is_foreign[limit_buyer],
        export_pool[np.minimum(slot, len(export_pool) - 1)],
        domestic_pool[np.minimum(slot, len(domestic_pool) - 1)],
    )
    # The policy a new request would use: the next slot of the buyer's run, free by construction.
    next_slot = (first + count) % pool_size
    next_policy = np.where(
        pop.is_foreign,
        export_pool[np.minimum(next_slot, len(export_pool) - 1)],
        domestic_pool[np.minimum(next_slot, len(domestic_pool) - 1)],
    )

    frames = {
        "policyholders": _policyholders(rng, n_holders),
        "policies": _policies(rng, policy_holder, territory),
        "buyers": _foreign_buyers(rng, pop, buyer_id),
    }
    limits, granted, active = _limits(rng, pop, buyer_id, limit_buyer, limit_policy)
    frames["limits"] = limits
    frames["requests"] = _requests(
        rng, pop, buyer_id, limit_buyer, limit_policy, granted, active, next_policy
    )
    frames["outstanding"] = _outstanding(rng, pop, buyer_id, limit_buyer, limit_policy, granted, active)
    return Book(
        policy_holder=policy_holder,
        limit_buyer=limit_buyer,
        limit_policy=limit_policy,
        limit_start=start,
        limit_count=count,
        frames=frames,
    )


def _policyholders(rng: np.random.Generator, n: int) -> pl.DataFrame:
    index = np.arange(n)
    names = buyer_names(rng, n)
    slug = (
        names.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "-") + "-" + pl.Series(index).cast(pl.String)
    )
    revenue = np.round(np.exp(rng.normal(16.5, 1.2, n)), -3)
    size = np.select([revenue < 50e6, revenue < 1.5e9], ["PME", "ETI"], "GE")
    finance = pl.Series(rng.random(n) < 0.4)
    emails = (
        pl.DataFrame({"slug": slug, "finance": finance})
        .select(
            pl.when(pl.col("finance"))
            .then("credit@" + pl.col("slug") + ".example;finance@" + pl.col("slug") + ".example")
            .otherwise("credit@" + pl.col("slug") + ".example")
        )
        .to_series()
    )
    return pl.DataFrame(
        {
            "policyholder_id": holder_ids(index),
            "name": names,
            "revenue": revenue.astype(np.int64),
            "size_category": size,
            "emails": emails,
            "language": ref.labels(("fr", "en"), rng.random(n) >= 0.85),
        }
    )


def _policies(rng: np.random.Generator, policy_holder: np.ndarray, territory: np.ndarray) -> pl.DataFrame:
    n = len(policy_holder)
    return pl.DataFrame(
        {
            "policy_id": policy_ids(np.arange(n)),
            "policyholder_id": holder_ids(policy_holder),
            "territory": territory,
            "named_threshold_domestic": rng.choice([5_000, 10_000, 15_000, 20_000], n),
            "named_threshold_export": rng.choice([10_000, 20_000, 30_000], n),
            "indemnity_share_named": rng.choice([0.90, 0.95], n, p=[0.6, 0.4]),
            "indemnity_share_unnamed": rng.choice([0.80, 0.85], n),
            "oal_option": (rng.random(n) < 0.5).astype(np.int64),
            "currency": np.full(n, "EUR"),
            "max_liability": np.round(np.exp(rng.normal(14.5, 1.0, n)), -4).astype(np.int64),
        }
    )


def _foreign_buyers(rng: np.random.Generator, pop: Population, buyer_id: pl.Series) -> pl.DataFrame:
    rows = np.flatnonzero(pop.is_foreign)
    n = len(rows)
    form = ref.labels(ref.FOREIGN_LEGAL_FORMS, pop.country[rows])
    name = _pick(rng, ref.FOREIGN_WORDS, n) + " " + _pick(rng, ref.FOREIGN_TRADES, n)
    return pl.DataFrame(
        {
            "buyer_id": buyer_id.gather(rows),
            "name": name + " " + form,
            "country": ref.labels(ref.COUNTRIES, pop.country[rows]),
            "naf_code": ref.naf_codes()["naf_code"].gather(pop.naf_code[rows]),
            "legal_form": form,
            "creation_date": days_to_dates(pop.creation_day[rows]),
            "size_category": ref.labels(ref.SIZE_LABELS, pop.size[rows]),
        }
    )


def _round_thousands(amount: np.ndarray) -> np.ndarray:
    """Whole thousands of euros, at least 1,000 (as int64: written without decimals)."""
    return (np.maximum(np.round(amount / 1000.0), 1.0) * 1000).astype(np.int64)


def _limits(
    rng: np.random.Generator, pop: Population, buyer_id: pl.Series, buyer: np.ndarray, policy: np.ndarray
) -> tuple[pl.DataFrame, np.ndarray, np.ndarray]:
    m = len(buyer)
    # a limit was set in proportion to the buyer's own turnover (2-3 % on average), so the book
    # starts out roughly where the desks' share-of-revenue caps would have put it
    by_size = LIMIT_MEDIAN_EUR[pop.size[buyer]] * np.exp(0.2 * pop.quality[buyer, -1])
    by_revenue = np.exp(pop.log_revenue[buyer]) * 0.025
    median = np.minimum(by_size, by_revenue)
    granted = _round_thousands(median * np.exp(rng.normal(0.0, 0.6, m)))
    u = rng.random(m)
    defaulted = pop.default_day[buyer] >= 0
    status = np.where(defaulted | (u < 0.02), 1, np.where(u < 0.05, 2, 0))  # active, cancelled, refused
    granted = np.where(status == 2, 0, granted)
    oldest = np.maximum(pop.creation_day[buyer], pop.period_starts[0] - 730)
    last = np.where(defaulted, pop.default_day[buyer], pop.business_day) - 1
    effective = oldest + (rng.random(m) * np.maximum(last - oldest, 1)).astype(np.int64)
    expiry = pop.business_day + rng.integers(30, 365, m)
    has_expiry = rng.random(m) < 0.15
    frame = pl.DataFrame(
        {
            "policy_id": policy_ids(policy),
            "buyer_id": buyer_id.gather(buyer),
            "granted": granted,
            "effective_date": days_to_dates(effective),
            "expiry_date": days_to_dates(expiry),
            "status": ref.labels(("active", "cancelled", "refused"), status),
        }
    ).with_columns(expiry_date=pl.when(pl.Series(has_expiry)).then(pl.col("expiry_date")))
    return frame, granted, status == 0


def _requests(
    rng: np.random.Generator,
    pop: Population,
    buyer_id: pl.Series,
    buyer: np.ndarray,
    policy: np.ndarray,
    granted: np.ndarray,
    active: np.ndarray,
    next_policy: np.ndarray,
) -> pl.DataFrame:
    """A few % of the book asks for something: mostly new limits and increases (EDIFACT 4505)."""
    n_req = max(1, round(0.03 * len(buyer)))
    n_new = round(0.45 * n_req)
    alive = np.flatnonzero(pop.default_day < 0)
    new_buyer = rng.choice(alive, n_new)
    new_amount = _round_thousands(LIMIT_MEDIAN_EUR[pop.size[new_buyer]] * np.exp(rng.normal(0, 1, n_new)))
    on = rng.choice(np.flatnonzero(active), n_req - n_new, replace=False)
    kind = rng.choice(np.array([3, 7, 8, 6]), len(on), p=[0.73, 0.11, 0.09, 0.07])
    factor = np.select(
        [kind == 3, kind == 7, kind == 6],
        [rng.uniform(1.2, 2.5, len(on)), rng.uniform(0.3, 0.8, len(on)), 0.0],
        1.0,
    )
    amount = np.where(kind == 6, 0, _round_thousands(granted[on] * factor))
    all_buyers = np.concatenate([new_buyer, buyer[on]])
    frame = pl.DataFrame(
        {
            "request_id": "R" + pl.Series(np.arange(n_req)).cast(pl.String).str.zfill(9),
            "policy_id": policy_ids(np.concatenate([next_policy[new_buyer], policy[on]])),
            "buyer_id": buyer_id.gather(all_buyers),
            "request_type": np.concatenate([np.full(n_new, 2), kind]).astype(np.int64),
            "requested": np.concatenate([new_amount, amount]),
            "request_date": days_to_dates(pop.business_day - rng.integers(0, 21, n_req)),
        }
    )
    # A buyer asked twice on the same policy keeps its first request only.
    return frame.unique(subset=["policy_id", "buyer_id"], keep="first", maintain_order=True)


def _outstanding(
    rng: np.random.Generator,
    pop: Population,
    buyer_id: pl.Series,
    buyer: np.ndarray,
    policy: np.ndarray,
    granted: np.ndarray,
    active: np.ndarray,
) -> pl.DataFrame:
    """Month-end outstanding declared on most active limits (sometimes above the limit)."""
    rows = np.flatnonzero(active & (rng.random(len(buyer)) < 0.7))
    business = np.datetime64(int(pop.business_day), "D")
    year, month = int(str(business)[:4]), int(str(business)[5:7])
    prev_year, prev_month = (year, month - 1) if month > 1 else (year - 1, 12)
    declared = int(month_ends(np.array([prev_year]), np.array([prev_month]))[0])
    return pl.DataFrame(
        {
            "policy_id": policy_ids(policy[rows]),
            "buyer_id": buyer_id.gather(buyer[rows]),
            "declaration_date": days_to_dates(np.full(len(rows), declared)),
            "outstanding": np.round(granted[rows] * rng.beta(2.0, 3.0, len(rows)) * 1.4, 2),
        }
    )
