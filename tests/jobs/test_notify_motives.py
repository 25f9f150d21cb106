"""The e-mail says why a limit changed in the rule's own words (its motive), in the
policyholder's language; decisions that come from no rule keep the EDIFACT 4509 words.

End to end: a small portfolio in the database, the nightly arbitration, a manual change by an
arbiter, then the outbox."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select
from sqlalchemy.orm import Session

from arbitration import review_limits
from arbitration.rules import load_rule_set
from arbitration.service import arbitrate
from arbitration.users import Principal
from config.settings import CONFIG_DIR, Settings
from jobs.notify import enqueue
from jobs.notify.worded import word_items
from jobs.notify.wording import REASON_WORDS
from models import (
    Buyer,
    BuyerFinancials,
    CountryGrade,
    CreditLimit,
    Decision,
    Notification,
    PaymentAggregate,
    Policy,
    Policyholder,
    Score,
)
from models.codes import ReasonCode, Role

AS_OF = date(2026, 11, 23)
EUR = 100
RULE = "score.equity-cap"


def seed(session: Session) -> None:
    """Buyer 200000001 is graded 3 with small equity: the equity cap cuts its limits (100,000 ->
    30,000 EUR, within automatic authority). Buyer 200000002 is healthy: no decision."""
    session.add_all(
        [
            Policyholder(policyholder_id="PH1", name="Acier SA", emails="risk@acier.example", language="fr"),
            Policyholder(policyholder_id="PH2", name="Export Ltd", emails="cr@export.example", language="en"),
            CountryGrade(country="FR", valid_from=date(2020, 1, 1), category=None),
        ]
    )
    session.flush()
    session.add_all(
        [
            Policy(policy_id="P1", policyholder_id="PH1", territory="BOTH"),
            Policy(policy_id="P2", policyholder_id="PH2", territory="BOTH"),
        ]
    )
    for buyer_id, name, equity in (
        ("200000001", "Fragile SAS", 100_000),
        ("200000002", "Solide SA", 3_000_000),
    ):
        session.add(
            Buyer(
                buyer_id=buyer_id,
                siren=buyer_id,
                name=name,
                country="FR",
                naf_code="46.90Z",
                creation_date=date(2005, 1, 1),
                legal_category="5710",
            )
        )
        session.add(
            BuyerFinancials(
                buyer_id=buyer_id,
                fiscal_year_end=date(2025, 12, 31),
                filed_date=date(2026, 5, 1),
                revenue_cents=10_000_000 * EUR,
                equity_cents=equity * EUR,
            )
        )
        session.add(
            Score(
                buyer_id=buyer_id,
                as_of=AS_OF,
                role="champion",
                pd_12m=0.01,
                grade=3,
                rating="BBB",
                model_name="vigie-buyer-pd",
                model_version="3",
            )
        )
        session.add(
            PaymentAggregate(
                buyer_id=buyer_id,
                as_of=AS_OF,
                invoices=10,
                amount_cents=1_000_000,
                days_beyond_terms=2.0,
                overdue_share=0.0,
                overdue_declarations=0,
                reporting_policyholders=1,
            )
        )
    session.flush()
    for limit_id, policy_id, buyer_id in (
        (1, "P1", "200000001"),
        (2, "P2", "200000001"),
        (3, "P1", "200000002"),
    ):
        session.add(
            CreditLimit(
                limit_id=limit_id,
                policy_id=policy_id,
                buyer_id=buyer_id,
                granted_cents=100_000 * EUR,
                status="active",
                outstanding_cents=0,
            )
        )
    session.flush()


def item_of(text: str, buyer_name: str) -> str:
    """The block of the plain-text e-mail about one buyer (from its name to the next reference)."""
    start = text.index(buyer_name)
    return text[start : text.index("Référence" if "Référence" in text else "Reference", start)]


def test_a_score_driven_reduction_says_the_rules_motive_and_a_manual_change_the_4509_words(
    session: Session, settings: Settings
) -> None:
    seed(session)
    arbitrate(session, as_of=AS_OF, run_id=1, settings=settings)
    decided = session.scalars(select(Decision).order_by(Decision.limit_id)).all()
    assert [(d.limit_id, d.status, d.proposed_cents, d.reason_rule) for d in decided] == [
        (1, "applied", 30_000 * EUR, RULE),
        (2, "applied", 30_000 * EUR, RULE),
    ]
    arbiter = Principal(
        user_id=1, username="ann", role=Role.ARBITER, desks=frozenset({"*"}), authority_cents=500_000 * EUR
    )
    manual = review_limits.change_limit(
        session,
        actor=arbiter,
        limit_id=3,
        expected_version=1,
        granted_cents=50_000 * EUR,
        comment="Le client a signalé un litige commercial",
        business_date=AS_OF,
    )
    assert manual.reason_rule is None and manual.reason_code == ReasonCode.OTHER
    assert enqueue(session, business_date=AS_OF, run_id=1, settings=settings) == 2
    session.commit()
    motive = load_rule_set(settings.paths.rules_dir).rule(RULE).motive
    assert motive is not None
    mails = {n.policyholder_id: n for n in session.scalars(select(Notification))}

    fr = mails["PH1"].body.body_text
    reduced = item_of(fr, "Fragile SAS")
    assert f"Motif : {motive.fr}" in reduced
    assert REASON_WORDS["fr"][ReasonCode.OTHER] not in reduced
    assert f"Motif : {REASON_WORDS['fr'][ReasonCode.OTHER]}" in item_of(fr, "Solide SA")  # manual change
    assert motive.fr.replace("'", "&#39;") in mails["PH1"].body.body_html

    en = mails["PH2"].body.body_text
    assert motive.en in en and motive.fr not in en
    assert REASON_WORDS["en"][ReasonCode.OTHER] not in en


def test_word_items_without_a_rule_or_without_motives_keep_the_4509_words() -> None:
    motive = load_rule_set(CONFIG_DIR / "rules").rule(RULE).motive
    assert motive is not None
    record = {
        "decision_id": 1,
        "buyer_id": "B1",
        "buyer_name": "Fragile SAS",
        "siren": None,
        "decision_type": 9,
        "reason_code": int(ReasonCode.OTHER),
        "previous_cents": 100_000 * EUR,
        "proposed_cents": 30_000 * EUR,
        "final_cents": None,
        "effective_date": AS_OF,
    }
    motives = {RULE: motive}
    cases = [
        ({**record, "reason_rule": RULE}, motives, "en", motive.en),
        ({**record, "reason_rule": RULE}, None, "fr", REASON_WORDS["fr"][ReasonCode.OTHER]),
        ({**record, "reason_rule": None}, motives, "fr", REASON_WORDS["fr"][ReasonCode.OTHER]),
        ({**record, "reason_rule": float("nan")}, motives, "en", REASON_WORDS["en"][ReasonCode.OTHER]),
        (record, motives, "fr", REASON_WORDS["fr"][ReasonCode.OTHER]),  # a record without the column
    ]
    for row, known, language, expected in cases:
        assert word_items([row], [], language, motives=known)[0]["reason"] == expected
