"""The checks every detector goes through, whatever it detects (after River's
``test_estimators.py``).

Each detector class in :data:`detector.detectors.DETECTORS` runs with its default
parameters and with each set from ``_unit_test_params()`` over the same varied stream
(:func:`varied_stream`), so a new detector is checked as soon as it is registered.
"""

from __future__ import annotations

import functools
import inspect
import math
import pickle
from typing import Any

import pytest

from detector.detectors import DETECTORS, Detector, Finding
from detector.state import IdentityState, IdentityStore

from .conftest import DAY, ODD, T0, odd_events, replay, varied_stream


def _cases() -> list[Any]:
    cases = []
    for name, cls in DETECTORS.items():
        cases.append(pytest.param(cls, {}, id=f"{name}-default"))
        for i, params in enumerate(cls._unit_test_params()):
            cases.append(pytest.param(cls, params, id=f"{name}-params{i}"))
    return cases


CASES = _cases()


@functools.cache
def _stream() -> tuple:
    return tuple(varied_stream())


@functools.cache
def _trained(cls: type, frozen_params: tuple) -> tuple[tuple[Finding | None, ...], bytes]:
    """Findings of one replay of the varied stream, and the trained detector and states."""
    detector = cls(**dict(frozen_params))
    findings, store = replay(detector, _stream())
    return tuple(findings), pickle.dumps((detector, store))


def trained(cls: type, params: dict) -> tuple[tuple[Finding | None, ...], Detector, IdentityStore]:
    """A fresh copy of ``cls(**params)`` trained on the varied stream, and its findings."""
    findings, blob = _trained(cls, tuple(sorted(params.items())))
    detector, store = pickle.loads(blob)
    return findings, detector, store


def constructor_params(detector: Detector) -> dict[str, Any]:
    """The constructor arguments, read back from the attributes of the same name."""
    names = inspect.signature(type(detector)).parameters
    return {name: getattr(detector, name) for name in names}


def check_finding(finding: Finding | None, detector: Detector) -> None:
    if finding is None:
        return
    assert isinstance(finding, Finding)
    assert finding.detector == detector.name
    assert 0.0 <= finding.instant <= finding.score <= 1.0, finding
    assert not math.isnan(finding.score)
    assert isinstance(finding.reason, str) and finding.reason.strip(), finding
    assert isinstance(finding.evidence, dict)


# -- construction ------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_every_parameter_is_stored_under_its_name_and_shown_in_repr(cls, params):
    detector = cls(**params)
    stored = constructor_params(detector)
    for name, value in params.items():
        assert stored[name] == value
    for name, value in stored.items():
        assert f"{name}={value!r}" in repr(detector)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_repr_is_stable_and_a_clone_has_the_same_repr(cls, params):
    detector = cls(**params)
    assert repr(detector) == repr(cls(**params))
    _, learned, _ = trained(cls, params)
    assert repr(learned) == repr(detector), "repr must not depend on what was learned"
    clone = cls(**constructor_params(learned))
    assert repr(clone) == repr(detector)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_a_clone_of_a_trained_detector_starts_fresh(cls, params):
    _, learned, _ = trained(cls, params)
    clone = cls(**constructor_params(learned))
    assert pickle.dumps(clone) == pickle.dumps(cls(**params))


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_name_is_the_registry_key(cls, params):
    assert DETECTORS[cls.name] is cls
    assert isinstance(cls(**params), Detector)


# -- the contract ------------------------------------------------------------------------


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_scoring_changes_no_state(cls, params):
    """Pickled detector and identity state are byte-identical before and after score_one.

    Checked on the first events (cold start), on a sample of the routine, and on every
    unusual event at the end, when the detector is warmed up and has something to say.
    """
    detector = cls(**params)
    store = IdentityStore(idle_ttl=365 * DAY, max_identities=10_000)
    checked = said = 0
    for i, event in enumerate(_stream()):
        e = event.event
        state = store.get_or_create(e.identity, e.time)
        if i < 150 or i % 40 == 0 or e.event_id.startswith(ODD):
            before = pickle.dumps((detector, state))
            finding = detector.score_one(event, state)
            assert pickle.dumps((detector, state)) == before, f"score_one changed state: {e}"
            checked += 1
            said += finding is not None
        detector.score_one(event, state)
        detector.observe_one(event, state)
        detector.learn_one(event, state)
        state.learned += 1
        state.events += 1
        store.touch(state, e.time)
    assert checked > 200
    assert said > 0, "no checked event gave a finding: the check proves little"


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_detector_and_states_survive_pickling(cls, params):
    _, detector, store = trained(cls, params)
    copy, copied_store = pickle.loads(pickle.dumps((detector, store)))
    assert repr(copy) == repr(detector)
    assert [s.identity for s in copied_store] == [s.identity for s in store]
    later = T0 + 20 * DAY
    for event in odd_events(later, "alice") + odd_events(later, "payments-api"):
        state = store.get(event.event.identity)
        copied = copied_store.get(event.event.identity)
        assert copy.score_one(event, copied) == detector.score_one(event, state)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_unpickled_detector_continues_with_the_same_findings(cls, params):
    """Save half-way, restore, continue: the findings are those of an uninterrupted run."""
    stream = _stream()
    half = len(stream) // 2
    whole, _, _ = trained(cls, params)
    detector = cls(**params)
    first, store = replay(detector, stream[:half])
    detector, store = pickle.loads(pickle.dumps((detector, store)))
    second, _ = replay(detector, stream[half:], store)
    assert first + second == list(whole)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_two_fresh_instances_give_identical_findings(cls, params):
    whole, _, _ = trained(cls, params)
    again, _ = replay(cls(**params), _stream())
    assert again == list(whole)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_findings_are_well_formed(cls, params):
    findings, detector, _ = trained(cls, params)
    for finding in findings:
        check_finding(finding, detector)
    assert any(findings), "the varied stream holds something odd for every detector"


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_unusual_events_are_found(cls, params):
    findings, _, _ = trained(cls, params)
    odd = [f for f, e in zip(findings, _stream(), strict=True) if e.event.event_id.startswith(ODD)]
    assert any(odd), "none of the unusual events gave a finding"


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_missing_fields_do_not_crash_a_new_identity(cls, params):
    detector = cls(**params)
    for event in odd_events(T0, "newcomer"):
        state = IdentityState("newcomer", T0)
        check_finding(detector.score_one(event, state), detector)
        detector.observe_one(event, state)
        detector.learn_one(event, state)
        state.learned += 1
        check_finding(detector.score_one(event, state), detector)


@pytest.mark.parametrize(("cls", "params"), CASES)
def test_missing_fields_do_not_crash_a_known_identity(cls, params):
    _, detector, store = trained(cls, params)
    later = T0 + 20 * DAY
    for identity in ("alice", "payments-api", "ci-runner"):
        events = odd_events(later, identity)
        findings, _ = replay(detector, events, store)
        for event, finding in zip(events, findings, strict=True):
            check_finding(finding, detector)
            check_finding(detector.score_one(event, store.get(identity)), detector)
