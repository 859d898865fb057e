"""Batching records between stages, and acknowledging sources only when it is safe.

Faust spends tens of microseconds on every Kafka message; a stage that sent one message
per audit line would spend most of its time there. An :class:`Outbox` gathers the items
bound for each partition of a topic and sends them as one message per partition per tick.

A source message is acknowledged (so its offset may be committed) only once every item it
carried has been handed on: :class:`Holds` counts them. Faust flushes its producer before
it commits offsets, so what was handed to the producer is on the broker first — a worker
that dies loses nothing; what it had not finished is read again by its successor.
"""

from __future__ import annotations

import itertools
from collections import defaultdict, deque
from typing import Any

import msgspec

__all__ = ["BATCH_KEY", "Holds", "Outbox"]

#: the key of a batch message (no identity, token or request id starts with a NUL)
BATCH_KEY = b"\x00batch"

_encoder = msgspec.msgpack.Encoder()


class Holds:
    """Source events kept unacknowledged until every item they carried is done, then
    acknowledged in the order they were read, per partition.

    The order matters: Faust commits a partition up to the first gap in what was
    acknowledged, but its gap check is off by one (faust-streaming 0.15:
    ``Consumer._new_offset`` takes ``min(acked) - committed > 1`` for a gap), so a single
    unacknowledged message at the head, followed by acknowledged ones, would be committed
    unprocessed — and lost at the next rebalance. Acknowledging a prefix only never
    leaves a gap.
    """

    def __init__(self) -> None:
        self._tokens = itertools.count(1)
        self._remaining: dict[int, list[Any]] = {}  # token -> [event, items left]
        self._in_order: dict[Any, deque[list[Any]]] = defaultdict(deque)  # tp -> held
        self._taken: list[Any] = []  # taken by take_ready, then restored

    def hold(self, event: Any, items: int) -> int:
        """Keep ``event`` until ``items`` items are done; returns its token."""
        token = next(self._tokens)
        held = [event, items]
        if items > 0:
            self._remaining[token] = held
        self._in_order[event.message.tp].append(held)
        return token

    def done(self, token: int) -> None:
        held = self._remaining.get(token)
        if held is None:
            return
        held[1] -= 1
        if held[1] <= 0:
            del self._remaining[token]

    def take_ready(self) -> list[Any]:
        """The events that may be acknowledged now (all done, and all read before them on
        their partition), for the caller to acknowledge once what they changed is safe
        (:meth:`acknowledge` with them, or :meth:`restore` if it could not be made so)."""
        ready, self._taken = self._taken, []
        for queue in self._in_order.values():
            while queue and queue[0][1] <= 0:
                ready.append(queue.popleft()[0])
        return ready

    def restore(self, ready: list[Any]) -> None:
        """Events from :meth:`take_ready` not acknowledged: they come first next time."""
        self._taken[:0] = ready

    def acknowledge(self, ready: list[Any] | None = None) -> int:
        """Acknowledge the events of ``ready`` (from :meth:`take_ready`), or all that may
        be acknowledged now (once what they carried was handed on)."""
        if ready is None:
            ready = self.take_ready()
        for event in ready:
            event.ack()
        return len(ready)

    def forget(self) -> None:
        """Drop everything held (partitions given away: their successor reads them again)."""
        self._remaining.clear()
        self._in_order.clear()
        self._taken.clear()

    def __len__(self) -> int:
        return len(self._remaining)


#: the largest batch message, in item bytes: well under Kafka's default message limit
#: (``message.max.bytes``, 1 MB), which a bigger batch would break
MAX_BATCH_BYTES = 512 * 1024


class Outbox:
    """Items bound for the partitions of one topic, sent as one batch message each.

    A partition's batch goes out on its own as soon as the next item would take it past
    ``max_bytes`` (an item larger than that travels alone).
    """

    def __init__(self, topic: Any, limit: int = 2000, max_bytes: int = MAX_BATCH_BYTES) -> None:
        self.topic = topic
        self.limit = limit
        self.max_bytes = max_bytes
        self._batches: dict[int, list[Any]] = defaultdict(list)
        self._bytes: dict[int, int] = defaultdict(int)
        self.size = 0

    def add(self, partition: int, item: Any, size: int = 0) -> None:
        """Queue ``item`` (about ``size`` bytes encoded) for ``partition``."""
        batch = self._batches[partition]
        if batch and self._bytes[partition] + size > self.max_bytes:
            self._send(partition, batch)
            batch = self._batches[partition]
        batch.append(item)
        self._bytes[partition] += size
        self.size += 1

    @property
    def full(self) -> bool:
        return self.size >= self.limit

    def flush(self) -> int:
        """Hand every batch to the producer; returns the number of items sent."""
        sent = 0
        for partition, items in list(self._batches.items()):
            if items:
                sent += self._send(partition, items)
        self._batches.clear()
        self._bytes.clear()
        self.size = 0
        return sent

    def _send(self, partition: int, items: list[Any]) -> int:
        self.topic.send_soon(key=BATCH_KEY, value=_encoder.encode(items), partition=partition)
        self._batches[partition] = []
        self._bytes[partition] = 0
        self.size -= len(items)
        return len(items)
