"""The detector contract and what detectors share.

A detector is one signal. It reads an enriched event and the identity's state and says
how surprising the event is (:meth:`Detector.score_one`), without changing anything; then
the model lets it learn (:meth:`Detector.learn_one`) — but only from events it trusts,
because a thief must not teach the model. Short-term context that must follow every
event, trusted or not (the counts of the current window, the last network of a
credential), is updated in :meth:`Detector.observe_one`.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol, runtime_checkable

from detector.event import EnrichedEvent
from detector.state import IdentityState

__all__ = ["Detector", "DetectorBase", "Finding", "Signal", "combine", "surprise", "tail_score"]


@dataclass(frozen=True, slots=True)
class Finding:
    """What one detector found about one event.

    ``score`` is how surprising the event is in [0, 1]; ``reason`` is one sentence for the
    analyst ("first access from BR, seen before: US 4,812, DE 12"). ``instant`` is the part
    of the score that needs no history (root token use, a credential replayed from two
    networks): the rest compares the event with the identity's learned baseline, so the
    scorer damps it while the identity is in its learning period.
    """

    detector: str
    score: float
    reason: str
    instant: float = 0.0
    evidence: dict[str, Any] = field(default_factory=dict)
    #: the part of the score that is new evidence at this very event (a secret it should
    #: not read, a token it should not mint), which accumulates over an identity's
    #: consecutive requests; an odd hour or a new network persists and does not
    escalates: float = 0.0


@runtime_checkable
class Detector(Protocol):
    """One signal: ``score_one`` is pure, ``learn_one`` learns, ``observe_one`` keeps context."""

    name: ClassVar[str]
    #: whether observe_one does anything (the model skips it otherwise)
    observes: ClassVar[bool]

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None: ...

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None: ...

    def observe_one(self, event: EnrichedEvent, state: IdentityState) -> None: ...


class DetectorBase:
    """What every detector shares, as in River: each constructor argument is stored under
    its own name, so the repr shows the parameters and :meth:`clone` makes a fresh twin."""

    observes: ClassVar[bool] = False  # True where observe_one keeps short-term context

    def _params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in inspect.signature(type(self)).parameters}

    def __repr__(self) -> str:
        params = ", ".join(f"{name}={value!r}" for name, value in self._params().items())
        return f"{type(self).__name__}({params})"

    def clone(self) -> DetectorBase:
        """The same detector, with nothing learned."""
        return type(self)(**self._params())

    def observe_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        """No short-term context (the model does not even call this unless ``observes``)."""


def surprise(probability: float, decades: float = 3.0) -> float:
    """Map the probability of something to a score: 1 at ``10**-decades`` or rarer.

    >>> round(surprise(0.5), 3), round(surprise(0.01), 3), surprise(1e-4)
    (0.1, 0.667, 1.0)
    """
    if probability <= 0.0:
        return 1.0
    return min(1.0, max(0.0, -math.log10(probability) / decades))


def tail_score(tail: float, start: float = 2.0, span: float = 4.0) -> float:
    """Score a tail probability: 0 above ``10**-start``, 1 at ``10**-(start+span)``.

    Counting models give extreme tails quickly; this keeps ordinary fluctuation at zero.
    """
    if tail <= 0.0:
        return 1.0
    return min(1.0, max(0.0, (-math.log10(tail) - start) / span))


class Signal(NamedTuple):
    """One sub-signal of a detector: a score, its reason, and how it counts.

    ``instant``: needs no history (not damped in the learning period); ``escalates``: new
    evidence at every event (see :attr:`Finding.escalates`).
    """

    score: float
    reason: str
    instant: bool = False
    escalates: bool = False


def combine(detector: str, parts: list[tuple], **evidence: Any) -> Finding | None:
    """One finding from a detector's sub-signals (:class:`Signal` or plain tuples of it).

    Scores combine by noisy-OR (independent pieces of evidence), reasons are ranked by
    score, and the instant and escalating sub-signals make up their parts of the score.
    """
    kept = sorted((Signal(*p) for p in parts if p[0] > 0.0), key=lambda p: -p.score)
    if not kept:
        return None
    remaining = remaining_instant = remaining_escalating = 1.0
    for signal in kept:
        remaining *= 1.0 - signal.score
        if signal.instant:
            remaining_instant *= 1.0 - signal.score
        if signal.escalates:
            remaining_escalating *= 1.0 - signal.score
    return Finding(
        detector=detector,
        score=1.0 - remaining,
        reason="; ".join(signal.reason for signal in kept),
        instant=1.0 - remaining_instant,
        evidence=evidence,
        escalates=1.0 - remaining_escalating,
    )
