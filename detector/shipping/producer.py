"""Producing audit lines to the raw topic without losing any.

Lines wait in a bounded in-memory queue; when it is full, whoever adds a line waits too
(back-pressure reaches the file reader or the audit socket, so Vault itself slows down
rather than a line being dropped). A send the broker does not acknowledge is retried, with
backoff, for as long as the broker is away; the caller learns which lines are safe (acked)
so a file reader can save its offset only behind them. Lines queued together travel packed
several to a message (:mod:`detector.shipping.packing`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from detector.shipping.packing import PACK_BYTES, message_of, packs

__all__ = ["LineProducer"]

log = logging.getLogger(__name__)


class LineProducer:
    """Sends lines to ``topic`` in order, at least once, with back-pressure.

    Parameters
    ----------
    bootstrap
        ``host:port[,host:port]`` of the brokers.
    topic
        The raw topic.
    buffer
        Lines held in memory at most before adding one waits.
    on_acked
        Called with the token of each line once the broker has it (in order).
    pack_bytes
        Lines sent together are packed into messages of up to this many bytes (0: one
        line per message, for consumers other than the worker).
    producer_options
        More keyword arguments for ``aiokafka.AIOKafkaProducer`` (TLS, SASL).
    """

    def __init__(
        self,
        bootstrap: str,
        topic: str,
        buffer: int = 10_000,
        on_acked: Callable[[Any], None] | None = None,
        pack_bytes: int = PACK_BYTES,
        **producer_options: Any,
    ) -> None:
        self.bootstrap = bootstrap
        self.topic = topic
        self.on_acked = on_acked
        self.pack_bytes = pack_bytes
        self.producer_options = producer_options
        self.queue: asyncio.Queue[tuple[bytes, Any]] = asyncio.Queue(maxsize=buffer)
        self.sent = 0
        self.retries = 0
        self._producer: AIOKafkaProducer | None = None
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def put(self, line: bytes, token: Any = None) -> None:
        """Queue a line (waits while the buffer is full)."""
        await self.queue.put((line, token))

    async def drain(self) -> None:
        """Wait until every queued line is acknowledged."""
        await self.queue.join()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        if self._producer is not None:
            await self._producer.stop()
            self._producer = None

    async def _connect(self) -> AIOKafkaProducer:
        delay = 0.1
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap,
                acks="all",
                linger_ms=5,
                max_batch_size=1 << 20,
                request_timeout_ms=5000,
                **self.producer_options,
            )
            try:
                await producer.start()
                return producer
            except (KafkaError, OSError) as exc:
                await producer.stop()
                log.warning(
                    "broker %s unreachable (%s); retrying in %.1fs", self.bootstrap, exc, delay
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _run(self) -> None:
        """Send in order; a failed send is retried before any later line is sent."""
        while True:
            line, token = await self.queue.get()
            batch = [(line, token)]
            while not self.queue.empty() and len(batch) < 5000:
                batch.append(self.queue.get_nowait())
            await self._send_batch(batch)
            for _, token in batch:
                if self.on_acked is not None:
                    self.on_acked(token)
                self.queue.task_done()
            self.sent += len(batch)

    async def _send_batch(self, batch: list[tuple[bytes, Any]]) -> None:
        delay = 0.1
        while True:
            if self._producer is None:
                self._producer = await self._connect()
            try:
                lines = (line for line, _ in batch)
                futures = [await self._send(pack) for pack in packs(lines, self.pack_bytes)]
                await asyncio.gather(*futures)
                return
            except (KafkaError, OSError) as exc:
                # Resending a batch that partly arrived duplicates lines, never loses them;
                # the pipeline's ids make the duplicates harmless downstream.
                self.retries += 1
                log.warning("send failed (%s); retrying in %.1fs", exc, delay)
                await self._producer.stop()
                self._producer = None
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _send(self, pack: list[bytes]) -> asyncio.Future:
        value, headers = message_of(pack)
        return await self._producer.send(self.topic, value, headers=headers)
