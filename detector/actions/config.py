"""The ``[actions]``, ``[vault]`` and ``[slack]`` tables of a pipeline file."""

from __future__ import annotations

import msgspec

__all__ = ["ActionsSection", "SlackSection", "VaultSection"]


class ActionsSection(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False


class VaultSection(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False


class SlackSection(msgspec.Struct, forbid_unknown_fields=True):
    enabled: bool = False
