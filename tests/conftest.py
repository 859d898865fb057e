"""Fixtures shared by all tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """The shared folder next to the repository (``DETECTOR_SHARED`` overrides it).

    It holds public logs the project may not redistribute (``realdata/``), so tests that
    need it skip, with the reason, where it is absent.
    """
    configured = os.environ.get("DETECTOR_SHARED")
    path = Path(configured) if configured else Path(__file__).resolve().parents[2] / "shared"
    if not path.is_dir():
        pytest.skip(f"shared data folder {path} is absent (set DETECTOR_SHARED to its path)")
    return path
