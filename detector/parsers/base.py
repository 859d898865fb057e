"""What every parser offers the pipeline.

A parser is stateful where its format needs it (Vault writes a request and a response
entry per call and the pair is scored once), so besides :meth:`Parser.parse` it has
:meth:`Parser.flush` to release what it holds back. Besides events, a parser leaves
three side outputs for the runtime to drain (:class:`ParserOutputs`): out-of-scope
records it skipped inside a bigger document (``ignored``, by reason), malformed records
it set aside without failing the document (``rejected``, for the dead letters), and
conditions worth telling an operator once (``notices``: hashed accessors).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Protocol

from detector.event import AccessEvent

__all__ = ["Ignored", "Notice", "Parser", "ParserOutputs", "Rejected"]


@dataclass(frozen=True, slots=True)
class Notice:
    """Something about the input an operator must hear once, not per event."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class Rejected:
    """One malformed record inside a bigger document (a CloudTrail ``Records`` file).

    ``record`` is the record's bytes (possibly cut), so it can be inspected and replayed;
    ``reason`` is short and stable, as for :class:`~detector.errors.ParseError`.
    """

    reason: str
    detail: str
    record: bytes


class ParserOutputs:
    """The side outputs every parser keeps; the runtime drains them after each record.

    They are plain attributes so a runtime can test them for emptiness at the cost of an
    attribute load per record.
    """

    def __init__(self) -> None:
        self.ignored: Counter[str] = Counter()
        self.rejected: list[Rejected] = []
        self.notices: list[Notice] = []

    def drain_ignored(self) -> Counter[str]:
        """Records skipped as out of scope since the last call, by reason."""
        ignored, self.ignored = self.ignored, Counter()
        return ignored

    def drain_rejected(self) -> list[Rejected]:
        """Malformed records set aside since the last call, for the dead letters."""
        rejected, self.rejected = self.rejected, []
        return rejected

    def drain_notices(self) -> list[Notice]:
        """Notices raised since the last call."""
        notices, self.notices = self.notices, []
        return notices


class Ignored(Exception):
    """A well-formed record that is out of scope (not secret access): counted, not dead."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class Parser(Protocol):
    """Turns raw records (bytes of one JSON document) into access events."""

    name: str
    ignored: Counter[str]
    rejected: list[Rejected]
    notices: list[Notice]

    def parse(self, record: bytes) -> list[AccessEvent]:
        """Events for one record; raises ParseError (dead letter) or Ignored (counted)."""
        ...

    def flush(self, final: bool = False, now: float | None = None) -> list[AccessEvent]:
        """Events held back that are due now (all of them when ``final``); ``now``: the
        event time reached, when the caller knows better than the records parsed so far."""
        ...

    def drain_ignored(self) -> Counter[str]: ...

    def drain_rejected(self) -> list[Rejected]: ...

    def drain_notices(self) -> list[Notice]: ...
