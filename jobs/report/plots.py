"""The report's PNG plots (matplotlib, Agg backend: no display, safe in a scheduler process).

Buyers are labelled by identifier (SIREN or foreign id), never by name: a sole trader's name
is personal data and a report travels further than the policyholder's own e-mail."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from jobs.report.indicators import TARGET_BAND


def index_history(history: pd.DataFrame, path: Path) -> Path:
    """Stock and flow country-risk index over business dates, with the 2-4.5 target band.
    ``history``: ``as_of`` (date), ``stock``, ``flow`` (floats or NaN)."""
    fig, ax = plt.subplots(figsize=(8, 4))
    ax.axhspan(
        *TARGET_BAND, color="tab:green", alpha=0.12, label=f"target {TARGET_BAND[0]:g}-{TARGET_BAND[1]:g}"
    )
    ordered = history.sort_values("as_of")
    for column, style in (("stock", "o-"), ("flow", "s--")):
        ax.plot(pd.to_datetime(ordered["as_of"]), ordered[column].astype(float), style, label=column)
    ax.set_ylim(0, 7.5)
    ax.set_ylabel("weighted OECD country-risk index")
    ax.set_title("Country-risk index (seed 002: category 0 weighted 1)")
    ax.legend(loc="upper left")
    fig.autofmt_xdate()
    return _save(fig, path)


def decisions_by_desk_and_country(by_desk: dict[str, int], by_country: dict[str, int], path: Path) -> Path:
    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
    for ax, counts, title in (
        (left, by_desk, "Decisions by desk"),
        (right, by_country, "Decisions by buyer country"),
    ):
        top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:15]
        ax.barh([k for k, _ in top][::-1], [v for _, v in top][::-1], color="tab:blue")
        ax.set_title(title)
        ax.set_xlabel("decisions")
        if not top:
            ax.text(0.5, 0.5, "no decision", ha="center", va="center", transform=ax.transAxes)
    return _save(fig, path)


def biggest_movers(movers: pd.DataFrame, path: Path) -> Path:
    """Change of cover (EUR) of the largest movers, labelled by buyer identifier and decision."""
    fig, ax = plt.subplots(figsize=(8, 4))
    if movers.empty:
        ax.text(0.5, 0.5, "no decision", ha="center", va="center", transform=ax.transAxes)
    else:
        # one bar per decision: a buyer moved on two policies appears twice, told apart by the id
        labels = (movers["buyer_id"].astype(str) + " #" + movers["decision_id"].astype(str)).tolist()[::-1]
        values = (movers["change_cents"].astype(float) / 100).tolist()[::-1]
        ax.barh(labels, values, color=["tab:red" if v < 0 else "tab:green" for v in values])
        ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("change of cover (EUR)")
    ax.set_title("Biggest movers")
    return _save(fig, path)


def _save(fig: plt.Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path
