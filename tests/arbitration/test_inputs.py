"""The limit frame: per-buyer legal state, and only what was known at the business date."""

from __future__ import annotations

from datetime import date

import pandas as pd
from sqlalchemy.orm import Session

from arbitration.inputs import load_frame
from arbitration.joins import datetimes, reduce_events
from models.legal_event import LegalEvent
from models.score import Score
from tests.arbitration.portfolio import AS_OF, seed_portfolio


def events(*rows: tuple[str, str, str]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "buyer_id": b,
                "event_type": t,
                "event_date": d,
                "accounts_closing_date": None,
                "notice_id": f"N{i}",
            }
            for i, (b, t, d) in enumerate(rows)
        ]
    )


def test_dates_as_read_from_either_database_become_one_datetime_column() -> None:
    read = pd.Series([date(2024, 2, 29), None, "2023-12-31", date(2024, 2, 29), "not a date"], dtype=object)
    converted = datetimes(read)
    assert str(converted.dtype) == "datetime64[us]"
    assert converted.tolist()[0] == pd.Timestamp("2024-02-29")
    assert converted.tolist()[2] == pd.Timestamp("2023-12-31")
    assert converted.tolist()[3] == pd.Timestamp("2024-02-29")
    assert converted.isna().tolist() == [False, True, False, False, True]
    stamps = pd.Series(pd.to_datetime(["2024-01-01", None]))
    assert datetimes(stamps).tolist() == stamps.tolist()


def test_dates_outside_the_nanosecond_range_keep_their_day() -> None:
    far = datetimes(pd.Series([date(1665, 1, 1), date(9999, 12, 31), "0001-01-01"], dtype=object))
    assert [(d.year, d.month, d.day) for d in far] == [(1665, 1, 1), (9999, 12, 31), (1, 1, 1)]


def test_aware_timestamps_become_naive_utc() -> None:
    paris = pd.Series(pd.to_datetime(["2024-01-01 10:00"]).tz_localize("Europe/Paris"))
    assert datetimes(paris).tolist() == [pd.Timestamp("2024-01-01 09:00")]


def test_procedure_state_follows_the_latest_judgment() -> None:
    state = reduce_events(
        events(
            ("closed", "open_rj", "2024-01-01"),
            ("closed", "closure", "2024-06-01"),
            ("converted", "open_rj", "2024-01-01"),
            ("converted", "conversion_lj", "2024-03-01"),
            ("plan", "open_sauvegarde", "2024-01-01"),
            ("plan", "plan", "2024-09-01"),
            ("sauvegarde", "open_sauvegarde", "2025-01-01"),
            ("gone", "radiation", "2025-01-01"),
        )
    ).set_index("buyer_id")
    assert state["procedure"].isna()["closed"]
    assert state.loc["converted", "procedure"] == "lj"
    assert state["procedure"].isna()["plan"]
    assert state.loc["sauvegarde", "procedure"] == "sauvegarde"
    assert bool(state.loc["gone", "radiated"]) and not bool(state.loc["converted", "radiated"])


def test_the_frame_sees_only_what_was_known_at_the_business_date(session: Session) -> None:
    seed_portfolio(session)
    # a better score computed tomorrow and a liquidation published tomorrow are not seen today
    session.add(
        Score(
            buyer_id="100000003",
            as_of=date(2026, 11, 24),
            role="champion",
            pd_12m=0.001,
            grade=1,
            rating="AAA",
            model_name="m",
            model_version="4",
            reason_codes="",
        )
    )
    session.add(
        LegalEvent(
            notice_id="LATE",
            buyer_id="100000002",
            event_type="open_lj",
            event_date=date(2026, 11, 20),
            publication_date=date(2026, 11, 24),
        )
    )
    session.flush()
    frame = load_frame(session, as_of=AS_OF).set_index("limit_id")
    assert frame.loc[5, "grade"] == 5 and frame.loc[5, "model_version"] == "3"
    assert frame["procedure"].isna()[3]  # cancelled notice N3 and tomorrow's notice ignored
    assert frame.loc[1, "procedure"] == "lj"
    assert frame.loc[15, "oecd_category"] == 5 and frame["oecd_category"].isna()[3]
    assert frame["grade"].isna()[9]
    assert frame.loc[5, "days_beyond_terms"] == 70
    assert len(frame) == 16
    tomorrow = load_frame(session, as_of=date(2026, 11, 24)).set_index("limit_id")
    assert tomorrow.loc[5, "grade"] == 1 and tomorrow.loc[3, "procedure"] == "lj"
