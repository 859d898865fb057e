"""The worker's Kafka transport against a real Kafka-protocol broker (Tansu)."""

from __future__ import annotations

import asyncio
import uuid

from detector.streaming.transport import _TrackingProducer


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
