"""Throughput and latency of one streaming worker on a real Kafka-protocol broker (Tansu).

Starts Tansu (the ``dev-broker`` extra) on a free loopback port, then:

1. **catch-up**: puts a whole simulated audit log on the raw topic, starts one worker (in
   this process) and times it from the moment it is given the partitions to its last
   scored event: audit lines per second for one worker (two cores here, shared with the
   broker);
2. **live**: a separate producer process sends request/response pairs stamped with the
   current time at ``--rate`` lines a second for ``--live`` seconds, and each event is
   measured from its time stamp (when it was produced) to the moment the worker scored it
   (p50, p99, max). This includes the producer's batching, the three topics between the
   stages, and the ordering stages' wait for every partition's watermark.

Lines travel one per message, as Vector or Fluent Bit send them, or with ``--packed``
several to a message, as ``detector ship`` sends them (see ``detector.shipping.packing``).
The live delays are given for the whole run and for the traffic before its last second
(at the end of a stream the last events wait ``idle`` for the partitions to go quiet).
It asserts nothing.

    python bench/streaming.py [--days 3] [--live 20] [--rate 1000] [--packed]
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
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import faust
import orjson
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from detector.build import build_pipeline
from detector.cli.dev_broker import broker_command
from detector.config import load_pipeline_file
from detector.pipeline import ScoredEvent
from detector.shipping.packing import PACK_BYTES, message_of, packs
from detector.simulate import simulate
from detector.streaming.agents import StreamingWorker

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(check, timeout: float, what: str, progress=lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            print(f"timed out waiting for {what} {progress()}")
            raise SystemExit(1)
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


def live_pairs(lines: list[bytes]) -> list[list[dict]]:
    """Request/response pairs from the end of the log, to be sent again as new calls."""
    entries: dict[str, list[dict]] = {}
    for line in lines[-20_000:]:
        entry = orjson.loads(line)
        entries.setdefault(entry["request"]["id"], []).append(entry)
    return [pair for pair in entries.values() if len(pair) == 2]


async def send_lines(producer: AIOKafkaProducer, topic: str, lines: list[bytes], packed: bool):
    """Lines unkeyed (spread over the partitions): one per message, or packed."""
    for pack in packs(lines, PACK_BYTES if packed else 0):
        value, headers = message_of(pack)
        await producer.send(topic, value, headers=headers)


async def produce_live(
    bootstrap: str, topic: str, log: Path, rate: float, seconds: float, packed: bool
) -> None:
    """Live traffic (run in its own process): pairs stamped with the time they are sent."""
    pairs = live_pairs(log.read_bytes().splitlines())
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    try:
        started = time.perf_counter()
        sent = 0
        while (elapsed := time.perf_counter() - started) < seconds:
            due = int(elapsed * rate)
            lines = []
            while sent < due:
                pair = pairs[(sent // 2) % len(pairs)]
                call = str(uuid.uuid4())
                for entry in pair:
                    entry["time"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
                    entry["request"]["id"] = call
                    lines.append(orjson.dumps(entry))
                sent += 2
            await send_lines(producer, topic, lines, packed)
            await asyncio.sleep(0.002)
        await producer.flush()
    finally:
        await producer.stop()


class Bench:
    """Counts what the worker scores: catch-up progress, then the live events' delays."""

    def __init__(self, events: int) -> None:
        self.events = events
        self.scored = 0
        self.assigned = self.last = 0.0
        self.live_since = float("inf")
        self.delays: list[tuple[float, float]] = []  # (event time, produce to scored)

    def on_scored(self, scored: ScoredEvent) -> None:
        now = time.time()
        if scored.event.time >= self.live_since:
            self.delays.append((scored.event.time, now - scored.event.time))
            return
        self.scored += 1
        self.last = now

    def catch_up_report(self, lines: int) -> None:
        elapsed = self.last - self.assigned
        print(
            f"catch-up: {lines:,} lines ({self.events:,} events) read, parsed and scored in "
            f"{elapsed:.1f} s from the partitions' assignment: "
            f"{lines / elapsed:,.0f} lines/s for one worker"
        )

    def live_report(self, rate: float, seconds: float) -> None:
        if not self.delays:
            print("live: no event scored")
            return
        last = max(time for time, _ in self.delays)
        scored = len(self.delays)
        print(f"live at {rate:,.0f} lines/s for {seconds:.0f} s: {scored:,} events scored")
        print(f"  produce to scored, all:              {_percentiles(self.delays)}")
        flowing = [(time, delay) for time, delay in self.delays if time < last - 1.0]
        print(f"  produce to scored, but the last 1 s: {_percentiles(flowing)}")


def _percentiles(delays: list[tuple[float, float]]) -> str:
    ordered = sorted(delay for _, delay in delays)
    if not ordered:
        return "none"
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--live", type=float, default=20.0, help="seconds of live traffic")
    parser.add_argument("--rate", type=float, default=1000.0, help="live audit lines per second")
    parser.add_argument("--packed", action="store_true", help="lines packed as detector ship")
    parser.add_argument("--produce-live", nargs=3, metavar=("BOOTSTRAP", "TOPIC", "LOG"))
    args = parser.parse_args()
    if args.produce_live:
        bootstrap, topic, log = args.produce_live
        asyncio.run(produce_live(bootstrap, topic, Path(log), args.rate, args.live, args.packed))
        return

    with tempfile.TemporaryDirectory(prefix="detector-bench-") as tmp:
        directory = Path(tmp)
        simulate(directory / "org", seed=args.seed, days=args.days)
        port = free_port()
        bootstrap = f"127.0.0.1:{port}"
        broker_log = open(directory / "broker.log", "wb")  # noqa: SIM115 - closed below
        broker = subprocess.Popen(
            broker_command(port),
            stdout=broker_log,
            stderr=subprocess.STDOUT,
            env={**os.environ, "RUST_LOG": "error"},
        )
        try:
            wait_for(lambda: socket.socket().connect_ex(("127.0.0.1", port)) == 0, 20, "broker")
            run(args, directory, bootstrap)
        finally:
            if broker.poll() is not None:
                print(f"the broker stopped (exit {broker.returncode}):")
                print((directory / "broker.log").read_text(errors="replace")[-2000:])
            broker.terminate()
            broker.wait(timeout=10)
            broker_log.close()


async def preload(
    bootstrap: str, topic: str, partitions: int, lines: list[bytes], packed: bool
) -> None:
    """The raw topic with the whole log on it, spread over its partitions as shippers do."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20)
    await producer.start()
    try:
        await send_lines(producer, topic, lines, packed)
        await producer.flush()
    finally:
        await producer.stop()


def events_in(config, lines: list[bytes]) -> int:
    """How many events the local runtime scores for these lines (what the worker must)."""
    pipeline = build_pipeline(config)
    events = [event for line in lines for event in pipeline.parse(line)]
    events += pipeline.flush(final=True)
    return sum(1 for event in events if not event.internal)


def run(args: argparse.Namespace, directory: Path, bootstrap: str) -> None:
    log = directory / "org" / "audit.log"
    lines = log.read_bytes().splitlines()
    config = load_pipeline_file(
        pipeline_file(directory, bootstrap, directory / "org" / "inventory.toml")
    )
    topic = config.streaming.raw_topic
    asyncio.run(preload(bootstrap, topic, config.streaming.raw_partitions, lines, args.packed))
    print("lines " + ("packed as detector ship sends them" if args.packed else "one per message"))
    bench = Bench(events_in(config, lines))
    worker = StreamingWorker(config, directory / "faust", on_scored=bench.on_scored)

    started = threading.Event()

    @worker.app.task
    async def _started() -> None:  # the consumer exists once the app's tasks run
        started.set()

    def drive() -> None:
        try:
            wait_for(started.is_set, 90, "the worker")
            wait_for(lambda: len(worker._assigned(topic)) == 4, 90, "the raw partitions")
            bench.assigned = time.time()
            wait_for(
                lambda: bench.scored >= bench.events,
                300,
                f"the catch-up ({bench.events:,} events expected)",
                lambda: f"{bench.scored:,} scored",
            )
            bench.catch_up_report(len(lines))
            bench.live_since = time.time()
            command = [sys.executable, __file__, "--produce-live", bootstrap, topic, str(log)]
            command += ["--rate", str(args.rate), "--live", str(args.live)]
            command += ["--packed"] if args.packed else []
            subprocess.run(command, check=True)
            time.sleep(3.0)  # the last events on their way
            bench.live_report(args.rate, args.live)
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
