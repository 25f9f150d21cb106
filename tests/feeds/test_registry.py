"""Registry feed (INSEE Sirene StockUniteLegale): real rows, both layouts, idempotence."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.orm import Session
from stdnum.fr import siren as stdnum_siren

from feeds.common import FeedFileError
from feeds.registry import load as registry_load
from feeds.registry.checks import siren_valid
from feeds.registry.parse import REQUIRED, parse, parse_file
from models.buyer import Buyer
from tests.conftest import SHARED_DATA

REAL = SHARED_DATA / "sirene" / "etalab_sample_StockUniteLegale_3rows.csv"
LAYOUT = SHARED_DATA / "sirene" / "insee_stockunitelegale-311-dessin-de-fichier.csv"


def current_header() -> list[str]:
    with LAYOUT.open(encoding="utf-8") as handle:
        return [row["Nom"].strip() for row in csv.DictReader(handle)]


def company(siren: str = "880878145", **overrides: str) -> dict[str, str]:
    row = {c: "" for c in current_header()}
    row.update(
        siren=siren,
        statutDiffusionUniteLegale="O",
        dateCreationUniteLegale="2020-01-15",
        trancheEffectifsUniteLegale="12",
        dateDernierTraitementUniteLegale="2024-03-01T10:00:00",
        categorieEntreprise="PME",
        etatAdministratifUniteLegale="A",
        denominationUniteLegale="SOCIÉTÉ GANYMÈDE",
        categorieJuridiqueUniteLegale="5710",
        activitePrincipaleUniteLegale="62.01Z",
        nomenclatureActivitePrincipaleUniteLegale="NAFRev2",
        activitePrincipaleNAF25UniteLegale="62.10Y",
    )
    row.update(overrides)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], *, encoding: str = "utf-8", header=None) -> Path:
    columns = header or current_header()
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def test_the_three_real_2019_rows_parse_as_sole_traders_with_the_purged_unit_kept() -> None:
    result = parse_file(REAL)
    assert (result.read, len(result.accepted), len(result.rejected), result.duplicates) == (3, 3, 0, 0)
    rows = result.accepted.set_index("buyer_id")
    assert list(rows.index) == ["000325175", "001807254", "005410220"]
    assert rows["is_natural_person"].all()
    assert rows.loc["000325175", "name"] == "THIERRY JANOYER"
    assert rows.loc["000325175", "naf_code"] == "32.12Z"
    assert rows.loc["000325175", "size_category"] == "PME"
    assert rows.loc["001807254", "status"] == "C"
    # purged unit with an old NAP code: kept, activity unknown in NAF rév. 2
    assert rows["naf_code"].isna().loc["005410220"]
    assert bool(rows.loc["005410220", "old_nomenclature"])
    assert (rows["country"] == "FR").all()


def test_the_current_35_column_layout_parses_a_company(tmp_path: Path) -> None:
    assert len(current_header()) == 35
    result = parse_file(write_csv(tmp_path / "StockUniteLegale.csv", [company()]))
    row = result.accepted.iloc[0]
    assert (row["name"], row["naf_code"], row["legal_category"], row["headcount_band"]) == (
        "SOCIÉTÉ GANYMÈDE",
        "62.01Z",
        "5710",
        "12",
    )
    assert not row["is_natural_person"]


def test_bad_rows_are_quarantined_with_line_field_and_reason_without_person_names(tmp_path: Path) -> None:
    rows = [
        company(),
        company(siren="880878146"),
        company(siren="552100554", activitePrincipaleUniteLegale="99.99Z"),
        company(
            siren="000325175",
            denominationUniteLegale="",
            nomUniteLegale="SECRETNAME",
            dateCreationUniteLegale="2020-13-45",
            categorieJuridiqueUniteLegale="1000",
        ),
        company(siren="880878145", dateDernierTraitementUniteLegale="2023-01-01T00:00:00"),
    ]
    result = parse_file(write_csv(tmp_path / "StockUniteLegale.csv", rows))
    assert (result.read, len(result.accepted), len(result.rejected), result.duplicates) == (5, 1, 3, 1)
    rejected = result.rejected.set_index("line")
    assert rejected.loc[3, "field"] == "siren"
    assert rejected.loc[4, "field"] == "activitePrincipaleUniteLegale"
    assert rejected.loc[5, "field"] == "dateCreationUniteLegale"
    assert not rejected["raw"].str.contains("SECRETNAME").any()
    # the newer processing date of the same SIREN wins over the later line
    assert result.accepted.iloc[0]["registry_updated_at"] == pd.Timestamp("2024-03-01 10:00:00")


def test_a_windows_1252_semicolon_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "StockUniteLegale.csv"
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=current_header(), delimiter=";", lineterminator="\r\n")
    writer.writeheader()
    writer.writerow(company(denominationUniteLegale="CRÈMERIE DE L'ÉTÉ"))
    path.write_bytes(buffer.getvalue().encode("cp1252"))
    result = parse_file(path)
    assert result.accepted.iloc[0]["name"] == "CRÈMERIE DE L'ÉTÉ"


def test_a_missing_column_fails_the_whole_file_naming_it(tmp_path: Path) -> None:
    header = [c for c in current_header() if c != "activitePrincipaleUniteLegale"]
    path = write_csv(tmp_path / "StockUniteLegale.csv", [company()], header=header)
    with pytest.raises(FeedFileError, match="activitePrincipaleUniteLegale") as error:
        parse_file(path)
    assert str(path) in str(error.value)


@given(st.lists(st.text(alphabet="0123456789", min_size=0, max_size=11), max_size=40))
def test_the_column_wise_luhn_check_agrees_with_python_stdnum(values: list[str]) -> None:
    ours = siren_valid(pd.Series(values, dtype="object")).tolist()
    theirs = [len(v) == 9 and stdnum_siren.is_valid(v) for v in values]
    assert ours == theirs


CELL = st.one_of(
    st.text(max_size=12),
    st.sampled_from(
        ["", "A", "C", "62.01Z", "22.02", "NAFRev2", "NAP", "PME", "12", "2020-01-01", "880878145", "1000"]
    ),
)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.fixed_dictionaries({c: CELL for c in REQUIRED}), max_size=25))
def test_random_bad_rows_never_crash_and_always_reconcile(rows: list[dict[str, str]]) -> None:
    frame = pd.DataFrame(rows, columns=list(REQUIRED), dtype="object")
    frame["_line"] = pd.Series(range(2, len(rows) + 2), dtype="int64")
    result = parse(frame)
    assert result.read == len(rows) == len(result.accepted) + len(result.rejected) + result.duplicates
    assert set(result.rejected["line"]) <= set(frame["_line"])
    assert result.accepted["buyer_id"].is_unique


def count(session: Session, table: str) -> int:
    return int(session.execute(text(f"SELECT COUNT(*) FROM {table}")).scalar_one())


def test_ingest_loads_buyers_and_the_same_file_twice_changes_nothing(session: Session) -> None:
    report = registry_load.ingest(session, REAL)
    assert (report.read, report.accepted, report.quarantined, report.extra["old_nomenclature"]) == (
        3,
        3,
        0,
        1,
    )
    again = registry_load.ingest(session, REAL)
    assert again.already_ingested and again.accepted == 0
    assert count(session, "buyer") == 3 and count(session, "feed_file") == 1
    buyer = session.get(Buyer, "000325175")
    assert buyer is not None
    assert (buyer.name, buyer.naf_code, buyer.is_natural_person) == ("THIERRY JANOYER", "32.12Z", True)
    assert buyer.registry_updated_at == datetime(2018, 7, 10, 14, 17, 15)
    assert buyer.creation_date == date(2000, 9, 26)


def test_an_older_file_ingested_later_does_not_roll_a_buyer_back(session: Session, tmp_path: Path) -> None:
    newer = write_csv(tmp_path / "StockUniteLegale_new.csv", [company(denominationUniteLegale="NEW NAME")])
    older = write_csv(
        tmp_path / "StockUniteLegale_old.csv",
        [company(denominationUniteLegale="OLD NAME", dateDernierTraitementUniteLegale="2019-01-01T00:00:00")],
    )
    registry_load.ingest(session, newer)
    report = registry_load.ingest(session, older)
    assert report.extra["older_than_stored"] == 1
    assert session.execute(text("SELECT name FROM buyer")).scalar_one() == "NEW NAME"


def test_quarantined_rows_are_stored_with_file_and_line(session: Session, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "StockUniteLegale.csv", [company(), company(siren="123456789")])
    report = registry_load.ingest(session, path)
    assert (report.accepted, report.quarantined) == (1, 1)
    row = session.execute(text("SELECT file, line, field FROM quarantine")).one()
    assert tuple(row) == (str(path), 3, "siren")


def test_a_rejected_file_loads_nothing(session: Session, tmp_path: Path) -> None:
    header = [c for c in current_header() if c != "siren"]
    path = write_csv(tmp_path / "StockUniteLegale.csv", [company()], header=header)
    with pytest.raises(FeedFileError, match="'siren'"):
        registry_load.ingest(session, path)
    assert count(session, "buyer") == 0 and count(session, "feed_file") == 0


def test_names_of_sole_traders_and_companies_without_a_denomination(tmp_path: Path) -> None:
    rows = [
        company(
            siren="000325175",
            denominationUniteLegale="",
            categorieJuridiqueUniteLegale="1000",
            prenom1UniteLegale="MARIE",
            prenomUsuelUniteLegale="",
            nomUniteLegale="DURAND",
            nomUsageUniteLegale="MARTIN",
        ),
        company(siren="880878145", denominationUniteLegale="", sigleUniteLegale="GNM"),
        company(siren="552100554", denominationUniteLegale="", categorieJuridiqueUniteLegale="5710"),
    ]
    result = parse_file(write_csv(tmp_path / "StockUniteLegale.csv", rows))
    names = {r["buyer_id"]: (r["name"], r["is_natural_person"]) for r in result.accepted.to_dict("records")}
    assert names == {
        "000325175": ("MARIE MARTIN", True),
        "880878145": ("GNM", False),
        "552100554": ("SIREN 552100554", False),
    }
