"""The scorer: weights, noisy-OR, damping while learning, reasons, decisions, alert budget."""

from __future__ import annotations

import random

import pytest

from detector.detectors.base import Finding, combine
from detector.scoring import ALERT, REVOKE, AlertBudget, Learning, Scorer
from detector.state import IdentityState

T0 = 1704067200.0
DAY = 86400.0
LEARNING = Learning(min_events=30, min_age=DAY, damping=0.3)


def found(detector: str = "location", score: float = 0.5, instant: float = 0.0) -> Finding:
    return Finding(detector, score, f"{detector} says {score}", instant)


def new_identity() -> IdentityState:
    return IdentityState("newcomer", T0)


def known_identity() -> IdentityState:
    """An identity well past its learning period."""
    state = IdentityState("veteran", T0 - 60 * DAY)
    state.learned = state.events = 5000
    state.last_seen = T0
    return state


def scorer(weights: dict[str, float] | None = None, **options) -> Scorer:
    options.setdefault("learning", LEARNING)
    return Scorer(weights or {"location": 1.0, "volume": 1.0, "time": 1.0}, **options)


def risk(findings: list[Finding], state: IdentityState | None = None, **options) -> float:
    return scorer(**options).assess(findings, state or known_identity(), T0).risk


# -- combination -------------------------------------------------------------------------


def test_no_findings_no_risk():
    assessment = scorer().assess([], known_identity(), T0)
    assert assessment.risk == 0.0
    assert assessment.decision is None
    assert assessment.reasons == []


def test_one_finding_counts_as_weight_times_score():
    assert risk([found(score=0.5)], weights={"location": 0.9}) == pytest.approx(0.45)
    assert risk([found(score=1.0)], weights={"location": 0.9}) == pytest.approx(0.9)


def test_findings_combine_by_noisy_or():
    one = risk([found("location", 0.5)])
    two = risk([found("location", 0.5), found("volume", 0.5)])
    three = risk([found("location", 0.5), found("volume", 0.5), found("time", 0.5)])
    assert one == pytest.approx(0.5)
    assert two == pytest.approx(1 - 0.5 * 0.5)
    assert three == pytest.approx(1 - 0.5**3)
    assert one < two < three < 1.0


def test_combination_does_not_depend_on_order():
    findings = [found("location", 0.3), found("volume", 0.8), found("time", 0.1)]
    assert risk(findings) == pytest.approx(risk(findings[::-1]))


def test_weights_scale_each_detector():
    weights = {"location": 0.9, "time": 0.45}
    assert risk([found("time", 1.0)], weights=weights) == pytest.approx(0.45)
    assert risk([found("time", 1.0)], weights=weights) < risk(
        [found("location", 1.0)], weights=weights
    )
    silenced = scorer({"location": 0.0}).assess([found(score=1.0)], known_identity(), T0)
    assert silenced.risk == 0.0
    assert silenced.reasons == []


def test_a_certain_finding_at_full_weight_is_certain_risk():
    assert risk([found(score=1.0), found("volume", 0.2)]) == pytest.approx(1.0)


# -- reasons -----------------------------------------------------------------------------


def test_reasons_are_ranked_by_contribution_not_by_raw_score():
    weights = {"time": 0.2, "location": 0.9}
    assessment = scorer(weights).assess(
        [found("time", 0.9), found("location", 0.5)], known_identity(), T0
    )
    assert assessment.reasons == ["location says 0.5", "time says 0.9"]
    assert assessment.contributions == {
        "location": pytest.approx(0.45),
        "time": pytest.approx(0.18),
    }


def test_reasons_below_the_floor_are_dropped_but_still_count_in_risk():
    findings = [found("location", 0.6), found("volume", 0.04)]
    assessment = scorer(reason_floor=0.05).assess(findings, known_identity(), T0)
    assert assessment.reasons == ["location says 0.6"]
    assert assessment.risk == pytest.approx(1 - 0.4 * 0.96)
    kept = scorer(reason_floor=0.01).assess(findings, known_identity(), T0)
    assert kept.reasons == ["location says 0.6", "volume says 0.04"]


# -- the learning period -----------------------------------------------------------------


def test_damping_during_the_learning_period_applies_to_the_baselined_part_only():
    baselined = found(score=0.8, instant=0.0)
    instant = found(score=0.8, instant=0.8)
    mixed = found(score=0.9, instant=0.5)
    assert risk([baselined], new_identity()) == pytest.approx(0.8 * LEARNING.damping)
    assert risk([instant], new_identity()) == pytest.approx(0.8), "instant is not damped"
    assert risk([mixed], new_identity()) == pytest.approx(0.5 + 0.4 * LEARNING.damping)
    for finding in (baselined, instant, mixed):
        assert risk([finding], known_identity()) == pytest.approx(finding.score)


def test_damping_fades_as_the_identity_learns_events_and_days():
    finding = [found(score=0.8)]

    def identity(learned: int, age: float) -> IdentityState:
        state = IdentityState("x", T0 - age)
        state.learned = learned
        state.last_seen = T0
        return state

    by_events_only = risk(finding, identity(30, 0.0))
    by_age_only = risk(finding, identity(0, 10 * DAY))
    halfway = risk(finding, identity(15, 0.5 * DAY))
    assert risk(finding, identity(0, 0.0)) == pytest.approx(0.8 * LEARNING.damping)
    assert by_age_only == pytest.approx(0.8 * LEARNING.damping), "days alone teach nothing"
    assert 0.8 * LEARNING.damping < halfway < by_events_only < 0.8
    assert risk(finding, identity(30, DAY)) == pytest.approx(0.8)


# -- decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("score", "decision"),
    [(0.0, None), (0.4999, None), (0.5, ALERT), (0.7, ALERT), (0.75, REVOKE), (1.0, REVOKE)],
)
def test_decisions_at_thresholds(score, decision):
    assessment = scorer(alert=0.5, revoke=0.75).assess([found(score=score)], known_identity(), T0)
    assert assessment.decision == decision


def test_damped_novelty_of_a_new_identity_does_not_revoke_but_an_instant_finding_does():
    s = scorer(alert=0.6, revoke=0.9)
    assert s.assess([found(score=1.0)], new_identity(), T0).decision is None
    assert s.assess([found(score=1.0, instant=1.0)], new_identity(), T0).decision == REVOKE


# -- alert budget ------------------------------------------------------------------------


def replay_days(s: Scorer, days: int, per_day: int, risks, start: float = T0) -> list[int]:
    """Assess ``per_day`` single findings a day (risk drawn by ``risks()``); alerts per day."""
    state = known_identity()
    alerts = []
    for day in range(days):
        count = 0
        for i in range(per_day):
            time = start + day * DAY + i * DAY / per_day
            decision = s.assess([found(score=risks())], state, time).decision
            count += decision in (ALERT, REVOKE)
        alerts.append(count)
    return alerts


def test_alert_budget_aims_at_the_daily_number_of_alerts():
    rng = random.Random(1)
    s = scorer(alert=0.5, revoke=2.0, alert_budget=20)
    alerts = replay_days(s, days=30, per_day=2000, risks=rng.random)
    recent = sum(alerts[-10:]) / 10
    assert 20 * 0.75 <= recent <= 20 * 1.25


def test_alert_budget_raises_the_threshold_on_a_flood_day():
    rng = random.Random(2)

    def ordinary() -> float:
        return 0.7 if rng.random() < 0.004 else rng.uniform(0.0, 0.5)

    budgeted = scorer(alert=0.6, revoke=2.0, alert_budget=10)
    plain = scorer(alert=0.6, revoke=2.0)
    for s in (budgeted, plain):
        replay_days(s, days=10, per_day=2000, risks=ordinary)
    assert budgeted.budget.threshold(0.6) == 0.6, "ordinary days are within the budget"

    def flood() -> float:
        return rng.uniform(0.62, 0.95)

    flooded = T0 + 10 * DAY
    with_budget = replay_days(budgeted, days=1, per_day=1000, risks=flood, start=flooded)[0]
    without = replay_days(plain, days=1, per_day=1000, risks=flood, start=flooded)[0]
    assert without == 1000
    assert with_budget < without / 2
    assert budgeted.budget.threshold(0.6) > 0.8


def test_alert_budget_never_lowers_the_threshold_below_the_profiles():
    rng = random.Random(3)
    s = scorer(alert=0.6, revoke=2.0, alert_budget=1_000_000)
    alerts = replay_days(s, days=5, per_day=1000, risks=lambda: rng.uniform(0.55, 0.65))
    assert s.budget.threshold(0.6) == 0.6
    state = known_identity()
    assert s.assess([found(score=0.59)], state, T0 + 6 * DAY).decision is None
    assert s.assess([found(score=0.61)], state, T0 + 6 * DAY).decision == ALERT
    assert sum(alerts) > 0


def test_alert_budget_without_history_keeps_the_base_threshold():
    budget = AlertBudget(per_day=5)
    assert budget.threshold(0.6) == 0.6
    for i in range(100):
        budget.observe(0.99, T0 + i)
    assert budget.threshold(0.6) == 0.6, "recomputed only every few hundred risks"


# -- the detectors' own combination ------------------------------------------------------


def test_a_detectors_sub_signals_combine_by_noisy_or_with_reasons_ranked():
    finding = combine(
        "location",
        [(0.3, "new network", False), (0.0, "", True), (0.6, "replayed", True)],
        network="n",
    )
    assert finding.score == pytest.approx(1 - 0.7 * 0.4)
    assert finding.instant == pytest.approx(0.6)
    assert finding.reason == "replayed; new network"
    assert finding.evidence == {"network": "n"}
    assert combine("location", [(0.0, "", False)]) is None
