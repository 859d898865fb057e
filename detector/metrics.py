"""Prometheus metrics of a running detector, for the operators who keep it healthy.

:class:`Metrics` owns its own ``CollectorRegistry`` (never the global one), so a process can
hold several runs and tests can create as many as they like; the local runtime's follow
mode and the streaming worker each create one and :meth:`Metrics.serve` it.

The hot path stays cheap: the pipeline already counts records, events, decisions and dead
letters by reason, and :meth:`Metrics.sync` turns the growth of those counts into counter
increments when the runtime ticks (a quiet poll, every few thousand records), not per
event. Only the processing-time histogram is fed per batch of scored events.

========================================  =========  =====================================
metric                                    type       labels / meaning
========================================  =========  =====================================
``detector_records_total``                counter    ``pipeline``: raw records read
``detector_events_total``                 counter    ``pipeline, source``: events parsed
``detector_scored_total``                 counter    ``pipeline``: events scored
``detector_deadletters_total``            counter    ``pipeline, reason``
``detector_ignored_total``                counter    ``pipeline, reason``: out of scope
``detector_decisions_total``              counter    ``pipeline, decision`` (alert, revoke)
``detector_revocations_total``            counter    ``pipeline, outcome`` (the responder)
``detector_health_alerts_total``          counter    ``pipeline, check``
``detector_sink_errors_total``            counter    ``pipeline, sink``: failed writes
``detector_processing_seconds``           histogram  ``pipeline``: enrich, score and act, per
                                                     event
``detector_consumer_lag``                 gauge      ``pipeline, partition``: records behind
                                                     (streaming runtime)
``detector_event_lag_seconds``            gauge      ``pipeline``: wall clock minus the
                                                     newest event time
``detector_identities``                   gauge      ``pipeline``: identities tracked
``detector_state_bytes``                  gauge      ``pipeline``: model state, estimated
``detector_last_event_timestamp_seconds`` gauge      ``pipeline``: newest event time
========================================  =========  =====================================
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import start_http_server

from detector.memory import deep_size
from detector.metrics_config import parse_listen

__all__ = ["METRIC_NAMES", "Metrics", "parse_listen"]

#: every metric this module exports (counters without their ``_total`` suffix in the
#: registry, with it in the exposition)
METRIC_NAMES = (
    "detector_records_total",
    "detector_events_total",
    "detector_scored_total",
    "detector_deadletters_total",
    "detector_ignored_total",
    "detector_decisions_total",
    "detector_revocations_total",
    "detector_health_alerts_total",
    "detector_sink_errors_total",
    "detector_processing_seconds",
    "detector_consumer_lag",
    "detector_event_lag_seconds",
    "detector_identities",
    "detector_state_bytes",
    "detector_last_event_timestamp_seconds",
)

# Scoring one event takes tens of microseconds; a slow sink or a state save, milliseconds.
_BUCKETS = (1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 1e-2, 0.1, 1.0)
_SAMPLE = 256  # identities measured to estimate the state's size


class Metrics:
    """The metrics of one pipeline's run.

    Parameters
    ----------
    pipeline
        The value of every metric's ``pipeline`` label.
    registry
        Where the metrics are registered; a new one by default.
    """

    def __init__(self, pipeline: str, registry: CollectorRegistry | None = None) -> None:
        self.pipeline = pipeline
        self.registry = registry if registry is not None else CollectorRegistry()
        r, p = self.registry, ("pipeline",)
        self.records = Counter("detector_records", "Raw records read.", p, registry=r)
        self.events = Counter(
            "detector_events", "Events parsed, by source.", (*p, "source"), registry=r
        )
        self.scored = Counter("detector_scored", "Events scored.", p, registry=r)
        self.deadletters = Counter(
            "detector_deadletters",
            "Records that could not be used, by reason.",
            (*p, "reason"),
            registry=r,
        )
        self.ignored = Counter(
            "detector_ignored", "Out-of-scope records, by reason.", (*p, "reason"), registry=r
        )
        self.decisions = Counter(
            "detector_decisions", "Alert and revoke decisions.", (*p, "decision"), registry=r
        )
        self.revocations = Counter(
            "detector_revocations",
            "Revocations attempted by the responder, by outcome.",
            (*p, "outcome"),
            registry=r,
        )
        self.health_alerts = Counter(
            "detector_health_alerts",
            "Pipeline-health alerts, by check.",
            (*p, "check"),
            registry=r,
        )
        self.sink_errors = Counter(
            "detector_sink_errors", "Failed writes of a sink.", (*p, "sink"), registry=r
        )
        self.processing = Histogram(
            "detector_processing_seconds",
            "Seconds to enrich, score and act on one event.",
            p,
            buckets=_BUCKETS,
            registry=r,
        ).labels(pipeline)
        self.consumer_lag = Gauge(
            "detector_consumer_lag",
            "Records the consumer is behind, by partition (streaming runtime).",
            (*p, "partition"),
            registry=r,
        )
        self.event_lag = Gauge(
            "detector_event_lag_seconds",
            "Wall clock minus the newest event time (live runs).",
            p,
            registry=r,
        ).labels(pipeline)
        self.identities = Gauge("detector_identities", "Identities tracked.", p, registry=r).labels(
            pipeline
        )
        self.state_bytes = Gauge(
            "detector_state_bytes", "Bytes of model state (estimated).", p, registry=r
        ).labels(pipeline)
        self.last_event = Gauge(
            "detector_last_event_timestamp_seconds", "Newest event time.", p, registry=r
        ).labels(pipeline)
        self._seen: dict[str, float] = {}  # pipeline count -> value at the last sync
        self._server: Any = None
        self._thread: threading.Thread | None = None

    # -- feeding --------------------------------------------------------------------------

    def sync(self, counts: Mapping[str, int], source: str) -> None:
        """Add what a pipeline counted since the last call (``Pipeline.all_counts()``).

        The pipeline's counts only grow within a run, so each counter moves by the growth.
        """
        seen, pipeline = self._seen, self.pipeline
        for key, value in counts.items():
            delta = value - seen.get(key, 0)
            if delta <= 0:
                continue
            seen[key] = value
            if key == "records":
                self.records.labels(pipeline).inc(delta)
            elif key == "events":
                self.events.labels(pipeline, source).inc(delta)
            elif key == "scored":
                self.scored.labels(pipeline).inc(delta)
            elif key in ("alert", "revoke"):
                self.decisions.labels(pipeline, key).inc(delta)
            elif key.startswith("deadletter: "):
                self.deadletters.labels(pipeline, key[12:]).inc(delta)
            elif key.startswith("ignored: "):
                self.ignored.labels(pipeline, key[9:]).inc(delta)

    def sync_sinks(self, sinks: Iterable[object]) -> None:
        """Count the failed writes of sinks that keep an ``errors`` count (the store)."""
        for sink in sinks:
            errors = getattr(sink, "errors", None)
            if not isinstance(errors, int):
                continue
            name = getattr(sink, "name", type(sink).__name__)
            key = f"sink: {name}"
            delta = errors - self._seen.get(key, 0)
            if delta > 0:
                self._seen[key] = errors
                self.sink_errors.labels(self.pipeline, name).inc(delta)

    def processed(self, events: int, seconds: float) -> None:
        """A batch of ``events`` took ``seconds`` to score and act on: each is observed at
        the batch's mean (live batches are an event or two)."""
        if events > 0:
            mean = seconds / events
            for _ in range(events):
                self.processing.observe(mean)

    def health_alert(self, check: str) -> None:
        self.health_alerts.labels(self.pipeline, check).inc()

    def revocation(self, outcome: str) -> None:
        """For the responder: one revocation attempt and how it ended."""
        self.revocations.labels(self.pipeline, outcome).inc()

    def set_consumer_lag(self, partition: int | str, records: int) -> None:
        """For the streaming runtime: how far behind the consumer of a partition is."""
        self.consumer_lag.labels(self.pipeline, str(partition)).set(records)

    def set_event_time(self, newest: float, now: float) -> None:
        self.last_event.set(newest)
        self.event_lag.set(now - newest)

    def measure_state(
        self, identities: Iterable[Any], count: int, models: Any = (), shared: Any = ()
    ) -> None:
        """Set the identities gauge and estimate the state's bytes: ``models`` (population
        models) in full, the identities from a sample of them.

        Measuring every identity's state would hold the stream for seconds with a million
        of them; ``_SAMPLE`` identities, scaled up, are exact enough for a dashboard.
        ``shared`` holds what is not counted (the enrichers' caches, bounded on their own).
        """
        self.identities.set(count)
        states = list(identities) if count <= _SAMPLE else None
        if states is None:
            states = []
            step = max(1, count // _SAMPLE)
            for i, state in enumerate(identities):
                if i % step == 0:
                    states.append(state)
        per_identity = deep_size(states, shared=shared) / len(states) if states else 0.0
        self.state_bytes.set(per_identity * count + deep_size([models], shared=shared))

    # -- serving --------------------------------------------------------------------------

    def exposition(self) -> bytes:
        """The metrics in Prometheus' text format (what the endpoint answers)."""
        return generate_latest(self.registry)

    def serve(self, host: str = "127.0.0.1", port: int = 9464) -> tuple[str, int]:
        """Answer ``GET /metrics`` on ``host:port`` from a daemon thread; the address bound
        (port 0 picks a free one)."""
        if self._server is not None:
            raise RuntimeError("metrics are already served")
        self._server, self._thread = start_http_server(port, host, registry=self.registry)
        address = self._server.server_address
        return address[0], address[1]

    def close(self) -> None:
        """Stop serving (the socket is closed; the thread ends)."""
        if self._server is None:
            return
        self._server.shutdown()
        self._server.server_close()
        if self._thread is not None:
            self._thread.join(5.0)
        self._server = self._thread = None
