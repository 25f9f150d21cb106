"""The hidden world: buyers, their yearly financial state, their true default probability and
the defaults drawn from it.

Why a latent state: a credit score can only be judged against a known truth. Each buyer has a
slowly moving quality factor (AR(1) from year to year); its published ratios (equity ratio,
margin, leverage) and its payment behaviour are noisy readings of that state.

What the truth depends on, and why: the true 12-month PD in force over year ``j`` is a
logistic function of what a scorer could know at the start of that year, and nothing else:

- the ratios of the year before (state ``j - 1``), which the accounts filed within the normal
  window carry: ``registry.financials_frame`` makes the accounts that close within
  :data:`FILING_WINDOW_DAYS` of year ``j - 1`` read state ``j - 1``, so they are on file by
  the start of year ``j`` (a late filer's are not: being late is then the signal). A buyer with
  no accounts on file (sole traders, foreign buyers, the few that never file, companies too
  young to have filed) is driven by a flat "no accounts" level instead of ratios it never
  published;
- its payment behaviour over the year before (the invoices of year ``j - 1`` read it);
- its sector, size and country, plus a small business cycle common to all buyers.

There is deliberately NO per-buyer unobservable term: the scoring benchmark measures a model
against the true PD (AUC >= 0.98 x the oracle's), which only makes sense if the drivers of the
truth are in the feeds; a hidden buyer effect would cap every model far below the oracle
whatever its quality. The residual gap that remains is genuine: late filers, non-December
years, few invoices per buyer, and the month-by-month draw of the defaults themselves.

Defaults are drawn month by month from the PD in force. All columns are numpy arrays over
buyers: no Python loop over buyers (the only loops run over the dozen-odd months and years of
the history)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from feeds.synthetic import reference as ref

EPOCH = np.datetime64("1970-01-01", "D")
INTERCEPT = -3.95  # calibrated so that about 2-3 % of buyers default per year
FILING_WINDOW_DAYS = 215
"""Accounts are filed 3 to 7 months after the year end (a late filer's later): an account
closing on day ``c`` reads the state of the period holding ``c + FILING_WINDOW_DAYS``, so the
state of year ``j - 1`` is on file (for a normal filer) when year ``j`` starts."""
NO_ACCOUNTS_LOGIT = 0.25
"""Logit of a buyer with no accounts on file, relative to the ratios of an average buyer:
opacity is a risk in itself (and a scorer sees it)."""
NEVER_FILE_SHARE = 0.04
"""Share of companies that never publish their accounts (confidentiality, negligence)."""


def day_number(value: date) -> int:
    """Days since 1970-01-01 (the integer form of numpy ``datetime64[D]`` used throughout)."""
    return int((np.datetime64(value, "D") - EPOCH).astype(np.int64))


def years_before(value: date, years: int) -> date:
    """The same calendar day ``years`` earlier (28 February for a 29 February)."""
    try:
        return value.replace(year=value.year - years)
    except ValueError:
        return value.replace(year=value.year - years, day=28)


def month_ends(years: np.ndarray, months: np.ndarray) -> np.ndarray:
    """Day numbers of the last day of each (year, month 1..12)."""
    first = (years - 1970) * 12 + (months - 1)
    return ((first + 1).astype("datetime64[M]").astype("datetime64[D]") - EPOCH).astype(np.int64) - 1


def luhn_complete(bases: np.ndarray) -> np.ndarray:
    """Append the Luhn check digit to 8-digit integers, giving valid 9-digit SIRENs."""
    digits = np.stack([(bases // 10**k) % 10 for k in range(7, -1, -1)], axis=1)  # d1..d8, left to right
    doubled = digits[:, 1::2] * 2  # d2, d4, d6, d8 are doubled in a 9-digit Luhn number
    total = digits[:, 0::2].sum(axis=1) + (doubled // 10 + doubled % 10).sum(axis=1)
    return bases * 10 + (10 - total % 10) % 10


def logistic(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class Population:
    """Every buyer's attributes and hidden state. Arrays are indexed by buyer (0..n-1); state
    arrays are (buyer, period), period ``j`` covering the year that starts at ``period_starts[j]``;
    the last period starts at the business date (the year the scores must predict)."""

    business_day: int
    period_starts: np.ndarray  # (P,) day numbers
    is_foreign: np.ndarray
    siren: np.ndarray  # int64, 0 for foreign buyers
    country: np.ndarray  # index into ref.COUNTRIES (0 = FR)
    oecd_category: np.ndarray  # float, NaN = not classified or France
    size: np.ndarray  # index into ref.SIZE_LABELS
    naf_code: np.ndarray  # index into ref.naf_codes()
    section: np.ndarray  # index into ref.SECTION_WEIGHTS
    department: np.ndarray  # index into ref.DEPARTMENTS
    creation_day: np.ndarray
    publishes: np.ndarray  # bool: a French company that files its accounts
    log_revenue: np.ndarray
    quality: np.ndarray  # (n, P)
    equity_ratio: np.ndarray  # (n, P)
    margin: np.ndarray  # (n, P)
    leverage: np.ndarray  # (n, P)
    pay_late_days: np.ndarray  # (n, P) mean days beyond terms
    pd_12m: np.ndarray  # (n, P)
    default_day: np.ndarray  # int64, -1 = no default in the history
    procedure: np.ndarray  # int8: 0 none, 1 RJ, 2 LJ, 3 sauvegarde

    @property
    def n(self) -> int:
        return len(self.size)


def draw_population(
    rng: np.random.Generator, *, buyers: int, business_date: date, history_years: int
) -> Population:
    """Draw ``buyers`` buyers (about 20 % foreign) with ``history_years`` years of hidden history."""
    n = buyers
    periods = history_years + 1
    period_starts = np.array(
        [day_number(years_before(business_date, history_years - j)) for j in range(periods)], dtype=np.int64
    )
    business_day = int(period_starts[-1])

    is_foreign = rng.random(n) < 0.2
    n_dom = int((~is_foreign).sum())
    # Country: index into ref.COUNTRIES (0 = France), foreign ones weighted by export share.
    weights = np.array([c[1] for c in ref.EXPORT_COUNTRIES])
    country = np.zeros(n, dtype=np.int16)
    country[is_foreign] = 1 + rng.choice(len(weights), size=n - n_dom, p=weights / weights.sum())
    grades = ref.oecd_categories_at(business_date)
    known = {c: float(g) for c, g in grades.items() if g is not None and c != "FR"}
    grade_of = np.array([known.get(c, np.nan) for c in ref.COUNTRIES])
    oecd_category = grade_of[country]

    # SIRENs: distinct 8-digit bases spread over 30000000..99999999, then the Luhn digit.
    stride = max(1, 70_000_000 // max(n_dom, 1))
    bases = 30_000_000 + np.arange(n_dom, dtype=np.int64) * stride + rng.integers(0, stride, n_dom)
    siren = np.zeros(n, dtype=np.int64)
    siren[~is_foreign] = rng.permutation(luhn_complete(bases))

    size = rng.choice(len(ref.SIZE_LABELS), size=n, p=ref.SIZE_WEIGHTS)
    size[is_foreign & (size == 0)] = 1  # foreign buyers on the books are companies

    section_p = np.array(list(ref.SECTION_WEIGHTS.values()))
    section = rng.choice(len(section_p), size=n, p=section_p / section_p.sum())
    naf_code = _naf_within_section(rng, section)

    department = rng.choice(
        len(ref.DEPARTMENTS), size=n, p=ref.DEPARTMENT_WEIGHTS / ref.DEPARTMENT_WEIGHTS.sum()
    )
    age_years = rng.gamma(2.0, 7.0, n) + 0.3
    creation_day = (business_day - age_years * 365.25).astype(np.int64)
    log_revenue = ref.SIZE_LOG_REVENUE[size] + rng.normal(0.0, 0.8, n)

    # Latent quality: AR(1) across years; young firms start weaker.
    quality = np.empty((n, periods))
    quality[:, 0] = rng.normal(0.0, 1.0, n) - 0.4 * (age_years < 3)
    for j in range(1, periods):
        quality[:, j] = 0.85 * quality[:, j - 1] + np.sqrt(1 - 0.85**2) * rng.normal(0.0, 1.0, n)
    noise = rng.normal(0.0, 1.0, (4, n, periods))
    equity_ratio = np.clip(0.32 + 0.14 * quality + 0.08 * noise[0], -0.6, 0.92)
    margin = np.clip(0.03 + 0.035 * quality + 0.025 * noise[1], -0.5, 0.35)
    leverage = np.clip(0.22 - 0.08 * quality + 0.10 * noise[2], 0.0, 1.6)
    pay_late_days = np.exp(1.6 - 0.55 * quality + 0.45 * noise[3])

    sector_risk = np.array([ref.SECTION_RISK[k] for k in ref.SECTION_WEIGHTS])[section]
    country_risk = np.where(np.isnan(oecd_category), 0.0, 0.18 * np.nan_to_num(oecd_category) + 0.1)
    publishes = ~is_foreign & (size > 0) & (rng.random(n) > NEVER_FILE_SHARE)
    cycle = 0.15 * np.sin(1.3 * np.arange(periods) + rng.uniform(0, 2 * np.pi))
    # The state of the year before drives the year (see the module doc); the first period of
    # the history has no year before in the arrays and reads its own state.
    before = np.concatenate([[0], np.arange(periods - 1)])
    ratios = -4.0 * equity_ratio[:, before] - 10.0 * margin[:, before] + 2.0 * leverage[:, before]
    average = -4.0 * 0.32 - 10.0 * 0.03 + 2.0 * 0.22
    # Accounts reading state j - 1 are on file at the start of year j only if the company had
    # a first year end (more than 300 days after creation) early enough to file by then.
    on_file = publishes[:, None] & (period_starts[None, :] - creation_day[:, None] > 300 + FILING_WINDOW_DAYS)
    logit = (
        INTERCEPT
        + np.where(on_file, ratios, average + NO_ACCOUNTS_LOGIT)
        + 0.04 * np.minimum(pay_late_days[:, before], 90.0)
        + (sector_risk + ref.SIZE_RISK[size] + country_risk)[:, None]
        + cycle[None, :]
    )
    pd_12m = logistic(logit)

    default_day, procedure = _draw_defaults(rng, pd_12m, period_starts, business_day, creation_day)
    return Population(
        business_day=business_day,
        period_starts=period_starts,
        is_foreign=is_foreign,
        siren=siren,
        country=country,
        oecd_category=oecd_category,
        size=size,
        naf_code=naf_code,
        section=section,
        department=department,
        creation_day=creation_day,
        publishes=publishes,
        log_revenue=log_revenue,
        quality=quality,
        equity_ratio=equity_ratio,
        margin=margin,
        leverage=leverage,
        pay_late_days=pay_late_days,
        pd_12m=pd_12m,
        default_day=default_day,
        procedure=procedure,
    )


def _naf_within_section(rng: np.random.Generator, section: np.ndarray) -> np.ndarray:
    """Index of a NAF sous-classe drawn uniformly within each buyer's section (by offsets)."""
    code_sections = ref.naf_codes()["section"].to_numpy()
    order = np.argsort(code_sections, kind="stable")
    start = np.array([np.searchsorted(code_sections[order], k) for k in ref.SECTION_WEIGHTS])
    count = np.array([int((code_sections == k).sum()) for k in ref.SECTION_WEIGHTS])
    return order[start[section] + (rng.random(len(section)) * count[section]).astype(np.int64)]


def _draw_defaults(
    rng: np.random.Generator,
    pd_12m: np.ndarray,
    period_starts: np.ndarray,
    business_day: int,
    creation_day: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Month by month over the history, each surviving buyer (created by then) defaults with the
    monthly hazard of its yearly PD. Returns the default day (-1 = none) and the procedure opened."""
    n, periods = pd_12m.shape
    default_day = np.full(n, -1, dtype=np.int64)
    for j in range(periods - 1):
        hazard = 1.0 - (1.0 - pd_12m[:, j]) ** (1.0 / 12.0)
        start, end = int(period_starts[j]), int(period_starts[j + 1])
        edges = np.linspace(start, end, 13).astype(np.int64)
        for m in range(12):
            alive = (default_day < 0) & (creation_day <= edges[m])
            hit = alive & (rng.random(n) < hazard)
            width = max(int(edges[m + 1] - edges[m]), 1)
            default_day[hit] = edges[m] + rng.integers(0, width, int(hit.sum()))
    default_day[default_day >= business_day] = -1
    procedure = np.where(default_day >= 0, rng.choice([1, 2, 3], size=n, p=[0.55, 0.38, 0.07]), 0)
    return default_day, procedure.astype(np.int8)
