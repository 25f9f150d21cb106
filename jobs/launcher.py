"""The ``vigie`` console script: the command line imported with the garbage collector paused,
then run.

Why: importing the command line makes some 450,000 long-lived objects (SQLAlchemy, pandas,
typer...) and none that is garbage, yet the collector, started every 700 new objects, walked
them again and again: 1.7-2.0 s of imports against 1.2-1.5 s with it paused, on every command.
Once imported they are frozen (``gc.freeze``): later collections, a night's included, skip them.
"""

from __future__ import annotations

import gc


def main() -> None:
    """Console-script entry point (``vigie``)."""
    gc.disable()
    try:
        from jobs.cli import main as run_command_line
    finally:
        gc.enable()
    gc.freeze()
    run_command_line()
