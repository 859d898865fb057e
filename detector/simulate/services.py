"""Services: hosts and pods that log in, renew, and read their own secrets all day.

Each host (a VM or a Kubernetes pod) runs its own Vault Agent or SDK with its own token:
it logs in, renews the token at two thirds of its TTL until the maximum TTL, then logs in
again and gets a new accessor. It re-reads its templates on a fixed interval and makes
load-driven calls (decrypting a card number per checkout) that follow the service's
daily profile. Pods restart on deploys with a new address and a new token; a staging
host is switched off outside office hours.
"""

from __future__ import annotations

from collections import deque
from datetime import timedelta

from detector.simulate.auth_methods import approle_login, kubernetes_login
from detector.simulate.calls import Call
from detector.simulate.client import Client
from detector.simulate.identifiers import random_hmac
from detector.simulate.networks import POOLS
from detector.simulate.organisation import ServiceSpec
from detector.simulate.timekeeping import HOUR, SECOND, LocalClock
from detector.simulate.tokens import Token, TokenMint
from detector.simulate.traffic import PROFILES, arrivals, poisson
from detector.simulate.world import World

__all__ = ["ServiceHost", "deployment_time", "service_hosts"]

_TEMPLATE, _TRAFFIC, _RESTART = 0, 1, 2


def deployment_time(world: World, spec: ServiceSpec) -> int:
    """When a service goes live: a new one on the first weekday, 10:30 in Berlin, at or
    after its point in the period; the others run from the start."""
    if not spec.deployed_at:
        return world.start
    clock = LocalClock("Europe/Berlin")
    day = clock.date_of(world.start + int(spec.deployed_at * (world.end - world.start)))
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return clock.at(day, 10.5)


def service_hosts(world: World, spec: ServiceSpec) -> list[ServiceHost]:
    """The hosts of a service at the run's scale; together they carry ``scale`` x the load."""
    load = spec.hosts * world.scale
    count = max(1, round(load))
    nat_rng = world.rng(f"nat/{spec.name}")
    pool = POOLS[spec.pool]
    nat = [pool.pick(nat_rng) for _ in range(spec.nat_addresses)]
    return [ServiceHost(world, spec, i, load / count, nat) for i in range(count)]


class ServiceHost:
    """One host of a service.

    Parameters
    ----------
    world
        The simulated server.
    spec
        The service.
    index
        Which host (names its generator and its address).
    share
        Multiplier of the spec's per-host traffic (the load spread over the hosts).
    nat
        Fixed public addresses the service's traffic leaves through (cloud NAT), if any.
    """

    def __init__(
        self, world: World, spec: ServiceSpec, index: int, share: float, nat: list[str]
    ) -> None:
        self.world = world
        self.spec = spec
        self.index = index
        self.share = share
        self.nat = nat
        self.rng = rng = world.rng(f"service/{spec.name}/{index}")
        self.mint = TokenMint(rng)
        self.clock = LocalClock(spec.timezone)
        self.profile = PROFILES[spec.profile]
        self.client = Client(world, rng, self._address(), spec.user_agent)
        self.tokens: deque[Token] = deque(maxlen=64)
        self._stale: list[Call] = []
        self.live_from = deployment_time(world, spec)
        self._first_login = spec.deployed_at > 0 and index == 0
        self._next_refresh = 0
        self._renewed_at = 0
        interval = spec.template_interval * SECOND
        self._next_template = self.live_from + (int(rng.random() * interval) if interval else 0)
        if self.live_from == world.start and self._up(world.start):
            self._token_from_before()

    # -- where and when ----------------------------------------------------------------------

    def _address(self) -> str:
        pool = POOLS[self.spec.pool]
        if self.nat:
            return self.nat[self.index % len(self.nat)]
        if self.spec.auth == "kubernetes":
            return pool.pick(self.rng)  # a pod gets an address from its node's range
        base = pool.cidrs[0].rsplit(".", 1)[0]
        return f"{base}.{5 + self.index % 240}"

    def _local(self, slot: int) -> tuple[int, int]:
        """(local hour, weekday) of the hour starting at ``slot``."""
        return self.world.local_hour(self.clock, slot)

    def _up(self, t: int) -> bool:
        if not self.spec.business_hours_only:
            return True
        hour, weekday = self._local(t - t % HOUR)
        return weekday < 5 and 7 <= hour < 20

    def token_at(self, t: int) -> Token | None:
        """The token this host held at ``t`` (for the scenarios that steal it)."""
        for token in reversed(self.tokens):
            if token.issued <= t and token.valid_at(t):
                return token
        return None

    def _token_from_before(self) -> None:
        """The token the host already held when the log begins (its login is not in it)."""
        spec, rng, start = self.spec, self.rng, self.world.start
        renews = spec.token_max_ttl > spec.token_ttl
        age = rng.random() * (0.8 * spec.token_max_ttl if renews else 0.75 * spec.token_ttl)
        issued = start - int(age * SECOND)
        self._login(issued)  # before the log begins: the call is not kept
        if renews:
            self._renewed_at = start - int(rng.random() * 0.6 * spec.token_ttl * SECOND)
            self._next_refresh = self._renewed_at + int(spec.token_ttl * SECOND * 0.65)

    # -- planning ------------------------------------------------------------------------------

    def plan(self, start: int, end: int) -> list[Call]:
        """The host's calls starting in ``[start, end)``."""
        if end <= self.live_from:
            return []
        start = max(start, self.live_from)
        events = self._events(start, end)
        calls: list[Call] = []
        for t, kind, arg in events:
            if not self._up(t):
                continue
            if kind == _RESTART:
                self._keep_token(t, calls, login=False)
                self._restart(t, calls)
                continue
            t = self._keep_token(t, calls)
            if kind == _TEMPLATE:
                for path in self.spec.templates:
                    call = self.client.read(t, path)
                    calls.append(call)
                    t = self.client.after(call, 0.002 + 0.01 * self.rng.random())
            elif kind == _TRAFFIC:
                operation, path = arg
                data = None
                if path.startswith("transit/"):
                    field = "ciphertext" if "/decrypt/" in path else "plaintext"
                    data = {field: random_hmac(self.rng)}
                elif path.startswith("pki_int/"):
                    data = {
                        "common_name": self.world.hasher(f"{self.spec.name}.acme.internal"),
                        "ttl": self.world.hasher("72h"),
                    }
                calls.append(self.client.call(t, operation, path, data))
        # Renewals due before the window ends happen now: a later window must not plan
        # calls in this one's past.
        self._keep_token(end, calls, login=False)
        if self._stale:
            calls.extend(self._stale)
            self._stale.clear()
        return calls

    def _events(self, start: int, end: int) -> list[tuple[int, int, object]]:
        spec, rng = self.spec, self.rng
        events: list[tuple[int, int, object]] = []
        if spec.templates and spec.template_interval:
            interval = spec.template_interval * SECOND
            t = self._next_template
            while t < end:
                if t >= start:
                    events.append((t, _TEMPLATE, None))
                t += int(interval * (0.98 + 0.04 * rng.random()))
            self._next_template = t
        for operation, path, per_hour in spec.traffic:
            rate = per_hour * self.share

            def hourly(slot: int, rate: float = rate) -> float:
                hour, weekday = self._local(slot)
                return rate * self.profile.factor(hour, weekday)

            events.extend(
                (t, _TRAFFIC, (operation, path)) for t in arrivals(rng, start, end, hourly)
            )
        if spec.restarts_per_week:
            # Deploys roll the pods, mostly in office hours; evictions happen any time.
            days = (end - start) / (24 * HOUR)
            for _ in range(poisson(rng, 3 * spec.restarts_per_week / 7 * days)):
                t = start + int(rng.random() * (end - start))
                hour, weekday = self._local(t - t % HOUR)
                office = weekday < 5 and 9 <= hour < 18
                if rng.random() < (0.8 if office else 0.05):
                    events.append((t, _RESTART, None))
        events.sort(key=lambda e: (e[0], e[1]))
        return events

    # -- the token -----------------------------------------------------------------------------

    def _keep_token(self, t: int, calls: list[Call], login: bool = True) -> int:
        """Renew or replace the token as the agent would up to ``t``; when the next call
        may start."""
        token = self.client.token
        while token is not None and self._next_refresh <= t:
            when = self._next_refresh
            if not self._up(when):
                token = None  # the host was off: its token lapsed
                break
            spec = self.spec
            max_end = token.issued + spec.token_max_ttl * SECOND
            if spec.token_max_ttl > spec.token_ttl and when + spec.token_ttl * SECOND < max_end:
                call = self.client.renew(when, spec.token_ttl)
                calls.append(call)
                self._renewed_at = when
                self._next_refresh = when + int(
                    spec.token_ttl * SECOND * (0.62 + 0.06 * self.rng.random())
                )
            else:
                call = self._login(when)
                calls.append(call)
                token = self.client.token
        if not login:
            return t
        if token is None or not token.valid_at(t + SECOND):
            call = self._login(t)
            calls.append(call)
            return self.client.after(call, 0.005)
        return t

    def _login(self, t: int) -> Call:
        spec, rng = self.spec, self.rng
        old = self.client.token
        if old is not None:  # abandoned: it lives until its current TTL runs out
            old.expires = min(old.expires, self._renewed_at + spec.token_ttl * SECOND)
        lifetime = max(spec.token_ttl, spec.token_max_ttl)
        created, self._first_login = self._first_login, False
        if spec.auth == "kubernetes":
            call = kubernetes_login(
                self.client,
                self.mint,
                t,
                spec.role,
                spec.k8s_namespace,
                (spec.policy,),
                spec.token_ttl,
                lifetime,
                entity_created=created,
            )
        else:
            call = approle_login(
                self.client,
                self.mint,
                t,
                spec.role,
                (spec.policy,),
                spec.token_ttl,
                lifetime,
                secret_id=f"{spec.name}-{self.index}",
                entity_created=created,
            )
        token = self.client.token
        assert token is not None
        self.tokens.append(token)
        self._renewed_at = t
        if old is not None and rng.random() < spec.stale_reads:
            self._stale_read(old)
        if spec.token_max_ttl > spec.token_ttl:
            fraction = 0.62 + 0.06 * rng.random()
            self._next_refresh = t + int(spec.token_ttl * SECOND * fraction)
        else:
            fraction = 0.80 + 0.1 * rng.random()
            self._next_refresh = t + int(spec.token_ttl * SECOND * fraction)
        return call

    def _stale_read(self, old: Token) -> None:
        """A cron job still reads its token from the agent's old sink file: denied once."""
        cron = Client(self.world, self.rng, self.client.ip, "curl/7.76.1", old)
        t = old.expires + int((60 + 900 * self.rng.random()) * SECOND)
        self._stale.append(cron.read(t, self.spec.templates[-1]))

    def _restart(self, t: int, calls: list[Call]) -> None:
        """A deploy replaced the pod: new address, new connection, new token."""
        self.client.reconnect(self._address())
        start = t + int((8 + 25 * self.rng.random()) * SECOND)
        calls.append(self._login(start))
        t = self.client.after(calls[-1], 0.01)
        for path in self.spec.templates:
            call = self.client.read(t, path)
            calls.append(call)
            t = self.client.after(call, 0.002)
