"""Per-identity state: decay, decaying counters, identity states and the bounded store."""

from __future__ import annotations

import math
import pickle

import pytest

from detector.state import Decay, DecayingCounter, IdentityState, IdentityStore

T0 = 1704067200.0
DAY = 86400.0

# -- Decay -------------------------------------------------------------------------------


def test_decay_halves_weight_after_a_half_life():
    decay = Decay(half_life=DAY)
    assert decay.factor(T0 + DAY, T0) == pytest.approx(0.5)
    assert decay.factor(T0 + 3 * DAY, T0) == pytest.approx(0.125)
    assert decay.weight(T0 + DAY, T0) == pytest.approx(2.0)
    assert decay.weight(T0, T0) == decay.factor(T0, T0) == 1.0


def test_inflated_weight_and_factor_cancel():
    decay = Decay(half_life=7 * DAY)
    for dt in (0.0, 1.0, DAY, 30 * DAY):
        assert decay.weight(T0 + dt, T0) * decay.factor(T0 + dt, T0) == pytest.approx(1.0)


def test_decay_never_overflows():
    decay = Decay(half_life=1.0)
    assert math.isfinite(decay.weight(1e9, 0.0))
    assert decay.factor(1e9, 0.0) >= 0.0


def test_decay_pickles_with_its_half_life():
    decay = pickle.loads(pickle.dumps(Decay(half_life=3600.0)))
    assert decay.half_life == 3600.0
    assert decay.factor(3600.0, 0.0) == pytest.approx(0.5)
    assert repr(decay) == "Decay(half_life=3600.0)"


# -- DecayingCounter ---------------------------------------------------------------------


def test_counter_total_halves_after_a_half_life():
    decay = Decay(half_life=DAY)
    counter = DecayingCounter()
    for i in range(10):
        counter.add("DE", T0 + i, decay)
    now = T0 + 9
    assert counter.effective_total(now, decay) == pytest.approx(10.0, rel=1e-3)
    assert counter.effective_total(now + DAY, decay) == pytest.approx(5.0, rel=1e-3)
    assert counter.effective("DE", now + 2 * DAY, decay) == pytest.approx(2.5, rel=1e-3)
    assert counter.effective("BR", now, decay) == 0.0


def test_older_observations_have_a_smaller_share():
    decay = Decay(half_life=DAY)
    counter = DecayingCounter()
    counter.add("DE", T0, decay)
    counter.add("US", T0 + DAY, decay)
    assert counter.share("DE") == pytest.approx(1 / 3)
    assert counter.share("US") == pytest.approx(2 / 3)
    assert counter.share("BR") == 0.0
    assert counter.most_common(1) == [("US", pytest.approx(2 / 3))]


def test_empty_counter_has_no_shares():
    counter = DecayingCounter()
    decay = Decay(DAY)
    assert counter.share("DE") == 0.0
    assert counter.effective_total(T0, decay) == 0.0
    assert counter.effective("DE", T0, decay) == 0.0
    assert counter.most_common() == []
    assert "DE" not in counter and len(counter) == 0


def test_rebasing_keeps_shares_and_counts():
    """Inflated weights are folded back before they overflow; nothing observable changes."""
    decay = Decay(half_life=1.0)
    counter = DecayingCounter()
    for _ in range(3):
        counter.add("A", 0.0, decay)
    counter.add("B", 30.0, decay)  # weight 2**30: not rebased yet
    assert counter.ref == 0.0
    counter.add("A", 45.0, decay)  # weight 2**45 > 1e12: rebased
    assert counter.ref == 45.0
    a, b = 3 * 2.0**-45 + 1.0, 2.0**-15
    assert counter.share("A") == pytest.approx(a / (a + b), rel=1e-9)
    assert counter.share("B") == pytest.approx(b / (a + b), rel=1e-9)
    assert counter.effective("B", 46.0, decay) == pytest.approx(b / 2, rel=1e-9)
    assert counter.effective_total(45.0, decay) == pytest.approx(a + b, rel=1e-9)


def test_counter_after_a_very_long_silence_keeps_only_the_new():
    decay = Decay(half_life=1.0)
    counter = DecayingCounter()
    counter.add("old", 0.0, decay)
    counter.add("new", 1e7, decay)
    assert counter.share("new") == pytest.approx(1.0)
    assert math.isfinite(counter.total)


def test_counter_keeps_at_most_limit_keys_dropping_the_smallest():
    decay = Decay(DAY)
    counter = DecayingCounter()
    for key, times in (("a", 5), ("b", 1), ("c", 3)):
        for _ in range(times):
            counter.add(key, T0, decay, limit=3)
    counter.add("d", T0, decay, limit=3)
    assert "b" not in counter and len(counter) == 3
    assert [k for k, _ in counter.most_common(3)] == ["a", "c", "d"]
    assert sum(share for _, share in counter.most_common(3)) == pytest.approx(1.0)


# -- IdentityState -----------------------------------------------------------------------


def test_identity_state_pickles_every_slot():
    state = IdentityState("alice", T0)
    state.learned, state.events, state.last_seen = 7, 9, T0 + DAY
    state.extra = {"k": 1}
    copy = pickle.loads(pickle.dumps(state))
    for slot in IdentityState.__slots__:
        assert getattr(copy, slot) == getattr(state, slot), slot


def test_maturity_needs_both_events_and_age():
    state = IdentityState("alice", T0)
    assert state.maturity(30, DAY) == 0.0
    state.learned = 30
    assert state.maturity(30, DAY) == pytest.approx(0.5)
    state.last_seen = T0 + DAY
    assert state.maturity(30, DAY) == pytest.approx(1.0)
    state.learned = 15
    assert state.maturity(30, DAY) == pytest.approx(0.5)
    assert state.maturity(0, 0.0) == 1.0


# -- IdentityStore -----------------------------------------------------------------------


def seen(store: IdentityStore, identity: str, time: float) -> IdentityState:
    state = store.get_or_create(identity, time)
    store.touch(state, time)
    return state


def test_store_returns_the_same_state_for_an_identity():
    store = IdentityStore(idle_ttl=DAY, max_identities=10)
    assert store.get("alice") is None
    first = seen(store, "alice", T0)
    assert seen(store, "alice", T0 + 1) is first
    assert store.get("alice") is first
    assert len(store) == 1


def test_store_evicts_identities_idle_longer_than_the_ttl():
    store = IdentityStore(idle_ttl=DAY, max_identities=10)
    seen(store, "a", T0)
    seen(store, "b", T0 + 3600)
    seen(store, "c", T0 + DAY + 1)  # a is idle for more than a day
    assert [s.identity for s in store] == ["b", "c"]
    seen(store, "c", T0 + DAY + 3600 + 1)
    assert [s.identity for s in store] == ["c"]
    assert store.evicted == 2


def test_store_never_exceeds_max_identities_and_evicts_the_least_recently_seen():
    store = IdentityStore(idle_ttl=365 * DAY, max_identities=3)
    for i, identity in enumerate(["a", "b", "c"]):
        seen(store, identity, T0 + i)
    seen(store, "a", T0 + 10)  # a is now the most recently seen
    seen(store, "d", T0 + 11)
    assert [s.identity for s in store] == ["c", "a", "d"]
    for i in range(20):
        seen(store, f"x{i}", T0 + 20 + i)
        assert len(store) <= 3
    assert [s.identity for s in store] == ["x17", "x18", "x19"]
    assert store.evicted == 21


def test_late_event_does_not_move_last_seen_back():
    store = IdentityStore(idle_ttl=DAY, max_identities=10)
    state = seen(store, "a", T0 + 100)
    seen(store, "a", T0)
    assert state.last_seen == T0 + 100
