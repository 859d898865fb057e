"""The ``[store]`` table of a pipeline file."""

from __future__ import annotations

import msgspec

__all__ = ["StoreSection"]


class StoreSection(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False
