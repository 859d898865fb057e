"""Identity states in a Faust table, backed by its changelog topic.

The table is written the way Faust recovers it (a changelog record per key, on the
partition of the identity), but not on every event: a changed state is marked dirty and
written when :meth:`IdentityTable.flush` runs (every ``state_flush`` seconds, and before a
partition is given away), so a busy identity costs one changelog record per flush, not
one per request. A worker that dies loses at most the last interval of learning; the
events behind it are replayed from the last committed offset.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

from detector.partitioning import identity_partition
from detector.state import IdentityState

__all__ = ["IdentityTable"]


class IdentityTable:
    """The :class:`~detector.state.IdentityStore` interface over a Faust table.

    Parameters
    ----------
    table
        A Faust table whose values are ``IdentityState`` (pickled in the changelog).
    partitions
        Partitions of the events topic (and of the table).
    idle_ttl
        Seconds of event time after which an identity not seen is forgotten (:meth:`sweep`).
    """

    def __init__(self, table: Any, partitions: int, idle_ttl: float) -> None:
        self.table = table
        self.partitions = partitions
        self.idle_ttl = idle_ttl
        self.max_identities = 0  # bounded by idle_ttl here; kept for the store interface
        self.evicted = 0
        self._dirty: dict[str, IdentityState] = {}
        self._newest = float("-inf")

    def get(self, identity: str) -> IdentityState | None:
        data, key = self.table.data, identity.encode()
        state = data.get(key)
        if isinstance(state, bytes):  # as recovered from the changelog
            state = data[key] = pickle.loads(state)  # noqa: S301 - our own changelog
        return state

    def get_or_create(self, identity: str, time: float) -> IdentityState:
        state = self.get(identity)
        if state is None:
            state = IdentityState(identity, time)
        return state

    def touch(self, state: IdentityState, time: float) -> None:
        if time > state.last_seen:
            state.last_seen = time
        if time > self._newest:
            self._newest = time
        self.table.data[state.identity.encode()] = state
        self._dirty[state.identity] = state

    def flush(self, only: set[int] | None = None) -> int:
        """Write changed states to the changelog (of partitions ``only``, if given)."""
        return self.write(self.snapshot(only))

    def snapshot(self, only: set[int] | None = None) -> list[tuple[int, str, bytes]]:
        """The changed states as they are now, serialized: (partition, identity, bytes)."""
        taken = []
        for identity, state in list(self._dirty.items()):
            partition = identity_partition(identity, self.partitions)
            if only is not None and partition not in only:
                continue
            taken.append((partition, identity, pickle.dumps(state, pickle.HIGHEST_PROTOCOL)))
            del self._dirty[identity]
        return taken

    def write(self, snapshot: list[tuple[int, str, bytes]]) -> int:
        """Send a snapshot to the changelog."""
        for partition, identity, value in snapshot:
            self.table.send_changelog(partition, identity.encode(), value, value_serializer="raw")
        return len(snapshot)

    def mark_dirty(self, identities: list[str]) -> None:
        """Write these again at the next flush (their snapshot could not be written)."""
        for identity in identities:
            state = self.get(identity)
            if state is not None:
                self._dirty[identity] = state

    def sweep(self) -> int:
        """Forget identities idle longer than ``idle_ttl`` (by the newest event time seen)."""
        horizon = self._newest - self.idle_ttl
        stale = [
            key
            for key in list(self.table.data.keys())
            if (state := self.get(key.decode())) is not None and state.last_seen < horizon
        ]
        for key in stale:
            del self.table.data[key]
            identity = key.decode()
            self._dirty.pop(identity, None)
            self.table.send_changelog(
                identity_partition(identity, self.partitions), key, None, value_serializer="raw"
            )
        self.evicted += len(stale)
        return len(stale)

    def __len__(self) -> int:
        return len(self.table.data)

    def __iter__(self) -> Iterator[IdentityState]:
        return iter([self.get(key.decode()) for key in list(self.table.data.keys())])
