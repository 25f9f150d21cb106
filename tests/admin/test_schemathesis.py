"""Property-based calls generated from the OpenAPI schema: never a server error, on both backends.

PostgreSQL matters here: it rejects NUL characters and out-of-range integers that SQLite
accepts, so an unguarded field would be a 500 only there.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from typing import Any, cast

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error

from arbitration.api import create_app
from config.settings import Settings
from tests.admin.conftest import TODAY, World, bearer


@pytest.fixture
def api_app(world: World, settings: Settings) -> Iterator[tuple[FastAPI, World]]:
    app = create_app(settings, secret_key="fuzz", today=lambda: TODAY)
    yield app, world
    app.state.engine.dispose()


def _operations(app: FastAPI) -> list[schemathesis.APIOperation]:
    loaded = schemathesis.openapi.from_asgi("/openapi.json", app)
    return [cast(Any, result).ok() for result in loaded.get_all_operations()]


@pytest.mark.slow
def test_no_server_error(api_app: tuple[FastAPI, World]) -> None:
    """Every operation, 25 valid and 25 invalid generated cases each, as an all-desk senior arbiter."""
    app, world = api_app
    operations = _operations(app)
    assert len(operations) >= 8
    for operation, mode in itertools.product(operations, list(schemathesis.GenerationMode)):

        @given(case=operation.as_strategy(mode))
        @hypothesis_settings(
            max_examples=25,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=bearer(world, "sen"), checks=[not_a_server_error])

        run()
