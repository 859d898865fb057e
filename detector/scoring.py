"""From findings to one risk, ranked reasons and a decision.

Detectors say how surprising an event is; the scorer says how much that matters. Each
finding is weighted (the model profile's ``weight``), damped while the identity is in its
learning period (only the part that compares with history), and the weighted scores
combine by noisy-OR: ``risk = 1 - prod(1 - w_i * s_i)``, the probability that at least
one piece of evidence is real if each were independent. Evidence also accumulates over
a short window: an event that is suspicious in itself (a secret it should not read, a
token it should not mint) and follows other such events of the same identity escalates,
because an attacker rarely stops at one request. Only signals that are new evidence at
every event accumulate (``Finding.escalates``): an odd hour, a burst, a new network or a
root token persist over many requests and would otherwise count once per request.
Deciding is separate from
scoring (as in River's ``anomaly.filter``): thresholds, and an optional alert budget that
raises the alert threshold on days that would otherwise flood the SOC.
"""

from __future__ import annotations

import math
from array import array
from dataclasses import dataclass, field

import numpy as np

from detector.detectors.base import Finding
from detector.state import IdentityState

__all__ = ["ALERT", "REVOKE", "AlertBudget", "Assessment", "Learning", "Scorer"]

ALERT, REVOKE = "alert", "revoke"


@dataclass(frozen=True, slots=True)
class Learning:
    """The learning period: ``min_events`` learned events and ``min_age`` seconds of
    history before novelty counts in full; until then baselined findings are scaled
    between ``damping`` and 1."""

    min_events: int = 30
    min_age: float = 86400.0
    damping: float = 0.3


@dataclass(slots=True)
class Assessment:
    """The scorer's verdict on one event: risk in [0, 1], decision, reasons ranked."""

    risk: float
    decision: str | None
    findings: list[tuple[float, Finding]] = field(default_factory=list)
    #: the part of the risk that is new evidence at this event (see ``escalating``)
    own_risk: float = 0.0

    @property
    def reasons(self) -> list[str]:
        return [finding.reason for _, finding in self.findings]

    @property
    def contributions(self) -> dict[str, float]:
        return {finding.detector: round(weight, 4) for weight, finding in self.findings}


class AlertBudget:
    """Raises the alert threshold so that about ``per_day`` events a day cross it.

    Keeps a histogram of risks of recent days (decayed with a half-life of ``days``) and
    the number of days it covers; the threshold is the lowest risk whose tail holds at
    most ``per_day`` events a day, never below the profile's alert threshold.
    """

    def __init__(self, per_day: float, days: float = 7.0, bins: int = 1000) -> None:
        self.per_day = per_day
        self.days = days
        self.histogram = np.zeros(bins, dtype=np.float64)
        self.start: float | None = None
        self.last: float | None = None
        self._threshold = 0.0
        self._since_update = 0

    def observe(self, risk: float, time: float) -> None:
        if self.start is None:
            self.start = time
        if self.last is not None and time > self.last:
            # A half-life of ``days``: the decayed histogram then holds days / ln 2 days'
            # worth of risks, the ``memory`` that _compute divides by.
            self.histogram *= 0.5 ** ((time - self.last) / (self.days * 86400.0))
        self.last = max(time, self.last or time)
        bins = len(self.histogram)
        self.histogram[min(int(risk * bins), bins - 1)] += 1.0
        self._since_update += 1
        if self._since_update >= 256:
            self._since_update = 0
            self._threshold = self._compute()

    def _compute(self) -> float:
        span_days = max((self.last - self.start) / 86400.0, 1.0) if self.start else 1.0
        memory = min(span_days, self.days / math.log(2))
        tail_per_day = np.cumsum(self.histogram[::-1])[::-1] / memory
        over = np.nonzero(tail_per_day > self.per_day)[0]
        if len(over) == 0:
            return 0.0
        return min(1.0, (over[-1] + 1) / len(self.histogram))

    def threshold(self, base: float) -> float:
        return max(base, self._threshold)


class Scorer:
    """Weights, damps and combines findings; decides alert or revoke.

    Parameters
    ----------
    weights
        Detector name -> weight in [0, 1] (how far that signal alone can take the risk).
    alert, revoke
        Risk thresholds for the two decisions.
    learning
        The learning period.
    reason_floor
        Findings contributing less than this are left out of the reasons.
    alert_budget
        Alerts per day to aim for (``None``: no budget).
    escalation
        ``(window seconds, floor, weight)``: an event whose escalating risk (the findings'
        :attr:`~detector.detectors.base.Finding.escalates` parts) reaches ``floor``
        combines with the identity's such events of the last ``window`` seconds, each
        counting ``weight`` times its risk; ``None``: off.
    """

    def __init__(
        self,
        weights: dict[str, float],
        alert: float = 0.6,
        revoke: float = 0.9,
        learning: Learning | None = None,
        reason_floor: float = 0.05,
        alert_budget: float | None = None,
        escalation: tuple[float, float, float] | None = (900.0, 0.35, 0.5),
    ) -> None:
        self.weights = weights
        self.alert = alert
        self.revoke = revoke
        self.learning = learning or Learning()
        self.reason_floor = reason_floor
        self.budget = AlertBudget(alert_budget) if alert_budget else None
        self.escalation = escalation

    def assess(self, findings: list[Finding], state: IdentityState, time: float) -> Assessment:
        if not findings and self.alert > 0.0:  # most events: nothing to weigh
            if self.budget is not None:
                self.budget.observe(0.0, time)
            return Assessment(risk=0.0, decision=None)
        learning = self.learning
        maturity = state.maturity(learning.min_events, learning.min_age)
        damping = learning.damping + (1.0 - learning.damping) * maturity
        remaining = remaining_new = 1.0
        ranked: list[tuple[float, Finding]] = []
        for finding in findings:
            score = finding.instant + (finding.score - finding.instant) * damping
            weight = self.weights.get(finding.detector, 1.0)
            weighted = weight * score
            remaining *= 1.0 - weighted
            if finding.escalates:
                remaining_new *= 1.0 - weight * min(finding.escalates, score)
            if weighted >= self.reason_floor:
                ranked.append((weighted, finding))
        own_risk = 1.0 - remaining_new
        escalated = self._escalation(own_risk, state, time)
        if escalated is not None:
            remaining *= 1.0 - escalated.score
            ranked.append((escalated.score, escalated))
        ranked.sort(key=lambda pair: -pair[0])
        risk = 1.0 - remaining
        alert = self.alert
        if self.budget is not None:
            alert = self.budget.threshold(self.alert)
            self.budget.observe(risk, time)
        if risk >= self.revoke:
            decision = REVOKE
        elif risk >= alert:
            decision = ALERT
        else:
            decision = None
        return Assessment(risk=risk, decision=decision, findings=ranked, own_risk=own_risk)

    def _escalation(self, own_risk: float, state: IdentityState, time: float) -> Finding | None:
        """The identity's recent suspicious events, as one finding, if this one is too."""
        if self.escalation is None or state.recent is None:
            return None
        window, floor, weight = self.escalation
        if own_risk < floor:
            return None
        recent = state.recent
        earlier = [
            (recent[i], recent[i + 1])
            for i in range(0, len(recent), 2)
            if 0.0 <= time - recent[i] <= window
        ]
        if not earlier:
            return None
        remaining = 1.0
        for _, risk in earlier:
            remaining *= 1.0 - weight * risk
        minutes = (time - earlier[0][0]) / 60.0
        risks = ", ".join(f"{r:.2f}" for _, r in earlier[-5:])
        return Finding(
            detector="escalation",
            score=1.0 - remaining,
            reason=f"{len(earlier) + 1} suspicious requests by this identity in "
            f"{max(minutes, 1.0):.0f} min (secrets or tokens it should not touch, earlier "
            f"risks {risks})",
            instant=1.0 - remaining,
        )

    def remember(self, assessment: Assessment, state: IdentityState, time: float) -> None:
        """Keep a suspicious event's own risk for the escalation of the next ones."""
        if self.escalation is None:
            return
        window, floor, _ = self.escalation
        if assessment.own_risk < floor:
            return
        recent = state.recent or ()
        kept = array("d")
        for i in range(max(0, len(recent) - 14), len(recent), 2):
            if time - recent[i] <= window:
                kept.extend((recent[i], recent[i + 1]))
        kept.extend((time, assessment.own_risk))
        state.recent = kept
