"""The one error type of scoring: the run stops before anything is written, with a clear message."""

from __future__ import annotations


class ScoringError(Exception):
    """Scoring cannot run as asked (no champion, signature mismatch, features mostly missing,
    nothing to train on). There is never a silent fallback model."""
