"""The policy-administration extract: one layout per entity, validated column-wise (pure).

Each entity is an :class:`Entity`: its columns, its field checks (:mod:`feeds.portfolio.checks`),
its natural key and the order that decides which of several rows for one key wins (its own
date first, then the later line). References to rows already in the database (a policy's
policyholder, a limit's policy, a request's limit) are checked against the ``known`` sets
the loader passes in, so the database never sees a row it would refuse and a bad reference is
quarantined by line.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import polars as pl

from feeds.payments.frames import LINE, Check, keep_latest, reject_rows, split_checked
from feeds.portfolio.checks import (
    Known,
    buyer_checks,
    buyer_rows,
    limit_checks,
    limit_rows,
    outstanding_checks,
    outstanding_rows,
    policy_checks,
    policy_rows,
    policyholder_checks,
    policyholder_rows,
    request_checks,
    request_rows,
)
from models.codes import RequestType

__all__ = ["ENTITIES", "Entity", "Known", "validate"]


def split_on_limit(
    rows: pl.DataFrame,
    raw: pl.DataFrame,
    known: Known,
    *,
    allowed: pl.Expr | None,
    columns: list[str],
    field: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Rows whose (policy, buyer) has no limit yet are refused unless ``allowed`` says they
    may create one (a new-limit request)."""
    pairs = (
        known.limits.select("policy_id", "buyer_id").unique().with_columns(pl.lit(True).alias("_has_limit"))
    )
    marked = rows.join(pairs, on=["policy_id", "buyer_id"], how="left").with_columns(
        pl.col("_has_limit").fill_null(False)
    )
    ok = pl.col("_has_limit") if allowed is None else pl.col("_has_limit") | allowed
    good = marked.filter(ok).drop("_has_limit")
    bad_lines = marked.filter(~ok).select(LINE)
    bad_raw = raw.join(bad_lines, on=LINE, how="semi")
    reason = pl.lit(
        "expected a limit for this policy and buyer (only a new-limit request, type 2, creates one), found none"
    )
    return good, reject_rows(bad_raw, field=field, reason=reason, raw_columns=columns)


@dataclass(frozen=True)
class Entity:
    """One portfolio file layout and how its rows are checked, typed and de-duplicated."""

    name: str
    columns: list[str]
    checks: Callable[[Known], list[Check]]
    rows: Callable[[pl.DataFrame], pl.DataFrame]
    key: list[str]
    order: list[str]
    needs_limit: bool = False
    creates_limit: pl.Expr | None = None


ENTITIES: dict[str, Entity] = {
    "policyholders": Entity(
        "policyholders",
        ["policyholder_id", "name", "revenue", "size_category", "emails", "language"],
        policyholder_checks,
        policyholder_rows,
        ["policyholder_id"],
        [LINE],
    ),
    "policies": Entity(
        "policies",
        [
            "policy_id",
            "policyholder_id",
            "territory",
            "named_threshold_domestic",
            "named_threshold_export",
            "indemnity_share_named",
            "indemnity_share_unnamed",
            "oal_option",
            "currency",
            "max_liability",
        ],
        policy_checks,
        policy_rows,
        ["policy_id"],
        [LINE],
    ),
    "buyers": Entity(
        "buyers",
        ["buyer_id", "name", "country", "naf_code", "legal_form", "creation_date", "size_category"],
        buyer_checks,
        buyer_rows,
        ["buyer_id"],
        [LINE],
    ),
    "limits": Entity(
        "limits",
        ["policy_id", "buyer_id", "granted", "effective_date", "expiry_date", "status"],
        limit_checks,
        limit_rows,
        ["policy_id", "buyer_id"],
        ["effective_date", LINE],
    ),
    "requests": Entity(
        "requests",
        ["request_id", "policy_id", "buyer_id", "request_type", "requested", "request_date"],
        request_checks,
        request_rows,
        ["policy_id", "buyer_id"],
        ["request_date", LINE],
        needs_limit=True,
        creates_limit=pl.col("request_type") == int(RequestType.NEW),
    ),
    "outstanding": Entity(
        "outstanding",
        ["policy_id", "buyer_id", "declaration_date", "outstanding"],
        outstanding_checks,
        outstanding_rows,
        ["policy_id", "buyer_id"],
        ["outstanding_date", LINE],
        needs_limit=True,
    ),
}


def validate(entity: Entity, raw: pl.DataFrame, known: Known) -> tuple[pl.DataFrame, pl.DataFrame, int]:
    """(accepted typed rows, rejected rows, superseded repeats) of one entity's text rows."""
    good, rejected = split_checked(raw, entity.checks(known), raw_columns=entity.columns)
    rows, duplicates = keep_latest(entity.rows(good), key=entity.key, order=entity.order)
    if entity.needs_limit:
        field_name = "request_type" if entity.creates_limit is not None else "buyer_id"
        rows, refused = split_on_limit(
            rows, raw, known, allowed=entity.creates_limit, columns=entity.columns, field=field_name
        )
        rejected = pl.concat([rejected, refused], how="vertical")
    return rows.sort(LINE).drop(LINE), rejected, duplicates
