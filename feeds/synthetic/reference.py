"""Fixed vocabularies the generator writes: layouts, code lists, names and places.

Everything here is a real code or label (INSEE layouts and code lists, BODACC natures in the
exact case of the open-data export, OECD table shipped in ``data/``), so that the parsers are
exercised on the values they will meet in production. Names of people and companies are
invented combinations of common words."""

from __future__ import annotations

from datetime import date, datetime
from functools import cache
from pathlib import Path

import numpy as np
import polars as pl

DATA_DIR = Path(__file__).with_name("data")

# Legal categories (INSEE niveau III) of the buyers: SAS, SARL, SA, SNC, SELARL, SELAS (single-member
# SAS and SARL share the SAS and SARL codes); 1000 = sole trader.
LEGAL_CATEGORIES = np.array(["5710", "5499", "5599", "5202", "5485", "5785"])
LEGAL_CATEGORY_WEIGHTS = np.array([0.50, 0.38, 0.07, 0.02, 0.02, 0.01])
SOLE_TRADER = "1000"
LEGAL_FORM_LABELS = {
    "5710": "Société par actions simplifiée",
    "5499": "Société à responsabilité limitée",
    "5599": "Société anonyme à conseil d'administration",
    "5202": "Société en nom collectif",
    "5485": "Société d'exercice libéral à responsabilité limitée",
    "5785": "Société d'exercice libéral par actions simplifiée",
    "1000": "Entrepreneur individuel",
}

# NAF sections: share among insured buyers and a sector effect on the log-odds of default
# (construction, hotels-restaurants and transport fail more often than finance or health).
SECTION_WEIGHTS = {
    "A": 0.02, "B": 0.005, "C": 0.17, "D": 0.01, "E": 0.01, "F": 0.14, "G": 0.27, "H": 0.07,
    "I": 0.05, "J": 0.05, "K": 0.01, "L": 0.02, "M": 0.07, "N": 0.06, "O": 0.002, "P": 0.005,
    "Q": 0.02, "R": 0.01, "S": 0.02,
}  # fmt: skip
SECTION_RISK = {
    "A": 0.0, "B": -0.1, "C": 0.0, "D": -0.4, "E": -0.2, "F": 0.45, "G": 0.15, "H": 0.3,
    "I": 0.5, "J": 0.05, "K": -0.4, "L": 0.1, "M": -0.1, "N": 0.2, "O": -0.8, "P": -0.3,
    "Q": -0.3, "R": 0.2, "S": 0.1,
}  # fmt: skip

# Size mix of French buyers (sole traders are PME in INSEE's categorisation) and headcount bands.
SIZE_LABELS = np.array(["EI", "PME", "ETI", "GE"])
SIZE_WEIGHTS = np.array([0.14, 0.78, 0.07, 0.01])
SIZE_RISK = np.array([0.35, 0.0, -0.35, -0.7])
SIZE_LOG_REVENUE = np.array([11.9, 14.3, 18.2, 20.8])  # median revenue ~150 k, 1.6 M, 80 M, 1 G EUR
HEADCOUNT_BANDS = (
    (np.array(["NN", "00", "01"]), np.array([0.6, 0.2, 0.2])),
    (np.array(["01", "02", "03", "11", "12", "21", "22", "31", "32"]),
     np.array([0.15, 0.17, 0.17, 0.17, 0.18, 0.08, 0.05, 0.02, 0.01])),
    (np.array(["32", "41", "42"]), np.array([0.5, 0.35, 0.15])),
    (np.array(["51", "52", "53"]), np.array([0.6, 0.3, 0.1])),
)  # fmt: skip

# Export destinations of French firms (rough shares) with their currency and a legal form.
EXPORT_COUNTRIES = (
    ("DE", 0.14, "EUR", "GmbH"), ("IT", 0.08, "EUR", "S.r.l."), ("ES", 0.08, "EUR", "S.L."),
    ("BE", 0.08, "EUR", "SRL"), ("US", 0.08, "USD", "Inc."), ("GB", 0.06, "GBP", "Ltd"),
    ("NL", 0.05, "EUR", "B.V."), ("CH", 0.05, "CHF", "AG"), ("CN", 0.04, "EUR", "Co., Ltd"),
    ("PL", 0.025, "EUR", "Sp. z o.o."), ("PT", 0.02, "EUR", "Lda"), ("AT", 0.015, "EUR", "GmbH"),
    ("SE", 0.01, "EUR", "AB"), ("JP", 0.01, "EUR", "K.K."), ("IN", 0.01, "EUR", "Pvt Ltd"),
    ("TR", 0.015, "EUR", "A.S."), ("MA", 0.025, "EUR", "SARL"), ("DZ", 0.01, "EUR", "SARL"),
    ("TN", 0.01, "EUR", "SARL"), ("SN", 0.006, "EUR", "SARL"), ("CI", 0.006, "EUR", "SARL"),
    ("BR", 0.01, "EUR", "Ltda"), ("MX", 0.008, "EUR", "S.A. de C.V."), ("EG", 0.005, "EUR", "S.A.E."),
    ("ZA", 0.005, "EUR", "(Pty) Ltd"), ("AE", 0.01, "EUR", "LLC"), ("SA", 0.005, "EUR", "LLC"),
    ("RU", 0.003, "EUR", "OOO"), ("UA", 0.002, "EUR", "TOV"), ("AR", 0.003, "EUR", "S.A."),
)  # fmt: skip

COUNTRIES: tuple[str, ...] = ("FR", *(c[0] for c in EXPORT_COUNTRIES))
CURRENCIES: tuple[str, ...] = ("EUR", *(c[2] for c in EXPORT_COUNTRIES))
FOREIGN_LEGAL_FORMS: tuple[str, ...] = ("", *(c[3] for c in EXPORT_COUNTRIES))

# (department number, name, region code, region name, city, postcode)
DEPARTMENTS = (
    ("75", "Paris", 11, "Île-de-France", "Paris", "75008"),
    ("92", "Hauts-de-Seine", 11, "Île-de-France", "Nanterre", "92000"),
    ("69", "Rhône", 84, "Auvergne-Rhône-Alpes", "Lyon", "69002"),
    ("38", "Isère", 84, "Auvergne-Rhône-Alpes", "Grenoble", "38000"),
    ("13", "Bouches-du-Rhône", 93, "Provence-Alpes-Côte d'Azur", "Marseille", "13001"),
    ("06", "Alpes-Maritimes", 93, "Provence-Alpes-Côte d'Azur", "Nice", "06000"),
    ("31", "Haute-Garonne", 76, "Occitanie", "Toulouse", "31000"),
    ("34", "Hérault", 76, "Occitanie", "Montpellier", "34000"),
    ("33", "Gironde", 75, "Nouvelle-Aquitaine", "Bordeaux", "33000"),
    ("59", "Nord", 32, "Hauts-de-France", "Lille", "59000"),
    ("44", "Loire-Atlantique", 52, "Pays de la Loire", "Nantes", "44000"),
    ("67", "Bas-Rhin", 44, "Grand Est", "Strasbourg", "67000"),
    ("35", "Ille-et-Vilaine", 53, "Bretagne", "Rennes", "35000"),
    ("76", "Seine-Maritime", 28, "Normandie", "Rouen", "76000"),
    ("21", "Côte-d'Or", 27, "Bourgogne-Franche-Comté", "Dijon", "21000"),
    ("45", "Loiret", 24, "Centre-Val de Loire", "Orléans", "45000"),
)
DEPARTMENT_WEIGHTS = np.array([0.2, 0.1, 0.08, 0.04, 0.07, 0.04, 0.06, 0.04, 0.06, 0.07, 0.05, 0.05, 0.04,
                               0.04, 0.03, 0.03])  # fmt: skip

SURNAMES = np.array([
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS", "MOREAU", "LAURENT",
    "SIMON", "MICHEL", "LEFEBVRE", "LEROY", "ROUX", "DAVID", "BERTRAND", "MOREL", "FOURNIER", "GIRARD",
    "BONNET", "DUPONT", "LAMBERT", "FONTAINE", "ROUSSEAU", "VINCENT", "MULLER", "LEFEVRE", "FAURE",
    "ANDRE", "MERCIER", "BLANC", "GUERIN", "BOYER", "GARNIER", "CHEVALIER", "FRANCOIS", "LEGRAND",
    "GAUTHIER", "GARCIA", "PERRIN", "ROBIN", "CLEMENT", "MORIN", "NICOLAS", "HENRY", "ROUSSEL", "MATHIEU",
    "GAUTIER", "MASSON",
])  # fmt: skip
FIRST_NAMES_M = np.array(
    [
        "JEAN",
        "PIERRE",
        "MICHEL",
        "PHILIPPE",
        "ALAIN",
        "NICOLAS",
        "CHRISTOPHE",
        "LAURENT",
        "FREDERIC",
        "THIERRY",
        "JULIEN",
        "DAVID",
        "STEPHANE",
        "OLIVIER",
        "SEBASTIEN",
    ]
)
FIRST_NAMES_F = np.array(
    [
        "MARIE",
        "NATHALIE",
        "ISABELLE",
        "SYLVIE",
        "CATHERINE",
        "SANDRINE",
        "VERONIQUE",
        "CHRISTINE",
        "CELINE",
        "CAROLINE",
        "JULIE",
        "AURELIE",
        "SOPHIE",
        "EMILIE",
        "CLAIRE",
    ]
)
NAME_PREFIXES = np.array([
    "ETABLISSEMENTS", "SOCIETE", "ATELIERS", "GROUPE", "TRANSPORTS", "BOULANGERIE", "GARAGE", "BATIMENT",
    "MENUISERIE", "IMPRIMERIE", "DISTRIBUTION", "CONSEIL", "INDUSTRIES", "LOGISTIQUE", "ELECTRICITE",
    "HOLDING", "TECHNOLOGIES", "SERVICES", "COMPTOIR", "MAISON",
])  # fmt: skip
NAME_PLACES = np.array([
    "DU RHONE", "DE LA LOIRE", "DE NORMANDIE", "DU SUD-OUEST", "DE L'EST", "ATLANTIQUE", "ALPES", "PROVENCE",
    "DE BRETAGNE", "D'AQUITAINE", "DU NORD", "MEDITERRANEE", "DE FRANCE", "DE PARIS", "CENTRE",
])  # fmt: skip
FOREIGN_WORDS = np.array(
    [
        "Nordic",
        "Atlas",
        "Delta",
        "Global",
        "Union",
        "Pacific",
        "Alpine",
        "Baltic",
        "Central",
        "Summit",
        "Harbor",
        "Golden",
        "Meridian",
        "Orion",
        "Vega",
    ]
)
FOREIGN_TRADES = np.array(
    [
        "Trading",
        "Industries",
        "Foods",
        "Logistics",
        "Components",
        "Retail",
        "Systems",
        "Materials",
        "Engineering",
        "Distribution",
    ]
)

# BODACC: the exact-case natures of the open-data export used for the events the generator draws.
NATURE_OPEN_RJ = "Jugement d'ouverture d'une procédure de redressement judiciaire"
NATURE_OPEN_LJ = "Jugement d'ouverture de liquidation judiciaire"
NATURE_OPEN_SAUVEGARDE = "Jugement d'ouverture d'une procédure de sauvegarde"
NATURE_CONVERSION_LJ = "Jugement de conversion en liquidation judiciaire"
NATURE_CONVERSION_RJ_FROM_SAUVEGARDE = (
    "Jugement de conversion en redressement judiciaire de la procédure de sauvegarde"
)
NATURE_PLAN_RJ = "Jugement de plan de redressement"
NATURE_CLOSURE_INSUFFICIENT = "Jugement de clôture pour insuffisance d'actif"
NATURE_STATE_OF_CLAIMS = "Dépôt de l'état des créances"
NATURE_FAMILY = {
    NATURE_OPEN_RJ: "Jugement d'ouverture",
    NATURE_OPEN_LJ: "Jugement d'ouverture",
    NATURE_OPEN_SAUVEGARDE: "Jugement d'ouverture",
    NATURE_CONVERSION_LJ: "Jugement prononçant",
    NATURE_CONVERSION_RJ_FROM_SAUVEGARDE: "Jugement prononçant",
    NATURE_PLAN_RJ: "Jugement prononçant",
    NATURE_CLOSURE_INSUFFICIENT: "Jugement de clôture",
    NATURE_STATE_OF_CLAIMS: "Avis de dépôt",
}
FRENCH_MONTHS = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                 "octobre", "novembre", "décembre")  # fmt: skip


@cache
def naf_codes() -> pl.DataFrame:
    """The 732 NAF rév. 2 sous-classes with their section (``naf_code``, ``section``)."""
    return pl.read_csv(DATA_DIR / "naf_rev2_sous_classes.csv", schema_overrides={"naf_code": pl.String})


def oecd_table_path() -> Path:
    """The shipped OECD historical wide table (written as is as the country feed)."""
    return DATA_DIR / "oecd_crc_historical.csv"


@cache
def oecd_categories_at(as_of: date) -> dict[str, int | None]:
    """ISO-2 -> OECD category in force at ``as_of`` (None = not classified), from the shipped table.

    Used only to let the hidden default probability depend on the country the way the product's
    country feed will see it."""
    import pycountry

    table = pl.read_csv(oecd_table_path(), infer_schema=False)
    dated = [(datetime.strptime(c, "%d-%b-%y").date(), c) for c in table.columns[3:]]
    in_force = [c for d, c in dated if d <= as_of]
    column = in_force[-1] if in_force else dated[0][1]
    result: dict[str, int | None] = {}
    for iso3, value in zip(table["ISO"].to_list(), table[column].to_list(), strict=True):
        country = pycountry.countries.get(alpha_3=iso3)
        if country is None:
            continue
        text = (value or "").strip()
        result[country.alpha_2] = int(text) if text.isdigit() else None
    return result


def labels(values: tuple[str, ...] | list[str] | np.ndarray, index: np.ndarray) -> pl.Series:
    """Strings by code index: far faster than building numpy string arrays for millions of rows."""
    return pl.Series([str(v) for v in values], dtype=pl.String).gather(np.asarray(index, dtype=np.int64))
