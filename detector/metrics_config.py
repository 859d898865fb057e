"""The ``[metrics]`` table of a pipeline file (issue #5)."""

from __future__ import annotations

import msgspec

__all__ = ["MetricsSection"]


class MetricsSection(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False
