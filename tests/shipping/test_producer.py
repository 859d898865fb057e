"""The line producer against a real Kafka-protocol broker (Tansu): lines reach the topic in
order and are acknowledged in order; while the broker is away a full buffer makes the
sender wait (nothing is dropped, nothing is acknowledged), and once it is back every
buffered line is delivered."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Iterator

import pytest
from aiokafka import AIOKafkaConsumer
from streaming.conftest import Broker

from detector.shipping.packing import PACK_BYTES, lines_of
from detector.shipping.producer import LineProducer

BUFFER = 4


@pytest.fixture(scope="module")
def broker() -> Iterator[Broker]:
    """A broker of this module's own: one test pauses it, which others must not see."""
    server = Broker()
    server.start()
    yield server
    server.stop()


def lines(count: int, prefix: str = "line") -> list[bytes]:
    return [f'{{"{prefix}":{n}}}'.encode() for n in range(count)]


def messages(bootstrap: str, topic: str) -> dict[int, list[tuple[bytes, dict[str, bytes]]]]:
    """Every message of the topic, per partition, in offset order: (value, headers)."""

    async def read() -> dict[int, list[tuple[bytes, dict[str, bytes]]]]:
        consumer = AIOKafkaConsumer(
            topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
        )
        await consumer.start()
        found: dict[int, list[tuple[bytes, dict[str, bytes]]]] = {}
        try:
            while batches := await consumer.getmany(timeout_ms=1500):
                for partition, batch in batches.items():
                    found.setdefault(partition.partition, []).extend(
                        (m.value, dict(m.headers)) for m in batch
                    )
        finally:
            await consumer.stop()
        return found

    return asyncio.run(read())


def records(bootstrap: str, topic: str) -> dict[int, list[bytes]]:
    """Every line on the topic, per partition, in order (packs opened as the worker does)."""
    return {
        partition: [line for value, headers in found for line in lines_of(value, headers)]
        for partition, found in messages(bootstrap, topic).items()
    }


async def fill_until_blocked(
    producer: LineProducer, pending: list[bytes], first: int = 0
) -> tuple[int, asyncio.Task]:
    """Add lines one by one (their tokens counting from ``first``) until adding one waits;
    how many went in, and the waiting add."""
    for accepted, line in enumerate(pending):
        adding = asyncio.create_task(producer.put(line, first + accepted))
        done, _ = await asyncio.wait({adding}, timeout=0.5)
        if not done:
            return accepted, adding
    raise AssertionError(f"all {len(pending)} lines went in: the buffer is not bounded")


def ship_all(
    broker: Broker, topic: str, sent: list[bytes], buffer: int, pack_bytes: int = PACK_BYTES
) -> tuple[list[int], int]:
    """Every line put (its token: its index) and drained, on a topic of one partition: the
    tokens acknowledged, in order, and the count the producer says it sent."""
    acked: list[int] = []

    async def scenario() -> int:
        producer = LineProducer(
            broker.bootstrap, topic, buffer=buffer, on_acked=acked.append, pack_bytes=pack_bytes
        )
        await producer.start()
        try:
            for token, line in enumerate(sent):
                await producer.put(line, token)
            await asyncio.wait_for(producer.drain(), 15)
        finally:
            await producer.stop()
        return producer.sent

    broker.create_topic(topic, 1)
    shipped = asyncio.run(scenario())
    return acked, shipped


def test_lines_reach_the_topic_in_order_and_are_acknowledged_in_order(broker):
    sent = lines(300)
    acked, shipped = ship_all(broker, "ship-order", sent, buffer=BUFFER)
    assert shipped == len(sent)
    assert acked == list(range(len(sent)))
    assert records(broker.bootstrap, "ship-order") == {0: sent}


def test_a_full_buffer_makes_the_sender_wait_while_the_broker_is_down_then_all_is_delivered():
    """The broker is down (nothing listens on its port) when the shipper starts."""
    down = Broker()  # not started yet: its port refuses connections
    sent = lines(12, "down")

    async def scenario() -> list[int]:
        acked: list[int] = []
        producer = LineProducer(down.bootstrap, "ship-down", buffer=BUFFER, on_acked=acked.append)
        await producer.start()
        try:
            accepted, waiting = await fill_until_blocked(producer, sent)
            # The buffer, and the one line taken out of it for the send being retried.
            assert BUFFER <= accepted <= BUFFER + 1
            await asyncio.sleep(0.5)
            assert not waiting.done(), "a line was let in while the buffer was full"
            assert acked == [] and producer.sent == 0

            down.start()  # on the same port
            await asyncio.wait_for(waiting, 15)
            for token in range(accepted + 1, len(sent)):
                await producer.put(sent[token], token)
            await asyncio.wait_for(producer.drain(), 15)
        finally:
            await producer.stop()
        return acked

    try:
        acked = asyncio.run(scenario())
        found = records(down.bootstrap, "ship-down")
    finally:
        down.stop()
    assert acked == list(range(len(sent)))
    # The topic was created on first use, with several partitions: order holds in each.
    received = [line for partition in found.values() for line in partition]
    assert sorted(received) == sorted(sent)
    for partition in found.values():
        assert partition == sorted(partition, key=sent.index)


def test_a_broker_that_stops_answering_gets_every_buffered_line_in_order_once_back(broker):
    """The broker process is stopped (SIGSTOP) mid-stream for longer than a request may
    take: sends time out and are retried; the buffer fills; on SIGCONT all is delivered."""
    broker.create_topic("ship-paused", 1)
    sent = lines(20, "paused")

    async def scenario(process) -> tuple[list[int], int]:
        acked: list[int] = []
        producer = LineProducer(
            broker.bootstrap, "ship-paused", buffer=BUFFER, on_acked=acked.append
        )
        await producer.start()
        try:
            await producer.put(sent[0], 0)
            await asyncio.wait_for(producer.drain(), 15)
            process.send_signal(signal.SIGSTOP)
            try:
                accepted, waiting = await fill_until_blocked(producer, sent[1:], first=1)
                assert BUFFER <= accepted <= BUFFER + 1
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 15
                while producer.retries == 0:  # the send timed out and is being retried
                    assert loop.time() < deadline, "a send to a stopped broker never failed"
                    await asyncio.sleep(0.1)
                assert not waiting.done(), "a line was let in while the buffer was full"
                assert acked == [0]
            finally:
                process.send_signal(signal.SIGCONT)
            await asyncio.wait_for(waiting, 15)
            for token in range(accepted + 2, len(sent)):
                await producer.put(sent[token], token)
            await asyncio.wait_for(producer.drain(), 15)
        finally:
            await producer.stop()
        return acked, producer.retries

    acked, retries = asyncio.run(scenario(broker.process))
    assert retries >= 1
    assert acked == list(range(len(sent)))
    received = records(broker.bootstrap, "ship-paused")[0]
    # At least once: a retried send may have arrived the first time too, never out of order.
    assert list(dict.fromkeys(received)) == sent


def test_lines_sent_together_travel_packed_in_messages_of_bounded_size(broker):
    sent = lines(3000)
    ship_all(broker, "ship-packed", sent, buffer=len(sent), pack_bytes=1024)  # sent together
    found = messages(broker.bootstrap, "ship-packed")[0]
    assert len(found) < len(sent) / 10, "lines were not packed"
    assert all(len(value) <= 1024 for value, _ in found)
    assert records(broker.bootstrap, "ship-packed") == {0: sent}


def test_without_packing_each_line_is_a_message_of_its_own(broker):
    sent = lines(50)
    ship_all(broker, "ship-single", sent, buffer=len(sent), pack_bytes=0)
    assert messages(broker.bootstrap, "ship-single") == {0: [(line, {}) for line in sent]}
