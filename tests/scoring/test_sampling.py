"""Training on a sample of buyers keeps every row of the buyers drawn and none of the others."""

from __future__ import annotations

import pandas as pd

from scoring.dataset import Inputs, sample_buyers


def _inputs(n: int) -> Inputs:
    ids = [f"B{i}" for i in range(n)]
    return Inputs(
        buyers=pd.DataFrame({"buyer_id": ids}),
        financials=pd.DataFrame({"buyer_id": ids * 3, "year": [2022] * n + [2023] * n + [2024] * n}),
        legal_events=pd.DataFrame({"buyer_id": ids[:10]}),
        payments=pd.DataFrame({"buyer_id": ids * 2}),
        country_grades=pd.DataFrame({"country": ["FR"], "category": [0]}),
    )


def test_a_sample_keeps_all_rows_of_the_buyers_drawn_and_only_theirs():
    sampled = sample_buyers(_inputs(5_000), max_buyers=1_000, seed=3)
    drawn = set(sampled.buyers["buyer_id"])
    assert len(drawn) == 1_000
    assert set(sampled.financials["buyer_id"]) == drawn
    assert len(sampled.financials) == 3_000
    assert len(sampled.payments) == 2_000
    assert set(sampled.legal_events["buyer_id"]) <= drawn
    assert len(sampled.country_grades) == 1


def test_the_same_seed_draws_the_same_buyers_and_a_small_book_is_not_sampled():
    inputs = _inputs(5_000)
    first = sample_buyers(inputs, max_buyers=1_000, seed=3).buyers["buyer_id"].tolist()
    again = sample_buyers(inputs, max_buyers=1_000, seed=3).buyers["buyer_id"].tolist()
    assert first == again
    small = _inputs(500)
    assert sample_buyers(small, max_buyers=1_000) is small
