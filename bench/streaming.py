"""Throughput and latency of one streaming worker on a real Kafka-protocol broker (Tansu).

Starts Tansu (the ``dev-broker`` extra) on a free loopback port and one worker in this
process, then:

1. **catch-up**: produces a whole simulated audit log at once and times it until every
   event is scored: lines per second for one worker (two cores here, shared with the
   broker and the producer);
2. **live**: sends request/response pairs stamped with the current time, ``--rate`` pairs
   a second for ``--live`` seconds, and measures each event from the moment its response
   was produced to the moment it was scored (p50, p99, max). This includes the producer's
   batching, three topics and the ordering stages' wait on the quiet partitions'
   watermarks (``clock_skew``).

It asserts nothing.

    python bench/streaming.py [--days 1.5] [--live 20] [--rate 20]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import faust
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from detector.cli.dev_broker import broker_command
from detector.config import load_pipeline_file
from detector.pipeline import ScoredEvent
from detector.simulate import simulate
from detector.streaming.agents import StreamingWorker

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def pipeline_file(directory: Path, bootstrap: str, inventory: Path) -> Path:
    """The shipped vault-local pipeline on this broker."""
    text = (REPO / "pipelines" / "vault-local.toml").read_text()
    text = text.replace('inventory = "inventory.example.toml"', f'inventory = "{inventory}"')
    text = text.replace(
        'profile = "../models/default.toml"', f'profile = "{REPO}/models/default.toml"'
    )
    settings = {"broker": f"kafka://{bootstrap}", "app_id": "bench", "data_dir": str(directory)}
    table = "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items())
    path = directory / "bench.toml"
    path.write_text(f"{text}\n[streaming]\n{table}\n")
    return path


def live_pairs(lines: list[bytes], count: int) -> list[list[dict]]:
    """Request/response pairs from the end of the log, to be sent again as new calls."""
    entries: dict[str, list[dict]] = {}
    for line in lines[-20_000:]:
        entry = orjson.loads(line)
        entries.setdefault(entry["request"]["id"], []).append(entry)
    pairs = [pair for pair in entries.values() if len(pair) == 2]
    return pairs[-count:]


class Bench:
    def __init__(self, args: argparse.Namespace, bootstrap: str, lines: list[bytes]) -> None:
        self.args = args
        self.bootstrap = bootstrap
        self.lines = lines
        self.scored = 0
        self.sent: dict[str, float] = {}
        self.latencies: list[float] = []

    def on_scored(self, scored: ScoredEvent) -> None:
        self.scored += 1
        sent = self.sent.pop(scored.event.event_id, None)
        if sent is not None:
            self.latencies.append(time.perf_counter() - sent)

    async def produce(self, worker: StreamingWorker) -> None:
        producer = AIOKafkaProducer(bootstrap_servers=self.bootstrap, linger_ms=5)
        await producer.start()
        try:
            topic = worker.settings.raw_topic
            started = time.perf_counter()
            for line in self.lines:
                await producer.send(topic, line)
            await producer.flush()
            expected = self.args.events
            while self.scored < expected:
                await asyncio.sleep(0.05)
            elapsed = time.perf_counter() - started
            print(
                f"catch-up: {len(self.lines):,} lines ({expected:,} events) in {elapsed:.1f} s: "
                f"{len(self.lines) / elapsed:,.0f} lines/s for one worker"
            )
            await self.live(producer, topic)
        finally:
            await producer.stop()

    async def live(self, producer: AIOKafkaProducer, topic: str) -> None:
        pairs = live_pairs(self.lines, int(self.args.live * self.args.rate))
        for pair in pairs:
            call = str(uuid.uuid4())
            for entry in pair:
                now = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
                entry["time"] = now
                entry["request"]["id"] = call
                await producer.send(topic, orjson.dumps(entry))
            self.sent[call] = time.perf_counter()
            await asyncio.sleep(1 / self.args.rate)
        await asyncio.sleep(self.args.settle)
        waits = sorted(self.latencies)
        if not waits:
            print("live: no event scored")
            return
        p50 = statistics.median(waits)
        p99 = waits[min(len(waits) - 1, int(0.99 * len(waits)))]
        print(
            f"live: {len(waits)} of {len(pairs)} calls scored; produce to scored "
            f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {waits[-1] * 1000:.0f} ms"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=1.5)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--live", type=float, default=20.0, help="seconds of live traffic")
    parser.add_argument("--rate", type=float, default=20.0, help="live calls per second")
    parser.add_argument("--settle", type=float, default=5.0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="detector-bench-") as tmp:
        directory = Path(tmp)
        simulate(directory / "org", seed=args.seed, days=args.days)
        lines = (directory / "org" / "audit.log").read_bytes().splitlines()
        args.events = len({orjson.loads(line)["request"]["id"] for line in lines})
        port = free_port()
        bootstrap = f"127.0.0.1:{port}"
        broker = subprocess.Popen(
            broker_command(port),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "RUST_LOG": "error"},
        )
        try:
            wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 20, "broker")
            asyncio.run(create_topic(bootstrap, "detector.raw", 4))
            run(args, directory, bootstrap, lines)
        finally:
            broker.terminate()
            broker.wait(timeout=10)


async def create_topic(bootstrap: str, name: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
    finally:
        await admin.close()


def run(args: argparse.Namespace, directory: Path, bootstrap: str, lines: list[bytes]) -> None:
    config = load_pipeline_file(
        pipeline_file(directory, bootstrap, directory / "org" / "inventory.toml")
    )
    bench = Bench(args, bootstrap, lines)
    worker = StreamingWorker(config, directory / "faust", on_scored=bench.on_scored)

    def drive() -> None:
        wait_for(lambda: len(worker._assigned(worker.settings.events_topic)) == 4, 90, "partitions")
        try:
            asyncio.run(bench.produce(worker))
        finally:
            os.kill(os.getpid(), signal.SIGTERM)  # the worker shuts down cleanly

    threading.Thread(target=drive, daemon=True).start()
    runner = faust.Worker(worker.app, loglevel="error", quiet=True, redirect_stdouts=False)
    runner.spinner = None
    try:
        runner.execute_from_commandline()
    except SystemExit:
        pass


if __name__ == "__main__":
    main()
