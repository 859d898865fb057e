"""The receiving end of Vault's ``socket`` audit device, over a real loopback socket: lines
arrive whole however TCP cuts them, and one client leaving does not stop the listener."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import orjson

from detector.shipping.socket_device import SocketDevice


class RecordingProducer:
    """Stands in for ``LineProducer``: keeps what the device ships."""

    def __init__(self) -> None:
        self.lines: list[bytes] = []

    async def put(self, line: bytes, token: Any = None) -> None:
        self.lines.append(line)


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


def entry(n: int, padding: int = 0) -> bytes:
    """An audit entry as Vault writes it to the socket (one JSON object, then a newline)."""
    return orjson.dumps(
        {
            "time": f"2026-11-02T09:00:{n:02d}Z",
            "type": "response",
            "request": {"id": f"r-{n}", "path": "secret/data/shop/cart/db", "pad": "x" * padding},
        }
    )


async def listening() -> tuple[SocketDevice, RecordingProducer]:
    producer = RecordingProducer()
    device = SocketDevice("127.0.0.1", 0, producer)  # port 0: a free one
    await device.start()
    assert device.port != 0
    return device, producer


async def connect(device: SocketDevice) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.open_connection("127.0.0.1", device.port)


async def close(writer: asyncio.StreamWriter) -> None:
    writer.close()
    await writer.wait_closed()


def test_lines_arrive_whole_one_per_send_several_per_send_and_split_across_sends():
    async def scenario() -> tuple[list[bytes], int]:
        device, producer = await listening()
        try:
            _, writer = await connect(device)
            writer.write(entry(1) + b"\n")
            await writer.drain()
            writer.write(entry(2) + b"\n" + entry(3) + b"\n" + entry(4) + b"\n")  # one send
            await writer.drain()
            await until(lambda: len(producer.lines) >= 4, "the first four lines")
            line = entry(5)
            writer.write(line[:25])  # a line cut in two by TCP
            await writer.drain()
            await asyncio.sleep(0.2)
            half_way = list(producer.lines)
            writer.write(line[25:] + b"\n")
            await writer.drain()
            await until(lambda: len(producer.lines) >= 5, "the line sent in two parts")
            assert half_way == [entry(n) for n in (1, 2, 3, 4)], "half a line was shipped"
            await close(writer)
        finally:
            await device.stop()
        return producer.lines, device.received

    lines, received = asyncio.run(scenario())
    assert lines == [entry(n) for n in (1, 2, 3, 4, 5)]
    assert received == 5


def test_a_long_entry_arrives_whole():
    """Vault entries with big request bodies are far longer than one TCP segment."""

    async def scenario() -> list[bytes]:
        device, producer = await listening()
        try:
            _, writer = await connect(device)
            writer.write(entry(1, padding=2_000_000) + b"\n" + entry(2) + b"\n")
            await writer.drain()
            await until(lambda: len(producer.lines) >= 2, "both lines")
            await close(writer)
        finally:
            await device.stop()
        return producer.lines

    assert asyncio.run(scenario()) == [entry(1, padding=2_000_000), entry(2)]


def test_crlf_and_blank_lines_are_not_shipped_as_content():
    async def scenario() -> list[bytes]:
        device, producer = await listening()
        try:
            _, writer = await connect(device)
            writer.write(entry(1) + b"\r\n\n" + entry(2) + b"\n")
            await writer.drain()
            await until(lambda: len(producer.lines) >= 2, "both lines")
            await close(writer)
        finally:
            await device.stop()
        return producer.lines

    assert asyncio.run(scenario()) == [entry(1), entry(2)]


def test_the_listener_goes_on_after_a_client_disconnects_or_resets():
    """Vault reconnects after a restart; the listener must still be there."""

    async def scenario() -> list[bytes]:
        device, producer = await listening()
        try:
            _, first = await connect(device)
            first.write(entry(1) + b"\n")
            await first.drain()
            await until(lambda: len(producer.lines) >= 1, "the first client's line")
            await close(first)

            _, reset = await connect(device)  # a client that dies: the connection is reset
            reset.write(entry(2) + b"\n")
            await reset.drain()
            await until(lambda: len(producer.lines) >= 2, "the second client's line")
            reset.transport.abort()

            _, second = await connect(device)
            second.write(entry(3) + b"\n")
            await second.drain()
            await until(lambda: len(producer.lines) >= 3, "the third client's line")
            await close(second)
        finally:
            await device.stop()
        return producer.lines

    assert asyncio.run(scenario()) == [entry(1), entry(2), entry(3)]


def test_lines_of_two_connected_clients_are_not_mixed():
    """Vault with several audit connections (or two servers) at once."""

    async def scenario() -> list[bytes]:
        device, producer = await listening()
        try:
            _, one = await connect(device)
            _, two = await connect(device)
            a, b = entry(1), entry(2)
            one.write(a[:20])
            await one.drain()
            two.write(b + b"\n")
            await two.drain()
            await until(lambda: len(producer.lines) >= 1, "the second client's line")
            one.write(a[20:] + b"\n")
            await one.drain()
            await until(lambda: len(producer.lines) >= 2, "the first client's line")
            await close(one)
            await close(two)
        finally:
            await device.stop()
        return producer.lines

    assert asyncio.run(scenario()) == [entry(2), entry(1)]


def test_stop_returns_while_a_client_is_still_connected():
    """``detector ship`` stops on SIGTERM even though Vault keeps its connection open."""

    async def scenario() -> None:
        device, producer = await listening()
        _, writer = await connect(device)
        writer.write(entry(1) + b"\n")
        await writer.drain()
        await until(lambda: len(producer.lines) >= 1, "the line")
        await asyncio.wait_for(device.stop(), 5)
        writer.transport.abort()

    asyncio.run(scenario())
