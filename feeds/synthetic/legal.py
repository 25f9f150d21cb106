"""BODACC: the legal events of the hidden history, written as the open-data export JSON array.

Each default of a French buyer is the opening judgment of a collective procedure (redressement
judiciaire, liquidation judiciaire or sauvegarde) dated on the default day; later judgments
follow as in practice (conversion into liquidation, plan, closure for insufficient assets,
then removal from the register). A few accounts-filing (``dpc``) notices, corrections
(``rectificatif``, the original carrying a wrong judgment date) and cancellations
(``annulation`` of a notice published in error) exercise the parser's correction logic.
Only notices published on or before the business date are written."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from feeds.synthetic import reference as ref
from feeds.synthetic.population import Population


@dataclass(frozen=True)
class LegalSchedule:
    """Judgments of the hidden history (``buyer``, ``nature``, ``jugement_day``) and, per buyer,
    the day its removal from the register is published (-1 = none)."""

    judgments: pl.DataFrame
    radiation_day: np.ndarray


def schedule(rng: np.random.Generator, pop: Population) -> LegalSchedule:
    """Draw the judgments following each French default (all dates, published or not)."""
    buyers = np.flatnonzero((pop.default_day >= 0) & ~pop.is_foreign)
    k = len(buyers)
    opened = pop.default_day[buyers]
    proc = pop.procedure[buyers]
    u = rng.random(k)
    opening = np.select(
        [proc == 1, proc == 2], [ref.NATURE_OPEN_RJ, ref.NATURE_OPEN_LJ], ref.NATURE_OPEN_SAUVEGARDE
    )
    parts: list[tuple[np.ndarray, object, np.ndarray]] = [(buyers, opening, opened)]

    to_lj = (proc == 1) & (u < 0.6)
    lj_day = np.where(proc == 2, opened, np.where(to_lj, opened + rng.integers(60, 240, k), -1))
    parts.append((buyers[to_lj], ref.NATURE_CONVERSION_LJ, lj_day[to_lj]))
    plan = (proc == 1) & (u >= 0.6) & (u < 0.85)
    parts.append((buyers[plan], ref.NATURE_PLAN_RJ, (opened + rng.integers(180, 400, k))[plan]))
    to_rj = (proc == 3) & (u < 0.35)
    parts.append(
        (buyers[to_rj], ref.NATURE_CONVERSION_RJ_FROM_SAUVEGARDE, (opened + rng.integers(90, 300, k))[to_rj])
    )
    claims = rng.random(k) < 0.3
    parts.append((buyers[claims], ref.NATURE_STATE_OF_CLAIMS, (opened + rng.integers(90, 200, k))[claims]))
    closed = lj_day >= 0
    closure_day = lj_day + rng.integers(300, 900, k)
    parts.append((buyers[closed], ref.NATURE_CLOSURE_INSUFFICIENT, closure_day[closed]))

    radiation_day = np.full(pop.n, -1, dtype=np.int64)
    radiation_day[buyers[closed]] = closure_day[closed] + rng.integers(30, 120, int(closed.sum()))
    frame = pl.concat(
        [
            pl.DataFrame(
                {
                    "buyer": b.astype(np.int64),
                    "nature": np.broadcast_to(np.asarray(nat, dtype=object), b.shape).astype(str),
                    "jugement_day": d.astype(np.int64),
                }
            )
            for b, nat, d in parts
        ]
    )
    return LegalSchedule(judgments=frame, radiation_day=radiation_day)


def notices(
    rng: np.random.Generator,
    pop: Population,
    legal: LegalSchedule,
    sirene: pl.DataFrame,
    financials: pl.DataFrame,
) -> pl.DataFrame:
    """One row per BODACC notice published by the business date, ready to be encoded."""
    business = pop.business_day
    judgments = legal.judgments.with_columns(
        pub_day=pl.col("jugement_day") + pl.Series(rng.integers(4, 21, legal.judgments.height)),
        familleavis=pl.lit("collective"),
        typeavis=pl.lit("annonce"),
        true_day=pl.col("jugement_day"),
    ).filter(pl.col("pub_day") <= business)

    # Rectificatifs: the original notice carried a wrong judgment date; the correction is right.
    n_j = judgments.height
    rectified = (rng.random(n_j) < 0.02) & (judgments["pub_day"].to_numpy() + 45 <= business)
    originals = judgments.with_columns(
        jugement_day=pl.col("jugement_day") + pl.Series(np.where(rectified, rng.integers(1, 11, n_j), 0)),
        rectified=pl.Series(rectified),
    )
    corrections = judgments.filter(pl.Series(rectified)).with_columns(
        pub_day=pl.col("pub_day") + pl.Series(rng.integers(7, 40, int(rectified.sum()))),
        typeavis=pl.lit("rectificatif"),
    )

    # Annulations: an opening published in error for a sound buyer, then cancelled.
    sound = np.flatnonzero(~pop.is_foreign & (pop.default_day < 0))
    n_err = min(len(sound), max(1, n_j // 200)) if n_j else 0
    wrong = pl.DataFrame(
        {
            "buyer": rng.choice(sound, n_err, replace=False).astype(np.int64)
            if n_err
            else np.zeros(0, np.int64),
            "nature": np.full(n_err, ref.NATURE_OPEN_RJ),
            "jugement_day": business - rng.integers(60, 900, n_err),
        }
    ).with_columns(
        pub_day=pl.col("jugement_day") + 10,
        familleavis=pl.lit("collective"),
        typeavis=pl.lit("annonce"),
        true_day=pl.col("jugement_day"),
    )
    cancels = wrong.with_columns(pub_day=pl.col("pub_day") + 20, typeavis=pl.lit("annulation"))

    # A few accounts-filing notices and the removals from the register.
    filings = financials.filter(pl.Series(rng.random(financials.height) < 0.05))
    siren_to_buyer = pl.DataFrame({"siren": sirene["siren"], "buyer": np.flatnonzero(~pop.is_foreign)})
    dpc = (
        filings.join(siren_to_buyer, on="siren", maintain_order="left")
        .select(
            "buyer",
            pl.col("date_cloture_exercice").alias("cloture"),
            (pl.col("date_depot").cast(pl.Int64) + 14).alias("pub_day"),
        )
        .filter(pl.col("pub_day") <= business)
        .with_columns(familleavis=pl.lit("dpc"), typeavis=pl.lit("annonce"))
    )
    radiated = np.flatnonzero((legal.radiation_day >= 0) & (legal.radiation_day <= business))
    radiations = pl.DataFrame(
        {"buyer": radiated.astype(np.int64), "pub_day": legal.radiation_day[radiated]}
    ).with_columns(familleavis=pl.lit("radiation"), typeavis=pl.lit("annonce"))

    with_refs = pl.concat(
        [
            originals.with_columns(key=pl.int_range(pl.len()), ref_key=pl.lit(None, pl.Int64)),
            corrections.with_columns(key=pl.lit(None, pl.Int64), ref_key=pl.lit(None, pl.Int64)),
            wrong.with_columns(key=pl.int_range(pl.len()) + n_j, ref_key=pl.lit(None, pl.Int64)),
            cancels.with_columns(key=pl.lit(None, pl.Int64), ref_key=pl.int_range(pl.len()) + n_j),
        ],
        how="diagonal_relaxed",
    )
    # A correction refers to its original: same buyer, nature and true judgment day.
    original_keys = with_refs.filter(pl.col("typeavis") == "annonce").select(
        "buyer", "nature", "true_day", pl.col("key").alias("orig_key")
    )
    with_refs = (
        with_refs.join(original_keys, on=["buyer", "nature", "true_day"], how="left", maintain_order="left")
        .with_columns(
            ref_key=pl.when(pl.col("typeavis") == "rectificatif")
            .then(pl.col("orig_key"))
            .otherwise("ref_key")
        )
        .drop("orig_key", "rectified", "true_day")
    )
    all_notices = pl.concat([with_refs, dpc, radiations], how="diagonal_relaxed").filter(
        pl.col("pub_day") <= business
    )
    return _number(all_notices)


def _number(frame: pl.DataFrame) -> pl.DataFrame:
    """Give each notice its publication letter, issue (``parution``), number and id."""
    letter = pl.col("familleavis").replace_strict({"collective": "A", "radiation": "B", "dpc": "C"})
    pub = pl.col("pub_day").cast(pl.Int32).cast(pl.Date)
    issue = (pub.dt.ordinal_day().cast(pl.Int64) * 250 // 366 + 1).cast(pl.String).str.zfill(4)
    numbered = (
        frame.with_columns(letter=letter, pub_date=pub, parution=pub.dt.year().cast(pl.String) + issue)
        .sort(
            ["pub_day", "buyer", "familleavis", "typeavis", "jugement_day", "nature", "cloture"],
            nulls_last=True,
        )
        .with_columns(numeroannonce=pl.int_range(1, pl.len() + 1).over(["letter", "parution"]))
        .with_columns(id=pl.col("letter") + pl.col("parution") + pl.col("numeroannonce").cast(pl.String))
    )
    previous = numbered.filter(pl.col("key").is_not_null()).select(
        pl.col("key").alias("ref_key"),
        pl.struct(
            nomPublication=pl.lit("BODACC ") + pl.col("letter"),
            numeroParution=pl.col("parution"),
            dateParution=pl.col("pub_date").cast(pl.String),
            numeroAnnonce=pl.col("numeroannonce").cast(pl.String),
        )
        .struct.json_encode()
        .alias("parutionavisprecedent"),
    )
    return numbered.join(previous, on="ref_key", how="left", maintain_order="left")


def write_bodacc(
    path: Path, rng: np.random.Generator, notices_frame: pl.DataFrame, buyers: pl.DataFrame
) -> int:
    """Encode the notices as the export's JSON array and write them; returns the record count.

    ``buyers`` maps the buyer index to ``siren``, ``name``, ``first_name``, ``legal_form``,
    ``sole`` and ``department`` (index into the department list)."""
    n = notices_frame.height
    depts = pl.DataFrame(
        {
            "department": np.arange(len(ref.DEPARTMENTS)),
            "numerodepartement": [d[0] for d in ref.DEPARTMENTS],
            "departement_nom_officiel": [d[1] for d in ref.DEPARTMENTS],
            "region_code": [d[2] for d in ref.DEPARTMENTS],
            "region_nom_officiel": [d[3] for d in ref.DEPARTMENTS],
            "ville": [d[4] for d in ref.DEPARTMENTS],
            "cp": [d[5] for d in ref.DEPARTMENTS],
        }
    )
    months = {i + 1: m for i, m in enumerate(ref.FRENCH_MONTHS)}
    jd = pl.col("jugement_day").cast(pl.Int32).cast(pl.Date)
    french = (
        jd.dt.day().cast(pl.String)
        + " "
        + jd.dt.month().replace_strict(months)
        + " "
        + jd.dt.year().cast(pl.String)
    )
    spaced = (
        pl.col("siren").str.slice(0, 3)
        + " "
        + pl.col("siren").str.slice(3, 3)
        + " "
        + pl.col("siren").str.slice(6, 3)
    )
    family = pl.col("nature").replace_strict(ref.NATURE_FAMILY, default=None)
    labels = {
        "annonce": "Avis initial",
        "rectificatif": "Avis rectificatif",
        "annulation": "Avis d'annulation",
    }
    famille_lib = {
        "collective": "Procédures collectives",
        "dpc": "Dépôts des comptes",
        "radiation": "Radiations",
    }
    registration = pl.struct(
        numeroIdentification=spaced, codeRCS=pl.lit("RCS"), nomGreffeImmat=pl.col("ville")
    )
    person = pl.struct(
        personne=pl.struct(
            typePersonne=pl.lit("pp"),
            nom=pl.col("name"),
            prenom=pl.col("first_name"),
            numeroImmatriculation=registration,
        )
    )
    company = pl.struct(
        personne=pl.struct(
            typePersonne=pl.lit("pm"),
            numeroImmatriculation=registration,
            denomination=pl.col("name"),
            formeJuridique=pl.col("legal_form"),
            adresseSiegeSocial=pl.struct(codePostal=pl.col("cp"), ville=pl.col("ville")),
        )
    )
    frame = (
        notices_frame.join(buyers, on="buyer", how="left", maintain_order="left")
        .join(depts, on="department", how="left", maintain_order="left")
        .with_columns(french_date=pl.Series(rng.random(n) < 0.02))
    )
    records = frame.select(
        pl.col("id"),
        pl.col("letter").alias("publicationavis"),
        (pl.lit("Bodacc ") + pl.col("letter")).alias("publicationavis_facette"),
        pl.col("parution"),
        pl.col("pub_date").cast(pl.String).alias("dateparution"),
        pl.col("numeroannonce"),
        pl.col("typeavis"),
        pl.col("typeavis").replace_strict(labels).alias("typeavis_lib"),
        pl.col("familleavis"),
        pl.col("familleavis").replace_strict(famille_lib).alias("familleavis_lib"),
        pl.col("numerodepartement"),
        pl.col("departement_nom_officiel"),
        pl.col("region_code"),
        pl.col("region_nom_officiel"),
        (pl.lit("Greffe du Tribunal de Commerce de ") + pl.col("ville")).alias("tribunal"),
        pl.when(pl.col("sole"))
        .then(pl.col("first_name") + " " + pl.col("name"))
        .otherwise(pl.col("name"))
        .alias("commercant"),
        pl.col("ville"),
        pl.concat_list(pl.col("siren"), spaced).alias("registre"),
        pl.col("cp"),
        (pl.col("numeroannonce") % 3).alias("pdf_parution_subfolder"),
        pl.lit("oui").alias("ispdf_unitaire"),
        pl.when(pl.col("sole"))
        .then(person.struct.json_encode())
        .otherwise(company.struct.json_encode())
        .alias("listepersonnes"),
        pl.when(pl.col("familleavis") == "collective")
        .then(
            pl.struct(
                type=pl.lit("initial"),
                famille=family,
                nature=pl.col("nature"),
                date=pl.when(pl.col("french_date")).then(french).otherwise(jd.cast(pl.String)),
                complementJugement=pl.col("nature")
                + pl.lit(", désignant mandataire judiciaire SELARL MJ ")
                + pl.col("ville"),
            ).struct.json_encode()
        )
        .alias("jugement"),
        pl.when(pl.col("familleavis") == "radiation")
        .then(pl.struct(radiationPM=pl.lit("O")).struct.json_encode())
        .alias("radiationaurcs"),
        pl.when(pl.col("familleavis") == "dpc")
        .then(
            pl.struct(
                dateCloture=pl.col("cloture").cast(pl.String),
                typeDepot=pl.lit("Comptes annuels et rapports"),
                descriptif=pl.lit(
                    "Les comptes annuels sont accompagnés d'une déclaration de confidentialité."
                ),
            ).struct.json_encode()
        )
        .alias("depot"),
        pl.col("parutionavisprecedent"),
        (pl.lit("https://www.bodacc.fr/pages/annonces-commerciales-detail/?q.id=id:") + pl.col("id")).alias(
            "url_complete"
        ),
    )
    return _write_json_array(path, records)


def _write_json_array(path: Path, records: pl.DataFrame) -> int:
    """Polars encodes each record on one line (fields in export order, nulls kept as ``null`` as
    in the export); JSON escapes every newline inside a value, so joining the lines with commas
    gives the export's array."""
    lines = records.write_ndjson().rstrip("\n")
    with path.open("w", encoding="utf-8") as handle:
        handle.write("[\n")
        handle.write(lines.replace("\n", ",\n"))
        handle.write("\n]\n")
    return records.height
