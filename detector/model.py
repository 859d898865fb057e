"""The risk model: detectors, the identities' state and the scorer, run prequentially."""

from __future__ import annotations

from collections.abc import Sequence

from detector.detectors.base import Detector
from detector.event import EnrichedEvent
from detector.partitioning import identity_partition
from detector.scoring import Assessment, Scorer
from detector.state import IdentityStore

__all__ = ["RiskModel"]


class RiskModel:
    """Scores an event, then learns from it — unless it crossed the revoke threshold.

    Prequential order matters: every detector scores the event against what was known
    *before* it, then observes it (short-term context, always) and learns from it (the
    baseline, only when trusted), so a thief's requests never become normal.
    """

    def __init__(
        self,
        detectors: Sequence[Detector],
        scorer: Scorer,
        store: IdentityStore,
        partitions: int = 1,
    ):
        self.scorer = scorer
        self.store = store
        self.partitions = partitions
        # One set of detectors per partition of identities: what they learn across
        # identities (population models) then depends only on that partition's events, as
        # it does on a Kafka worker that owns the partition (see detector.partitioning).
        self.detector_sets = [list(detectors)] + [
            [d.clone() for d in detectors] for _ in range(partitions - 1)
        ]
        self.detectors = self.detector_sets[0]
        # Only detectors that keep short-term context (``observes``, true by default) are
        # called to observe: the others' observe_one does nothing.
        self.observer_sets = [
            [d for d in detectors if getattr(d, "observes", True)]
            for detectors in self.detector_sets
        ]

    def process(self, event: EnrichedEvent) -> Assessment:
        e = event.event
        partition = identity_partition(e.identity, self.partitions)
        detectors = self.detector_sets[partition]
        state = self.store.get_or_create(e.identity, e.time)
        findings = [f for d in detectors if (f := d.score_one(event, state)) is not None]
        assessment = self.scorer.assess(findings, state, e.time)
        event.risk = assessment.risk
        self.scorer.remember(assessment, state, e.time)
        for detector in self.observer_sets[partition]:
            detector.observe_one(event, state)
        if assessment.risk < self.scorer.revoke:
            for detector in detectors:
                detector.learn_one(event, state)
            state.learned += 1
        state.events += 1
        self.store.touch(state, e.time)
        return assessment
