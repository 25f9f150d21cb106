"""Legal feed (BODACC): the three JSON shapes, real records, corrections, quarantine."""

from __future__ import annotations

import csv
import json
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from feeds.common import FeedFileError
from feeds.legal import load as legal_load
from feeds.legal.parse import parse, parse_file, records_from_payload
from models.legal_event import LegalEvent
from tests.conftest import SHARED_DATA

V1 = SHARED_DATA / "bodacc" / "ods_v1_records_siren_880878145.json"


def notice(
    notice_id: str,
    *,
    siren: str = "880878145",
    nature: str | None = "Jugement d'ouverture de liquidation judiciaire",
    judged: str = "2021-03-01",
    published: str = "2021-03-10",
    family: str = "collective",
    kind: str = "annonce",
    refers_to: tuple[str, str, int] | None = None,
) -> dict[str, Any]:
    """An export-shaped notice (fields at top level, registre a list, JSON-in-string fields)."""
    record: dict[str, Any] = {
        "id": notice_id,
        "dateparution": published,
        "typeavis": kind,
        "familleavis": family,
        "publicationavis": notice_id[0],
        "registre": [siren, f"{siren[:3]} {siren[3:6]} {siren[6:]}"],
        "listepersonnes": json.dumps({"personne": {"typePersonne": "pm", "denomination": "X"}}),
    }
    if nature is not None:
        record["jugement"] = json.dumps({"famille": "Jugement d'ouverture", "nature": nature, "date": judged})
    if refers_to is not None:
        letter, parution, number = refers_to
        record["parutionavisprecedent"] = json.dumps(
            {"nomPublication": f"BODACC {letter}", "numeroParution": parution, "numeroAnnonce": number}
        )
    return record


def write(path: Path, payload: Any, encoding: str = "utf-8") -> Path:
    path.write_bytes(json.dumps(payload, ensure_ascii=False).encode(encoding))
    return path


def test_the_three_real_v1_records() -> None:
    result = parse_file(V1)
    assert (result.read, len(result.accepted), len(result.rejected)) == (3, 3, 0)
    rows = result.accepted.set_index("notice_id")
    assert rows.loc["B20220227446", "event_type"] == "radiation"
    assert rows.loc["C202200902528", "event_type"] == "accounts_filed"
    assert rows.loc["C202200902528", "accounts_closing_date"] == date(2021, 12, 31)
    assert rows.loc["C202101554392", "accounts_closing_date"] == date(2020, 12, 31)
    assert rows.loc["C202101554392", "publication_date"] == date(2021, 8, 11)
    assert set(rows["buyer_id"]) == {"880878145"}


def test_export_array_and_v2_results_give_the_same_rows_as_v1(tmp_path: Path) -> None:
    fields = [r["fields"] for r in json.loads(V1.read_text(encoding="utf-8"))["records"]]
    for record in fields:
        record["registre"] = record["registre"].split(",")
        record["depot"] = json.loads(record["depot"]) if "depot" in record else None
    v1 = parse_file(V1).accepted
    export = parse_file(write(tmp_path / "bodacc_export.json", fields)).accepted
    v2 = parse_file(write(tmp_path / "bodacc_v2.json", {"total_count": 3, "results": fields})).accepted
    pd.testing.assert_frame_equal(v1, export)
    pd.testing.assert_frame_equal(v1, v2)


def test_the_real_collective_procedure_events_are_typed(tmp_path: Path) -> None:
    source = SHARED_DATA / "bodacc" / "procedures_collectives_employeurs_2020-2021_plansde.csv"
    with source.open(encoding="utf-8", newline="") as handle:
        events = list(csv.DictReader(handle))
    # the query output lost leading zeros of the SIREN: the BODACC export keeps them as text
    records = [
        notice(
            f"A2021{i:08d}",
            siren=r["RCS"].zfill(9),
            nature=r["NATURE"],
            judged=r["DATE"],
            published=r["DATE"],
        )
        for i, r in enumerate(events)
    ]
    result = parse(records)
    assert (result.read, len(result.accepted), len(result.rejected)) == (len(events), len(events), 0)
    counts = result.accepted["event_type"].value_counts().to_dict()
    assert counts == {"conversion_lj": 253 + 8, "open_lj": 148 + 5, "closure": 127, "open_rj": 3}
    assert result.accepted["event_date"].notna().all()


def test_french_text_dates_and_mis_encoded_natures() -> None:
    records = [
        notice("A1", nature="jugement de clÃ´ture pour insuffisance d'actif", judged="10 décembre 2009"),
        notice("A2", nature="  JUGEMENT D'OUVERTURE D'UNE PROCÉDURE DE SAUVEGARDE ", judged="1er mars 2010"),
        notice("A3", nature="jugement d’interdiction de gérer", judged="10 dÃ©cembre 2009"),
        notice("A4", nature="Jugement de quelque chose de nouveau", judged="2021-01-02"),
        notice("A5", nature="x", judged="31 février 2009"),
    ]
    result = parse(records)
    rows = {str(r["notice_id"]): r for r in result.accepted.to_dict("records")}
    assert (rows["A1"]["event_type"], rows["A1"]["event_date"]) == ("closure", date(2009, 12, 10))
    assert (rows["A2"]["event_type"], rows["A2"]["event_date"]) == ("open_sauvegarde", date(2010, 3, 1))
    assert (rows["A3"]["event_type"], rows["A3"]["event_date"]) == ("sanction", date(2009, 12, 10))
    # an unknown nature is kept as other with its raw text
    assert (rows["A4"]["event_type"], rows["A4"]["nature_raw"]) == (
        "other",
        "Jugement de quelque chose de nouveau",
    )
    assert result.rejected[["line", "field"]].values.tolist() == [[5, "jugement.date"]]


def test_radiation_and_creation_dates_come_from_their_json_fields() -> None:
    radiation = notice("B1", family="radiation", nature=None)
    radiation["radiationaurcs"] = json.dumps({"radiationPM": "O", "dateCessationActivitePM": "2022-10-31"})
    creation = notice("A2", family="creation", nature=None)
    creation["acte"] = {"dateCommencementActivite": "15 janvier 2021"}
    broken = notice("B3", family="radiation", nature=None)
    broken["radiationaurcs"] = '{"dateCessationActivitePP": "demain"}'
    result = parse([radiation, creation, broken])
    rows = result.accepted.set_index("notice_id")["event_date"].to_dict()
    assert rows == {"B1": date(2022, 10, 31), "A2": date(2021, 1, 15)}
    assert result.rejected[["line", "field"]].values.tolist() == [
        [3, "radiationaurcs.dateCessationActivitePP"]
    ]


def test_notices_without_a_valid_siren_or_with_broken_json_are_quarantined() -> None:
    broken = notice("A3")
    broken["jugement"] = "{not json"
    strange = notice("A4")
    strange["registre"] = "880 878 145,880878145"  # v1 string, spaced first
    records = [
        notice("A1", siren="880878146"),
        {"id": "A2", "dateparution": "2021-01-01"},
        broken,
        strange,
        7,
    ]
    result = parse(records)
    assert result.rejected[["line", "field"]].values.tolist() == [
        [1, "registre"],
        [2, "registre"],
        [3, "jugement"],
        [5, "record"],
    ]
    assert result.accepted["notice_id"].tolist() == ["A4"]
    assert "listepersonnes" not in result.rejected["raw"].iloc[0]


def test_a_windows_1252_file_and_whole_file_failures(tmp_path: Path) -> None:
    path = write(
        tmp_path / "bodacc.json",
        [notice("A1", nature="Jugement de clôture pour extinction du passif")],
        "cp1252",
    )
    assert parse_file(path).accepted["event_type"].tolist() == ["closure"]
    broken = tmp_path / "bodacc_broken.json"
    broken.write_text('[{"id": "A1",', encoding="utf-8")
    with pytest.raises(FeedFileError, match="invalid JSON"):
        parse_file(broken)
    with pytest.raises(FeedFileError, match="'records' or 'results'"):
        records_from_payload({"nhits": 0}, file="x.json")


VALUE = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.integers(),
    st.lists(st.text(max_size=10), max_size=3),
    st.sampled_from(
        ["880878145", "annonce", "rectificatif", "annulation", "collective", "dpc", "2021-01-01", "{}", "[]"]
    ),
)
KEYS = [
    "id",
    "dateparution",
    "typeavis",
    "familleavis",
    "registre",
    "jugement",
    "depot",
    "parutionavisprecedent",
    "listepersonnes",
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.one_of(st.dictionaries(st.sampled_from(KEYS), VALUE), VALUE), max_size=20))
def test_random_bad_records_never_crash_and_always_reconcile(records: list[Any]) -> None:
    result = parse(records)
    assert result.read == len(records) == len(result.accepted) + len(result.rejected) + result.duplicates
    assert result.accepted["notice_id"].is_unique


def events(session: Session) -> dict[str, LegalEvent]:
    session.expire_all()
    return {e.notice_id: e for e in session.execute(select(LegalEvent)).scalars()}


def test_ingest_real_records_twice_changes_nothing(session: Session) -> None:
    report = legal_load.ingest(session, V1)
    assert (report.read, report.accepted, report.quarantined) == (3, 3, 0)
    assert legal_load.ingest(session, V1).already_ingested
    stored = events(session)
    assert len(stored) == 3
    assert stored["C202200902528"].accounts_closing_date == date(2021, 12, 31)
    assert int(session.execute(text("SELECT COUNT(*) FROM feed_file")).scalar_one()) == 1


def test_a_rectificatif_and_an_annulation_apply_to_the_notice_they_refer_to(
    session: Session, tmp_path: Path
) -> None:
    original = notice(
        "A202100451234", nature="Jugement d'ouverture de liquidation judiciaire", published="2021-03-10"
    )
    other = notice("A202100455678", siren="552100554", nature="Jugement de plan de redressement")
    legal_load.ingest(session, write(tmp_path / "bodacc_1.json", [original, other]))
    rectificatif = notice(
        "A202100609999",
        kind="rectificatif",
        nature="Jugement d'ouverture d'une procédure de redressement judiciaire",
        published="2021-03-30",
        refers_to=("A", "20210045", 1234),
    )
    annulation = notice(
        "A202100610001",
        kind="annulation",
        nature=None,
        published="2021-03-31",
        refers_to=("A", "20210045", 5678),
    )
    report = legal_load.ingest(session, write(tmp_path / "bodacc_2.json", [rectificatif, annulation]))
    assert report.extra["corrections"] == 2
    stored = events(session)
    assert set(stored) == {"A202100451234", "A202100455678"}
    fixed = stored["A202100451234"]
    assert (fixed.event_type, fixed.rectified_by, fixed.cancelled) == ("open_rj", "A202100609999", False)
    assert fixed.publication_date == date(2021, 3, 10)
    cancelled = stored["A202100455678"]
    assert (cancelled.event_type, cancelled.cancelled, cancelled.rectified_by) == (
        "plan",
        True,
        "A202100610001",
    )


def test_a_correction_arriving_before_its_original_is_not_undone(session: Session, tmp_path: Path) -> None:
    rectificatif = notice(
        "A202100609999",
        kind="rectificatif",
        nature="Jugement de conversion en liquidation judiciaire",
        published="2021-03-30",
        refers_to=("A", "20210045", 1234),
    )
    original = notice("A202100451234", nature="Jugement de plan de redressement", published="2021-03-10")
    legal_load.ingest(session, write(tmp_path / "bodacc_2.json", [rectificatif]))
    legal_load.ingest(session, write(tmp_path / "bodacc_1.json", [original]))
    stored = events(session)
    assert list(stored) == ["A202100451234"]
    assert (stored["A202100451234"].event_type, stored["A202100451234"].rectified_by) == (
        "conversion_lj",
        "A202100609999",
    )


def test_original_and_annulation_in_one_file(session: Session, tmp_path: Path) -> None:
    original = notice("A202100451234")
    annulation = notice(
        "A202100610001", kind="annulation", published="2021-04-01", refers_to=("A", "20210045", 1234)
    )
    report = legal_load.ingest(session, write(tmp_path / "bodacc.json", [annulation, original, original]))
    assert (report.read, report.accepted, report.duplicates) == (3, 2, 1)
    stored = events(session)
    assert list(stored) == ["A202100451234"]
    assert stored["A202100451234"].cancelled and stored["A202100451234"].event_type == "open_lj"
