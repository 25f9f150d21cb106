"""The one-way import rule of ARCHITECTURE.md, checked on every module's imports."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("config", "models", "feeds", "scoring", "arbitration", "jobs")
ALLOWED: dict[str, set[str]] = {
    "config": set(),
    "models": {"config"},
    "feeds": {"models", "config"},
    "scoring": {"models", "config"},
    "arbitration": {"scoring", "models", "config"},
    "jobs": {"config", "models", "feeds", "scoring", "arbitration"},
}
WEB_FRAMEWORKS = ("fastapi", "starlette")


def imports_of(source: str) -> list[tuple[int, str]]:
    """Every imported module name (absolute) with its line, including lazy imports in functions."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.extend((node.lineno, alias.name) for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


def violations(package: str, relative: str, source: str) -> list[str]:
    """The forbidden edges of one module of ``package`` (path ``relative`` from the root)."""
    problems = []
    filename = Path(relative).name
    for line, name in imports_of(source):
        top = name.split(".")[0]
        where = f"{relative}:{line}"
        if top in PACKAGES and top != package and top not in ALLOWED[package]:
            problems.append(f"{where}: {package} may not import {top} ({name})")
        if top in WEB_FRAMEWORKS and not (package == "arbitration" and filename.startswith("api")):
            problems.append(f"{where}: only arbitration/api* may import {top}")
    return problems


def all_modules() -> list[tuple[str, Path]]:
    return [(package, path) for package in PACKAGES for path in sorted((ROOT / package).rglob("*.py"))]


def test_every_package_exists() -> None:
    for package in PACKAGES:
        assert (ROOT / package / "__init__.py").is_file(), package


def test_no_forbidden_import_edge() -> None:
    problems: list[str] = []
    for package, path in all_modules():
        problems += violations(package, str(path.relative_to(ROOT)), path.read_text(encoding="utf-8"))
    assert problems == []


@pytest.mark.parametrize(
    ("package", "relative", "source"),
    [
        ("feeds", "feeds/x.py", "from scoring.features import build_features"),
        ("scoring", "scoring/x.py", "import feeds.common"),
        ("models", "models/x.py", "from feeds.common import ParseResult"),
        ("config", "config/x.py", "from models.db import make_engine"),
        ("arbitration", "arbitration/engine.py", "def f():\n    from jobs import nightly"),
        ("arbitration", "arbitration/engine.py", "from fastapi import FastAPI"),
        ("jobs", "jobs/cli.py", "import fastapi"),
    ],
)
def test_a_forbidden_edge_is_caught(package: str, relative: str, source: str) -> None:
    assert violations(package, relative, source), f"{source!r} in {relative} should be refused"


def test_allowed_edges_pass() -> None:
    assert violations("arbitration", "arbitration/api_queue.py", "from fastapi import APIRouter") == []
    assert violations("jobs", "jobs/nightly.py", "from feeds.folder import ingest_folder") == []
    assert violations("scoring", "scoring/x.py", "from models.db import read_frame") == []
