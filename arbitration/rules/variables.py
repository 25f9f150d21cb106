"""The registry of named, typed variables a rule may test.

Why a registry: a rule file names variables by business meaning (``grade``,
``days_beyond_terms``); the loader rejects any name not listed here, so a typo never turns into
a rule that silently never fires. Each variable says which column of the prepared frame holds
it and how a literal written in the rule is scaled to that column (money is written in EUR in
rule files and held in cents in the frame).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["number", "integer", "boolean", "string"]


@dataclass(frozen=True)
class Variable:
    """A named input of the rules: its type, the prepared-frame column, and the unit scale."""

    name: str
    kind: Kind
    column: str
    description: str
    scale: float = 1.0
    """Multiplier from the unit written in rule files to the column's unit (EUR -> cents = 100)."""


_EUR = 100.0

VARIABLES: dict[str, Variable] = {
    v.name: v
    for v in (
        Variable("pd_12m", "number", "pd_12m", "champion 12-month default probability (0-1)"),
        Variable("grade", "integer", "grade", "master-scale grade, 1 best to 10 default"),
        Variable("rating", "string", "rating", "S&P-style letter of the grade"),
        Variable("has_score", "boolean", "has_score", "the buyer has a champion score"),
        Variable("country", "string", "country", "buyer country, ISO 3166 alpha-2"),
        Variable("is_export", "boolean", "is_export", "buyer outside France"),
        Variable(
            "oecd_category",
            "integer",
            "oecd_category",
            "OECD country risk category 0-7; null = not classified",
        ),
        Variable("oecd_classified", "boolean", "oecd_classified", "the country has an OECD category"),
        Variable("sector", "string", "sector", "buyer NAF rev. 2 code, e.g. 29.10Z"),
        Variable("desk", "string", "desk", "desk the limit belongs to (from the desks of the rule set)"),
        Variable("legal_category", "string", "legal_category", "INSEE legal category code"),
        Variable("buyer_status", "string", "buyer_status", "registry state: A active, C ceased"),
        Variable("radiated", "boolean", "radiated", "struck off the register (radiation or ceased)"),
        Variable(
            "collective_procedure_open",
            "boolean",
            "collective_procedure_open",
            "a sauvegarde, RJ or LJ is open (opening not followed by closure or plan)",
        ),
        Variable("procedure", "string", "procedure", "open procedure: sauvegarde, rj or lj (null if none)"),
        Variable("liquidation_open", "boolean", "liquidation_open", "a liquidation judiciaire is open"),
        Variable("late_accounts", "boolean", "late_accounts", "no accounts filed within the legal delay"),
        Variable(
            "months_since_accounts",
            "number",
            "months_since_accounts",
            "months since the last fiscal year end",
        ),
        Variable("has_financials", "boolean", "has_financials", "filed accounts are known"),
        Variable("company_age_years", "number", "company_age_years", "years since creation"),
        Variable("revenue", "number", "revenue_cents", "latest filed revenue, EUR", _EUR),
        Variable("equity", "number", "equity_cents", "latest filed equity, EUR", _EUR),
        Variable("days_beyond_terms", "number", "days_beyond_terms", "amount-weighted days beyond terms"),
        Variable("overdue_share", "number", "overdue_share", "share of reported amount overdue (0-1)"),
        Variable("overdue_declarations", "integer", "overdue_declarations", "overdue declarations filed"),
        Variable("dbt_trend_3m", "number", "dbt_trend_3m", "change of days beyond terms over 3 months"),
        Variable("current_limit", "number", "granted_cents", "limit granted now, EUR", _EUR),
        Variable("requested_amount", "number", "requested_cents", "amount of the pending request, EUR", _EUR),
        Variable("outstanding", "number", "outstanding_cents", "declared outstanding, EUR", _EUR),
        Variable(
            "request_type", "integer", "request_type", "pending EDIFACT 4505 request (2 new, 3 increase...)"
        ),
        Variable("has_request", "boolean", "has_request", "a new-limit or increase request is pending"),
        Variable("territory", "string", "territory", "policy cover territory: FR, EXPORT, BOTH"),
        Variable("oal_option", "boolean", "oal_option", "the policy has the OAL option"),
    )
}
"""Every variable a rule may name, by name."""
