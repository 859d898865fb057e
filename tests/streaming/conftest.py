"""A real Kafka-protocol broker (Tansu) and real worker processes for the streaming tests."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from detector.cli.dev_broker import broker_command

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def eventually(check: Callable[[], bool], timeout: float, what: str, poll: float = 0.2) -> float:
    """Wait until ``check()`` holds; returns the seconds it took."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(poll)
    return time.monotonic() - started


class Broker:
    """Tansu on a free loopback port, in memory; stoppable and restartable."""

    def __init__(self) -> None:
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.url = f"kafka://{self.bootstrap}"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            broker_command(self.port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "error"},
        )
        eventually(self._listening, 20, "the broker to listen")

    def _listening(self) -> bool:
        with socket.socket() as sock:
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=10)
            self.process = None

    # -- clients ---------------------------------------------------------------------------

    def create_topic(self, name: str, partitions: int) -> None:
        async def create() -> None:
            admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
            await admin.start()
            try:
                await admin.create_topics([NewTopic(name, partitions, 1)])
            finally:
                await admin.close()

        asyncio.run(create())

    def produce(self, topic: str, lines: list[bytes]) -> None:
        """Lines unkeyed, as a log shipper sends them (spread over the partitions)."""

        async def send() -> None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, max_request_size=16 * 1024 * 1024
            )
            await producer.start()
            try:
                for line in lines:
                    await producer.send(topic, line)
                await producer.flush()
            finally:
                await producer.stop()

        asyncio.run(send())

    def consume(self, topic: str, quiet: float = 2.0) -> list[tuple[bytes | None, bytes]]:
        """Every record of a topic so far: (key, value)."""

        async def read() -> list[tuple[bytes | None, bytes]]:
            consumer = AIOKafkaConsumer(
                topic,
                bootstrap_servers=self.bootstrap,
                auto_offset_reset="earliest",
                group_id=None,
                max_partition_fetch_bytes=16 * 1024 * 1024,
                fetch_max_bytes=64 * 1024 * 1024,
            )
            await consumer.start()
            records = []
            try:
                while batches := await consumer.getmany(timeout_ms=int(quiet * 1000)):
                    for messages in batches.values():
                        records += [(m.key, m.value) for m in messages]
            finally:
                await consumer.stop()
            return records

        return asyncio.run(read())


@pytest.fixture(scope="session")
def broker() -> Iterator[Broker]:
    server = Broker()
    server.start()
    yield server
    server.stop()


def pipeline_file(
    directory: Path, broker_url: str, app_id: str, inventory: Path, **streaming: object
) -> Path:
    """The shipped vault-local pipeline, on this broker, with its own topics and group."""
    text = (REPO / "pipelines" / "vault-local.toml").read_text()
    text = text.replace('inventory = "inventory.example.toml"', f'inventory = "{inventory}"')
    text = text.replace(
        'profile = "../models/default.toml"', f'profile = "{REPO}/models/default.toml"'
    )
    settings = {
        "broker": broker_url,
        "app_id": app_id,
        "raw_topic": f"{app_id}.raw",
        "entries_topic": f"{app_id}.entries",
        "events_topic": f"{app_id}.events",
        "alerts_topic": f"{app_id}.alerts",
        "actions_topic": f"{app_id}.actions",
        "deadletter_topic": f"{app_id}.deadletter",
        "notifications_topic": f"{app_id}.notifications",
        "data_dir": str(directory / "faust"),
        **streaming,
    }
    lines = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    path = directory / f"{app_id}.toml"
    path.write_text(f"{text}\n[streaming]\n{lines}\n")
    return path


class Worker:
    """A ``detector worker`` process, with the stats it writes every second."""

    def __init__(self, pipeline: Path, directory: Path, name: str) -> None:
        self.stats_path = directory / f"{name}.stats.json"
        self.log_path = directory / f"{name}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "detector", "worker", str(pipeline)]
            + ["--stats", str(self.stats_path), "--data-dir", str(directory / f"{name}-data")],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    def stats(self) -> dict:
        try:
            return json.loads(self.stats_path.read_text())
        except (OSError, ValueError):
            return {}

    def scored(self) -> int:
        return self.stats().get("counts", {}).get("scored", 0)

    def partitions(self) -> list[int]:
        return self.stats().get("partitions", [])

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log.close()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")
