"""The receiving end of a Vault / OpenBao ``socket`` audit device.

Vault writes one JSON entry per line to the socket. Each line is queued for the broker;
while the queue is full the connection is not read, TCP pushes back, and Vault's audit
device blocks (Vault fails closed rather than answer a request it cannot audit): nothing
is dropped.
"""

from __future__ import annotations

import asyncio
import logging

from detector.shipping.producer import LineProducer

__all__ = ["SocketDevice"]

log = logging.getLogger(__name__)

_LIMIT = 16 * 1024 * 1024  # longest line accepted (Vault entries are KBs)


class SocketDevice:
    """Listens on ``host:port`` (loopback by default) and ships what Vault sends."""

    def __init__(self, host: str, port: int, producer: LineProducer) -> None:
        self.host = host
        self.port = port
        self.producer = producer
        self.received = 0
        self._server: asyncio.base_events.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, self.host, self.port, limit=_LIMIT)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            # Vault never hangs up, and from Python 3.12 ``wait_closed`` waits for every
            # connection: end them (what was already received is still shipped).
            for writer in list(self._connections):
                writer.close()
            await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peer = writer.get_extra_info("peername")
        self._connections.add(writer)
        try:
            while line := await reader.readline():
                if line.strip():
                    await self.producer.put(line.rstrip(b"\r\n"))
                    self.received += 1
        except (ConnectionError, asyncio.LimitOverrunError, ValueError) as exc:
            log.warning("audit connection from %s ended: %s", peer, exc)
        finally:
            self._connections.discard(writer)
            writer.close()
            await writer.wait_closed()
