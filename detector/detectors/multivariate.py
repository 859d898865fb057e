"""Unusual combination: an online multivariate model over the event's features.

One model for the whole population (not per identity): it learns which combinations of
familiarity (hour, network, secret), sensitivity, burstiness and outcome are normal
anywhere, and catches events that no single signal ranks high. Being shared across
identities, it is the one part of the model whose state depends on which events a worker
saw (see the README on scaling out).
"""

from __future__ import annotations

import math
import zlib
from typing import ClassVar

import numpy as np
from river.anomaly import HalfSpaceTrees

from detector.detectors.base import DetectorBase, Finding, tail_score
from detector.detectors.resource import normalise_path
from detector.detectors.time_of_week import hour_of_week
from detector.event import DENIED, EnrichedEvent
from detector.state import IdentityState

__all__ = ["Multivariate"]

#: feature -> how it reads in a reason when it is high (1) or low (0)
FEATURES = {
    "hour_rarity": ("an hour rare for the identity", "a usual hour"),
    "network_familiarity": ("a familiar network", "an unfamiliar network"),
    "public": ("a public address", "a private address"),
    "secret_familiarity": ("a secret it read before", "a secret it never read"),
    "sensitivity": ("a sensitive secret", "a low-sensitivity secret"),
    "burst": ("a burst of requests", "a quiet period"),
    "denied": ("a denied request", "an allowed request"),
    "action": ("a write, delete or token operation", "a read"),
    "maturity": ("a long-known identity", "a new identity"),
}
_ACTION_LEVEL = {"read": 0.1, "list": 0.3, "write": 0.5, "delete": 0.7, "admin": 0.8}
_BINS = 200


class Multivariate(DetectorBase):
    """River's HalfSpaceTrees over a feature vector in [0, 1], calibrated by rank.

    The raw tree score is turned into a tail probability with a histogram of the scores
    of learned events, so the finding means "rarer than all but this share of events".
    Events familiar in every respect (:func:`familiar`) are not scored: they count as
    ranking below every other event.

    Parameters
    ----------
    n_trees, height, window_size
        HalfSpaceTrees parameters.
    warm_up
        Events learned before the model scores anything.
    learn_share
        Share of trusted events the trees learn from (a deterministic sample by event
        id, the same in every runtime): a population model needs no more, and learning
        is the costly half.
    seed
        Seed of the random trees.
    """

    name: ClassVar[str] = "multivariate"

    def __init__(
        self,
        n_trees: int = 8,
        height: int = 6,
        window_size: int = 250,
        warm_up: int = 2000,
        learn_share: float = 0.25,
        seed: int = 42,
    ) -> None:
        self.n_trees = n_trees
        self.height = height
        self.window_size = window_size
        self.warm_up = warm_up
        self.learn_share = learn_share
        self.seed = seed
        self.model = HalfSpaceTrees(
            n_trees=n_trees, height=height, window_size=window_size, seed=seed
        )
        self.learned = 0
        self.histogram = np.zeros(_BINS, dtype=np.float64)
        self.histogram_total = 0.0
        self.means = dict.fromkeys(FEATURES, 0.5)
        # The features and raw score of the event just scored, reused when it is learned:
        # a cache, not model state (left out of pickles).
        self._scored: tuple[str, dict[str, float], float] | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_scored"] = None
        return state

    @classmethod
    def _unit_test_params(cls):
        yield {"n_trees": 3, "height": 4, "window_size": 20, "warm_up": 50, "seed": 1}
        yield {"n_trees": 3, "height": 4, "window_size": 20, "warm_up": 50, "learn_share": 1.0}

    # -- contract ------------------------------------------------------------------------

    def score_one(self, event: EnrichedEvent, state: IdentityState) -> Finding | None:
        # Features are taken now, before any detector learns from this event, and reused
        # by learn_one: the model must learn what it would have scored. A familiar event
        # the trees will not learn from needs no features at all.
        event_id = event.event.event_id
        sampled = zlib.crc32(event_id.encode()) % 1000 < self.learn_share * 1000
        if not sampled and familiar_event(event, state):
            self._scored = (event_id, None, None)
            return None
        x = features(event, state)
        if self.learned < self.warm_up or familiar(x):
            self._scored = (event_id, x, None)
            return None
        raw = self.model.score_one(x)
        self._scored = (event.event.event_id, x, raw)
        index = min(int(raw * _BINS), _BINS - 1)
        tail = (self.histogram[index:].sum() + 1.0) / (self.histogram_total + 1.0)
        score = tail_score(tail, start=2.0, span=2.0)
        if score <= 0.0:
            return None
        return Finding(
            detector=self.name,
            score=score,
            reason=f"unusual combination across all identities (rarer than {1 - tail:.2%} of "
            f"events): {self._explain(x)}",
            evidence={"raw": raw, "tail": tail},
        )

    def learn_one(self, event: EnrichedEvent, state: IdentityState) -> None:
        scored = self._scored
        event_id = event.event.event_id
        if scored is not None and scored[0] == event_id:
            _, x, raw = scored
        else:
            x, raw = features(event, state), None
        self.learned += 1
        if self.learned > self.warm_up // 2:
            if raw is None and x is not None and not familiar(x):
                raw = self.model.score_one(x)  # calibrating before scoring starts
            # Familiar events are not scored: they rank below every unfamiliar one.
            self.histogram[0 if raw is None else min(int(raw * _BINS), _BINS - 1)] += 1.0
            self.histogram_total += 1.0
            if self.histogram_total > 1e6:
                self.histogram *= 0.5
                self.histogram_total *= 0.5
        if x is not None and zlib.crc32(event_id.encode()) % 1000 < self.learn_share * 1000:
            self.model.learn_one(x)
            # The population's means, for explanations (a sample is plenty).
            rate = 1.0 / min(self.learned, 10_000)
            means = self.means
            for key, value in x.items():
                means[key] += rate * (value - means[key])

    def _explain(self, x: dict[str, float]) -> str:
        deviations = sorted(
            ((abs(value - self.means[key]), key, value) for key, value in x.items()), reverse=True
        )
        return (
            ", ".join(
                FEATURES[key][0 if value >= self.means[key] else 1]
                for gap, key, value in deviations[:3]
                if gap >= 0.25
            )
            or "no single feature stands out"
        )


def familiar(x: dict[str, float]) -> bool:
    """An event familiar in every respect: the most common combination there is.

    Most requests are a service reading its usual secrets from its usual network at its
    usual hour; the trees need not score those (it is the costly part): they rank below
    every event that is unfamiliar in some way.
    """
    return (
        x["secret_familiarity"] == 1.0
        and x["network_familiarity"] >= 0.2
        and x["hour_rarity"] < 0.1
        and x["denied"] == 0.0
        and x["burst"] < 0.5
    )


def familiar_event(event: EnrichedEvent, state: IdentityState) -> bool:
    """:func:`familiar` of the event's features, without computing them all (cheap checks
    first): the common case must cost next to nothing."""
    e = event.event
    if e.outcome == DENIED:
        return False
    profile, loc, res, vol = state.time, state.location, state.resource, state.volume
    if res is None or loc is None or not res.seen(normalise_path(e.resource)[0]):
        return False
    geo = event.geo
    if geo is None or geo.network is None or loc.networks.share(geo.network) < 0.2:
        return False
    if profile is not None and profile.scores and profile.scores[hour_of_week(e.time)] >= 25.5:
        return False
    return not (
        vol is not None
        and vol.windows
        and vol.requests / (vol.requests + vol.moments[0] + 1.0) >= 0.5
    )


def features(event: EnrichedEvent, state: IdentityState) -> dict[str, float]:
    """The event as numbers in [0, 1], read from the identity's state (before learning)."""
    e, geo = event.event, event.geo
    profile, loc, res, vol = state.time, state.location, state.resource, state.volume
    hour_rarity = (
        profile.scores[hour_of_week(e.time)] / 255.0 if profile and profile.scores else 0.0
    )
    network = geo.network if geo is not None else None
    familiarity = loc.networks.share(network) if loc is not None and network else 0.0
    if res is not None:
        secret, _, _ = normalise_path(e.resource)
        known_secret = 1.0 if res.seen(secret) else 0.0
    else:
        known_secret = 0.0
    if vol is not None and vol.windows:
        mean = vol.moments[0]
        burst = vol.requests / (vol.requests + mean + 1.0)
    else:
        burst = 0.0
    return {
        "hour_rarity": hour_rarity,
        "network_familiarity": familiarity,
        "public": 1.0 if geo is not None and geo.is_public else 0.0,
        "secret_familiarity": known_secret,
        "sensitivity": event.sensitivity.weight if event.sensitivity is not None else 0.5,
        "burst": burst,
        "denied": 1.0 if e.outcome == DENIED else 0.0,
        "action": _ACTION_LEVEL.get(e.action, 0.9),
        "maturity": min(1.0, math.log10(1.0 + state.learned) / 4.0),
    }
