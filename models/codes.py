"""Shared vocabularies: the codes every package reads and writes.

They live beside the tables because they are the meaning of column values: feeds write
legal event types that scoring and arbitration read; arbitration writes EDIFACT codes that
jobs turn into words."""

from __future__ import annotations

from enum import IntEnum, StrEnum


class ResponseType(IntEnum):
    """UN/EDIFACT 4507 (RECECO, segment CCD): the type of a limit decision."""

    PRELIMINARY_ASSESSMENT = 1
    APPROVED = 2
    NOT_APPROVED = 3
    CONDITIONAL_APPROVAL = 4
    PARTLY_APPROVED = 5
    STILL_INVESTIGATING = 6
    OPEN_NEW_ACCOUNT_ONLY = 7
    CANCELLATION = 8
    REDUCTION = 9
    CHANGE_OF_NAME_ADDRESS = 10
    CLOSE_BUYER_ACCOUNT = 11


class ReasonCode(IntEnum):
    """UN/EDIFACT 4509: the reason given with a decision."""

    FINANCIAL_INFO_NOT_PROVIDED = 1
    NO_FINANCIAL_INFO = 2
    OUT_OF_BUSINESS = 3
    NEW_COMPANY = 4
    NOT_REGISTERED = 5
    NON_TRADING = 6
    NO_COMMENT = 7
    INSOLVENCY_RISK_ONLY = 8
    BILL_OF_EXCHANGE = 9
    DOCUMENTS_AGAINST_ACCEPTANCE = 10
    DOCUMENTS_AGAINST_PAYMENT = 11
    ADVERSE_INFORMATION = 12
    CREDIT_LIMIT_FULL = 13
    LACK_OF_TURNOVER = 14
    OTHER = 15


class RequestType(IntEnum):
    """UN/EDIFACT 4505: what a policyholder asks for."""

    NEW = 2
    INCREASE = 3
    CANCELLATION = 6
    REDUCTION = 7
    PROLONGATION = 8


class LegalEventType(StrEnum):
    """Typed BODACC events. Openings and conversions start a collective procedure; a closure,
    a plan or a procedure end may end it (see ``COLLECTIVE_OPENINGS``)."""

    OPEN_SAUVEGARDE = "open_sauvegarde"
    OPEN_RJ = "open_rj"
    OPEN_LJ = "open_lj"
    CONVERSION_RJ = "conversion_rj"
    CONVERSION_LJ = "conversion_lj"
    PLAN = "plan"
    PLAN_RESOLUTION = "plan_resolution"
    CLOSURE = "closure"
    SANCTION = "sanction"
    ADMINISTRATIVE_FILING = "administrative_filing"
    RADIATION = "radiation"
    ACCOUNTS_FILED = "accounts_filed"
    OTHER = "other"


COLLECTIVE_OPENINGS = frozenset(
    {
        LegalEventType.OPEN_SAUVEGARDE,
        LegalEventType.OPEN_RJ,
        LegalEventType.OPEN_LJ,
        LegalEventType.CONVERSION_RJ,
        LegalEventType.CONVERSION_LJ,
    }
)
"""Events that open (or convert into) a collective procedure: the default event of scoring."""

LIQUIDATION_EVENTS = frozenset({LegalEventType.OPEN_LJ, LegalEventType.CONVERSION_LJ})


class DecisionStatus(StrEnum):
    """Life of a decision: ``applied`` within automatic authority, ``referred`` to an arbiter,
    then ``approved`` / ``amended`` / ``refused`` by the arbiter."""

    APPLIED = "applied"
    REFERRED = "referred"
    APPROVED = "approved"
    AMENDED = "amended"
    REFUSED = "refused"


FINAL_STATUSES = frozenset(
    {DecisionStatus.APPLIED, DecisionStatus.APPROVED, DecisionStatus.AMENDED, DecisionStatus.REFUSED}
)
"""Statuses whose outcome is known and must be notified to the policyholder."""


class Role(StrEnum):
    """Admin endpoint roles."""

    ARBITER = "arbiter"
    SENIOR_ARBITER = "senior_arbiter"
    RISK_MANAGER = "risk_manager"
    ADMIN = "admin"
