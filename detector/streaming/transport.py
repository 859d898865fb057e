"""Faust's Kafka transport (aiokafka) with four changes.

- The consumer's fetch wait comes from the pipeline file (Faust fixes it at 1.5 s).
- The consumer hands a fetched message to its streams in place. Faust runs every hand-over
  as four tasks raced against a rebalance (so one blocked on a full stream can be
  abandoned): for raw audit lines, one message each, that was a third of a worker's time.
  Nearly every hand-over finishes without waiting; only one that waits is raced, as Faust
  does.
- The consumer's end offsets (which Faust's table recovery reads up to) come from a fetch:
  Tansu answers the end-offset query low, which cut a table's recovery short.
- The producer keeps every topic it sends to in its metadata requests (aiokafka's does not,
  which could stall a worker for good: see :class:`_TrackingProducer`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Generator, Mapping
from typing import Any

import aiokafka
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["Transport"]

_YIELD_EVERY = 100  # messages handed over between two turns of the event loop
_PROBE_SECONDS = 10.0  # how long a fetch of the partitions' ends may take


class _Started:
    """A coroutine already started and now waiting on ``waiting``: awaiting this resumes
    it where it stands (what ``yield from`` would do, had it not been started yet)."""

    def __init__(self, call: Coroutine[Any, Any, Any], waiting: Any) -> None:
        self.call = call
        self.waiting = waiting

    def __await__(self) -> Generator[Any, Any, Any]:
        call, waiting = self.call, self.waiting
        while True:
            try:
                answer = yield waiting
            except GeneratorExit:
                call.close()
                raise
            except BaseException as exc:  # noqa: BLE001 - cancellation goes to the call
                step, value = call.throw, exc
            else:
                step, value = call.send, answer
            try:
                waiting = step(value)
            except StopIteration as done:
                return done.value


class _ConsumerThread(faust_aiokafka.AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> Any:
        consumer = super()._create_worker_consumer(transport)
        # Kafka answers a fetch as soon as data arrives anyway, but brokers that do not
        # (Tansu answers at the wait's end) would add the wait to each hop between stages.
        consumer._fetch_max_wait_ms = self.app.fetch_wait_ms
        return consumer

    async def fetched_ends(self, listed: Mapping[Any, int | None]) -> dict[Any, int | None]:
        """:func:`fetched_ends`, by a consumer of the worker's settings but of no group."""
        return await fetched_ends(self._probe, listed)

    def _probe(self) -> aiokafka.AIOKafkaConsumer:
        probe = self._create_client_consumer(self.transport)
        probe._fetch_max_wait_ms = self.app.fetch_wait_ms  # as the worker's consumer
        return probe


async def fetched_ends(
    consumer: Callable[[], aiokafka.AIOKafkaConsumer], listed: Mapping[Any, int | None]
) -> dict[Any, int | None]:
    """The partitions' end offsets as a fetch reports them, given the broker's answer to an
    end-offset query (``listed``), which Tansu gives low: the first offset of the
    partition's last batch, plus one. Faust's table recovery reads a changelog up to that
    end only: the newer states of the last batch could be missed, or come in after the
    recovery, over states the worker had since moved on from. One fetch from the listed
    end's batch reads the real end; with Kafka it is the same number. ``consumer`` makes
    the consumer that reads it (of no group; started and stopped here)."""
    probed = {tp: end for tp, end in listed.items() if end}
    if not probed:
        return dict(listed)
    probe = consumer()
    await probe.start()
    try:
        probe.assign(list(probed))
        for tp, end in probed.items():
            probe.seek(tp, end - 1)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + _PROBE_SECONDS
        while any(probe.highwater(tp) is None for tp in probed) and loop.time() < deadline:
            await probe.getmany(timeout_ms=200)  # (what the query said, if none comes)
        fetched = {tp: probe.highwater(tp) or 0 for tp in probed}
    finally:
        await probe.stop()
    return {tp: max(end or 0, fetched.get(tp, 0)) for tp, end in listed.items()}


class _Consumer(faust_aiokafka.Consumer):
    _thread: _ConsumerThread

    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

    async def highwaters(self, *partitions: Any) -> dict[Any, int | None]:
        """The partitions' end offsets, read by a fetch (see
        :meth:`_ConsumerThread.fetched_ends`): Faust's table recovery reads to these."""
        listed = await self.listed_highwaters(*partitions)
        return await self._thread.call_thread(self._thread.fetched_ends, listed)

    async def listed_highwaters(self, *partitions: Any) -> dict[Any, int | None]:
        """The broker's answer to an end-offset query, which may be low (Tansu)."""
        return dict(await super().highwaters(*partitions))

    async def _hand_over(self, message: Any) -> None:
        """``message`` to the streams of its topic; abandoned if the flow is suspended
        (a rebalance) while it waits for room."""
        call = self.callback(message)
        try:
            waiting = call.send(None)
        except StopIteration:
            return
        await self.wait_first(_Started(call, waiting), self.suspend_flow.wait())

    async def _drain_messages(self, fetcher: Any) -> None:  # pragma: no cover - Faust's
        """Faust's loop (faust-streaming 0.15), with :meth:`_hand_over` for its
        ``wait_first(callback(message), suspend_flow.wait())``."""
        fetcher_should_stop = fetcher._stopped.is_set
        read_offset = self._read_offset
        acks_enabled_for = self.app.topics.acks_enabled_for
        since_yield = 0
        try:
            while not (self._stopped.is_set() or fetcher_should_stop()):
                self.diag.set_flag(CONSUMER_FETCHING)
                batch = self.getmany(timeout=1.0)
                await self.sleep(0)  # getmany may not give the loop a turn
                if not self.should_stop:
                    async for tp, message in batch:
                        since_yield += 1
                        if since_yield > _YIELD_EVERY:
                            await asyncio.sleep(0)
                            since_yield = 0
                        offset = message.offset
                        read = read_offset[tp]
                        if read is not None and offset < read:
                            continue  # read before: Faust drops it too
                        if read and offset - read > 1 and acks_enabled_for(message.topic):
                            await self._add_gap(tp, read + 1, offset)
                        if self._commit_every is not None and self._n_acked >= self._commit_every:
                            self._n_acked = 0
                            await self.commit()
                        await self._hand_over(message)
                        read_offset[tp] = offset
                    self.diag.unset_flag(CONSUMER_FETCHING)
        except (*self.consumer_stopped_errors, asyncio.CancelledError):
            if self.transport.app.should_stop:
                return  # stopping anyway
            raise
        except Exception as exc:
            self.log.exception("Drain messages raised: %r", exc)
            raise
        finally:
            self.diag.unset_flag(CONSUMER_FETCHING)


class _TrackingProducer(aiokafka.AIOKafkaProducer):
    """aiokafka's producer, asking the broker about every topic it sends to.

    aiokafka adds a topic to its metadata requests only when the cluster metadata does not
    know it yet. But a client tracking no topic asks about all of them, so topics learnt
    that way are never added; once any topic is, each answer covers the tracked ones only
    and the others drop out of the metadata. A batch waiting for such a topic then waits
    for a leader no answer will bring, and Faust's commit (which flushes the producer)
    with it: the worker stopped reading until the next send to that topic, which a worker
    not reading may never make (seen after a broker outage: a changelog topic dropped).
    """

    async def send(self, topic: str, *args: Any, **kwargs: Any) -> Any:
        self.client.add_topic(topic)  # nothing to do once tracked
        return await super().send(topic, *args, **kwargs)

    async def send_batch(self, batch: Any, topic: str, *args: Any, **kwargs: Any) -> Any:
        self.client.add_topic(topic)
        return await super().send_batch(batch, topic, *args, **kwargs)


class _Producer(faust_aiokafka.Producer):
    @property
    def _producer_type(self) -> type[aiokafka.AIOKafkaProducer]:
        return _TrackingProducer


class Transport(faust_aiokafka.Transport):
    """The aiokafka transport with :class:`_Consumer` and :class:`_Producer`."""

    Consumer = _Consumer
    Producer = _Producer
