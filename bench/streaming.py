"""Throughput and latency of one streaming worker on a real Kafka-protocol broker (Tansu).

Starts Tansu (the ``dev-broker`` extra) on a free loopback port, simulates an
organisation's audit log, then:

1. **catch-up**: puts the first part of the log on the raw topic, starts one worker (in
   this process) and times it from the moment it is given the partitions to its last
   scored event of that part: audit lines per second for one worker (two cores here,
   shared with the broker and the producer). The live traffic follows at once, as it
   follows a backlog in production (a stream that just stopped would make its last events
   wait ``replay_idle`` for the partitions to go quiet, which is not throughput);
2. **live**: a separate producer process sends the rest of the log at ``--rate`` lines a
   second for ``--live`` seconds, noting when it sent each call's last line; each event is
   measured from then to the moment the worker scored it (p50, p99, max), and the alerts
   among them on their own, from ``--warm-up`` seconds after the catch-up ended (what was
   sent before waits behind the catch-up's tail). This includes the producer's batching,
   the three topics between the stages and the ordering stages' wait for every
   partition's watermark.
   The lines keep their recorded times, so the model sees the organisation's own traffic
   and its attacks (a handful of alerts, as in production), at many times its real pace;
   its event time then runs that much faster than the wall clock, so ``lateness`` (0.1 s
   of event time) costs next to nothing: in a live stream add up to 0.1 s.

   With ``--stamped``, request/response pairs from the log's end are sent again stamped
   with the time they are sent, as a server writes them: the stages' wall-clock rules
   (``idle``, ``lateness`` in real seconds) work as in a live stream, but the model sees a
   dozen identities suddenly making thousands of calls a second, so nearly every event
   alerts and most ask for a revocation: an alert storm (two output messages per event).

Lines travel one per message, as Vector or Fluent Bit send them, or with ``--packed``
several to a message, as ``detector ship`` sends them (see ``detector.shipping.packing``).
The live delays are given while traffic flows and for the whole run (at the end of a
stream its last events wait for the partitions to go quiet). It asserts nothing.

    python bench/streaming.py [--days 6] [--live 20] [--rate 1000] [--packed] [--stamped]
                              [--warm-up 5]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import itertools
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
from collections.abc import Iterator
from pathlib import Path

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


def request_id(line: bytes) -> str:
    return orjson.loads(line)["request"]["id"]


def stamped_lines(lines: list[bytes]) -> Iterator[tuple[str, bytes]]:
    """Request/response pairs from the end of the log, sent again as new calls, stamped
    with the time they are made (for ever: the caller stops); each with its request id."""
    entries: dict[str, list[dict]] = {}
    for line in lines[-20_000:]:
        entry = orjson.loads(line)
        entries.setdefault(entry["request"]["id"], []).append(entry)
    pairs = [pair for pair in entries.values() if len(pair) == 2]
    for pair in itertools.cycle(pairs):
        call = str(uuid.uuid4())
        for entry in pair:
            entry["time"] = dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z")
            entry["request"]["id"] = call
            yield call, orjson.dumps(entry)


async def send_lines(producer: AIOKafkaProducer, topic: str, lines: list[bytes], packed: bool):
    """Lines unkeyed (spread over the partitions): one per message, or packed."""
    for pack in packs(lines, PACK_BYTES if packed else 0):
        value, headers = message_of(pack)
        await producer.send(topic, value, headers=headers)


async def produce_live(args: argparse.Namespace, bootstrap: str, topic: str, log: Path) -> None:
    """Live traffic (run in its own process, started by ``go`` on stdin): lines at ``rate``
    a second; the time each call's last line was sent goes to ``log`` + ``.sent``."""
    lines = log.read_bytes().splitlines()
    if args.stamped:
        source: Iterator[tuple[str, bytes]] = stamped_lines(lines)
    else:  # the ids read now, not while the clock runs (the worker shares the cores)
        source = iter([(request_id(line), line) for line in lines[-int(args.rate * args.live) :]])
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=2)
    await producer.start()
    sent: dict[str, float] = {}
    try:
        print("ready", flush=True)
        sys.stdin.readline()
        started = time.perf_counter()
        count = 0
        while (elapsed := time.perf_counter() - started) < args.live:
            due = max(0, int(elapsed * args.rate) - count)
            batch = list(itertools.islice(source, due))
            count += len(batch)
            await send_lines(producer, topic, [line for _, line in batch], args.packed)
            now = time.time()
            for call, _ in batch:
                sent[call] = now
            if len(batch) < due:
                break  # the whole log is sent
            await asyncio.sleep(0.002)
        await producer.flush()
    finally:
        await producer.stop()
        Path(f"{log}.sent").write_bytes(orjson.dumps(sent))


class Bench:
    """What the worker scores: the catch-up's progress, then when each live event was."""

    def __init__(self, catch_up: set[str]) -> None:
        self.catch_up = catch_up  # the event ids of the log's first part
        self.scored = 0
        self.assigned = self.last = 0.0
        self.live: dict[str, tuple[float, str | None]] = {}  # event id: (scored, decision)

    def on_scored(self, scored: ScoredEvent) -> None:
        now = time.time()
        if scored.event.event_id in self.catch_up:
            self.scored += 1
            self.last = now
        else:
            self.live[scored.event.event_id] = (now, scored.decision)

    def catch_up_report(self, lines: int) -> None:
        elapsed = self.last - self.assigned
        print(
            f"catch-up: {lines:,} lines ({len(self.catch_up):,} events) read, parsed and "
            f"scored in {elapsed:.1f} s from the partitions' assignment: "
            f"{lines / elapsed:,.0f} lines/s for one worker"
        )

    def live_report(self, args: argparse.Namespace, sent: dict[str, float]) -> None:
        """Delays of the events sent from ``--warm-up`` seconds after the catch-up ended
        (the traffic sent before queues behind the catch-up's tail)."""
        since = self.last + args.warm_up
        delays = [
            (sent[event_id], scored - sent[event_id], decision)
            for event_id, (scored, decision) in self.live.copy().items()  # still growing
            if sent.get(event_id, 0.0) > since
        ]
        traffic = "stamped pairs: an alert storm" if args.stamped else "the log's own traffic"
        alerts = [delay for delay in delays if delay[2] is not None]
        revocations = sum(1 for delay in alerts if delay[2] == "revoke")
        print(
            f"live at {args.rate:,.0f} lines/s for {args.live:.0f} s ({traffic}), "
            f"from {args.warm_up:.0f} s after the catch-up: "
            f"{len(delays):,} events scored; alerts: {len(alerts):,} ({revocations:,} revoke)"
        )
        if not delays:
            return
        last = max(sent.values())
        flowing = [delay for delay in delays if delay[0] < last - 1.0]
        print(f"  produce to scored, while traffic flows: {_percentiles(flowing)}")
        print(f"  produce to scored, all:                 {_percentiles(delays)}")
        print(f"  produce to alert, all:                  {_percentiles(alerts)}")


def _percentiles(delays: list[tuple[float, float, str | None]]) -> str:
    ordered = sorted(delay for _, delay, _ in delays)
    if not ordered:
        return "none"
    p50 = statistics.median(ordered)
    p99 = ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]
    return f"p50 {p50 * 1000:.0f} ms, p99 {p99 * 1000:.0f} ms, max {ordered[-1] * 1000:.0f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--days", type=float, default=6.0)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--live", type=float, default=20.0, help="seconds of live traffic")
    parser.add_argument("--rate", type=float, default=1000.0, help="live audit lines per second")
    parser.add_argument("--packed", action="store_true", help="lines packed as detector ship")
    parser.add_argument("--stamped", action="store_true", help="live pairs stamped now")
    parser.add_argument(
        "--warm-up", type=float, default=5.0, help="seconds of live traffic not measured"
    )
    parser.add_argument("--produce-live", nargs=3, metavar=("BOOTSTRAP", "TOPIC", "LOG"))
    args = parser.parse_args()
    if args.produce_live:
        bootstrap, topic, log = args.produce_live
        asyncio.run(produce_live(args, bootstrap, topic, Path(log)))
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
    """The raw topic with these lines on it, spread over its partitions as shippers do."""
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


def event_ids(config, lines: list[bytes]) -> set[str]:
    """The events the local runtime scores for these lines (what the worker must)."""
    pipeline = build_pipeline(config)
    events = [event for line in lines for event in pipeline.parse(line)]
    events += pipeline.flush(final=True)
    return {event.event_id for event in events if not event.internal}


def routed_all(worker: StreamingWorker, topic: str) -> bool:
    """Whether the worker has read every raw partition to its end."""
    tps = worker._assigned_tps(topic)
    ends = [worker._highwater(tp) for tp in tps]
    return len(tps) == 4 and all(
        end is not None and worker.route_stage.next_offset.get(tp.partition, 0) >= end
        for tp, end in zip(tps, ends, strict=True)
    )


def run(args: argparse.Namespace, directory: Path, bootstrap: str) -> None:
    log = directory / "org" / "audit.log"
    lines = log.read_bytes().splitlines()
    live = 0 if args.stamped else int(args.rate * args.live)
    if live > len(lines) // 2:
        raise SystemExit(
            f"{live:,} lines wanted for the live part, but the log has {len(lines):,}: "
            "simulate more --days (or lower --rate or --live)"
        )
    catch_up = lines[: len(lines) - live]
    config = load_pipeline_file(
        pipeline_file(directory, bootstrap, directory / "org" / "inventory.toml")
    )
    topic = config.streaming.raw_topic
    asyncio.run(preload(bootstrap, topic, config.streaming.raw_partitions, catch_up, args.packed))
    print("lines " + ("packed as detector ship sends them" if args.packed else "one per message"))
    bench = Bench(event_ids(config, catch_up))
    worker = StreamingWorker(config, directory / "faust", on_scored=bench.on_scored)
    command = [sys.executable, __file__, "--produce-live", bootstrap, topic, str(log)]
    command += ["--rate", str(args.rate), "--live", str(args.live)]
    command += ["--packed"] * args.packed + ["--stamped"] * args.stamped
    producer = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)

    started = threading.Event()

    @worker.app.task
    async def _started() -> None:  # the consumer exists once the app's tasks run
        started.set()

    def drive() -> None:
        try:
            wait_for(started.is_set, 90, "the worker")
            wait_for(lambda: len(worker._assigned(topic)) == 4, 90, "the raw partitions")
            bench.assigned = time.time()
            assert producer.stdout is not None and producer.stdin is not None
            if producer.stdout.readline().strip() != "ready":
                raise SystemExit("the live producer did not start")
            wait_for(lambda: routed_all(worker, topic), 300, "the catch-up's lines read")
            producer.stdin.write("go\n")
            producer.stdin.flush()
            wait_for(
                lambda: bench.scored >= len(bench.catch_up),
                300,
                f"the catch-up ({len(bench.catch_up):,} events expected)",
                lambda: f"{bench.scored:,} scored",
            )
            bench.catch_up_report(len(catch_up))
            producer.wait()
            # the last events on their way; a replay's wait for the partitions to go quiet
            time.sleep(3.0 + (0.0 if args.stamped else worker.settings.replay_idle))
            bench.live_report(args, orjson.loads(Path(f"{log}.sent").read_bytes()))
        finally:
            producer.kill()
            os.kill(os.getpid(), signal.SIGTERM)  # the worker shuts down cleanly

    threading.Thread(target=drive, daemon=True).start()
    try:
        worker.run("error", redirect_stdouts=False)
    except SystemExit:
        pass


if __name__ == "__main__":
    main()
