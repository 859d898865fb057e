"""The agents of the streaming runtime: thin loops that decode, hand records to the stages,
and send what comes out. All logic lives in :mod:`detector.streaming.stages` and the
pipeline; the agents only move records and watermarks."""

from __future__ import annotations

import logging
import time as wall
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from detector.build import build_pipeline
from detector.config import PipelineFile
from detector.partitioning import identity_partition
from detector.pipeline import Pipeline, ScoredEvent
from detector.streaming.app import create_app
from detector.streaming.codec import (
    WATERMARK_KEY,
    decode_event,
    decode_watermark,
    encode_event,
    encode_watermark,
)
from detector.streaming.identity_table import IdentityTable
from detector.streaming.settings import StreamingSection, with_environment
from detector.streaming.stages import ParseStage, RouteStage, ScoreStage
from detector.streaming.tables import Tables
from detector.streaming.topics import Topics

__all__ = ["StreamingWorker"]

log = logging.getLogger(__name__)

_TICK = 0.05  # seconds between watermark and flush ticks
_REPEAT = 1.0  # seconds after which an unchanged watermark is sent again (new owners)
_NO_TIME = 0.001  # the timestamp of an entry with no event time of its own


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
        self.route_stage = RouteStage(lateness=0.2, idle=self.settings.idle)
        self.parse_stages: dict[int, ParseStage] = {}
        self.score_stages: dict[int, ScoreStage] = {}
        self._pipelines: dict[int, Pipeline] = {}
        self._sent_marks: dict[tuple[str, int], tuple[float, float]] = {}
        self._last_flush = wall.monotonic()
        self._register()

    # -- per-partition objects -----------------------------------------------------------

    def pipeline(self, partition: int) -> Pipeline:
        """The pipeline of one partition: its parser for entries, its model for events."""
        pipeline = self._pipelines.get(partition)
        if pipeline is None:
            pipeline = build_pipeline(self.config, _TopicDeadLetters(self.topics.deadletters), 1)
            pipeline.model.store = self.identities
            self._pipelines[partition] = pipeline
        return pipeline

    def parse_stage(self, partition: int) -> ParseStage:
        stage = self.parse_stages.get(partition)
        if stage is None:
            stage = self.parse_stages[partition] = ParseStage(
                self.pipeline(partition), self.settings.raw_partitions
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
        total: dict[str, int] = {}
        for pipeline in self._pipelines.values():
            for key, value in pipeline.all_counts().items():
                total[key] = total.get(key, 0) + value
        return total

    # -- sending ------------------------------------------------------------------------

    def _send_event(self, event: Any) -> None:
        self.topics.events.send_soon(
            key=event.identity.encode(),
            value=encode_event(event),
            partition=identity_partition(event.identity, self.partitions),
        )

    def _send_scored(self, scored: ScoredEvent) -> None:
        if self.on_scored is not None:
            self.on_scored(scored)
        if scored.decision is None:
            return
        record = scored.alert_record()
        partition = identity_partition(scored.event.identity, self.partitions)
        payload = orjson.dumps(record)
        key = scored.event.identity.encode()
        self.topics.alerts.send_soon(key=key, value=payload, partition=partition)
        if scored.decision == "revoke":
            self.topics.actions.send_soon(key=key, value=payload, partition=partition)

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

    def _assigned_tps(self, topic_name: str) -> list[Any]:
        assignment = self.app.consumer.assignment() if self.app.consumer else set()
        return sorted(
            (tp for tp in assignment if tp.topic == topic_name), key=lambda tp: tp.partition
        )

    def _assigned(self, topic_name: str) -> list[int]:
        return [tp.partition for tp in self._assigned_tps(topic_name)]

    def _highwater(self, tp: Any) -> int | None:
        try:
            return self.app.consumer.highwater(tp)
        except Exception:  # noqa: BLE001 - not known yet (no fetch answered)
            return None

    # -- the agents ---------------------------------------------------------------------

    def _register(self) -> None:
        app, topics = self.app, self.topics

        @app.agent(topics.raw, name="route")
        async def route(stream: Any) -> None:
            async for event in stream.events():
                message = event.message
                key, time = self.route_stage.route(message.partition, message.offset, event.value)
                # The event time travels as the record's timestamp: the parse stage orders by it.
                topics.entries.send_soon(key=key or None, value=event.value, timestamp=time)

        @app.agent(topics.entries, name="parse")
        async def parse(stream: Any) -> None:
            async for event in stream.events():
                stage = self.parse_stage(event.message.partition)
                if event.key == WATERMARK_KEY:
                    stage.upstream.update(*decode_watermark(event.value))
                    continue
                message = event.message
                origin = f"{topics.entries.get_topic_name()}:{message.partition}:{message.offset}"
                time = message.timestamp if message.timestamp > _NO_TIME else None
                stage.push(time, event.value, origin)
                for access in stage.release():
                    self._send_event(access)

        @app.agent(topics.events, name="score")
        async def score(stream: Any) -> None:
            async for event in stream.events():
                stage = self.score_stage(event.message.partition)
                if event.key == WATERMARK_KEY:
                    stage.upstream.update(*decode_watermark(event.value))
                else:
                    stage.push(decode_event(event.value))
                for scored in stage.release():
                    self._send_scored(scored)

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

        @app.on_partitions_revoked.connect
        async def on_revoked(sender: Any, revoked: Any, **_: Any) -> None:
            self.give_away(
                {tp.partition for tp in revoked if tp.topic == self.settings.events_topic}
            )

    def give_away(self, partitions: set[int]) -> None:
        """Partitions moving to another worker: write their state, forget their stages."""
        self.identities.flush(only=partitions)
        for partition in partitions:
            self.score_stages.pop(partition, None)
            self.parse_stages.pop(partition, None)
            self._pipelines.pop(partition, None)

    def tick(self) -> None:
        """Watermarks forward, held requests out, state to the changelog."""
        settings = self.settings
        for tp in self._assigned_tps(settings.raw_topic):
            mark = self.route_stage.watermark(tp.partition, self._highwater(tp))
            self._broadcast_mark(self.topics.entries, "route", tp.partition, mark)
        for partition in self._assigned(settings.entries_topic):
            stage = self.parse_stage(partition)
            for access in stage.release() + stage.flush():
                self._send_event(access)
            self._broadcast_mark(self.topics.events, "parse", partition, stage.watermark())
        for partition in self._assigned(settings.events_topic):
            for scored in self.score_stage(partition).release():
                self._send_scored(scored)
        if wall.monotonic() - self._last_flush >= settings.state_flush:
            self._last_flush = wall.monotonic()
            self.identities.flush()
