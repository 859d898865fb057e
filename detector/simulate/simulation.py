"""Run a simulation: plan every actor window by window, write the log and the answers.

Time advances in windows of six hours. In each window every benign actor plans the calls
that start in it (a call planned in one window may end, or start, in a later one: those
wait, sorted with the next window's), then the scenarios due in the window plan theirs.
The window's calls are written in start-time order and its responses when they are due,
so memory stays bounded by a window however long or large the run.
"""

from __future__ import annotations

import heapq
import json
from bisect import bisect_left
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import attrgetter
from pathlib import Path
from typing import Protocol

from detector.simulate.audit_entries import AuditLogWriter
from detector.simulate.automation import CiRepository, DeployPipeline, NightlyJob
from detector.simulate.calls import Call
from detector.simulate.evasion import EVASION_SCENARIOS
from detector.simulate.inventory import inventory_entries, write_inventory
from detector.simulate.organisation import BATCH_JOBS, CI_REPOS, PEOPLE, SERVICES
from detector.simulate.people import Episodes, Person
from detector.simulate.scenarios import SCENARIOS, Cast, Scenario, schedule
from detector.simulate.services import deployment_time, service_hosts
from detector.simulate.timekeeping import DAY, HOUR, SECOND, LocalClock
from detector.simulate.world import World

__all__ = ["DEFAULT_START", "SCENARIO_SETS", "SimulationResult", "simulate"]

#: A Monday: the default run covers two working weeks.
DEFAULT_START = datetime(2026, 11, 2, tzinfo=UTC)
_WINDOW = 6 * HOUR
_ORDER = attrgetter("t", "rid")

#: The attack sets a run can inject: the ten standard scenarios (the default, whose
#: figures the README quotes), the four that try to evade the detector, or both.
SCENARIO_SETS: dict[str, tuple[type[Scenario], ...]] = {
    "standard": SCENARIOS,
    "evasion": EVASION_SCENARIOS,
    "all": SCENARIOS + EVASION_SCENARIOS,
}


class _Actor(Protocol):
    def plan(self, start: int, end: int) -> list[Call]: ...


@dataclass(frozen=True)
class SimulationResult:
    """What a run wrote: the four files and how much is in them."""

    audit_log: Path
    labels: Path
    scenarios: Path
    inventory: Path
    lines: int
    requests: int
    attack_events: int
    instances: int
    start: datetime
    end: datetime


def simulate(
    out_dir: Path,
    seed: int = 7,
    days: float = 14,
    start: datetime | None = None,
    scale: float = 1.0,
    attacks: bool = True,
    scenarios: str = "standard",
) -> SimulationResult:
    """Write a simulated organisation's Vault audit log, with labelled attacks.

    Parameters
    ----------
    out_dir
        Directory for ``audit.log``, ``labels.jsonl``, ``scenarios.json`` and
        ``inventory.toml`` (created if missing; the files are replaced).
    seed
        The same seed and arguments give the same bytes.
    days
        Length of the log.
    start
        When the log starts (UTC if naive); by default Monday 2 November 2026.
    scale
        Multiplies the services' and pipelines' load (``20`` writes millions of lines).
    attacks
        Inject the attack scenarios; without them the log is the benign traffic only.
    scenarios
        Which attacks: a key of :data:`SCENARIO_SETS` (``standard``, ``evasion``, ``all``).
        The benign traffic is the same whichever set is injected.
    """
    if days <= 0:
        raise ValueError(f"days must be positive, got {days}")
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if scenarios not in SCENARIO_SETS:
        raise ValueError(f"scenarios must be one of {', '.join(SCENARIO_SETS)}, got {scenarios!r}")
    start = start or DEFAULT_START
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    begin = int(start.timestamp() * SECOND)
    end = begin + int(days * DAY)
    world = World(seed, begin, end, scale)

    hosts = {spec.name: service_hosts(world, spec) for spec in SERVICES}
    ci = {spec.repository: CiRepository(world, spec) for spec in CI_REPOS}
    jobs = [NightlyJob(world, spec) for spec in BATCH_JOBS]
    live = deployment_time(world, next(s for s in SERVICES if s.deployed_at))
    onboarding = LocalClock("Europe/Berlin").date_of(live) - timedelta(days=1)
    while onboarding.weekday() >= 5:
        onboarding -= timedelta(days=1)
    episodes = Episodes.for_period(LocalClock("UTC").date_of(begin), days, onboarding)
    people = {spec.username: Person(world, spec, episodes) for spec in PEOPLE}
    actors: list[_Actor] = [
        *(h for group in hosts.values() for h in group),
        *ci.values(),
        DeployPipeline(world),
        *jobs,
        *people.values(),
    ]
    kinds = SCENARIO_SETS[scenarios] if attacks else ()
    injected = schedule(world, Cast(people, hosts, ci), days, kinds)
    steps = [(t, n, i) for n, s in enumerate(injected) for i, t in enumerate(s.when)]
    heapq.heapify(steps)

    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {
        name: out_dir / name
        for name in ("audit.log", "labels.jsonl", "scenarios.json", "inventory.toml")
    }
    with paths["audit.log"].open("wb") as log, paths["labels.jsonl"].open("wb") as labels:
        writer = AuditLogWriter(world, log, labels)
        carried: list[Call] = []
        window = begin
        while window < end:
            until = min(window + _WINDOW, end)
            calls = carried
            for actor in actors:
                calls.extend(actor.plan(window, until))
            calls.extend(_attacks(steps, injected, window, until))
            calls = [c for c in calls if c.t < end]
            calls.sort(key=_ORDER)
            cut = bisect_left(calls, until, key=attrgetter("t"))
            writer.write(calls[:cut])
            carried = calls[cut:]
            window = until
        writer.close()

    summaries = [s.summary() for s in injected if s.label.events]
    paths["scenarios.json"].write_text(json.dumps(summaries, indent=2) + "\n", encoding="utf-8")
    write_inventory(paths["inventory.toml"], inventory_entries(world, hosts, jobs))
    return SimulationResult(
        audit_log=paths["audit.log"],
        labels=paths["labels.jsonl"],
        scenarios=paths["scenarios.json"],
        inventory=paths["inventory.toml"],
        lines=writer.lines,
        requests=writer.calls,
        attack_events=sum(s.label.events for s in injected),
        instances=len(summaries),
        start=start,
        end=start + timedelta(days=days),
    )


def _attacks(
    steps: list[tuple[int, int, int]], scenarios: list[Scenario], start: int, end: int
) -> list[Call]:
    """Calls of the scenario steps due before ``end``; a step not ready waits a window."""
    calls: list[Call] = []
    later = []
    while steps and steps[0][0] < end:
        t, n, index = heapq.heappop(steps)
        planned = scenarios[n].step(index, start, end)
        if planned is None:
            later.append((end, n, index))
        else:
            calls.extend(c for c in planned if c.t >= start)
    for step in later:
        heapq.heappush(steps, step)
    return calls
