"""*Benign* clicks, taken into account by the pipeline's decisions.

When an approver marks an alert benign, the ledger keeps a suppression: this identity, this
pattern (the detectors that made the alert), from the alert's event time until it expires.
The pipeline asks :meth:`Suppressions.apply` about every event with a decision; an event of
that identity whose findings all come from the pattern's detectors (nothing new) is
downgraded one step — ``alert`` to no decision, ``revoke`` to ``alert`` (a suppression never
hides a revoke-level event, it only stops the automatic revocation) — and the suppression
is added to its reasons. The risk is left as scored, so the model learns as before.

The ledger is written by another process (the ``slack-actions`` server) or another thread
(the responder): the suppressions are re-read through a short-lived read-only connection,
at most once per ``refresh`` seconds and only when an event has a decision.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

from detector.actions.ledger import Suppression, read_suppressions
from detector.detectors.base import Finding
from detector.event import EnrichedEvent, format_time
from detector.scoring import ALERT, REVOKE, Assessment

__all__ = ["Suppressions"]


class Suppressions:
    """The ledger's Benign suppressions, as the pipeline's ``suppressions`` hook.

    Parameters
    ----------
    ledger
        The ledger file where the suppressions are kept.
    refresh
        Seconds between two readings of the ledger.
    clock
        Monotonic time, for the refresh interval only (matching uses event time).
    """

    def __init__(
        self, ledger: Path, refresh: float = 1.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ledger = Path(ledger)
        self.refresh = refresh
        self.clock = clock
        self._by_identity: dict[str, list[Suppression]] = {}
        self._checked = float("-inf")

    def __repr__(self) -> str:
        return f"Suppressions({str(self.ledger)!r})"

    def _active(self) -> dict[str, list[Suppression]]:
        now = self.clock()
        if now - self._checked >= self.refresh:
            self._checked = now
            by_identity: dict[str, list[Suppression]] = defaultdict(list)
            for suppression in read_suppressions(self.ledger, "benign"):
                by_identity[suppression.identity].append(suppression)
            self._by_identity = dict(by_identity)
        return self._by_identity

    def match(self, enriched: EnrichedEvent, assessment: Assessment) -> Suppression | None:
        """The suppression that covers this event's decision, if any."""
        e = enriched.event
        candidates = self._active().get(e.identity)
        if not candidates:
            return None
        detectors = {finding.detector for _, finding in assessment.findings}
        for suppression in candidates:
            if (
                suppression.starts <= e.time < suppression.expires
                and detectors <= suppression.detectors
            ):
                return suppression
        return None

    def apply(self, enriched: EnrichedEvent, assessment: Assessment) -> None:
        """Downgrade a decision a suppression covers, and say so in its reasons."""
        if assessment.decision is None:
            return
        suppression = self.match(enriched, assessment)
        if suppression is None:
            return
        was = assessment.decision
        assessment.decision = ALERT if was == REVOKE else None
        who = suppression.created_by.removeprefix("slack:")
        pattern = ", ".join(sorted(suppression.detectors))
        assessment.findings.append(
            (
                0.0,
                Finding(
                    detector="suppression",
                    score=0.0,
                    reason=f"{was} downgraded: this pattern ({pattern})"
                    f" was marked benign for this identity by {who} until "
                    f"{format_time(suppression.expires)}",
                ),
            )
        )
