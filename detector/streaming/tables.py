"""The tables of the streaming runtime, each backed by a changelog topic."""

from __future__ import annotations

from typing import Any

__all__ = ["Tables"]


class Tables:
    """``identities``: every identity's learned state, on its partition; ``delivered``: the
    alert ids already passed downstream (at-least-once in, once out)."""

    def __init__(self, app: Any, partitions: int) -> None:
        import faust

        # Keys and values travel as bytes: the runtime (de)serializes them itself, so the
        # changelog is written exactly when and how it chooses.
        raw = faust.Schema(key_serializer="raw", value_serializer="raw")
        self.identities = app.Table("identities", partitions=partitions, schema=raw)
        self.delivered = app.Table("delivered", partitions=partitions, schema=raw)
