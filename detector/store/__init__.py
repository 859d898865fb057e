"""The store: scored events, alerts, actions and baselines kept for analysts (issue #5)."""

from __future__ import annotations

from detector.store.config import StoreSection

__all__ = ["StoreSection", "build_sink"]


def build_sink(config, out_dir):  # pragma: no cover - replaced by the store (issue #5)
    """The store sink a pipeline file asks for, or ``None``."""
    return None
