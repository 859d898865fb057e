"""A store written by the local runtime over the session's simulated day."""

from __future__ import annotations

from pathlib import Path

import pytest

from detector.build import build_pipeline, build_sinks
from detector.config import load_pipeline_file
from detector.runtime.local import LocalRun

REPO = Path(__file__).resolve().parents[2]
VAULT = REPO / "pipelines" / "vault-local.toml"


def store_run(simulated, out: Path, log: Path | None = None, **store) -> dict:
    """Run the shipped vault-local pipeline with its store on; the run's summary."""
    config = load_pipeline_file(VAULT)
    config.enrichers.service.inventory = str(simulated.inventory)
    config.store.enabled = True
    for key, value in store.items():
        setattr(config.store, key, value)
    run = LocalRun(
        build_pipeline(config),
        out,
        None,
        config.source.reorder_window,
        sinks=build_sinks(config, out),
    )
    return run.run([str(log or simulated.audit_log)])


@pytest.fixture(scope="session")
def stored(simulated, tmp_path_factory) -> tuple[Path, dict]:
    """(output directory, summary) of one run; the store is ``store.sqlite`` in it."""
    out = tmp_path_factory.mktemp("stored")
    return out, store_run(simulated, out, snapshot_every=6 * 3600.0)
