"""Machines on a schedule: CI pipelines, the deploy workflow and the nightly jobs.

A GitHub Actions run logs in with the runner's OIDC token (JWT auth, one identity per
repository) and reads 5-30 secrets in under a minute, from a runner address that is new
every run; runs follow the committers' working hours, plus a scheduled nightly build.
The deploy workflow logs in with an AppRole. The backup and the warehouse ETL read
dozens of secrets at 02:00 every night; the rotation job writes new versions of a
dozen secrets every Tuesday.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from datetime import date, timedelta

from detector.simulate.auth_methods import approle_login, jwt_login
from detector.simulate.calls import ALLOWED, Call
from detector.simulate.client import Client
from detector.simulate.identifiers import random_hmac
from detector.simulate.networks import POOLS
from detector.simulate.organisation import (
    CITIES,
    DEPLOY_PIPELINE,
    BatchJobSpec,
    CiRepoSpec,
)
from detector.simulate.timekeeping import SECOND, LocalClock
from detector.simulate.tokens import Token, TokenMint
from detector.simulate.traffic import poisson
from detector.simulate.world import World

__all__ = ["CiRepository", "DeployPipeline", "NightlyJob", "PipelineRun"]

#: Where each team's committers work (their working hours drive the pipeline runs).
_COMMITTERS = {
    "shop": ("berlin", "saopaulo"),
    "payments": ("berlin", "newyork", "saopaulo"),
    "platform": ("newyork", "bangalore"),
    "data": ("newyork", "bangalore"),
}
_USER_AGENT = "got (https://github.com/sindresorhus/got)"  # hashicorp/vault-action
_CI_TTL = 3600


@dataclass
class PipelineRun:
    """One workflow run: when, from which runner, with which token."""

    start: int
    end: int
    ip: str
    token: Token | None
    workflow: str


class _Daily:
    """Plans whole days (of one clock) when the window reaches their start."""

    def __init__(self, world: World, clock: LocalClock) -> None:
        self.world = world
        self.clock = clock
        self._next_day = clock.date_of(world.start)

    def plan(self, start: int, end: int) -> list[Call]:
        calls: list[Call] = []
        while self.clock.midnight(self._next_day) < end:
            calls.extend(self.day(self._next_day))
            self._next_day += timedelta(days=1)
        first = self.world.start
        return [c for c in calls if c.t >= first]

    def day(self, day: date) -> list[Call]:
        raise NotImplementedError


class CiRepository(_Daily):
    """The GitHub Actions workflows of one repository."""

    def __init__(self, world: World, spec: CiRepoSpec) -> None:
        super().__init__(world, LocalClock("UTC"))
        self.spec = spec
        self.rng = world.rng(f"ci/{spec.repository}")
        self.mint = TokenMint(self.rng)
        store = world.store
        self.own = store.paths("secret", spec.secrets_prefix)
        self.shared = store.paths("secret", "ci/shared/")
        self.runs: deque[PipelineRun] = deque(maxlen=512)
        self._clocks = [LocalClock(CITIES[c].timezone) for c in _COMMITTERS[spec.team]]

    def day(self, day: date) -> list[Call]:
        rng, spec = self.rng, self.spec
        weekday = day.weekday()
        mean = spec.runs_per_workday * self.world.scale * (1.0 if weekday < 5 else 0.08)
        starts = []
        for _ in range(poisson(rng, mean)):
            clock = rng.choice(self._clocks)
            hour = rng.gauss(13.5, 2.6)
            starts.append((clock.at(day, min(max(hour, 7.0), 21.5)), "push"))
        starts.append((self.clock.at(day, 3 + rng.random() / 6), "nightly"))
        calls: list[Call] = []
        for t, trigger in sorted(starts):
            calls.extend(self._run(t, trigger))
        return calls

    def _run(self, t: int, trigger: str) -> list[Call]:
        rng, spec = self.rng, self.spec
        ip = POOLS["github-actions"].pick(rng)
        client = Client(self.world, rng, ip, _USER_AGENT)
        if trigger == "nightly":
            workflow, count = "nightly", 5 + rng.randrange(3)
        else:
            workflow = rng.choices(("test", "build", "release"), (6, 3, 1))[0]
            count = {
                "test": 5 + rng.randrange(4),
                "build": 8 + rng.randrange(8),
                "release": 18 + rng.randrange(13),
            }[workflow]
        t += int((20 + 90 * rng.random()) * SECOND)  # checkout and setup before the vault step
        login = jwt_login(
            client, self.mint, t, spec.repository, spec.role, (spec.role,), _CI_TTL, workflow
        )
        calls = [login]
        own = rng.sample(self.own, min(len(self.own), count - 2))
        paths = [f"secret/data/{p}" for p in own + rng.sample(self.shared, 2)]
        if spec.team == "payments" and workflow == "release":
            paths.append("database/creds/payments-migrate")
        t = client.after(login, 0.05)
        for path in paths:
            call = client.read(t, path)
            calls.append(call)
            t = client.after(call, 0.02 + 0.6 * rng.random())
        self.runs.append(PipelineRun(calls[0].t, t, ip, client.token, workflow))
        return calls


class DeployPipeline(_Daily):
    """The deploy workflow: an AppRole login from the runner and the deploy secrets."""

    def __init__(self, world: World) -> None:
        super().__init__(world, LocalClock("Europe/Berlin"))
        self.rng = world.rng("ci/deploy")
        self.mint = TokenMint(self.rng)
        self.paths = [f"secret/data/{p}" for p in world.store.paths("secret", "ci/deploy/")]

    def day(self, day: date) -> list[Call]:
        rng = self.rng
        if day.weekday() >= 5:
            return []
        calls: list[Call] = []
        mean = float(DEPLOY_PIPELINE["runs_per_workday"]) * self.world.scale
        for _ in range(poisson(rng, mean)):
            t = self.clock.at(day, 10 + rng.random() * 7)
            client = Client(self.world, rng, POOLS["github-actions"].pick(rng), _USER_AGENT)
            login = approle_login(
                client, self.mint, t, "ci-deploy", ("ci-deploy",), 1200, secret_id="github"
            )
            calls.append(login)
            t = client.after(login, 0.05)
            for path in self.paths:
                call = client.read(t, path)
                calls.append(call)
                t = client.after(call, 0.05 + 0.5 * rng.random())
        return calls


class NightlyJob(_Daily):
    """A scheduled job (backup, ETL, secret rotation) at a local hour on some weekdays."""

    def __init__(self, world: World, spec: BatchJobSpec) -> None:
        super().__init__(world, LocalClock(spec.timezone))
        self.spec = spec
        self.rng = world.rng(f"job/{spec.name}")
        self.mint = TokenMint(self.rng)
        self.address = spec.address or POOLS[spec.pool].pick(world.rng(f"nat/{spec.name}"))

    def day(self, day: date) -> list[Call]:
        spec, rng, world = self.spec, self.rng, self.world
        if day.weekday() not in spec.weekdays:
            return []
        t = self.clock.at(day, spec.hour + rng.random() * 0.05)
        client = Client(world, rng, self.address, spec.user_agent)
        login = approle_login(
            client, self.mint, t, spec.role, (spec.role,), spec.token_ttl, secret_id=spec.name
        )
        calls = [login]
        t = client.after(login, 0.2)
        reads = list(spec.reads)
        rng.shuffle(reads)
        for operation, path in reads:
            data = None
            if path.startswith("transit/"):
                data = {"ciphertext": random_hmac(rng)}
            call = client.call(t, operation, path, data)
            calls.append(call)
            t = client.after(call, 1 + rng.random() * 25)
        for logical in spec.writes:
            call = client.read(t, f"secret/metadata/{logical}")
            calls.append(call)
            t = client.after(call, 0.05)
            version, _ = world.store.version_at("secret", logical, t)
            data = {
                "data": world.hasher.structure({"value": f"{logical}@rotation@{t}"}),
                "options": {"cas": version},
            }
            call = client.update(t, f"secret/data/{logical}", data)
            calls.append(call)
            if call.outcome == ALLOWED:
                world.store.write("secret", logical, call.t)
            t = client.after(call, 2 + rng.random() * 10)
        return calls
