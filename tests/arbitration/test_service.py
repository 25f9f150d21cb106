"""The decision service on a real database (SQLite and PostgreSQL): persist, apply, refer,
idempotently; what-if writes nothing; the explanation agrees with the stored decision."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from arbitration import service
from arbitration.explain import LimitNotFoundError, explain_limit
from arbitration.service import arbitrate
from arbitration.tonight import ids_given
from arbitration.whatif import simulate
from config.settings import CONFIG_DIR, Settings
from jobs.eligibility import eligibility_inputs
from models import bulk_write
from models.base import Base
from models.db import ChangedMeanwhile, make_engine, read_frame
from tests.arbitration.portfolio import AS_OF, EUR, seed_portfolio

TABLES = ("decision", "review_task", "credit_limit")


def snapshot(session: Session) -> dict[str, pd.DataFrame]:
    return {
        table: read_frame(session, f"SELECT * FROM {table} ORDER BY 1").astype(str).reset_index(drop=True)
        for table in TABLES
    }


def decisions(session: Session) -> pd.DataFrame:
    return read_frame(session, "SELECT * FROM decision ORDER BY limit_id").set_index("limit_id")


def test_arbitrate_applies_refers_and_records_everything(session: Session, settings: Settings) -> None:
    seed_portfolio(session)
    summary = arbitrate(session, as_of=AS_OF, run_id=7, settings=settings)
    found = decisions(session)
    assert summary.decisions == len(found) == 12
    assert summary.by_type == {2: 2, 6: 2, 8: 2, 9: 6}
    # liquidation (limits 1, 2): cancelled at once, applied, limit closed
    assert (found.loc[[1, 2], "decision_type"] == 8).all() and (
        found.loc[[1, 2], "status"] == "applied"
    ).all()
    assert str(found.loc[1, "effective_date"]) == "2026-11-23"
    limits = read_frame(session, "SELECT * FROM credit_limit ORDER BY limit_id").set_index("limit_id")
    assert limits.loc[1, "granted_cents"] == 0 and limits.loc[1, "status"] == "cancelled"
    assert limits.loc[1, "version"] == 2
    # DBT 70 days (limits 5, 6): halved after the notice period, within authority
    assert (found.loc[[5, 6], "proposed_cents"] == 5_000_000).all()
    assert str(found.loc[5, "effective_date"]) == "2026-12-23"
    assert limits.loc[5, "granted_cents"] == 5_000_000
    # new request approved (limits 11, 12): request cleared
    assert found.loc[11, "decision_type"] == 2 and limits["request_type"].isna()[11]
    assert limits.loc[11, "status"] == "active" and limits.loc[11, "granted_cents"] == 4_000_000
    # the decision keeps what the request asked for; a review of a limit answers no request
    assert found.loc[11, "requested_cents"] == 4_000_000 and pd.isna(found.loc[5, "requested_cents"])
    # 3M limit capped (7, 8): referred, four eyes, limit untouched until an arbiter acts
    assert (found.loc[[7, 8], "status"] == "referred").all() and found.loc[7, "four_eyes"]
    assert limits.loc[7, "granted_cents"] == 300_000_000 and limits.loc[7, "version"] == 1
    # no score (9, 10): referred with the no-score rule
    assert found.loc[9, "decision_type"] == 6 and json.loads(str(found.loc[9, "fired_rules"])) == ["no-score"]
    # the healthy buyer (3, 4) and the small limit under the named threshold (13, 14): nothing
    assert not {3, 4, 13, 14} & set(found.index)
    # every decision records versions, policyholder, observed values, explanation
    assert (found["rule_set_version"] == summary.rule_set_version).all()
    assert set(found.loc[[1, 5, 7], "model_version"]) == {"3"}
    assert set(found["policyholder_id"]) == {"PH1", "PH2"}
    assert json.loads(str(found.loc[5, "observed"]))["days_beyond_terms"] == 70
    assert "payments.dbt-over-60" in str(found.loc[5, "explanation"])
    assert (found["run_id"] == 7).all()
    tasks = read_frame(session, "SELECT * FROM review_task ORDER BY decision_id")
    referred = found[found["status"] == "referred"]
    assert len(tasks) == len(referred) == summary.referred == 6
    by_desk = dict(zip(tasks["desk"], tasks["approvals_needed"], strict=True))
    assert by_desk == {"general": 2, "retail": 1, "latam": 1}
    assert summary.exposure_removed_cents == 2 * 20_000_000 + 2 * 5_000_000


def test_a_partial_approval_applied_at_once_still_tells_eligibility_what_was_asked(
    session: Session, settings: Settings
) -> None:
    """Limit 5 (DBT 70 days: halved) asks 100k -> 300k: partly approved at 150k and applied,
    which clears the request from the limit. Eligibility, read afterwards in the same night,
    still sees the 300k asked for (the CAP top-up makes up part of that shortfall)."""
    seed_portfolio(session)
    session.execute(
        text("UPDATE credit_limit SET request_type = 3, requested_cents = :asked WHERE limit_id = 5"),
        {"asked": 300_000 * EUR},
    )
    arbitrate(session, as_of=AS_OF, run_id=1, settings=settings)
    found = decisions(session)
    assert (found.loc[5, "decision_type"], found.loc[5, "status"]) == (5, "applied")
    assert (found.loc[5, "proposed_cents"], found.loc[5, "requested_cents"]) == (150_000 * EUR, 300_000 * EUR)
    limit = read_frame(session, "SELECT requested_cents, request_type FROM credit_limit WHERE limit_id = 5")
    assert limit.isna().all(axis=None)  # answered
    inputs = eligibility_inputs(session, business_date=AS_OF).set_index("decision_id")
    assert inputs.loc[int(found.loc[5, "decision_id"]), "requested_cents"] == 300_000 * EUR


def test_rerunning_the_same_date_changes_nothing_and_doubles_nothing(
    session: Session, settings: Settings
) -> None:
    seed_portfolio(session)
    arbitrate(session, as_of=AS_OF, run_id=1, settings=settings)
    session.commit()
    before = snapshot(session)
    again = arbitrate(session, as_of=AS_OF, run_id=2, settings=settings)
    session.commit()
    assert again.decisions == 0
    after = snapshot(session)
    for table in TABLES:
        pd.testing.assert_frame_equal(before[table], after[table])


def test_what_if_writes_nothing_and_reports_the_impact(
    session: Session, settings: Settings, tmp_path: Path
) -> None:
    seed_portfolio(session)
    session.commit()
    candidate = tmp_path / "candidate"
    shutil.copytree(CONFIG_DIR / "rules", candidate)
    text = (
        (candidate / "30-payments.yaml")
        .read_text()
        .replace("days: {2015-01-01: 60}", "days: {2015-01-01: 100}")
    )
    (candidate / "30-payments.yaml").write_text(text)
    before = snapshot(session)
    impact = simulate(session, candidate_dir=candidate, as_of=AS_OF, settings=settings)
    assert not session.new and not session.dirty
    after = snapshot(session)
    for table in TABLES:
        pd.testing.assert_frame_equal(before[table], after[table])
    data = impact.as_dict()
    assert data["decisions"]["active"]["reduction"] == 6
    assert data["decisions"]["candidate"]["reduction"] == 4  # the 70-day payer is no longer halved
    assert data["exposure_removed_cents"]["active"]["desk"]["construction"] == 10_000_000
    assert "construction" not in data["exposure_removed_cents"]["candidate"]["desk"]
    assert data["policyholders_affected"] == {"active": 2, "candidate": 2}
    assert impact.limits_changed == 2
    json.dumps(data)


def test_the_explanation_agrees_with_the_stored_decision(session: Session, settings: Settings) -> None:
    seed_portfolio(session)
    session.commit()
    explained = {
        i: explain_limit(session, limit_id=i, as_of=AS_OF, settings=settings) for i in (1, 5, 7, 9, 3)
    }
    arbitrate(session, as_of=AS_OF, run_id=None, settings=settings)
    stored = decisions(session)
    for limit_id, explanation in explained.items():
        if limit_id == 3:
            assert not explanation.decision
            continue
        assert explanation.decision_type == stored.loc[limit_id, "decision_type"]
        assert explanation.proposed_cents == stored.loc[limit_id, "proposed_cents"]
        assert (
            json.dumps(explanation.fired_rules, separators=(",", ":")) == stored.loc[limit_id, "fired_rules"]
        )
        assert explanation.explanation == stored.loc[limit_id, "explanation"]
    fired = [e for e in explained[5].trace if e["fired"]]
    assert any(e["rule"] == "payments.dbt-over-60" and e["condition"]["observed"] == 70 for e in fired)
    assert "FIRED" in explained[5].text()
    with pytest.raises(LimitNotFoundError):
        explain_limit(session, limit_id=999, as_of=AS_OF, settings=settings)


def _stored(session: Session, table: str) -> list[tuple[object, ...]]:
    """Every value as SQLite holds it (type and literal); a time stamp by its type and shape
    only (each run takes its own)."""
    names = [row[1] for row in session.execute(text(f"PRAGMA table_info({table})"))]
    listed = ", ".join(
        f"typeof({n}), length({n})" if n.endswith("_at") else f"typeof({n}), quote({n})" for n in names
    )
    return [tuple(r) for r in session.execute(text(f"SELECT {listed} FROM {table} ORDER BY 1"))]


def test_staged_writes_store_what_row_by_row_writes_store(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A big night's decisions, limit updates and review tasks go through a staged scratch file
    on SQLite (models.bulk_write); a small one's row by row. Both store the same values."""
    stored = {}
    for staged in (False, True):
        monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1 if staged else 10**9)
        engine = make_engine(f"sqlite:///{(tmp_path / f'{staged}.db').as_posix()}")
        Base.metadata.create_all(engine)
        with Session(engine) as session:
            seed_portfolio(session)
            arbitrate(session, as_of=AS_OF, run_id=7, settings=sqlite_settings)
            session.commit()
            stored[staged] = {table: _stored(session, table) for table in TABLES}
        engine.dispose()
    assert stored[True] == stored[False]
    assert len(stored[True]["decision"]) == 12 and len(stored[True]["review_task"]) == 6


def test_sqlite_gives_the_ids_the_insert_gave_without_reading_them_back(
    session: Session, settings: Settings
) -> None:
    """The hand-over takes the decisions' ids as the range the insert gave (SQLite), checked;
    a range that does not hold the rows as written is not taken (None: read back)."""
    seed_portfolio(session)
    arbitrate(session, as_of=AS_OF, run_id=7, settings=settings)
    written = read_frame(session, "SELECT decision_id, limit_id FROM decision ORDER BY decision_id")
    rows = written[["limit_id"]]
    given = ids_given(session, rows, as_of=AS_OF, run_id=7)
    if session.get_bind().dialect.name != "sqlite":
        assert given is None  # a sequence other sessions draw from: read back
        return
    assert given is not None and given.tolist() == written["decision_id"].tolist()
    assert ids_given(session, rows.iloc[::-1], as_of=AS_OF, run_id=7) is None  # not in that order
    assert ids_given(session, rows, as_of=AS_OF, run_id=8) is None  # not this run's
    assert ids_given(session, pd.concat([rows, rows]), as_of=AS_OF, run_id=7) is None  # not as many


CHANGES_DURING_EVALUATION = {
    # limit: (the arbiter's new amount, the message); limit 5 is applied tonight, limit 7 referred
    5: (80_000 * EUR, "1 of the 6 limits applied tonight were changed"),
    7: (2_900_000 * EUR, "1 of the 6 limits referred tonight were changed"),
}


def _an_arbiter_acts_while_the_limits_are_evaluated(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, limit_id: int
) -> None:
    """The limits are read, then evaluated (10-20 s on a big night); an arbiter who changes one
    meanwhile is not overwritten by a decision taken on what the change replaced, whether the
    night applies its decision or refers it: nothing is kept, the unit raises ChangedMeanwhile,
    and arbitration run again decides on the new amount. Each limit is written at the version
    it was read at (versions differ per limit)."""
    amount, message = CHANGES_DURING_EVALUATION[limit_id]
    seed_portfolio(session)
    session.execute(text("UPDATE credit_limit SET version = limit_id + 1"))
    session.commit()
    evaluate = service.evaluate_book

    def evaluate_then_an_arbiter_acts(*args: Any, **kwargs: Any) -> pd.DataFrame:
        result = evaluate(*args, **kwargs)
        with Session(session.get_bind()) as arbiter:  # another connection, committed at once
            arbiter.execute(
                text(
                    "UPDATE credit_limit SET granted_cents = :amount, version = version + 1 WHERE limit_id = :id"
                ),
                {"amount": amount, "id": limit_id},
            )
            arbiter.commit()
        return result

    monkeypatch.setattr(service, "evaluate_book", evaluate_then_an_arbiter_acts)
    with pytest.raises(ChangedMeanwhile, match=message):
        arbitrate(session, as_of=AS_OF, run_id=1, settings=settings)
    session.rollback()
    assert read_frame(session, "SELECT count(*) AS n FROM decision")["n"].iloc[0] == 0
    limits = read_frame(session, "SELECT * FROM credit_limit ORDER BY limit_id").set_index("limit_id")
    assert (limits.loc[limit_id, "granted_cents"], limits.loc[limit_id, "version"]) == (amount, limit_id + 2)
    assert (limits.loc[1, "granted_cents"], limits.loc[1, "version"]) == (200_000 * EUR, 2)

    monkeypatch.setattr(service, "evaluate_book", evaluate)
    arbitrate(session, as_of=AS_OF, run_id=2, settings=settings)
    found = decisions(session)
    assert found.loc[limit_id, "previous_cents"] == amount  # decided on the arbiter's amount
    if limit_id == 5:  # DBT 70 days halves the limit: the arbiter's 80k, not the 100k read before
        assert found.loc[5, "proposed_cents"] == 40_000 * EUR
    after = read_frame(session, "SELECT * FROM credit_limit ORDER BY limit_id").set_index("limit_id")
    applied = found.index[found["status"] == "applied"]
    assert len(applied) == 6
    assert (after.loc[applied, "version"] == limits.loc[applied, "version"] + 1).all()
    assert (after.loc[applied, "granted_cents"] == found.loc[applied, "proposed_cents"]).all()
    untouched = after.index.difference(applied)
    assert (after.loc[untouched, "version"] == limits.loc[untouched, "version"]).all()


@pytest.mark.parametrize("limit_id", sorted(CHANGES_DURING_EVALUATION), ids=["applied", "referred"])
def test_a_limit_an_arbiter_changed_after_it_was_read_is_not_overwritten(
    session: Session, settings: Settings, monkeypatch: pytest.MonkeyPatch, limit_id: int
) -> None:
    _an_arbiter_acts_while_the_limits_are_evaluated(session, settings, monkeypatch, limit_id)


@pytest.mark.parametrize("limit_id", sorted(CHANGES_DURING_EVALUATION), ids=["applied", "referred"])
def test_a_limit_an_arbiter_changed_after_it_was_read_is_not_overwritten_by_a_staged_update(
    sqlite_settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit_id: int
) -> None:
    """The same through SQLite's staged update and count (a big night's path)."""
    monkeypatch.setattr(bulk_write, "STAGED_MIN_ROWS", 1)
    engine = make_engine(f"sqlite:///{(tmp_path / 'staged.db').as_posix()}")
    Base.metadata.create_all(engine)
    try:
        with Session(engine) as session:
            _an_arbiter_acts_while_the_limits_are_evaluated(session, sqlite_settings, monkeypatch, limit_id)
    finally:
        engine.dispose()
