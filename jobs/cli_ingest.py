"""CLI commands: ingest (mounted by :mod:`jobs.cli`)."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Mount this module's commands on the main app."""
