"""The agents of the streaming runtime: thin loops that decode, hand records to the stages,
and send what comes out. All logic lives in :mod:`detector.streaming.stages` and the
pipeline; the agents only move records and watermarks."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import pickle
import time as wall
import zlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faust
import msgspec
import orjson

from detector.build import build_pipeline
from detector.config import PipelineFile
from detector.errors import ConfigError
from detector.event import AccessEvent
from detector.model import RiskModel
from detector.partitioning import identity_partition
from detector.pipeline import Pipeline, ScoredEvent, dead_letter_record
from detector.shipping.packing import lines_of
from detector.streaming.app import create_app
from detector.streaming.codec import WATERMARK_KEY, decode_watermark, encode_watermark
from detector.streaming.identity_table import IdentityTable
from detector.streaming.outbox import MAX_BATCH_BYTES, Holds, Outbox
from detector.streaming.settings import StreamingSection, with_environment
from detector.streaming.stages import EntryProgress, ParseStage, RouteStage, ScoreStage
from detector.streaming.tables import Tables
from detector.streaming.topics import Topics

if TYPE_CHECKING:  # prometheus_client is imported only where metrics are served
    from detector.metrics import Metrics

__all__ = ["StreamingWorker"]

log = logging.getLogger(__name__)

_TICK = 0.05  # seconds between ticks: batches out, watermarks forward
_REPEAT = 1.0  # seconds after which an unchanged watermark is sent again (new owners)
_entries_decoder = msgspec.msgpack.Decoder(list[tuple[float | None, bytes]])
_events_decoder = msgspec.msgpack.Decoder(list[AccessEvent])
_event_encoder = msgspec.msgpack.Encoder()


class _TopicDeadLetters:
    """A pipeline's dead-letter sink that produces to the dead-letter topic."""

    def __init__(self, topic: Any) -> None:
        self.topic = topic

    def write(self, record: dict[str, Any]) -> None:
        self.topic.send_soon(key=record["reason"].encode(), value=orjson.dumps(record))


class StreamingWorker:
    """One worker of a pipeline's streaming runtime: the app, its topics, tables, stages
    and agents. Several workers with the same ``app_id`` share the partitions.

    ``on_scored`` is called with every scored event (tests and sinks watch these).
    """

    def __init__(
        self,
        config: PipelineFile,
        data_dir: Path | None = None,
        on_scored: Callable[[ScoredEvent], None] | None = None,
        stats: Path | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.settings: StreamingSection = with_environment(config.streaming, config.path)
        self.partitions = config.model.partitions
        data_dir = data_dir or config.resolve(self.settings.data_dir)
        self.app = create_app(self.settings, self.partitions, data_dir)
        self.topics = Topics(self.app, self.settings, self.partitions)
        self.tables = Tables(self.app, self.partitions)
        self.on_scored = on_scored
        profile_idle = build_pipeline(config, partitions=1).model.store.idle_ttl
        self.identities = IdentityTable(self.tables.identities, self.partitions, profile_idle)
        self.route_stage = RouteStage(
            lateness=self.settings.lateness,
            idle=self.settings.idle,
            skew=self.settings.clock_skew,
            replay_idle=self.settings.replay_idle,
        )
        self.parse_stages: dict[int, ParseStage] = {}
        self.entry_progress = EntryProgress()
        self.score_stages: dict[int, ScoreStage] = {}
        self._pipelines: dict[int, Pipeline] = {}
        self._sent_marks: dict[tuple[str, int], tuple[float, float]] = {}
        self._last_stats = wall.monotonic()
        self._learnt: set[int] = set()  # partitions whose population models learnt since saved
        self._unconfirmed: list[Any] = []  # alert and action sends not yet acknowledged
        self._generation = 0  # counts give-aways (a state snapshot older than one is void)
        self.stats = stats
        self.metrics = metrics
        self._ends: dict[Any, int] = {}
        self.entry_outbox = Outbox(self.topics.entries)
        self.route_counts: Counter[str] = Counter()  # lines refused before parsing
        self.event_outbox = Outbox(self.topics.events)
        self.route_holds, self.parse_holds, self.score_holds = Holds(), Holds(), Holds()
        self._register()

    def run(self, log_level: str = "warn", redirect_stdouts: bool = True) -> None:
        """Run as a Faust worker until SIGTERM or SIGINT."""
        runner = faust.Worker(
            self.app, loglevel=log_level, quiet=True, redirect_stdouts=redirect_stdouts
        )
        # Faust's progress spinner turns the root logger to DEBUG so that it spins on every
        # record: every message of every library then builds a log record. No spinner here.
        runner.spinner = None
        # What exists now (modules, models, Faust's own objects) lives as long as the
        # process: kept out of the collector's full passes, each of which took ~0.1 s of
        # every stream's time when they were in.
        gc.collect()
        gc.freeze()
        runner.execute_from_commandline()

    # -- per-partition objects -----------------------------------------------------------

    def pipeline(self, partition: int) -> Pipeline:
        """The pipeline of one partition: its parser for entries, its model for events.

        Its population models resume from the partition's last saved ones, if any.
        """
        pipeline = self._pipelines.get(partition)
        if pipeline is None:
            pipeline = build_pipeline(self.config, _TopicDeadLetters(self.topics.deadletters), 1)
            pipeline.model.store = self.identities
            saved = self.tables.populations.data.get(str(partition).encode())
            if saved:
                detectors = pickle.loads(saved)  # noqa: S301 - our own changelog
                if [repr(d) for d in detectors] == [repr(d) for d in pipeline.model.detectors]:
                    pipeline.model = RiskModel(detectors, pipeline.model.scorer, self.identities)
            self._pipelines[partition] = pipeline
        return pipeline

    def populations(self, partitions: set[int] | None = None) -> list[tuple[int, bytes]]:
        """The population models of (some of) this worker's partitions, as they are now."""
        return [
            (partition, pickle.dumps(pipeline.model.detectors, protocol=pickle.HIGHEST_PROTOCOL))
            for partition, pipeline in self._pipelines.items()
            if partitions is None or partition in partitions
        ]

    def write_populations(self, populations: list[tuple[int, bytes]]) -> None:
        table = self.tables.populations
        for partition, value in populations:
            key = str(partition).encode()
            table.data[key] = value
            table.send_changelog(partition, key, value, value_serializer="raw")

    def parse_stage(self, partition: int) -> ParseStage:
        stage = self.parse_stages.get(partition)
        if stage is None:
            stage = self.parse_stages[partition] = ParseStage(
                self.pipeline(partition), self.settings.raw_partitions, self.entry_progress
            )
        return stage

    def score_stage(self, partition: int) -> ScoreStage:
        stage = self.score_stages.get(partition)
        if stage is None:
            stage = self.score_stages[partition] = ScoreStage(
                self.pipeline(partition), self.partitions
            )
        return stage

    def counts(self) -> dict[str, int]:
        """Counts summed over the partitions this worker runs."""
        total: dict[str, int] = dict(self.route_counts)
        for pipeline in self._pipelines.values():
            for key, value in pipeline.all_counts().items():
                total[key] = total.get(key, 0) + value
        return total

    # -- sending ------------------------------------------------------------------------

    def _send_scored(self, scored: ScoredEvent) -> None:
        if self.on_scored is not None:
            self.on_scored(scored)
        if scored.decision is None:
            return
        record = scored.alert_record()
        partition = identity_partition(scored.event.identity, self.partitions)
        payload = orjson.dumps(record)
        key = scored.event.identity.encode()
        sent = [self.topics.alerts.send_soon(key=key, value=payload, partition=partition)]
        if scored.decision == "revoke":
            sent.append(self.topics.actions.send_soon(key=key, value=payload, partition=partition))
        self._unconfirmed += sent

    async def save_state(self) -> None:
        """Identity states and the population models of the partitions that learnt (as
        they stood together) to the changelog, once the broker has every alert and action
        request sent for the events they have applied; then those events are acknowledged.
        (Population models written on their own, every ten seconds, lagged the states: a
        successor skipped events the states had applied that its population models had
        never learnt, and its risks, and alerts, differed.)

        The two orders matter. A state names the last event it applied, and a successor
        skips the events up to it: were the state on the broker before an alert it implies,
        a worker dying in between would lose that alert. And a successor starts reading
        events at the committed offset: were an event committed before a state that learnt
        from it, the successor would never learn from it (a burst would be forgotten, and
        the alerts it leads to lost). So the states and the scored events are taken first,
        then the sends made until then are awaited, then the states are written (Faust
        flushes them before it commits), then the events are acknowledged.
        """
        snapshot = self.identities.snapshot()
        populations, self._learnt = self.populations(self._learnt), set()
        scored = self.score_holds.take_ready()
        pending, self._unconfirmed = self._unconfirmed, []
        generation = self._generation
        results = await asyncio.gather(*pending, return_exceptions=True)
        if generation != self._generation:
            return  # partitions moved meanwhile: give_away wrote newer states
        failed = [r for r in results if isinstance(r, BaseException)]
        if failed:
            log.error("%d alert sends failed (%s): states kept back", len(failed), failed[0])
            self.identities.mark_dirty([identity for _, identity, _ in snapshot])
            self._learnt.update(partition for partition, _ in populations)
            self.score_holds.restore(scored)
            return
        self.identities.write(snapshot)
        self.write_populations(populations)
        self.score_holds.acknowledge(scored)

    def _broadcast_mark(self, topic: Any, name: str, source: int, mark: float) -> None:
        """Tell every partition of ``topic`` that ``source`` has reached ``mark``."""
        now = wall.monotonic()
        sent = self._sent_marks.get((name, source))
        if sent is not None and sent[0] == mark and now - sent[1] < _REPEAT:
            return
        self._sent_marks[(name, source)] = (mark, now)
        value = encode_watermark(source, mark)
        for partition in range(self.partitions):
            topic.send_soon(key=WATERMARK_KEY, value=value, partition=partition)

    def _send_route_mark(self, tp: Any) -> None:
        mark = self.route_stage.watermark(tp.partition, self._highwater(tp), self._committed(tp))
        self._broadcast_mark(self.topics.entries, "route", tp.partition, mark)

    def _assigned_tps(self, topic_name: str) -> list[Any]:
        assignment = self.app.consumer.assignment() if self.app.consumer else set()
        tps = (tp for tp in assignment if tp.topic == topic_name)
        return sorted(tps, key=lambda tp: tp.partition)

    def _assigned(self, topic_name: str) -> list[int]:
        return [tp.partition for tp in self._assigned_tps(topic_name)]

    def _highwater(self, tp: Any) -> int | None:
        """The partition's end offset: the higher of what the consumer's last fetch reported
        and what our own query (every 0.5 s) found; ``None`` until a fetch has answered
        since the partition was assigned.

        A fetch's answer grows stale while the consumer holds back (its buffer full behind
        a busy stage), and a partition taken for caught up too early would vouch for the
        wall clock with lines still to read: hence the query. But the query alone is not
        trusted: Tansu answers it low (the last batch's first offset + 1), and right after
        a rebalance, before the first fetch, a partition then looked read to its end and
        vouched for the wall clock: every line read after came late (hundreds of events
        out of order, and alerts changed, after a broker outage or a failover)."""
        try:
            fetched = self.app.consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - not assigned (any more)
            fetched = None
        if fetched is None:
            return None
        queried = self._ends.get(tp)
        return fetched if queried is None else max(fetched, queried)

    def _committed(self, tp: Any) -> int | None:
        """The offset committed for ``tp`` as the consumer last read or wrote it."""
        committed = getattr(self.app.consumer, "_committed_offset", None)
        return committed.get(tp) if committed is not None else None

    def topology_problem(self) -> ConfigError | None:
        """A raw topic with another partition count than ``raw_partitions`` (made by hand
        or by an older configuration): every stage would wait forever for the missing ones.
        """
        settings = self.settings
        actual = self.app.consumer.topic_partitions(settings.raw_topic) if self.app.consumer else 0
        if not actual or actual == settings.raw_partitions:
            return None
        return ConfigError(
            self.config.path,
            "streaming.raw_partitions",
            f"is {settings.raw_partitions}, but topic {settings.raw_topic!r} has {actual} "
            f"partitions: set it to {actual} (or DETECTOR_RAW_PARTITIONS={actual})",
        )

    async def _refresh_ends(self) -> None:
        """Ask the broker for the raw partitions' end offsets (empty ones never say)."""
        tps = self._assigned_tps(self.settings.raw_topic)
        if tps:
            try:
                self._ends.update(await self.app.consumer.listed_highwaters(*tps))
            except Exception as exc:  # noqa: BLE001 - the broker may be away: try later
                log.debug("end offsets unavailable: %s", exc)

    # -- the agents ---------------------------------------------------------------------

    def _register(self) -> None:
        app, topics = self.app, self.topics

        @app.agent(topics.raw, name="route")
        async def route(stream: Any) -> None:
            async for event in stream.noack().events():
                message = event.message
                for line in lines_of(event.value, event.headers):
                    key, time = self.route_stage.route(message.partition, message.offset, line)
                    for corrected in self.route_stage.overtaken(message.partition, time):
                        # ahead of the entry, so that it is not late
                        self._send_route_mark(message.tp._replace(partition=corrected))
                    if len(line) > MAX_BATCH_BYTES:
                        self._too_long(line, message)
                    else:
                        partition = zlib.crc32(key) % self.partitions
                        self.entry_outbox.add(partition, (time, line), len(line))
                self.route_holds.hold(event, 0)
                if self.entry_outbox.full:
                    self._flush_route()

        @app.agent(topics.entries, name="parse")
        async def parse(stream: Any) -> None:
            async for event in stream.noack().events():
                partition = event.message.partition
                stage = self.parse_stage(partition)
                if event.key == WATERMARK_KEY:
                    stage.upstream.update(*decode_watermark(event.value), event.message.timestamp)
                    self.parse_holds.hold(event, 0)
                else:
                    items = _entries_decoder.decode(event.value)
                    token = self.parse_holds.hold(event, len(items))
                    origin = f"{topics.entries.get_topic_name()}:{partition}:{event.message.offset}"
                    for time, record in items:
                        stage.push(time, record, origin, token)
                self._release_parse(partition)
                if self.event_outbox.full:
                    self._flush_parse()

        @app.agent(topics.events, name="score")
        async def score(stream: Any) -> None:
            async for event in stream.noack().events():
                partition = event.message.partition
                stage = self.score_stage(partition)
                holds = self.score_holds
                if event.key == WATERMARK_KEY:
                    stage.upstream.update(*decode_watermark(event.value), event.message.timestamp)
                    holds.hold(event, 0)
                else:
                    batch = _events_decoder.decode(event.value)
                    token = holds.hold(event, len(batch))
                    for access in batch:
                        if not stage.push(access, token):
                            holds.done(token)  # a duplicate: nothing more to do
                self._release_score(partition)

        @app.agent(topics.alerts, name="deliver")
        async def deliver(stream: Any) -> None:
            delivered = self.tables.delivered
            async for event in stream.events():
                record = orjson.loads(event.value)
                key = record["alert_id"].encode()
                if delivered.data.get(key) is not None:
                    continue  # replayed after a failover: already passed on
                stamp = record["time"].encode()
                delivered.data[key] = stamp
                delivered.send_changelog(
                    event.message.partition, key, stamp, value_serializer="raw"
                )
                topics.notifications.send_soon(
                    key=event.key, value=event.value, partition=event.message.partition
                )

        @app.timer(interval=_TICK)
        async def tick() -> None:
            self.tick()

        @app.timer(interval=self.settings.state_flush)
        async def save_state() -> None:
            await self.save_state()

        @app.timer(interval=0.5)
        async def ends() -> None:
            problem = self.topology_problem()
            if problem is not None:
                log.critical("%s", problem)
                await app.crash(problem)
                return
            await self._refresh_ends()

        @app.on_partitions_revoked.connect
        async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
            given = {tp.partition for tp in revoked if tp.topic == self.settings.events_topic}
            raw = {tp.partition for tp in revoked if tp.topic == self.settings.raw_topic}
            self.give_away(given, raw)

    def give_away(self, partitions: set[int], raw: set[int]) -> None:
        """Partitions moving (maybe back to this worker): write their state, forget their
        stages and how far the raw partitions ``raw`` were read.

        What was held unacknowledged is read again by the new owner, from the committed
        offsets: a stage that kept its place would take the lines read again for late ones.
        """
        self._generation += 1
        self._flush_route()
        self._flush_parse()
        self.identities.flush(only=partitions)
        self.write_populations(self.populations(partitions))
        for partition in raw:
            self.route_stage.forget(partition)
        self._sent_marks.clear()
        for partition in partitions:
            self.score_stages.pop(partition, None)
            self.parse_stages.pop(partition, None)
            self._pipelines.pop(partition, None)
        self.parse_holds.forget()
        self.score_holds.forget()

    def _too_long(self, line: bytes, message: Any) -> None:
        """A line longer than a batch may be cannot travel between the stages: it goes to
        the dead letters here (the local runtime would still parse it)."""
        origin = f"{message.topic}:{message.partition}:{message.offset}"
        detail = f"{len(line):,} bytes; the stream carries lines up to {MAX_BATCH_BYTES:,}"
        reason = "line too long for the stream"
        self.topics.deadletters.send_soon(
            key=reason.encode(),
            value=orjson.dumps(dead_letter_record(reason, detail, line, origin)),
        )
        self.route_counts.update({"records": 1, "deadletters": 1, f"deadletter: {reason}": 1})

    def _flush_route(self) -> None:
        """Entries to the producer, then their raw lines may be acknowledged."""
        self.entry_outbox.flush()
        self.route_holds.acknowledge()

    def _release_score(self, partition: int) -> None:
        """Score what the watermark lets through (the population models learn from it)."""
        scored = self.score_stage(partition).release(self.score_holds.done)
        if scored:
            self._learnt.add(partition)
        for event in scored:
            self._send_scored(event)

    def _release_parse(self, partition: int) -> None:
        for access in self.parse_stage(partition).release(self.parse_holds.done):
            self._queue_event(access)

    def _queue_event(self, access: AccessEvent) -> None:
        """Encoded once here, so the batch knows its size (a batch of raw items costs a copy)."""
        encoded = _event_encoder.encode(access)
        partition = identity_partition(access.identity, self.partitions)
        self.event_outbox.add(partition, msgspec.Raw(encoded), len(encoded))

    def _flush_parse(self) -> None:
        """Events to the producer, then their entries may be acknowledged."""
        self.event_outbox.flush()
        self.parse_holds.acknowledge()

    def tick(self) -> None:
        """Batches out, watermarks forward, held requests out, state to the changelog."""
        settings = self.settings
        self._flush_route()
        for tp in self._assigned_tps(settings.raw_topic):
            self._send_route_mark(tp)
        entries = self._assigned(settings.entries_topic)
        for partition in entries:
            self._release_parse(partition)
            for access in self.parse_stage(partition).flush():
                self._queue_event(access)
        self._flush_parse()
        for partition in entries:
            stage = self.parse_stage(partition)
            self._broadcast_mark(self.topics.events, "parse", partition, stage.watermark())
        for partition in self._assigned(settings.events_topic):
            self._release_score(partition)
        now = wall.monotonic()
        if now - self._last_stats >= 1.0:
            self._last_stats = now
            if self.stats is not None:
                self.write_stats()
            if self.metrics is not None:
                self.update_metrics()

    def update_metrics(self) -> None:
        """Counts, consumer lag on the raw topic and identities, for Prometheus."""
        metrics = self.metrics
        assert metrics is not None
        metrics.sync(self.counts(), self.config.source.parser)
        for tp in self._assigned_tps(self.settings.raw_topic):
            highwater = self._highwater(tp)
            if highwater is not None:
                read = self.route_stage.next_offset.get(tp.partition, self._committed(tp) or 0)
                metrics.set_consumer_lag(tp.partition, max(0, highwater - read))
        metrics.identities.set(len(self.identities))

    def write_stats(self) -> None:
        """This worker's partitions and counts, as JSON (for operators, tests, benchmarks)."""
        stats = {
            "pid": os.getpid(),
            "time": wall.time(),
            "partitions": self._assigned(self.settings.events_topic),
            "counts": self.counts(),
            "duplicates": sum(stage.duplicates for stage in self.score_stages.values()),
            "replayed": sum(stage.replayed for stage in self.score_stages.values()),
            "waiting": sum(len(stage) for stage in self.score_stages.values()),
            "identities": len(self.identities),
        }
        temporary = self.stats.with_name(self.stats.name + ".tmp")
        temporary.write_bytes(orjson.dumps(stats))
        os.replace(temporary, self.stats)
