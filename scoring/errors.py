"""The one error type of scoring: the run stops before anything is written, with a clear message."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml


class ScoringError(Exception):
    """Scoring cannot run as asked (no champion, signature mismatch, features mostly missing,
    nothing to train on). There is never a silent fallback model."""


def read_yaml_list(path: Path, key: str, what: str) -> tuple[Any, list[Any]]:
    """The YAML document at ``path`` and its non-empty list under ``key``; an unreadable or
    malformed file, or a missing list, is a :class:`ScoringError` naming the file."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ScoringError(f"cannot read the {what} {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ScoringError(f"{path}: expected valid YAML ({what}), found: {exc}") from None
    rows = raw.get(key) if isinstance(raw, dict) else None
    if not rows or not isinstance(rows, list):
        found = type(rows if isinstance(raw, dict) else raw).__name__
        raise ScoringError(f"{path}: expected a '{key}' list, found {found}")
    return raw, rows
