"""``detector ship``: audit lines from a file or a Vault ``socket`` audit device to Kafka."""

from __future__ import annotations

__all__: list[str] = []
