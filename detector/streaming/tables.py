"""The tables of the streaming runtime, each backed by a changelog topic."""

from __future__ import annotations

from typing import Any

__all__ = ["Tables"]


class Tables:
    """``identities``: every identity's learned state, on its partition; ``populations``:
    each partition's population models (checkpointed); ``delivered``: the alert ids already
    passed downstream (at-least-once in, once out)."""

    def __init__(self, app: Any, partitions: int) -> None:
        # Keys and values travel as bytes: the runtime (de)serializes them itself, so the
        # changelog is written exactly when and how it chooses.
        self.identities = app.Table(
            "identities", partitions=partitions, key_type=bytes, value_type=bytes
        )
        self.populations = app.Table(
            "populations", partitions=partitions, key_type=bytes, value_type=bytes
        )
        self.delivered = app.Table(
            "delivered", partitions=partitions, key_type=bytes, value_type=bytes
        )
