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

from detector.cli.dev_broker import IN_MEMORY, broker_command
from detector.shipping.packing import message_of, packs

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
    """Tansu on a free loopback port, in memory (or in ``storage``, with ``env``);
    stoppable and restartable."""

    def __init__(self, storage: str = IN_MEMORY, env: dict[str, str] | None = None):
        self.port = free_port()
        self.bootstrap = f"127.0.0.1:{self.port}"
        self.url = f"kafka://{self.bootstrap}"
        self.storage = storage
        self.env = {**os.environ, "RUST_LOG": "error", **(env or {})}
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            broker_command(self.port, self.storage),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=self.env,
        )
        eventually(self._listening, 20, "the broker to listen")
        if self.storage != IN_MEMORY:
            self.create_topic("ready.probe", 1)  # its storage answers, not only its socket

    def kill(self) -> None:
        """SIGKILL: no goodbye, nothing flushed that was not already stored."""
        if self.process is not None:
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None

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
                if name not in await admin.list_topics():
                    await admin.create_topics([NewTopic(name, partitions, 1)])
            finally:
                await admin.close()

        asyncio.run(create())

    def produce(self, topic: str, lines: list[bytes], packed: bool = False) -> None:
        """Lines unkeyed, as a log shipper sends them (spread over the partitions): one
        per message (Vector, Fluent Bit), or ``packed`` several to a message (``detector
        ship``)."""

        async def send() -> None:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap, max_request_size=16 * 1024 * 1024
            )
            await producer.start()
            try:
                for pack in packs(lines, 32 * 1024 if packed else 0):  # many packs: all partitions
                    value, headers = message_of(pack)
                    await producer.send(topic, value, headers=headers)
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


_S3_SERVER = """
import sys, time, boto3
from moto.server import ThreadedMotoServer
port = int(sys.argv[1])
ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False).start()
boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="test",
             aws_secret_access_key="test", region_name="us-east-1").create_bucket(Bucket="tansu")
print("ready", flush=True)
time.sleep(86400)
"""


@pytest.fixture
def persistent_broker() -> Iterator[Broker]:
    """Tansu keeping its topics in S3 (moto's S3 server, a child process on a loopback
    port): a broker that can be killed and started again with its data."""
    pytest.importorskip("moto.server")
    port = free_port()
    s3 = subprocess.Popen(
        [sys.executable, "-c", _S3_SERVER, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert s3.stdout is not None and s3.stdout.readline().strip() == "ready"
        env = {
            "AWS_ENDPOINT": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "test",
            "AWS_SECRET_ACCESS_KEY": "test",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_ALLOW_HTTP": "true",
        }
        server = Broker("s3://tansu/", env)
        server.start()
        yield server
        server.stop()
    finally:
        s3.kill()
        s3.wait(timeout=10)
        s3.stdout.close()


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
