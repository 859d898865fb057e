"""Replaying a labelled log and reporting what was caught, how fast, and at what cost.

Labels name attack events by ``event_id`` (a JSON line each: ``event_id``, ``scenario``,
``instance``); everything else is benign. An attack instance is caught when any of its
events gets a decision (alert or revoke); detection time is counted from its first event.

Alerts on benign events are split in two. *Collateral* alerts fall on the victim's own
requests while its attack is under way (from the attack's first event to an hour after
its last): the same identity, the same incident, a real one — the analyst would want
them. *False* alerts are all the others; they are reported per 10,000 benign events and
per day.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import orjson

from detector.build import build_pipeline
from detector.config import load_pipeline_file
from detector.pipeline import ScoredEvent
from detector.runtime.local import LocalRun

__all__ = ["Evaluation", "InstanceResult", "Scoreboard", "evaluate", "read_labels"]


@dataclass
class InstanceResult:
    """One injected attack: caught or not, after how many of its events and seconds."""

    scenario: str
    instance: str
    events: int
    caught: bool = False
    revoked: bool = False
    events_to_detect: int | None = None
    seconds_to_detect: float | None = None
    max_risk: float = 0.0
    first_reason: str | None = None


@dataclass
class Evaluation:
    """The result of one labelled replay."""

    instances: list[InstanceResult] = field(default_factory=list)
    benign_events: int = 0
    false_alerts: int = 0
    false_revokes: int = 0
    collateral_alerts: int = 0
    days: float = 0.0
    scored_events: int = 0
    false_alert_examples: list[dict[str, Any]] = field(default_factory=list)

    @property
    def false_alerts_per_10k(self) -> float:
        return 1e4 * self.false_alerts / self.benign_events if self.benign_events else 0.0

    @property
    def false_alerts_per_day(self) -> float:
        return self.false_alerts / self.days if self.days else 0.0

    @property
    def all_caught(self) -> bool:
        return all(i.caught for i in self.instances)

    def scenarios(self) -> dict[str, dict[str, Any]]:
        """Per scenario: instances caught, median events and seconds to detect."""
        grouped: dict[str, list[InstanceResult]] = defaultdict(list)
        for result in self.instances:
            grouped[result.scenario].append(result)
        return {
            name: {
                "instances": len(results),
                "caught": sum(r.caught for r in results),
                "revoked": sum(r.revoked for r in results),
                "events": sum(r.events for r in results),
                "events_to_detect": _median([r.events_to_detect for r in results if r.caught]),
                "seconds_to_detect": _median([r.seconds_to_detect for r in results if r.caught]),
                "max_risk": max(r.max_risk for r in results),
            }
            for name, results in sorted(grouped.items())
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "scenarios": self.scenarios(),
            "instances": [asdict(i) for i in self.instances],
            "benign_events": self.benign_events,
            "false_alerts": self.false_alerts,
            "false_revokes": self.false_revokes,
            "false_alerts_per_10k_benign": round(self.false_alerts_per_10k, 3),
            "false_alerts_per_day": round(self.false_alerts_per_day, 3),
            "collateral_alerts": self.collateral_alerts,
            "days": round(self.days, 3),
            "scored_events": self.scored_events,
            "all_caught": self.all_caught,
            "false_alert_examples": self.false_alert_examples,
        }


def read_labels(path: Path) -> dict[str, tuple[str, str]]:
    """event_id -> (scenario, instance) from a labels file."""
    labels = {}
    for line in path.read_bytes().splitlines():
        if line.strip():
            label = orjson.loads(line)
            scenario = label["scenario"]
            labels[label["event_id"]] = (scenario, label.get("instance") or scenario)
    return labels


class Scoreboard:
    """Watches scored events (``observe``) and keeps the tally against the labels."""

    def __init__(self, labels: dict[str, tuple[str, str]], examples: int = 20) -> None:
        self.labels = labels
        self.examples = examples
        self.report = Evaluation()
        self._results: dict[str, InstanceResult] = {}
        self._firsts: dict[str, float] = {}
        self._first_time: float | None = None
        self._last_time: float | None = None
        self._benign_alerts: list[tuple[str, float, str, dict[str, Any]]] = []
        # identity -> [first, last] time of the attacks on it
        self._attacked: dict[str, list[float]] = {}

    def observe(self, scored: ScoredEvent) -> None:
        event, assessment, report = scored.event, scored.assessment, self.report
        if self._first_time is None:
            self._first_time = event.time
        self._last_time = event.time
        report.scored_events += 1
        label = self.labels.get(event.event_id)
        if label is None:
            report.benign_events += 1
            if assessment.decision is not None:
                self._benign_alerts.append(
                    (event.identity, event.time, assessment.decision, scored.alert_record())
                )
            return
        span = self._attacked.setdefault(event.identity, [event.time, event.time])
        span[1] = max(span[1], event.time)
        scenario, instance = label
        result = self._results.get(instance)
        if result is None:
            result = self._results[instance] = InstanceResult(scenario, instance, 0)
            self._firsts[instance] = event.time
        result.events += 1
        result.max_risk = max(result.max_risk, assessment.risk)
        if assessment.decision is not None:
            result.revoked = result.revoked or assessment.decision == "revoke"
            if not result.caught:
                result.caught = True
                result.events_to_detect = result.events
                result.seconds_to_detect = round(event.time - self._firsts[instance], 3)
                result.first_reason = assessment.reasons[0] if assessment.reasons else None

    def finish(self) -> Evaluation:
        """The evaluation so far; labelled instances never scored count as missed."""
        report = self.report
        report.false_alerts = report.false_revokes = report.collateral_alerts = 0
        report.false_alert_examples = []
        for identity, time, decision, record in self._benign_alerts:
            span = self._attacked.get(identity)
            if span is not None and span[0] <= time <= span[1] + 3600.0:
                report.collateral_alerts += 1
                continue
            report.false_alerts += 1
            report.false_revokes += decision == "revoke"
            if len(report.false_alert_examples) < self.examples:
                report.false_alert_examples.append(record)
        if self._first_time is not None:
            report.days = max((self._last_time - self._first_time) / 86400.0, 1e-9)
        results = dict(self._results)
        for scenario, instance in self.labels.values():
            results.setdefault(instance, InstanceResult(scenario, instance, 0))
        report.instances = sorted(results.values(), key=lambda r: (r.scenario, r.instance))
        return report


def evaluate(
    log: Path, labels_path: Path, pipeline_path: Path, inventory: Path | None = None
) -> Evaluation:
    """Replay ``log`` through a fresh pipeline and score the result against the labels.

    ``inventory`` replaces the pipeline's service inventory (a simulated organisation
    comes with its own).
    """
    scoreboard = Scoreboard(read_labels(labels_path))
    config = load_pipeline_file(pipeline_path)
    if inventory is not None:
        config.enrichers.service.inventory = str(inventory.resolve())
    pipeline = build_pipeline(config)
    with tempfile.TemporaryDirectory(prefix="detector-eval-") as out:
        run = LocalRun(
            pipeline, Path(out), None, config.source.reorder_window, on_scored=scoreboard.observe
        )
        run.run([str(log)])
    return scoreboard.finish()


def _median(values: list) -> float | None:
    values = sorted(v for v in values if v is not None)
    if not values:
        return None
    middle = len(values) // 2
    return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2
