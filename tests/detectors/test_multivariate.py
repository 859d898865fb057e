"""Multivariate: one online model over every identity's features, calibrated by rank."""

from __future__ import annotations

import pickle
import random

import pytest

from detector.detectors import (
    Lifecycle,
    Location,
    Multivariate,
    Resource,
    TimeOfWeek,
    Volume,
)
from detector.detectors.multivariate import FEATURES, features

from .conftest import (
    BERLIN,
    CRITICAL,
    DAY,
    HOUR,
    LOW,
    MEDIUM,
    SAO_PAULO,
    T0,
    learner,
    make_event,
    score_value,
    state_for,
)

roc_auc_score = pytest.importorskip("sklearn.metrics").roc_auc_score

WARM_UP = 500


def labelled_stream(seed: int, days: int = 8, attacks: int = 8) -> list[tuple]:
    """Six services and three people on their routines, and a few ``(event, 1)`` attacks.

    Each attack is a service reading a critical secret it never read, from a public
    address abroad; everything else is labelled 0.
    """
    rng = random.Random(seed)
    labelled = []
    for day in range(days):
        for hour in range(24):
            base = T0 + day * DAY + hour * HOUR
            for k in range(6):
                event = make_event(
                    base + rng.uniform(0, HOUR),
                    f"svc{k}",
                    resource=f"secret/data/svc{k}/{rng.randint(0, 2)}",
                    sensitivity=MEDIUM,
                    credential=f"acc-{k}-{day}",
                )
                labelled.append((event, 0))
            if day % 7 < 5 and 9 <= hour < 17:
                for p in range(3):
                    event = make_event(
                        base + rng.uniform(0, HOUR),
                        f"person{p}",
                        resource=f"secret/data/team/{rng.randint(0, 5)}",
                        geo=BERLIN,
                        ip="89.0.142.2",
                        sensitivity=LOW,
                        credential=f"acc-p{p}-{day}",
                    )
                    labelled.append((event, 0))
    for i in range(attacks):
        attack = make_event(
            T0 + 4 * DAY + rng.uniform(0, (days - 4) * DAY),
            f"svc{rng.randint(0, 5)}",
            action=rng.choice(["read", "write", "delete"]),
            resource=f"secret/data/admin/{rng.randint(0, 99)}",
            sensitivity=CRITICAL,
            geo=SAO_PAULO,
            ip="177.67.80.9",
            credential=f"stolen-{i}",
        )
        labelled.append((attack, 1))
    return sorted(labelled, key=lambda pair: pair[0].event.time)


def all_detectors(multivariate: Multivariate):
    """A model of every detector: the multivariate one reads what the others learned."""
    return learner(TimeOfWeek(), Location(), Volume(), Resource(), Lifecycle(), multivariate)


def run(multivariate: Multivariate, labelled: list[tuple]) -> list[tuple]:
    """``(label, finding, learned before)`` for every event, scored before it is learned."""
    model = all_detectors(multivariate)
    results = []
    for event, label in labelled:
        learned = multivariate.learned
        finding = multivariate.score_one(event, state_for(model, event))
        results.append((label, finding, learned))
        model.process(event)
    return results


def test_features_are_numbers_in_the_unit_interval():
    model = all_detectors(Multivariate(warm_up=WARM_UP))
    for event, _ in labelled_stream(seed=0, days=2, attacks=3):
        x = features(event, state_for(model, event))
        assert set(x) == set(FEATURES)
        assert all(0.0 <= value <= 1.0 for value in x.values()), x
        model.process(event)


def test_multivariate_is_silent_during_warm_up():
    results = run(Multivariate(warm_up=WARM_UP, window_size=100), labelled_stream(seed=1))
    early = [finding for _, finding, learned in results if learned < WARM_UP]
    late = [finding for _, finding, learned in results if learned >= WARM_UP]
    assert len(early) == WARM_UP
    assert early == [None] * WARM_UP
    assert any(late), "after warm-up it speaks"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_multivariate_ranks_rare_combinations_above_normal_ones(seed):
    detector = Multivariate(n_trees=10, height=6, window_size=100, warm_up=WARM_UP, seed=seed)
    results = [r for r in run(detector, labelled_stream(seed)) if r[2] >= WARM_UP]
    labels = [label for label, _, _ in results]
    scores = [score_value(finding) for _, finding, _ in results]
    assert 0 < sum(labels) < len(labels)
    assert roc_auc_score(labels, scores) > 0.5
    normal = [s for s, label in zip(scores, labels, strict=True) if not label]
    attacks = [s for s, label in zip(scores, labels, strict=True) if label]
    assert sum(s > 0 for s in attacks) >= len(attacks) / 2, "most attacks give a finding"
    assert sum(s > 0 for s in normal) < 0.01 * len(normal), "few ordinary events do"


def test_reason_names_what_stands_out():
    results = run(Multivariate(warm_up=WARM_UP, window_size=100), labelled_stream(seed=2))
    reasons = [f.reason for label, f, _ in results if label and f is not None]
    assert reasons
    for reason in reasons:
        assert reason.startswith("unusual combination across all identities (rarer than ")
        assert "a public address" in reason or "an unfamiliar network" in reason


def test_same_seed_gives_the_same_findings():
    stream = labelled_stream(seed=3, days=5, attacks=3)
    a = run(Multivariate(warm_up=300, seed=7, learn_share=1.0), stream)
    b = run(Multivariate(warm_up=300, seed=7, learn_share=1.0), stream)
    assert any(f is not None for _, f, _ in a)
    assert [f for _, f, _ in a] == [f for _, f, _ in b]


def test_scoring_changes_no_state_alongside_the_other_detectors():
    """The shared check runs each detector alone; this one feeds the features from the
    other detectors' state, as in a real model."""
    detector = Multivariate(warm_up=WARM_UP, window_size=100)
    model = all_detectors(detector)
    said = 0
    for i, (event, _) in enumerate(labelled_stream(seed=4)):
        state = state_for(model, event)
        if i % 5 == 0 or detector.learned >= WARM_UP:
            before = pickle.dumps((detector, state))
            said += detector.score_one(event, state) is not None
            assert pickle.dumps((detector, state)) == before
        model.process(event)
    assert said > 0


def learned_vectors(detector: Multivariate, labelled: list[tuple]) -> list[tuple[bool, bool]]:
    """For every learned event: (warming up, learned the features it was scored with)."""
    model = all_detectors(detector)
    learned: list[dict[str, float]] = []
    learn = detector.model.learn_one
    detector.model.learn_one = lambda x: (learned.append(dict(x)), learn(x))[1]
    result = []
    for event, _ in labelled:
        warming = detector.learned < detector.warm_up
        scored = features(event, state_for(model, event))
        model.process(event)
        result.append((warming, learned[-1] == scored))
    return result


def test_learns_the_features_it_scored():
    """Features read the identity's state *before* the event: learning them after the other
    detectors learned would teach the model that every secret is familiar."""
    result = learned_vectors(
        Multivariate(warm_up=WARM_UP, learn_share=1.0), labelled_stream(seed=1)
    )
    after = [same for warming, same in result if not warming]
    assert after and all(after)


def test_learns_the_features_it_scored_during_warm_up():
    result = learned_vectors(
        Multivariate(warm_up=WARM_UP, learn_share=1.0), labelled_stream(seed=1)
    )
    assert all(same for warming, same in result if warming)
