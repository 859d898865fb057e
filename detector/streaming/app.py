"""The Faust application, and nothing else (topics, tables and agents have their modules)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import faust

from detector.streaming.settings import StreamingSection, broker_credentials
from detector.streaming.transport import Transport

__all__ = ["create_app"]


def create_app(settings: StreamingSection, partitions: int, data_dir: Path) -> faust.App:
    """A Faust app for one pipeline: its consumer group, broker and timeouts.

    The consumer session timeout decides how fast a dead worker's partitions move to a
    survivor; it is ``settings.session_timeout``.
    """
    app = _App(
        settings.app_id,
        broker=settings.broker,
        broker_credentials=broker_credentials(settings),
        broker_session_timeout=settings.session_timeout,
        # Faust waits 90 s for a broker's answer (twice, with a retry): a request lost in a
        # broker hiccup stalled a worker's commits, and its streams with them, for three
        # minutes. Kafka wants it no shorter than the session timeout.
        broker_request_timeout=max(30.0, 3 * settings.session_timeout),
        broker_heartbeat_interval=settings.heartbeat_interval,
        broker_commit_interval=1.0,
        store="memory://",
        topic_partitions=partitions,
        topic_replication_factor=settings.replication_factor,
        topic_allow_declare=True,
        consumer_auto_offset_reset="earliest",
        key_serializer="raw",
        value_serializer="raw",
        datadir=str(data_dir),
        web_enabled=settings.web_port > 0,
        web_port=settings.web_port or 6066,
        web_bind="127.0.0.1",
        processing_guarantee="at_least_once",
        stream_wait_empty=False,
        table_cleanup_interval=3600.0,
        # Audit lines can be long (a 5 MB line must reach the dead letters, not stall).
        consumer_max_fetch_size=16 * 1024 * 1024,
        producer_max_request_size=16 * 1024 * 1024,
        # Throughput: big polls and produce batches (latency is set by the stages' tick).
        broker_max_poll_records=10_000,
        stream_buffer_maxsize=16_384,
        producer_linger_ms=5,
        producer_max_batch_size=1024 * 1024,
    )
    app.fetch_wait_ms = int(settings.fetch_wait * 1000)
    return app


class _App(faust.App):
    """Faust's app on our consumer (see :mod:`detector.streaming.transport`)."""

    fetch_wait_ms = 100

    def _new_transport(self) -> Any:
        return Transport(self.conf.broker_consumer, self)

    def on_init_dependencies(self) -> Any:
        """Faust's, less its Monitor as a sensor: it counts every message and event in and
        out (a tenth of a worker's time on one-line messages) for Faust's web statistics
        page, which we do not serve; the worker's metrics are its own. The Monitor stays
        the app's (Faust's consumer reports end offsets and commits to it directly)."""
        dependencies = super().on_init_dependencies()
        self.sensors.remove(self.monitor)
        return dependencies

    def on_rebalance_start(self) -> None:
        """Faust's, with a state for the sensors even when there are none: Faust warns at
        every rebalance that the sensors' state is missing when it is empty."""
        super().on_rebalance_start()
        self._rebalancing_sensor_state = self._rebalancing_sensor_state or {"no sensors": None}
