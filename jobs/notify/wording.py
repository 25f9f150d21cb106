"""The words a policyholder reads: EDIFACT codes, scheme names, amounts and dates in fr and en.

Kept as plain tables (not in the templates) so the report and the e-mails say the same thing
and a test can check every code has a label in both languages."""

from __future__ import annotations

from datetime import date
from functools import lru_cache

from models.codes import ReasonCode, ResponseType

LANGUAGES = ("fr", "en")

DECISION_WORDS: dict[str, dict[int, str]] = {
    "fr": {
        ResponseType.PRELIMINARY_ASSESSMENT: "évaluation préliminaire",
        ResponseType.APPROVED: "agrément accordé",
        ResponseType.NOT_APPROVED: "agrément refusé",
        ResponseType.CONDITIONAL_APPROVAL: "agrément accordé sous conditions",
        ResponseType.PARTLY_APPROVED: "agrément accordé partiellement",
        ResponseType.STILL_INVESTIGATING: "examen en cours",
        ResponseType.OPEN_NEW_ACCOUNT_ONLY: "ouverture de compte seulement",
        ResponseType.CANCELLATION: "suppression de la garantie",
        ResponseType.REDUCTION: "réduction de la garantie",
        ResponseType.CHANGE_OF_NAME_ADDRESS: "changement de nom ou d'adresse",
        ResponseType.CLOSE_BUYER_ACCOUNT: "clôture du compte acheteur",
    },
    "en": {
        ResponseType.PRELIMINARY_ASSESSMENT: "preliminary assessment",
        ResponseType.APPROVED: "limit approved",
        ResponseType.NOT_APPROVED: "limit not approved",
        ResponseType.CONDITIONAL_APPROVAL: "conditional approval",
        ResponseType.PARTLY_APPROVED: "limit partly approved",
        ResponseType.STILL_INVESTIGATING: "still investigating",
        ResponseType.OPEN_NEW_ACCOUNT_ONLY: "open new account only",
        ResponseType.CANCELLATION: "limit cancelled",
        ResponseType.REDUCTION: "limit reduced",
        ResponseType.CHANGE_OF_NAME_ADDRESS: "change of name or address",
        ResponseType.CLOSE_BUYER_ACCOUNT: "buyer's account closed",
    },
}

REASON_WORDS: dict[str, dict[int, str]] = {
    "fr": {
        ReasonCode.FINANCIAL_INFO_NOT_PROVIDED: "informations financières demandées non fournies",
        ReasonCode.NO_FINANCIAL_INFO: "aucune information financière disponible",
        ReasonCode.OUT_OF_BUSINESS: "débiteur ayant cessé son activité",
        ReasonCode.NEW_COMPANY: "entreprise de création récente",
        ReasonCode.NOT_REGISTERED: "débiteur non immatriculé",
        ReasonCode.NON_TRADING: "société sans activité commerciale",
        ReasonCode.NO_COMMENT: "sans commentaire",
        ReasonCode.INSOLVENCY_RISK_ONLY: "risque d'insolvabilité seul couvert",
        ReasonCode.BILL_OF_EXCHANGE: "sous réserve d'acceptation d'une lettre de change",
        ReasonCode.DOCUMENTS_AGAINST_ACCEPTANCE: "documents contre acceptation",
        ReasonCode.DOCUMENTS_AGAINST_PAYMENT: "documents contre paiement",
        ReasonCode.ADVERSE_INFORMATION: "informations défavorables publiquement disponibles",
        ReasonCode.CREDIT_LIMIT_FULL: "capacité de garantie atteinte sur ce débiteur",
        ReasonCode.LACK_OF_TURNOVER: "chiffre d'affaires insuffisant",
        ReasonCode.OTHER: "autre motif",
    },
    "en": {
        ReasonCode.FINANCIAL_INFO_NOT_PROVIDED: "requested financial information not provided",
        ReasonCode.NO_FINANCIAL_INFO: "no financial information available",
        ReasonCode.OUT_OF_BUSINESS: "debtor out of business",
        ReasonCode.NEW_COMPANY: "debtor is a new company",
        ReasonCode.NOT_REGISTERED: "debtor not registered",
        ReasonCode.NON_TRADING: "non-trading company",
        ReasonCode.NO_COMMENT: "no comment",
        ReasonCode.INSOLVENCY_RISK_ONLY: "only insolvency risk covered",
        ReasonCode.BILL_OF_EXCHANGE: "subject to acceptance of a bill of exchange",
        ReasonCode.DOCUMENTS_AGAINST_ACCEPTANCE: "documents against acceptance",
        ReasonCode.DOCUMENTS_AGAINST_PAYMENT: "documents against payment",
        ReasonCode.ADVERSE_INFORMATION: "adverse information publicly available",
        ReasonCode.CREDIT_LIMIT_FULL: "credit limit full",
        ReasonCode.LACK_OF_TURNOVER: "lack of turnover",
        ReasonCode.OTHER: "other reason",
    },
}

SCHEME_WORDS: dict[str, dict[str, str]] = {
    "fr": {
        "CAP": "CAP (complément d'assurance-crédit public)",
        "CAP_FRANCEXPORT": "Cap Francexport",
        "CAP_PLUS": "CAP+ (garantie de substitution)",
        "CAP_PLUS_FRANCEXPORT": "Cap+ Francexport",
    },
    "en": {
        "CAP": "CAP (public credit-insurance top-up)",
        "CAP_FRANCEXPORT": "Cap Francexport",
        "CAP_PLUS": "CAP+ (substitute cover)",
        "CAP_PLUS_FRANCEXPORT": "Cap+ Francexport",
    },
}

_MONTHS_EN = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def decision_words(language: str, code: int) -> str:
    return DECISION_WORDS[language].get(int(code), f"code 4507 {int(code)}")


def reason_words(language: str, code: int) -> str:
    return REASON_WORDS[language].get(int(code), f"code 4509 {int(code)}")


@lru_cache(maxsize=65_536)  # a night's e-mails repeat the same round amounts many times over
def money(cents: int | None, language: str) -> str:
    """Integer cents as euros: ``12 345,00 EUR`` (fr) or ``EUR 12,345.00`` (en); never via float."""
    if cents is None:
        return "-"
    sign = "-" if cents < 0 else ""
    euros, rest = divmod(abs(int(cents)), 100)
    grouped = f"{euros:,}"
    if language == "fr":
        return f"{sign}{grouped.replace(',', ' ')},{rest:02d} EUR"
    return f"{sign}EUR {grouped}.{rest:02d}"


@lru_cache(maxsize=4_096)  # a few distinct days a night
def day(value: date | None, language: str) -> str:
    if value is None:
        return "-"
    if language == "fr":
        return value.strftime("%d/%m/%Y")
    return f"{value.day} {_MONTHS_EN[value.month - 1]} {value.year}"
