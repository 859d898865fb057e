"""Running the ``detector`` command in-process, as a user types it."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from detector.cli import main

REPO = Path(__file__).resolve().parents[2]
VAULT = REPO / "pipelines" / "vault-local.toml"


def detector(*args: str | Path, input: bytes | str | None = None) -> Result:
    """``detector ARGS...``; the result has the exit code and everything it printed."""
    return CliRunner().invoke(main, [str(a) for a in args], input=input)


def failed_cleanly(result: Result) -> bool:
    """Exited non-zero with a message, not a traceback."""
    return (
        result.exit_code != 0
        and isinstance(result.exception, SystemExit)
        and "Traceback" not in result.output
    )


@pytest.fixture(scope="session")
def small_log(simulated, tmp_path_factory) -> Path:
    """The first 600 lines of the simulated log: enough to score, quick to run."""
    path = tmp_path_factory.mktemp("small") / "audit.log"
    lines = simulated.audit_log.read_bytes().splitlines(keepends=True)
    path.write_bytes(b"".join(lines[:600]))
    return path
