"""OAL deadlines and CAP-family eligibility of final decisions: a pure core and a thin I/O shell.

Why pure: the rules of the public schemes changed several times (2020, 2021, the permanent
scheme); keeping them as effective-dated data (``config/schemes.yaml``) evaluated over whole
columns lets a past night be re-run exactly and tested on three-row frames.

``compute`` returns one row per (decision, applicable scheme), eligible or not, with a stable
reason code, so a policyholder can be told why a top-up is not offered:

* ``OAL`` for a reduction or a cancellation that lowers the limit: eligible when the policy has
  the option and the buyer is not in a collective procedure; deadline = notification date +
  15 calendar days (seed: received on the 10th -> declaration by the 25th).
* ``CAP`` (buyer in France) / ``CAP_FRANCEXPORT`` (export) after a reduction or a partial
  approval that keeps something: top-up = min(multiple x kept amount, shortfall), where the
  shortfall is what the policyholder had (reduction) or asked for (partial approval) minus
  what is kept.
* ``CAP_PLUS`` / ``CAP_PLUS_FRANCEXPORT`` after a refusal or a cancellation (or a reduction to
  zero): substitute = min(cap of the buyer's risk category, what was lost); nothing for the
  worst category.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator
from sqlalchemy.orm import Session

from arbitration.handover import OTHER_RUNS, DecidedTonight, handed_on, with_handed
from models.codes import COLLECTIVE_OPENINGS, FINAL_STATUSES, ResponseType
from models.db import bound_list, bulk_upsert, read_frame
from models.score import latest_score_date

OUTPUT_COLUMNS = ["decision_id", "scheme", "eligible", "amount_cents", "deadline", "reason", "parameter_set"]
INPUT_COLUMNS = [
    "decision_id",
    "decision_type",
    "previous_cents",
    "proposed_cents",
    "final_cents",
    "requested_cents",
    "oal_option",
    "buyer_country",
    "collective_procedure",
    "policyholder_revenue_cents",
    "policyholder_size",
    "grade",
]
DOMESTIC_COUNTRY = "FR"
WITHDRAWALS = (int(ResponseType.NOT_APPROVED), int(ResponseType.CANCELLATION))
CUTS = (int(ResponseType.REDUCTION), int(ResponseType.PARTLY_APPROVED))


class SchemeParamsError(ValueError):
    """The scheme parameter file is missing or invalid; the message says where and what."""


class CountryRule(BaseModel):
    """Which buyer countries a scheme covers: named lists plus extra codes, included or excluded."""

    mode: Literal["include", "exclude"]
    lists: list[str] = Field(default_factory=list)
    extra: list[str] = Field(default_factory=list)
    exclude: list[str] = Field(default_factory=list)


class SchemeVersion(BaseModel):
    """One effective-dated parameter set of one scheme."""

    valid_from: date
    source: str
    declaration_days: int | None = None
    sizes: list[str] = Field(default_factory=list)
    max_revenue_eur: int | None = None
    topup_multiple: float | None = None
    countries: CountryRule | None = None
    cap_by_category_eur: dict[int, int] | None = None


class RiskCategories(BaseModel):
    source: str
    category_1: list[int]
    category_2: list[int]
    category_3: list[int]


class CountryList(BaseModel):
    source: str
    countries: list[str]


class SchemeParams(BaseModel):
    """Every scheme's parameter sets, validated at load so a typo fails before a night runs."""

    country_lists: dict[str, CountryList]
    risk_category_by_grade: RiskCategories
    schemes: dict[
        Literal["OAL", "CAP", "CAP_FRANCEXPORT", "CAP_PLUS", "CAP_PLUS_FRANCEXPORT"], list[SchemeVersion]
    ]

    @model_validator(mode="after")
    def _known_lists(self) -> SchemeParams:
        for name, versions in self.schemes.items():
            for version in versions:
                rule = version.countries
                for listed in rule.lists if rule else []:
                    if listed not in self.country_lists:
                        raise ValueError(f"{name} {version.valid_from}: unknown country list {listed!r}")
        return self

    def version_at(self, scheme: str, as_of: date) -> SchemeVersion | None:
        """The parameter set in force at ``as_of`` (the latest ``valid_from`` not after it)."""
        versions = [v for v in self.schemes.get(scheme, []) if v.valid_from <= as_of]  # type: ignore[call-overload]
        return max(versions, key=lambda v: v.valid_from) if versions else None

    def countries_of(self, rule: CountryRule) -> set[str]:
        named = {c for name in rule.lists for c in self.country_lists[name].countries}
        return named | set(rule.extra)

    def category_of_grade(self) -> dict[int, int]:
        rc = self.risk_category_by_grade
        return {
            g: cat
            for cat, grades in ((1, rc.category_1), (2, rc.category_2), (3, rc.category_3))
            for g in grades
        }


def load_scheme_params(path: Path) -> SchemeParams:
    """Read and validate ``schemes.yaml``; errors name the file and the offending field."""
    try:
        raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise SchemeParamsError(
            f"{path}: expected a readable scheme parameter file ({exc.strerror})"
        ) from None
    except yaml.YAMLError as exc:
        raise SchemeParamsError(f"{path}: invalid YAML: {exc}") from None
    try:
        return SchemeParams.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SchemeParamsError(f"{path}: {where}: {first['msg']} (found {first.get('input')!r})") from None


# ---------------------------------------------------------------------------------------------
# Pure core
# ---------------------------------------------------------------------------------------------


def _rows(
    ids: pd.Series,
    scheme: str,
    eligible: np.ndarray,
    amount: pd.Series,
    deadline: object,
    reason: np.ndarray,
    tag: str,
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "decision_id": ids.to_numpy(),
            "scheme": scheme,
            "eligible": eligible.astype(bool),
            "amount_cents": pd.array(amount.to_numpy(), dtype="Int64"),
            "deadline": deadline,
            "reason": reason,
            "parameter_set": tag,
        }
    )


def _policyholder_reason(frame: pd.DataFrame, version: SchemeVersion) -> np.ndarray:
    """Empty string where the policyholder qualifies, else why not."""
    size_ok = frame["policyholder_size"].isin(version.sizes).to_numpy()
    reason = np.where(size_ok, "", "policyholder_size_not_eligible")
    if version.max_revenue_eur is not None:
        revenue = pd.to_numeric(frame["policyholder_revenue_cents"], errors="coerce")
        unknown = revenue.isna().to_numpy()
        too_big = (revenue >= version.max_revenue_eur * 100).fillna(False).to_numpy(dtype=bool)
        reason = np.where(reason != "", reason, np.where(unknown, "policyholder_revenue_unknown", ""))
        reason = np.where(reason != "", reason, np.where(too_big, "policyholder_revenue_too_high", ""))
    return reason


def _country_ok(frame: pd.DataFrame, params: SchemeParams, rule: CountryRule) -> np.ndarray:
    listed = frame["buyer_country"].isin(params.countries_of(rule)).to_numpy()
    ok = listed if rule.mode == "include" else ~listed
    return (
        ok & ~frame["buyer_country"].isin(rule.exclude).to_numpy() & frame["buyer_country"].notna().to_numpy()
    )


def _first_reason(*reasons: np.ndarray) -> np.ndarray:
    out = reasons[0]
    for more in reasons[1:]:
        out = np.where(out != "", out, more)
    return out


def _cap_family(
    frame: pd.DataFrame, scheme: str, params: SchemeParams, as_of: date, new: pd.Series, lost: pd.Series
) -> pd.DataFrame:
    version = params.version_at(scheme, as_of)
    if frame.empty:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    if version is None:
        n = len(frame)
        return _rows(
            frame["decision_id"],
            scheme,
            np.zeros(n, bool),
            pd.Series([pd.NA] * n),
            None,
            np.full(n, "no_parameter_set_at_date"),
            "none",
        )
    tag = f"{scheme}@{version.valid_from.isoformat()}"
    insolvent = frame["collective_procedure"].fillna(False).astype(bool).to_numpy()
    country = (
        _country_ok(frame, params, version.countries) if version.countries else np.ones(len(frame), bool)
    )
    if version.cap_by_category_eur is None:  # CAP / Cap Francexport: top-up on what is kept
        multiple = version.topup_multiple or 1.0
        amount = np.minimum(np.floor(new.to_numpy(dtype=float) * multiple), lost.to_numpy(dtype=float))
        amount_reason = np.where(amount > 0, "", "nothing_to_top_up")
    else:  # CAP+ family: substitute capped by the buyer's risk category
        categories = pd.to_numeric(frame["grade"], errors="coerce").map(params.category_of_grade())
        caps = categories.map({k: v * 100 for k, v in version.cap_by_category_eur.items()})
        amount = np.minimum(caps.fillna(0).to_numpy(dtype=float), lost.to_numpy(dtype=float))
        amount_reason = np.where(
            categories.isna().to_numpy(),
            "buyer_risk_category_unknown",
            np.where(amount > 0, "", "buyer_risk_category_not_covered"),
        )
    reason = _first_reason(
        np.where(insolvent, "buyer_in_collective_procedure", ""),
        np.where(country, "", "buyer_country_not_eligible"),
        _policyholder_reason(frame, version),
        amount_reason,
    )
    eligible = reason == ""
    amount_series = pd.Series(np.where(eligible, amount, np.nan)).round().astype("Int64")
    return _rows(
        frame["decision_id"],
        scheme,
        eligible,
        amount_series,
        None,
        np.where(eligible, "eligible", reason),
        tag,
    )


def compute(decisions: pd.DataFrame, *, params: SchemeParams, as_of: date) -> pd.DataFrame:
    """Eligibility of every final decision notified at ``as_of`` (the notification date).

    ``decisions`` has :data:`INPUT_COLUMNS`. The new amount is ``final_cents`` when set (an
    arbiter's amount), else ``proposed_cents``. Returns :data:`OUTPUT_COLUMNS`, one row per
    decision and applicable scheme; the input is not modified."""
    missing = [c for c in INPUT_COLUMNS if c not in decisions.columns]
    if missing:
        raise ValueError(f"eligibility input: expected columns {INPUT_COLUMNS}, missing {missing}")
    if decisions.empty:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    kind = decisions["decision_type"].astype(int)
    previous = decisions["previous_cents"].fillna(0).astype("int64")
    new = decisions["final_cents"].fillna(decisions["proposed_cents"]).fillna(0).astype("int64")
    requested = pd.to_numeric(decisions["requested_cents"], errors="coerce").fillna(0).astype("int64")
    before = np.maximum(previous, requested)
    lost = pd.Series(np.maximum(before - new, 0), index=decisions.index)
    domestic = (decisions["buyer_country"] == DOMESTIC_COUNTRY).to_numpy()

    frames: list[pd.DataFrame] = []
    lowered = kind.isin([int(ResponseType.REDUCTION), int(ResponseType.CANCELLATION)]) & (new < previous)
    oal = decisions[lowered.to_numpy()]
    oal_version = params.version_at("OAL", as_of)
    if not oal.empty and oal_version is not None:
        days = oal_version.declaration_days or 15
        insolvent = oal["collective_procedure"].fillna(False).astype(bool).to_numpy()
        option = oal["oal_option"].fillna(False).astype(bool).to_numpy()
        reason = _first_reason(
            np.where(option, "", "policy_without_oal_option"),
            np.where(insolvent, "buyer_in_collective_procedure", ""),
        )
        eligible = reason == ""
        choices = np.array([as_of + timedelta(days=days), None], dtype=object)
        deadline = choices[np.where(eligible, 0, 1)]
        frames.append(
            _rows(
                oal["decision_id"],
                "OAL",
                eligible,
                pd.Series([pd.NA] * len(oal)),
                deadline,
                np.where(eligible, "eligible", reason),
                f"OAL@{oal_version.valid_from.isoformat()}",
            )
        )

    cut = (kind.isin(CUTS) & (new > 0) & (lost > 0)).to_numpy()
    withdrawn = ((kind.isin(WITHDRAWALS) | (kind.isin(CUTS) & (new == 0))) & (lost > 0)).to_numpy()
    for mask, scheme in (
        (cut & domestic, "CAP"),
        (cut & ~domestic, "CAP_FRANCEXPORT"),
        (withdrawn & domestic, "CAP_PLUS"),
        (withdrawn & ~domestic, "CAP_PLUS_FRANCEXPORT"),
    ):
        subset = decisions[mask]
        frames.append(_cap_family(subset, scheme, params, as_of, new[mask], lost[mask]))
    frames = [f for f in frames if not f.empty]
    if not frames:
        return pd.DataFrame(columns=OUTPUT_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    return out.sort_values(["decision_id", "scheme"], kind="stable").reset_index(drop=True)[OUTPUT_COLUMNS]


ELIGIBLE_COLUMNS = ["decision_id", "scheme", "amount_cents", "deadline"]
"""What the e-mails say of a decision's eligibility."""


def eligible_rows(frame: pd.DataFrame) -> pd.DataFrame:
    """The eligible rows of a :func:`compute` frame, as the e-mails word them."""
    eligible = frame[frame["eligible"]] if "eligible" in frame else frame.iloc[0:0]
    return eligible.reindex(columns=ELIGIBLE_COLUMNS)


# ---------------------------------------------------------------------------------------------
# I/O shell
# ---------------------------------------------------------------------------------------------

_FINAL = tuple(sorted(str(s) for s in FINAL_STATUSES))
_OPENINGS = tuple(sorted(str(e) for e in COLLECTIVE_OPENINGS))


_INPUTS_SQL = """
    SELECT d.decision_id, d.decision_type, d.previous_cents, d.proposed_cents, d.final_cents,
           d.requested_cents, p.oal_option, b.country AS buyer_country,
           CASE WHEN EXISTS (
               SELECT 1 FROM legal_event e
               WHERE e.buyer_id = d.buyer_id AND e.cancelled = :false_ AND e.event_type IN ({events})
                 AND COALESCE(e.event_date, e.publication_date) <= :d
           ) THEN 1 ELSE 0 END AS collective_procedure,
           ph.revenue_cents AS policyholder_revenue_cents, ph.size_category AS policyholder_size,
           COALESCE(s.grade, (SELECT older.grade FROM score older
             WHERE older.buyer_id = d.buyer_id AND older.role = 'champion' AND older.as_of <= :d
             ORDER BY older.as_of DESC LIMIT 1)) AS grade
    FROM decision d
    LEFT JOIN score s ON s.as_of = :scored AND s.role = 'champion' AND s.buyer_id = d.buyer_id
    LEFT JOIN policy p ON p.policy_id = d.policy_id
    LEFT JOIN policyholder ph ON ph.policyholder_id = d.policyholder_id
    LEFT JOIN buyer b ON b.buyer_id = d.buyer_id
    WHERE d.status IN ({final})
      AND (d.business_date = :d OR (d.notified = :false_ AND d.business_date <= :d)) {besides}
"""
"""Final decisions to be notified at ``:d``, joined in the database with what :func:`compute`
needs. The grade is that of the latest score date (every buyer is scored each night): one key
seek per decision; only a buyer without a score that night has its own latest looked for,
which walks the history (keyed by date)."""


def eligibility_inputs(
    session: Session, *, business_date: date, tonight: DecidedTonight | None = None
) -> pd.DataFrame:
    """Final decisions to be notified at ``business_date``, with what :func:`compute` needs,
    ordered by decision.

    That is the decisions of the date plus earlier ones not yet notified (an arbiter's decision
    taken since the last run): the notification date, hence the OAL deadline, is the run's.
    With ``tonight`` (what arbitration wrote in this unit of work), those decisions are taken
    from it and only the others are read: the same rows, without half a million joins."""
    handed = handed_on(tonight, business_date)
    final_marks, final_params = bound_list("st", _FINAL)
    event_marks, event_params = bound_list("ev", _OPENINGS)
    params: dict[str, Any] = {
        "d": business_date,
        "scored": latest_score_date(session, business_date),
        "false_": False,
        **final_params,
        **event_params,
    }
    if handed is not None:
        params["run"] = handed.run_id
    besides = OTHER_RUNS if handed is not None else ""
    read = read_frame(
        session, _INPUTS_SQL.format(events=event_marks, final=final_marks, besides=besides), params
    )
    frame = with_handed(
        read,
        None if handed is None else _from_tonight(session, handed),
        columns=INPUT_COLUMNS,
        order=["decision_id"],
    )
    return frame if frame.empty else _shaped(frame)


def _shaped(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the flags as booleans (an unknown policy has no OAL option)."""
    frame["collective_procedure"] = frame["collective_procedure"].astype(int).astype(bool)
    frame["oal_option"] = frame["oal_option"].fillna(False).astype(bool)
    return frame


def _from_tonight(session: Session, tonight: DecidedTonight) -> pd.DataFrame:
    """The inputs of arbitration's handed decisions: their own columns and facts, plus what
    the database adds in two small reads (the buyers with a collective procedure opened on or
    before the date, the policyholders' size and revenue), joined by whole columns."""
    decisions = tonight.decisions
    event_marks, event_params = bound_list("ev", _OPENINGS)
    opened = read_frame(
        session,
        "SELECT DISTINCT buyer_id FROM legal_event WHERE cancelled = :false_ "
        f"AND event_type IN ({event_marks}) AND COALESCE(event_date, publication_date) <= :d",
        {"d": tonight.business_date, "false_": False, **event_params},
    )
    holders = read_frame(
        session, "SELECT policyholder_id, revenue_cents, size_category FROM policyholder"
    ).set_index("policyholder_id")
    holder = decisions["policyholder_id"].to_numpy()
    return decisions.assign(
        collective_procedure=decisions["buyer_id"].isin(opened["buyer_id"]).astype(int),
        policyholder_revenue_cents=holders["revenue_cents"].reindex(holder).to_numpy(),
        policyholder_size=holders["size_category"].reindex(holder).to_numpy(),
    )


def persist(session: Session, frame: pd.DataFrame) -> int:
    """Upsert on (decision_id, scheme): a re-run of the same night rewrites, never doubles."""
    if frame.empty:
        return 0
    out = frame.copy()
    deadline = out["deadline"].astype("object")
    out["deadline"] = deadline.where(deadline.notna(), None)
    out["eligible"] = out["eligible"].astype(bool)
    return bulk_upsert(session, "eligibility", out, OUTPUT_COLUMNS, key=["decision_id", "scheme"])
