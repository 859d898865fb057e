"""What every parser offers the pipeline.

A parser is stateful where its format needs it (Vault writes a request and a response
entry per call and the pair is scored once), so besides :meth:`Parser.parse` it has
:meth:`Parser.flush` to release what it holds back, and it reports conditions worth
telling an operator once (hashed accessors) as :class:`Notice` values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from detector.event import AccessEvent

__all__ = ["Ignored", "Notice", "Parser"]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something about the input an operator must hear once, not per event."""

    code: str
    message: str


class Ignored(Exception):
    """A well-formed record that is out of scope (not secret access): counted, not dead."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Parser(Protocol):
    """Turns raw records (bytes of one JSON document) into access events."""

    name: str

    def parse(self, record: bytes) -> list[AccessEvent]:
        """Events for one record; raises ParseError (dead letter) or Ignored (counted)."""
        ...

    def flush(self, final: bool = False) -> list[AccessEvent]:
        """Events held back that are due now (all of them when ``final``)."""
        ...

    def drain_notices(self) -> list[Notice]:
        """Notices raised since the last call."""
        ...
