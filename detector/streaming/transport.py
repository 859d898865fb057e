"""Faust's Kafka transport (aiokafka) with three changes.

- The consumer's fetch wait comes from the pipeline file (Faust fixes it at 1.5 s).
- The consumer hands a fetched message to its streams in place. Faust runs every hand-over
  as four tasks raced against a rebalance (so one blocked on a full stream can be
  abandoned): for raw audit lines, one message each, that was a third of a worker's time.
  Nearly every hand-over finishes without waiting; only one that waits is raced, as Faust
  does.
- The producer keeps every topic it sends to in its metadata requests (aiokafka's does not,
  which could stall a worker for good: see :class:`_TrackingProducer`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Generator
from typing import Any

import aiokafka
from faust.transport.consumer import CONSUMER_FETCHING
from faust.transport.drivers import aiokafka as faust_aiokafka

__all__ = ["Transport"]

_YIELD_EVERY = 100  # messages handed over between two turns of the event loop


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


class _Consumer(faust_aiokafka.Consumer):
    def _new_consumer_thread(self) -> _ConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)

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
