"""Per-identity model state: small, decaying, bounded.

Every detector keeps what it learned about an identity in its own slot of
:class:`IdentityState`. Counts decay with a half-life so an identity's baseline follows
its behaviour, and :class:`IdentityStore` evicts identities idle for longer than
``idle_ttl`` (and the least recently seen beyond ``max_identities``) so memory stays
bounded however many identities a log holds.

Decay uses *inflated weights*: an observation at time ``t`` adds ``exp((t - ref) / tau)``
instead of decaying every stored count at every step, which keeps updates O(1); the
common factor cancels in every share and is folded back (:meth:`Decay.rebase`) before it
can overflow.
"""

from __future__ import annotations

import math
from array import array
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

__all__ = ["Decay", "DecayingCounter", "IdentityState", "IdentityStore"]

_REBASE_AT = 1e12


class Decay:
    """Exponential forgetting with a half-life, shared by every counter of a model."""

    __slots__ = ("half_life", "tau")

    def __init__(self, half_life: float) -> None:
        self.half_life = half_life
        self.tau = half_life / math.log(2)

    def weight(self, time: float, ref: float) -> float:
        """Inflated weight of an observation at ``time`` for a counter based at ``ref``."""
        return math.exp(min((time - ref) / self.tau, 700.0))

    def factor(self, time: float, ref: float) -> float:
        """What an inflated count based at ``ref`` is worth, as a plain count, at ``time``."""
        return math.exp(max((ref - time) / self.tau, -700.0))

    def __getstate__(self) -> tuple[float]:
        return (self.half_life,)

    def __setstate__(self, state: tuple[float]) -> None:
        self.__init__(state[0])

    def __repr__(self) -> str:
        return f"Decay(half_life={self.half_life})"


class DecayingCounter:
    """Decayed counts of a few keys (countries, networks, mounts).

    ``add`` keeps at most ``limit`` keys, dropping the smallest; the limit is passed by the
    caller rather than stored, to keep every identity's state small.

    >>> decay = Decay(half_life=86400.0)
    >>> c = DecayingCounter()
    >>> for t in (0.0, 10.0, 20.0):
    ...     c.add("DE", t, decay)
    >>> c.add("US", 20.0, decay)
    >>> round(c.share("DE"), 2), c.share("BR")
    (0.75, 0.0)
    """

    __slots__ = ("counts", "total", "ref")

    def __init__(self) -> None:
        self.counts: dict[str, float] = {}
        self.total = 0.0
        self.ref: float | None = None

    def add(self, key: str, time: float, decay: Decay, limit: int = 8, weight: float = 1.0) -> None:
        """Count ``key`` once (or ``weight`` times) at ``time``."""
        if self.ref is None:
            self.ref = time
        inflation = decay.weight(time, self.ref)
        if inflation > _REBASE_AT:
            self._rebase(inflation, time)
            inflation = 1.0
        weight *= inflation
        counts = self.counts
        if key in counts:
            counts[key] += weight
        else:
            if len(counts) >= limit:
                smallest = min(counts, key=counts.__getitem__)
                self.total -= counts.pop(smallest)
            counts[key] = weight
        self.total += weight

    def _rebase(self, weight: float, time: float) -> None:
        self.counts = {k: v / weight for k, v in self.counts.items()}
        self.total /= weight
        self.ref = time

    def __contains__(self, key: str) -> bool:
        return key in self.counts

    def __len__(self) -> int:
        return len(self.counts)

    def share(self, key: str) -> float:
        """Fraction of the (decayed) observations that had ``key``."""
        return self.counts.get(key, 0.0) / self.total if self.total else 0.0

    def effective_total(self, time: float, decay: Decay) -> float:
        """The decayed number of observations, as a plain count, at ``time``."""
        return self.total * decay.factor(time, self.ref) if self.ref is not None else 0.0

    def effective(self, key: str, time: float, decay: Decay) -> float:
        if self.ref is None:
            return 0.0
        return self.counts.get(key, 0.0) * decay.factor(time, self.ref)

    def most_common(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` biggest keys with their share of observations."""
        ranked = sorted(self.counts.items(), key=lambda kv: -kv[1])[:n]
        return [(k, v / self.total) for k, v in ranked]

    def __repr__(self) -> str:
        return f"DecayingCounter({self.most_common(len(self.counts))})"


_NOTHING_APPLIED: tuple[float, str] = (float("-inf"), "")


class IdentityState:
    """Everything the model knows about one identity.

    ``events`` counts every event seen (for context), ``learned`` those the model learned
    from (the learning period counts these). Detector slots start as ``None`` and are
    created by their detector on first learn.
    """

    __slots__ = (
        "identity",
        "events",
        "learned",
        "first_seen",
        "last_seen",
        "time",
        "location",
        "volume",
        "resource",
        "lifecycle",
        "client",
        "recent",
        "extra",
        "applied",
    )

    def __init__(self, identity: str, time: float) -> None:
        self.identity = identity
        self.events = 0
        self.learned = 0
        self.first_seen = time
        self.last_seen = time
        self.time: Any = None
        self.location: Any = None
        self.volume: Any = None
        self.resource: Any = None
        self.lifecycle: Any = None
        self.client: Any = None
        # time, risk, time, risk ... of its latest suspicious events, for escalation.
        self.recent: array | None = None
        self.extra: dict[str, Any] | None = None
        # (time, event id) of the newest event applied in order: a replay after a failover
        # re-delivers events up to it, and they must not be learned twice.
        self.applied: tuple[float, str] = _NOTHING_APPLIED

    def __getstate__(self) -> tuple:
        return tuple(getattr(self, slot) for slot in self.__slots__)

    def __setstate__(self, state: tuple) -> None:
        self.applied = _NOTHING_APPLIED  # absent from states saved before it existed
        for slot, value in zip(self.__slots__, state, strict=False):
            setattr(self, slot, value)

    def maturity(self, min_events: int, min_age: float) -> float:
        """How far through its learning period the identity is, in [0, 1]."""
        by_events = min(1.0, self.learned / min_events) if min_events else 1.0
        by_age = min(1.0, (self.last_seen - self.first_seen) / min_age) if min_age else 1.0
        return by_events * (0.5 + 0.5 * by_age)

    def __repr__(self) -> str:
        return f"IdentityState({self.identity!r}, events={self.events}, learned={self.learned})"


class IdentityStore:
    """Identity states in least-recently-seen order, with eviction.

    Parameters
    ----------
    idle_ttl
        Seconds of event time after which an identity not seen is forgotten.
    max_identities
        Hard bound; beyond it the least recently seen identity is forgotten.
    """

    def __init__(self, idle_ttl: float, max_identities: int) -> None:
        self.idle_ttl = idle_ttl
        self.max_identities = max_identities
        self.evicted = 0
        self._states: OrderedDict[str, IdentityState] = OrderedDict()

    def get(self, identity: str) -> IdentityState | None:
        return self._states.get(identity)

    def get_or_create(self, identity: str, time: float) -> IdentityState:
        state = self._states.get(identity)
        if state is None:
            state = self._states[identity] = IdentityState(identity, time)
            if len(self._states) > self.max_identities:
                self._states.popitem(last=False)
                self.evicted += 1
        return state

    def touch(self, state: IdentityState, time: float) -> None:
        """Mark an identity seen at ``time`` and forget identities idle too long."""
        if time > state.last_seen:
            state.last_seen = time
        self._states.move_to_end(state.identity)
        states = self._states
        horizon = time - self.idle_ttl
        while states:
            oldest = next(iter(states.values()))
            if oldest.last_seen >= horizon:
                break
            states.popitem(last=False)
            self.evicted += 1

    def __len__(self) -> int:
        return len(self._states)

    def __iter__(self) -> Iterator[IdentityState]:
        return iter(self._states.values())
