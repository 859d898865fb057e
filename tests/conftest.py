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


#: The repository: shipped pipelines and model profiles are read from here.
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def repo_dir() -> Path:
    return REPO


@pytest.fixture(scope="session")
def simulated(tmp_path_factory: pytest.TempPathFactory):
    """One simulated day of an organisation's Vault audit log, with labelled attacks.

    Shared by the session: read it, never write next to it (``audit.log``,
    ``labels.jsonl``, ``scenarios.json``, ``inventory.toml``).
    """
    from detector.simulate import simulate

    return simulate(tmp_path_factory.mktemp("simulated"), seed=3, days=1)
