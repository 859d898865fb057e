"""Where scored events go after the pipeline: the ``act`` stage.

A sink sees every scored event (most only look at those with a decision) and is told when
the run flushes and ends. The alert file, the store, the responder that revokes and
posts to Slack are sinks; a runtime holds a list of them and needs to know nothing else.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from detector.pipeline import ScoredEvent

__all__ = ["Sink"]


@runtime_checkable
class Sink(Protocol):
    def handle(self, scored: ScoredEvent) -> None:
        """Take one scored event (called in event-time order)."""
        ...

    def flush(self) -> None:
        """Make what was handled durable (called when the input goes quiet)."""
        ...

    def close(self) -> None:
        """Flush and release resources (end of the run)."""
        ...
