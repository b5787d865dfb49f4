"""The acceptance tier: checks against real files nobody on this project wrote, kept beside the
repository in ../shared (see ../shared/testdata/SOURCES.md): OCRmyPDF's and CnOCR's test files and the
seed pages (../shared/seeds).

Run it with ``./scripts/test-acceptance`` (``.ci/run`` does, after ``./scripts/test``). It is never
collected by the README's test command, and it never skips: without ../shared it stops with an error.
"""
from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SHARED = REPO.parent / "shared"
TESTDATA = SHARED / "testdata"
OCRMYPDF = TESTDATA / "ocrmypdf"
CNOCR = TESTDATA / "cnocr"
SEEDS = SHARED / "seeds"

_missing = [str(p) for p in (TESTDATA / "SOURCES.md", OCRMYPDF, CNOCR, SEEDS) if not p.exists()]
if _missing or not any(SEEDS.glob("*.txt")):
    raise pytest.UsageError(
        "The acceptance tier needs the real test files beside the repository, in "
        f"{SHARED} (testdata/ and seeds/); missing: {', '.join(_missing) or 'seeds/*.txt'}. "
        "./scripts/test runs without them; ./scripts/test-acceptance does not.")


def real_file(rel: str) -> Path:
    """A file from ../shared/testdata (read-only, never edited)."""
    path = TESTDATA / rel
    assert path.exists(), f"missing real test file {path}"
    return path
