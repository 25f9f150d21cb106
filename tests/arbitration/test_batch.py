"""The nightly evaluates the book in chunks on several threads: it must decide exactly what one
evaluation of the whole frame decides."""

from __future__ import annotations

import pandas as pd
import pytest
from sqlalchemy.orm import Session

from arbitration import batch
from arbitration.batch import concat_results, evaluate_book, evaluate_frame
from arbitration.engine import evaluate
from arbitration.inputs import read_tables
from arbitration.joins import build_frame
from tests.arbitration.portfolio import AS_OF, seed_portfolio
from tests.arbitration.test_cases import PARAMS, RULES


@pytest.fixture
def book(session: Session, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    seed_portfolio(session)
    session.commit()
    monkeypatch.setattr(batch, "MIN_CHUNK", 1)  # the test book has a handful of limits
    return read_tables(session, as_of=AS_OF)


def _whole(tables) -> pd.DataFrame:  # type: ignore[no-untyped-def]
    return evaluate(build_frame(tables), RULES, as_of=AS_OF, params=PARAMS)


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_a_book_evaluated_in_chunks_on_threads_decides_as_the_whole_frame_does(book, threads: int) -> None:  # type: ignore[no-untyped-def]
    whole = _whole(book)
    assert whole["decision"].sum() >= 3 and whole["fired_rules"].nunique() >= 3  # chunks differ
    chunked = evaluate_book(book, RULES, as_of=AS_OF, params=PARAMS, threads=threads)
    pd.testing.assert_frame_equal(chunked, whole)
    assert isinstance(chunked["fired_rules"].dtype, pd.CategoricalDtype)
    framed = evaluate_frame(build_frame(book), RULES, as_of=AS_OF, params=PARAMS, threads=threads)
    pd.testing.assert_frame_equal(framed, chunked)


def test_categoricals_that_differ_between_chunks_stay_categoricals() -> None:
    first = pd.DataFrame({"rules": pd.Categorical(["[]", '["a"]']), "n": [1, 2]})
    second = pd.DataFrame({"rules": pd.Categorical(['["b"]']), "n": [3]})
    out = concat_results([first, second])
    assert isinstance(out["rules"].dtype, pd.CategoricalDtype)
    assert out["rules"].tolist() == ["[]", '["a"]', '["b"]']
    assert out["n"].tolist() == [1, 2, 3]
