"""The worker's Kafka transport: the in-place hand-over of fetched messages, and, against a
real Kafka-protocol broker (Tansu), the producer's metadata and the partitions' ends."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition

from detector.streaming.transport import _Started, _TrackingProducer, fetched_ends


def test_the_producer_keeps_the_metadata_of_every_topic_it_sends_to(broker):
    """aiokafka's own producer learns the topics that exist at its start from an answer about
    all topics and never asks about them again: once it tracks any other topic, they drop
    out of its metadata, and batches for them wait for ever (a worker stalled so)."""
    early, late = f"early-{uuid.uuid4().hex[:8]}", f"late-{uuid.uuid4().hex[:8]}"
    broker.create_topic(early, 2)

    async def scenario() -> tuple[set[int] | None, set[int] | None]:
        producer = _TrackingProducer(bootstrap_servers=broker.bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(early, b"known from the start")
            await asyncio.to_thread(broker.create_topic, late, 2)
            await producer.send_and_wait(late, b"learnt later")
            await producer.client.force_metadata_update()
            cluster = producer.client.cluster
            return cluster.partitions_for_topic(early), cluster.partitions_for_topic(late)
        finally:
            await producer.stop()

    early_partitions, late_partitions = asyncio.run(scenario())
    assert early_partitions == {0, 1}, "a topic the producer sends to dropped out"
    assert late_partitions == {0, 1}


def test_the_partitions_ends_are_read_from_a_fetch(broker):
    """Faust's table recovery reads a changelog up to the end offsets the consumer gives.
    Tansu answers the end-offset query with the first offset of a partition's last batch
    plus one (21 here, for three batches of ten): the recovery stopped short of the newest
    states. The consumer reads the ends from a fetch instead; an empty partition stays 0."""
    topic = f"changelog-{uuid.uuid4().hex[:8]}"
    broker.create_topic(topic, 2)
    full, empty = TopicPartition(topic, 0), TopicPartition(topic, 1)

    async def scenario() -> dict:
        producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=100)
        await producer.start()
        try:
            for _ in range(3):  # a batch of ten records each
                sent = [await producer.send(topic, b"state", partition=0) for _ in range(10)]
                await asyncio.gather(*sent)
        finally:
            await producer.stop()
        query = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
        await query.start()
        try:
            listed = await query.end_offsets([full, empty])
        finally:
            await query.stop()
        return await fetched_ends(
            lambda: AIOKafkaConsumer(bootstrap_servers=broker.bootstrap), listed
        )

    assert asyncio.run(scenario()) == {full: 30, empty: 0}


async def _waits_twice(first: asyncio.Future, second: asyncio.Future, seen: list[str]) -> str:
    try:
        return await first + await second
    except asyncio.CancelledError:
        seen.append("cancelled")
        raise


def start(call) -> _Started:
    """Run ``call`` until it first waits, as the consumer's hand-over does."""
    return _Started(call, call.send(None))


def test_a_hand_over_that_waits_is_resumed_where_it_stood():
    async def scenario() -> str:
        loop = asyncio.get_running_loop()
        first, second = loop.create_future(), loop.create_future()
        task = asyncio.ensure_future(start(_waits_twice(first, second, [])))
        loop.call_soon(first.set_result, "a")
        loop.call_later(0.01, second.set_result, "b")
        return await task

    assert asyncio.run(scenario()) == "ab"


def test_a_hand_over_abandoned_while_waiting_is_cancelled_inside():
    """Faust abandons a hand-over when a rebalance suspends the flow: the call itself must
    see the cancellation (and clean up), not just the task around it."""
    seen: list[str] = []

    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        task = asyncio.ensure_future(
            start(_waits_twice(loop.create_future(), loop.create_future(), seen))
        )
        await asyncio.sleep(0)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(scenario())
    assert seen == ["cancelled"]


def test_an_error_while_waiting_reaches_whoever_awaits_the_hand_over():
    async def scenario() -> None:
        loop = asyncio.get_running_loop()
        first = loop.create_future()
        task = asyncio.ensure_future(start(_waits_twice(first, loop.create_future(), [])))
        first.set_exception(ValueError("bad message"))
        with pytest.raises(ValueError, match="bad message"):
            await task

    asyncio.run(scenario())
