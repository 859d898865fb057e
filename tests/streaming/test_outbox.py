"""Batches between the stages: bounded in bytes (Kafka refuses messages over 1 MB by
default), and sources acknowledged only once everything they carried is handed on."""

from __future__ import annotations

from types import SimpleNamespace

import msgspec

from detector.streaming.outbox import MAX_BATCH_BYTES, Holds, Outbox


class Topic:
    """Records what a Faust topic would be asked to send."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, bytes]] = []

    def send_soon(self, key: bytes, value: bytes, partition: int) -> None:
        self.sent.append((partition, value))


class Message:
    """A Faust event as the holds see it: its partition, and ``ack``."""

    def __init__(self, partition: int = 0) -> None:
        self.message = SimpleNamespace(tp=("topic", partition))
        self.acked = False

    def ack(self) -> None:
        self.acked = True


def test_a_batch_never_grows_past_its_byte_bound():
    topic = Topic()
    outbox = Outbox(topic, limit=10_000, max_bytes=MAX_BATCH_BYTES)
    line = b"x" * 1500  # a typical audit line
    for n in range(2000):
        outbox.add(n % 2, (1.0, line), len(line))
    outbox.flush()
    items = [msgspec.msgpack.decode(value) for _, value in topic.sent]
    assert sum(len(batch) for batch in items) == 2000  # nothing lost
    biggest = max(len(value) for _, value in topic.sent)
    assert biggest <= MAX_BATCH_BYTES * 1.02  # the items, and a few bytes each of framing
    assert biggest < 1_000_000  # under Kafka's default message.max.bytes
    assert len(topic.sent) > 2  # partitions sent on their own when full
    assert outbox.size == 0


def test_an_item_larger_than_a_batch_travels_alone():
    topic = Topic()
    outbox = Outbox(topic, max_bytes=1000)
    outbox.add(0, b"a" * 10, 10)
    outbox.add(0, b"b" * 5000, 5000)
    outbox.add(0, b"c" * 10, 10)
    outbox.flush()
    assert [len(msgspec.msgpack.decode(v)) for _, v in topic.sent] == [1, 1, 1]


def test_a_source_is_acknowledged_only_when_all_it_carried_is_done():
    holds = Holds()
    first, second = Message(), Message()
    token = holds.hold(first, 2)
    holds.hold(second, 0)
    holds.done(token)
    holds.acknowledge()
    assert not first.acked
    holds.done(token)
    holds.acknowledge()
    assert first.acked and second.acked


def test_sources_are_acknowledged_in_the_order_read_per_partition():
    """Faust commits past a single unacknowledged message followed by acknowledged ones
    (its gap check is off by one): a later message done first must wait for it."""
    holds = Holds()
    slow, quick, elsewhere = Message(0), Message(0), Message(1)
    token = holds.hold(slow, 1)
    holds.hold(quick, 0)
    holds.hold(elsewhere, 0)
    holds.acknowledge()
    assert elsewhere.acked, "another partition does not wait"
    assert not quick.acked, "acknowledged before the message read before it"
    holds.done(token)
    holds.acknowledge()
    assert slow.acked and quick.acked


def test_sources_taken_but_not_made_safe_are_acknowledged_first_next_time():
    holds = Holds()
    first, second = Message(), Message()
    holds.hold(first, 0)
    taken = holds.take_ready()
    holds.restore(taken)
    holds.hold(second, 0)
    order: list[Message] = []
    for message in (first, second):
        message.ack = lambda m=message: order.append(m)  # type: ignore[method-assign]
    holds.acknowledge()
    assert order == [first, second]
