"""The local runtime: files, directories or stdin in; alerts, dead letters and a summary out.

It is the embedded default (no broker, no Vault, no Slack) and what replays, evaluations,
the demo and the notebooks run. Events are scored in event-time order; the model's state
is saved to (and resumed from) a state file, so a restart neither forgets what it learned
nor alerts twice on events it already scored.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from detector.event import AccessEvent, format_time
from detector.health import HealthMonitor
from detector.parsers.base import Notice
from detector.pipeline import Pipeline, ScoredEvent
from detector.runtime.outputs import AlertFile, JsonlFile, write_json
from detector.runtime.reorder import ReorderBuffer
from detector.runtime.sources import IDLE, Record, expand, follow, read_all, total_bytes
from detector.sinks import Sink

if TYPE_CHECKING:  # prometheus_client is imported only where metrics are served
    from detector.metrics import Metrics

__all__ = ["LocalRun", "load_state", "save_state"]

log = logging.getLogger(__name__)

_FLUSH_EVERY = 4096  # records between checks of the parser's held-back requests
_SAVE_EVERY = 60.0  # seconds between state saves while following
_MEASURE_EVERY = 60.0  # seconds between state size measurements for the metrics


def save_state(pipeline: Pipeline, path: Path) -> None:
    """Write the pipeline's state atomically, readable by its owner only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    with open(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as f:
        f.write(pipeline.snapshot())
    os.replace(temporary, path)


def load_state(pipeline: Pipeline, path: Path) -> bool:
    """Resume from a state file if there is one; ``StateError`` if it does not fit."""
    if not path.exists():
        return False
    pipeline.restore(path.read_bytes(), str(path))
    return True


class LocalRun:
    """One run of a pipeline over some sources.

    Parameters
    ----------
    pipeline
        The pipeline; the run points its dead-letter sink at ``deadletter.jsonl``.
    out_dir
        Where ``alerts.jsonl``, ``deadletter.jsonl`` and ``summary.json`` go.
    state_path
        The state file to resume from and save to; ``None`` keeps nothing.
    reorder_window
        Seconds of event time an event may arrive late and still be put in order.
    on_scored
        Called with every scored event (the demo and notebooks watch these).
    sinks
        Further outputs (the store, the responder), each handed every scored event and
        every pipeline-health alert; a sink with a ``bind(pipeline)`` method is given the
        pipeline (the store snapshots the identities' baselines).
    metrics
        Prometheus metrics to keep current (follow mode); ``None``: none.
    health
        The pipeline-health monitor; a default one if not given.
    """

    def __init__(
        self,
        pipeline: Pipeline,
        out_dir: Path,
        state_path: Path | None,
        reorder_window: float,
        on_scored: Callable[[ScoredEvent], None] | None = None,
        sinks: Sequence[Sink] = (),
        metrics: Metrics | None = None,
        health: HealthMonitor | None = None,
    ) -> None:
        self.pipeline = pipeline
        self.sinks = list(sinks)
        self.out_dir = out_dir
        self.state_path = state_path
        self.reorder = ReorderBuffer(reorder_window)
        self.on_scored = on_scored
        # State first: a state file that does not fit must not leave the outputs open.
        self.resumed = state_path is not None and load_state(pipeline, state_path)
        self.alerts = AlertFile(out_dir / "alerts.jsonl")
        self.deadletters = JsonlFile(out_dir / "deadletter.jsonl")
        pipeline.deadletters = self.deadletters
        self._stop = threading.Event()
        self._first_time: float | None = None
        self._last_time: float | None = None
        self.metrics = metrics
        self.health = health if health is not None else HealthMonitor(pipeline.name)
        pipeline.on_notice = self._notice_chain(pipeline.on_notice)
        for sink in self.sinks:
            bind = getattr(sink, "bind", None)
            if callable(bind):
                bind(pipeline)
        self._newest_arrival: float | None = None
        self._stream_time = float("-inf")  # newest event time seen, scored or skipped
        self._measured = float("-inf")

    def _notice_chain(self, previous: Callable[[Notice], None] | None):
        """A parser's notices go to the health monitor, and to whoever listened before."""

        def on_notice(notice: Notice) -> None:
            if previous is not None:
                previous(notice)
            self.health.notice(notice)

        return on_notice

    def stop(self) -> None:
        """Finish cleanly: score what is held, save the state, write the summary."""
        self._stop.set()

    def run(
        self,
        sources: list[str],
        follow_sources: bool = False,
        poll_interval: float = 0.5,
        progress: Callable[[int, int], None] | None = None,
    ) -> dict[str, Any]:
        """Process the sources to the end (or, following, until :meth:`stop`)."""
        started = time.perf_counter()
        self.health.live = follow_sources
        self.health.inputs = ", ".join("stdin" if s == "-" else s for s in sources)
        try:  # whatever fails (a missing source, a read error), the outputs are closed
            paths = expand(sources)
            with self._signals():
                if follow_sources:
                    records = follow(paths, poll_interval, self._stop)
                else:
                    total = total_bytes(paths)
                    advance = None
                    if progress is not None:
                        done = [0]

                        def advance(n: int) -> None:
                            done[0] += n
                            progress(done[0], total)

                    records = read_all(paths, advance)
                self._consume(records, follow_sources)
                self._score(self.pipeline.flush(final=True))
                self._emit(self.reorder.drain())
                self._tick(idle=False, final=True)
            elapsed = time.perf_counter() - started
        finally:
            self.alerts.close()
            self.deadletters.close()
            for sink in self.sinks:
                sink.close()
        if self.state_path is not None:
            save_state(self.pipeline, self.state_path)
        summary = self.summary(elapsed)
        write_json(self.out_dir / "summary.json", summary)
        return summary

    # -- the loop ------------------------------------------------------------------------

    def _consume(self, records: Iterator[Record], live: bool) -> None:
        pipeline = self.pipeline
        parse = pipeline.parse
        last_save = time.monotonic()
        for count, (record, origin) in enumerate(records, start=1):
            if self._stop.is_set():
                break
            if origin is IDLE[1]:
                # A quiet live stream: nothing earlier is coming, score what is held.
                self._score(pipeline.flush())
                self._emit(self.reorder.drain())
                self._tick(idle=True)
                self.alerts.flush()
                for sink in self.sinks:
                    sink.flush()
                if self.state_path is not None and time.monotonic() - last_save > _SAVE_EVERY:
                    save_state(pipeline, self.state_path)
                    last_save = time.monotonic()
                continue
            events = parse(record, origin)
            if events:
                self._score(events)
            if count % _FLUSH_EVERY == 0:
                self._score(pipeline.flush())
                self._tick(idle=False)

    def _score(self, events: list[AccessEvent]) -> None:
        if events:
            self._newest_arrival = events[-1].time
            self._emit(self.reorder.push(events))

    def _emit(self, events: list[AccessEvent]) -> None:
        pipeline, health = self.pipeline, self.health
        score, on_scored, alerts, sinks = pipeline.score, self.on_scored, self.alerts, self.sinks
        if self.metrics is not None:
            started, before = time.perf_counter(), pipeline.scored
        # Gaps in the stream longer than this go to the health monitor (events a restart
        # skips count: a follower re-reading its file learns the stream's gaps at once).
        gap_floor, last = health.gap_floor, self._stream_time
        for event in events:
            if event.time > last:
                if event.time - last > gap_floor:
                    health.gap(last, event.time, pipeline.events)
                    if health.pending:
                        self._raise(health.drain(event.time))
                last = event.time
            scored = score(event)
            if scored is None:
                continue
            if self._first_time is None:
                self._first_time = event.time
            self._last_time = event.time
            if scored.assessment.decision is not None:
                alerts.write(scored.alert_record())
            for sink in sinks:
                sink.handle(scored)
            if on_scored is not None:
                on_scored(scored)
        self._stream_time = last
        if health.pending:
            self._raise(health.drain(self._last_time))
        if self.metrics is not None:
            self.metrics.processed(pipeline.scored - before, time.perf_counter() - started)

    def _raise(self, health_alerts: list[ScoredEvent]) -> None:
        """Pipeline-health alerts: to the alert file and every sink, like any alert."""
        for scored in health_alerts:
            self.alerts.write(scored.alert_record())
            for sink in self.sinks:
                sink.handle(scored)
            if self.metrics is not None:
                self.metrics.health_alert(scored.event.action.removeprefix("health:"))

    def _tick(self, idle: bool, final: bool = False) -> None:
        """The input went quiet, a few thousand records passed, or the run ends: health
        checks, and the metrics brought up to date."""
        pipeline = self.pipeline
        if self._stream_time > float("-inf"):
            self.health.observe(self._stream_time, pipeline.events)
        self.health.tick(pipeline, self._newest_arrival, idle, final)
        if self.health.pending:
            self._raise(self.health.drain(self._last_time, final))
        metrics = self.metrics
        if metrics is None:
            return
        metrics.sync(pipeline.all_counts(), pipeline.parser.name)
        metrics.sync_sinks(self.sinks)
        if self._newest_arrival is not None:
            metrics.set_event_time(self._newest_arrival, time.time())
        if time.monotonic() - self._measured > _MEASURE_EVERY or final:
            self._measured = time.monotonic()
            model = pipeline.model
            metrics.measure_state(
                model.store,
                len(model.store),
                models=getattr(model, "detector_sets", model.detectors),
                shared=pipeline.enrichers,
            )

    @contextmanager
    def _signals(self):
        """SIGTERM (and Ctrl-C) stop the run cleanly instead of losing the state."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous = signal.signal(signal.SIGTERM, lambda *_: self.stop())
        try:
            yield
        except KeyboardInterrupt:
            self.stop()
        finally:
            signal.signal(signal.SIGTERM, previous)

    # -- reporting -----------------------------------------------------------------------

    def summary(self, elapsed: float) -> dict[str, Any]:
        counts = self.pipeline.all_counts()
        sinks = {
            getattr(sink, "name", type(sink).__name__): sink.summary()
            for sink in self.sinks
            if callable(getattr(sink, "summary", None))
        }
        store = self.pipeline.model.store
        records = counts.get("records", 0)
        scored = counts.get("scored", 0)
        return {
            "pipeline": self.pipeline.name,
            "resumed": self.resumed,
            "records": records,
            "events": counts.get("events", 0),
            "scored": scored,
            "alerts": counts.get("alert", 0) + counts.get("revoke", 0),
            "decisions": {"alert": counts.get("alert", 0), "revoke": counts.get("revoke", 0)},
            "deadletters": counts.get("deadletters", 0),
            "counts": counts,
            "identities": len(store),
            "identities_evicted": store.evicted,
            "first_event": format_time(self._first_time) if self._first_time else None,
            "last_event": format_time(self._last_time) if self._last_time else None,
            "seconds": round(elapsed, 3),
            "records_per_second": round(records / elapsed, 1) if elapsed else None,
            "events_per_second": round(scored / elapsed, 1) if elapsed else None,
            "health_alerts": dict(self.health.raised),
            **({"sinks": sinks} if sinks else {}),
        }
