"""The store: scored events, alerts, actions, accesses and baselines kept for analysts.

A run with ``[store] enabled = true`` writes a SQLite file (``store.sqlite`` in the output
directory by default) through :class:`StoreSink`; notebooks and ``detector report`` read it
through :class:`StoreReader`, which answers with pandas DataFrames. The schema is
documented in :mod:`detector.store.schema` and the README.
"""

from __future__ import annotations

from pathlib import Path

from detector.store.config import StoreSection
from detector.store.read import SECRET_READS, IdentityBaseline, StoreError, StoreReader
from detector.store.writer import StoreSink

__all__ = [
    "SECRET_READS",
    "IdentityBaseline",
    "StoreError",
    "StoreReader",
    "StoreSection",
    "StoreSink",
    "build_sink",
    "store_path",
]

#: the store's file name in the output directory when ``[store] path`` is empty
DEFAULT_NAME = "store.sqlite"


def store_path(config, out_dir: Path) -> Path:
    """Where the pipeline file puts its store: ``[store] path`` (relative to the file), or
    ``store.sqlite`` in the output directory."""
    path = config.store.path
    return config.resolve(path) if path else out_dir / DEFAULT_NAME


def build_sink(config, out_dir: Path) -> StoreSink | None:
    """The store sink a pipeline file asks for, or ``None`` when ``[store]`` is off."""
    section: StoreSection = config.store
    if not section.enabled:
        return None
    return StoreSink(
        store_path(config, out_dir),
        pipeline_name=config.name,
        score_floor=section.score_floor,
        sample_rate=section.sample_rate,
        snapshot_every=section.snapshot_every,
        retention=section.retention,
    )
