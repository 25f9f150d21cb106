"""Field checks and typed rows of each portfolio entity (pure column expressions).

One ``<entity>_checks(known)`` (what is wrong, in the order it is reported) and one
``<entity>_rows(frame)`` (validated text -> the table's typed columns) per file layout of
feeds/LAYOUTS.md. Empty optional amounts and shares take the policy-terms defaults.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from feeds.payments.frames import (
    COUNTRIES_ISO2,
    CURRENCIES,
    IDENTIFIER,
    LINE,
    Check,
    as_cents,
    as_date,
    bad_amount,
    bad_date,
    buyer_id_bad,
)
from models.codes import RequestType

EMAIL = r"^[^@\s;,]+@[^@\s;,]+\.[^@\s;,.]+$"
SIZES = ["PME", "ETI", "GE"]
REQUEST_TYPES = [str(int(t)) for t in RequestType]
_AMOUNT_TYPES = [str(int(t)) for t in (RequestType.NEW, RequestType.INCREASE, RequestType.REDUCTION)]
_FRACTION = r"^(0(\.\d{1,4})?|1(\.0{1,4})?)$"


@dataclass(frozen=True)
class Known:
    """What the database already holds that rows may refer to."""

    policyholders: frozenset[str] = frozenset()
    policies: frozenset[str] = frozenset()
    limits: pl.DataFrame = field(
        default_factory=lambda: pl.DataFrame(schema={"policy_id": pl.String, "buyer_id": pl.String})
    )


def _identifier(name: str) -> Check:
    return Check(
        name, ~pl.col(name).fill_null("").str.contains(IDENTIFIER), "an identifier of 1 to 32 characters"
    )


def _one_of(name: str, values: list[str], *, required: bool = True, upper: bool = False) -> Check:
    """``upper``: the value is compared (and later stored) in upper case."""
    value = pl.col(name).str.to_uppercase() if upper else pl.col(name)
    bad = ~value.is_in(values)
    bad = bad.fill_null(required)
    return Check(name, bad, f"one of {', '.join(values)}" + ("" if required else " or empty"))


def _text(name: str, width: int, *, required: bool = True) -> Check:
    length = pl.col(name).str.len_chars()
    bad = (length > width).fill_null(required)
    kind = "a text" if required else "an optional text"
    return Check(name, bad, f"{kind} of at most {width} characters")


def _known(name: str, values: frozenset[str], what: str) -> Check:
    return Check(
        name, ~pl.col(name).is_in(list(values)).fill_null(False), f"a {what} already in the portfolio"
    )


def _emails_bad() -> pl.Expr:
    addresses = pl.col("emails").str.split(";").list.eval(pl.element().str.strip_chars())
    addresses = addresses.list.eval(pl.element().filter(pl.element() != ""))
    valid = addresses.list.eval(pl.element().str.contains(EMAIL)).list.all()
    return (addresses.list.len() == 0) | ~valid | (pl.col("emails").str.len_chars() > 500)


def policyholder_checks(_known_rows: Known) -> list[Check]:
    return [
        _identifier("policyholder_id"),
        _text("name", 200),
        Check("revenue", bad_amount("revenue", required=False), "an amount in euros >= 0 or empty"),
        _one_of("size_category", SIZES, required=False, upper=True),
        Check(
            "emails", _emails_bad().fill_null(True), "e-mail addresses like name@example.fr separated by ';'"
        ),
        Check(
            "language",
            ~pl.col("language").str.to_lowercase().is_in(["fr", "en"]).fill_null(False),
            "fr or en",
        ),
    ]


def policyholder_rows(frame: pl.DataFrame) -> pl.DataFrame:
    emails = pl.col("emails").str.split(";").list.eval(pl.element().str.strip_chars())
    emails = emails.list.eval(pl.element().filter(pl.element() != "")).list.join(",")
    return frame.select(
        LINE,
        "policyholder_id",
        "name",
        as_cents("revenue").alias("revenue_cents"),
        pl.col("size_category").str.to_uppercase(),
        emails.alias("emails"),
        pl.col("language").str.to_lowercase(),
    )


def _fraction_bad(name: str) -> pl.Expr:
    value = pl.col(name)
    return (value.is_not_null() & ~value.fill_null("").str.contains(_FRACTION)) | (
        value.cast(pl.Float64, strict=False) == 0
    )


def policy_checks(known: Known) -> list[Check]:
    return [
        _identifier("policy_id"),
        _identifier("policyholder_id"),
        _known("policyholder_id", known.policyholders, "policyholder"),
        _one_of("territory", ["FR", "EXPORT", "BOTH"], upper=True),
        Check(
            "named_threshold_domestic",
            bad_amount("named_threshold_domestic", required=False),
            "an amount >= 0",
        ),
        Check(
            "named_threshold_export", bad_amount("named_threshold_export", required=False), "an amount >= 0"
        ),
        Check(
            "indemnity_share_named",
            _fraction_bad("indemnity_share_named"),
            "a fraction in (0, 1], 4 decimals",
        ),
        Check(
            "indemnity_share_unnamed",
            _fraction_bad("indemnity_share_unnamed"),
            "a fraction in (0, 1], 4 decimals",
        ),
        _one_of("oal_option", ["0", "1"]),
        Check(
            "currency",
            ~pl.col("currency").fill_null("EUR").is_in(list(CURRENCIES)),
            "an ISO 4217 currency code",
        ),
        Check(
            "max_liability", bad_amount("max_liability", required=False), "an amount in euros >= 0 or empty"
        ),
    ]


def policy_rows(frame: pl.DataFrame) -> pl.DataFrame:
    """Empty thresholds and shares take the policy-terms defaults (5,000 / 10,000 EUR, 90 % / 70 %)."""
    return frame.select(
        LINE,
        "policy_id",
        "policyholder_id",
        pl.col("territory").str.to_uppercase(),
        as_cents("named_threshold_domestic").fill_null(500_000).alias("named_threshold_domestic_cents"),
        as_cents("named_threshold_export").fill_null(1_000_000).alias("named_threshold_export_cents"),
        pl.col("indemnity_share_named")
        .cast(pl.Float64)
        .fill_null(0.90)
        .round(4)
        .alias("indemnity_share_named"),
        pl.col("indemnity_share_unnamed")
        .cast(pl.Float64)
        .fill_null(0.70)
        .round(4)
        .alias("indemnity_share_unnamed"),
        (pl.col("oal_option") == "1").alias("oal_option"),
        pl.col("currency").fill_null("EUR"),
        as_cents("max_liability").alias("max_liability_cents"),
    )


def _legal_form() -> pl.Expr:
    """Foreign legal forms go to the 4-character legal category once dots and spaces go
    (S.p.A. -> SpA, B.V. -> BV). A longer one ("Co., Ltd") is not kept, and counted, rather
    than refusing the buyer: decisions never read a foreign legal form."""
    return pl.col("legal_form").str.replace_all(r"[.\s]", "")


def buyer_checks(_known_rows: Known) -> list[Check]:
    prefix = pl.col("buyer_id").str.slice(0, 2)
    return [
        Check(
            "buyer_id",
            pl.col("buyer_id").fill_null("").str.contains(r"^\d{9}$") | buyer_id_bad("buyer_id"),
            "a foreign buyer id <ISO2>-<local id> of at most 32 characters",
        ),
        _text("name", 200),
        Check(
            "country",
            ~pl.col("country").is_in(list(COUNTRIES_ISO2)).fill_null(False),
            "an ISO 3166 alpha-2 code",
        ),
        Check("country", prefix != pl.col("country"), "the country of the buyer id prefix"),
        _text("naf_code", 6, required=False),
        Check("creation_date", bad_date("creation_date", required=False), "a date YYYY-MM-DD or empty"),
        _one_of("size_category", SIZES, required=False, upper=True),
    ]


def buyer_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        LINE,
        "buyer_id",
        pl.lit(None, dtype=pl.String).alias("siren"),
        "name",
        "country",
        "naf_code",
        pl.when(_legal_form().str.len_chars() <= 4).then(_legal_form()).alias("legal_category"),
        (_legal_form().str.len_chars() > 4).fill_null(False).alias("_legal_form_dropped"),
        as_date("creation_date").alias("creation_date"),
        pl.col("size_category").str.to_uppercase(),
        pl.lit("A").alias("status"),
        pl.lit(False).alias("is_natural_person"),
    )


def _pair_checks(known: Known) -> list[Check]:
    return [
        _identifier("policy_id"),
        _known("policy_id", known.policies, "policy"),
        Check(
            "buyer_id", buyer_id_bad("buyer_id"), "a SIREN (9 digits, valid check digit) or <ISO2>-<local id>"
        ),
    ]


def limit_checks(known: Known) -> list[Check]:
    return [
        *_pair_checks(known),
        Check("granted", bad_amount("granted"), "an amount in euros >= 0"),
        Check("effective_date", bad_date("effective_date"), "a date YYYY-MM-DD"),
        Check("expiry_date", bad_date("expiry_date", required=False), "a date YYYY-MM-DD or empty"),
        Check(
            "expiry_date",
            as_date("expiry_date") < as_date("effective_date"),
            "an expiry on or after the effective date",
        ),
        _one_of("status", ["active", "cancelled", "refused"]),
    ]


def limit_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        LINE,
        "policy_id",
        "buyer_id",
        as_cents("granted").alias("granted_cents"),
        as_date("effective_date").alias("effective_date"),
        as_date("expiry_date").alias("expiry_date"),
        "status",
    )


def request_checks(known: Known) -> list[Check]:
    return [
        _identifier("request_id"),
        *_pair_checks(known),
        _one_of("request_type", REQUEST_TYPES),
        Check(
            "requested",
            bad_amount("requested", required=False)
            | (pl.col("request_type").is_in(_AMOUNT_TYPES) & pl.col("requested").is_null()),
            "an amount in euros >= 0 (required for types 2, 3 and 7)",
        ),
        Check("request_date", bad_date("request_date"), "a date YYYY-MM-DD"),
    ]


def request_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        LINE,
        "request_id",
        "policy_id",
        "buyer_id",
        pl.col("request_type").cast(pl.Int64),
        as_cents("requested").alias("requested_cents"),
        as_date("request_date").alias("request_date"),
    )


def outstanding_checks(known: Known) -> list[Check]:
    return [
        *_pair_checks(known),
        Check("declaration_date", bad_date("declaration_date"), "a date YYYY-MM-DD"),
        Check("outstanding", bad_amount("outstanding"), "an amount in euros >= 0"),
    ]


def outstanding_rows(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.select(
        LINE,
        "policy_id",
        "buyer_id",
        as_date("declaration_date").alias("outstanding_date"),
        as_cents("outstanding").alias("outstanding_cents"),
    )
