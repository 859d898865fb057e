"""Following an audit log file: new lines in order, a restart resumes where the broker's
acknowledgements stopped, rotation (rename or copytruncate) loses no line, and a line the
writer has not finished waits for its newline."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from detector.shipping.tail import FileShipper

POLL = 0.01  # seconds between looks at a quiet file: small, so the tests run quickly


class RecordingProducer:
    """Stands in for ``LineProducer``: keeps the lines shipped and acknowledges them at once,
    or only the first ``acknowledge`` of them (a broker that went away with the rest)."""

    def __init__(self, acknowledge: int | None = None) -> None:
        self.lines: list[bytes] = []
        self.on_acked: Callable[[Any], None] | None = None
        self.acknowledge = acknowledge

    async def put(self, line: bytes, token: Any = None) -> None:
        self.lines.append(line)
        if self.on_acked is not None and (
            self.acknowledge is None or len(self.lines) <= self.acknowledge
        ):
            self.on_acked(token)

    async def drain(self) -> None:
        pass


async def until(check: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not check():
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(POLL)


async def quiet() -> None:
    """Give the shipper many polls to do what it should not."""
    await asyncio.sleep(30 * POLL)


@contextlib.asynccontextmanager
async def following(
    log: Path, offsets: Path, producer: RecordingProducer
) -> AsyncIterator[FileShipper]:
    shipper = FileShipper(log, producer, offsets, poll=POLL)
    task = asyncio.create_task(shipper.run())
    try:
        yield shipper
    finally:
        shipper.stop()
        await asyncio.wait_for(task, 10)


def append(path: Path, *lines: str, end: str = "\n") -> None:
    with open(path, "ab") as stream:
        stream.write("".join(line + end for line in lines).encode())


def entry(n: int) -> str:
    """An audit line, long enough that a rewritten file starts out shorter than it was."""
    return f'{{"time":"2026-11-02T09:00:{n:02d}Z","type":"response","request":{{"id":"r-{n}"}}}}'


def entries(*numbers: int) -> list[bytes]:
    return [entry(n).encode() for n in numbers]


@pytest.fixture
def log(tmp_path: Path) -> Path:
    return tmp_path / "audit.log"


@pytest.fixture
def offsets(tmp_path: Path) -> Path:
    return tmp_path / "state" / "audit.log.offsets"


def test_appended_lines_are_shipped_in_order(log, offsets):
    async def scenario() -> list[bytes]:
        append(log, entry(1), entry(2))
        producer = RecordingProducer()
        async with following(log, offsets, producer):
            await until(lambda: len(producer.lines) == 2, "the first two lines")
            append(log, entry(3))
            append(log, entry(4), entry(5))
            await until(lambda: len(producer.lines) >= 5, "the appended lines")
            await quiet()
        return producer.lines

    assert asyncio.run(scenario()) == entries(1, 2, 3, 4, 5)


def test_a_line_without_its_newline_waits_until_the_writer_finishes_it(log, offsets):
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        append(log, entry(1))
        append(log, entry(2)[:20], end="")
        producer = RecordingProducer()
        async with following(log, offsets, producer):
            await until(lambda: len(producer.lines) >= 1, "the complete line")
            await quiet()
            before = list(producer.lines)
            append(log, entry(2)[20:])
            await until(lambda: len(producer.lines) >= 2, "the finished line")
            await quiet()
        return before, producer.lines

    before, after = asyncio.run(scenario())
    assert before == entries(1)
    assert after == entries(1, 2)


def test_blank_lines_are_not_shipped(log, offsets):
    async def scenario() -> list[bytes]:
        append(log, entry(1), "", "  ", entry(2))
        producer = RecordingProducer()
        async with following(log, offsets, producer):
            await until(lambda: len(producer.lines) >= 2, "both lines")
            await quiet()
        return producer.lines

    assert asyncio.run(scenario()) == entries(1, 2)


def test_a_restart_ships_what_was_written_meanwhile_and_nothing_twice(log, offsets):
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        append(log, entry(1), entry(2), entry(3))
        first = RecordingProducer()
        async with following(log, offsets, first):
            await until(lambda: len(first.lines) >= 3, "the first lines")
        append(log, entry(4), entry(5))  # written while the shipper was down
        second = RecordingProducer()
        async with following(log, offsets, second):
            await until(lambda: len(second.lines) >= 2, "the lines written meanwhile")
            append(log, entry(6))
            await until(lambda: len(second.lines) >= 3, "a new line")
            await quiet()
        return first.lines, second.lines

    first, second = asyncio.run(scenario())
    assert first == entries(1, 2, 3)
    assert second == entries(4, 5, 6)
    assert offsets.exists()


def test_a_restart_ships_again_the_lines_the_broker_never_acknowledged(log, offsets):
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        append(log, entry(1), entry(2), entry(3), entry(4))
        first = RecordingProducer(acknowledge=2)
        async with following(log, offsets, first):
            await until(lambda: len(first.lines) >= 4, "every line handed to the producer")
        second = RecordingProducer()
        async with following(log, offsets, second):
            await until(lambda: len(second.lines) >= 2, "the unacknowledged lines")
            await quiet()
        return first.lines, second.lines

    first, second = asyncio.run(scenario())
    assert first == entries(1, 2, 3, 4)
    assert second == entries(3, 4)


def test_rename_rotation_loses_no_line(log, offsets):
    """logrotate without copytruncate: the file is renamed, the writer finishes what it
    was writing there, then writes to a new file under the old name."""

    async def scenario() -> list[bytes]:
        append(log, entry(1), entry(2))
        producer = RecordingProducer()
        async with following(log, offsets, producer):
            await until(lambda: len(producer.lines) >= 2, "the first lines")
            rotated = log.with_name("audit.log.1")
            log.rename(rotated)
            await quiet()
            append(rotated, entry(3))  # the writer still has the old file open
            append(log, entry(4), entry(5))
            await until(lambda: len(producer.lines) >= 5, "the lines of both files")
            await quiet()
        return producer.lines

    assert asyncio.run(scenario()) == entries(1, 2, 3, 4, 5)


def test_lines_written_to_the_old_file_before_the_writer_reopens_are_not_lost(log, offsets):
    """logrotate ``create`` + ``postrotate kill -HUP``: the new, empty file exists before
    Vault reopens it, and until then Vault keeps writing to the renamed one."""

    async def scenario() -> list[bytes]:
        append(log, entry(1))
        producer = RecordingProducer()
        async with following(log, offsets, producer):
            await until(lambda: len(producer.lines) >= 1, "the first line")
            rotated = log.with_name("audit.log.1")
            log.rename(rotated)
            log.touch()  # logrotate's ``create``
            await quiet()
            append(rotated, entry(2))  # Vault, not yet told to reopen
            await quiet()
            append(log, entry(3))  # Vault, after SIGHUP
            await until(lambda: len(producer.lines) >= 3, "the lines of both files")
            await quiet()
        return producer.lines

    assert asyncio.run(scenario()) == entries(1, 2, 3)


def test_copytruncate_rotation_loses_no_line(log, offsets):
    """logrotate ``copytruncate``: the file is copied aside and emptied in place; the
    writer goes on writing from its start."""

    async def scenario() -> list[bytes]:
        append(log, entry(1), entry(2), entry(3))
        producer = RecordingProducer()
        async with following(log, offsets, producer):
            await until(lambda: len(producer.lines) >= 3, "the first lines")
            shutil.copyfile(log, log.with_name("audit.log.1"))
            os.truncate(log, 0)
            append(log, entry(4))
            await until(lambda: len(producer.lines) >= 4, "the line written after truncation")
            append(log, entry(5))
            await until(lambda: len(producer.lines) >= 5, "the next line")
            await quiet()
        return producer.lines

    assert asyncio.run(scenario()) == entries(1, 2, 3, 4, 5)


def test_a_restart_after_rotation_ships_the_rest_of_the_rotated_file_first(log, offsets):
    async def scenario() -> tuple[list[bytes], list[bytes]]:
        append(log, entry(1), entry(2))
        first = RecordingProducer()
        async with following(log, offsets, first):
            await until(lambda: len(first.lines) >= 2, "the first lines")
        # While the shipper is down: more lines, then a rotation, then a new file.
        append(log, entry(3), entry(4))
        log.rename(log.with_name("audit.log.1"))
        append(log, entry(5))
        second = RecordingProducer()
        async with following(log, offsets, second):
            await until(lambda: len(second.lines) >= 3, "the rest of both files")
            await quiet()
        return first.lines, second.lines

    first, second = asyncio.run(scenario())
    assert first == entries(1, 2)
    assert second == entries(3, 4, 5)


def test_a_restart_after_the_file_was_truncated_ships_it_from_its_start(log, offsets):
    async def scenario() -> list[bytes]:
        append(log, entry(1), entry(2), entry(3))
        first = RecordingProducer()
        async with following(log, offsets, first):
            await until(lambda: len(first.lines) >= 3, "the first lines")
        os.truncate(log, 0)  # copytruncate while the shipper was down
        append(log, entry(4))
        second = RecordingProducer()
        async with following(log, offsets, second):
            await until(lambda: len(second.lines) >= 1, "the line written after truncation")
            await quiet()
        return second.lines

    assert asyncio.run(scenario()) == entries(4)


def test_once_ships_the_whole_file_and_stops(log, offsets):
    async def scenario() -> list[bytes]:
        append(log, entry(1), entry(2), entry(3))
        producer = RecordingProducer()
        shipper = FileShipper(log, producer, offsets, poll=POLL, follow=False)
        await asyncio.wait_for(shipper.run(), 10)
        return producer.lines

    assert asyncio.run(scenario()) == entries(1, 2, 3)
    assert offsets.exists()
