"""Attackers who know the detector: four scenarios written to stay under it.

Each has read the README ("How it decides") and avoids what it names. The stolen token is
used in the victim's working hours with the victim's own user agent, never within the
detector's ten-minute replay window of the victim's own use, and from a network in the
victim's own country (or the victim's own address). What is left differs per scenario:

- ``slow-exfiltration`` keeps every five-minute window as small as the victim's;
- ``same-country-network`` changes nothing but the network (same city, same reads);
- ``slow-warmup`` lets the new network become familiar before reading anything new;
- ``baseline-poisoning`` grows its traffic from a new network day by day until its
  bulk read looks like the victim's busiest days.

They are not in the default set (``detector simulate --scenarios evasion`` or ``all``):
the default run, and the figures the README quotes for it, do not change. Victims are
people and a service that the ten standard scenarios leave alone, so ``all`` injects
fourteen independent attacks.
"""

from __future__ import annotations

import random
from datetime import date, timedelta

from detector.simulate.calls import Call
from detector.simulate.client import Client
from detector.simulate.networks import POOLS
from detector.simulate.people import Person, Session
from detector.simulate.scenarios import Cast, Scenario
from detector.simulate.services import ServiceHost
from detector.simulate.timekeeping import DAY, HOUR, MINUTE, SECOND, LocalClock
from detector.simulate.tokens import Token
from detector.simulate.world import World

__all__ = ["EVASION_SCENARIOS", "EvasionScenario"]

#: Beyond the detector's 10-minute replay window (a credential seen from two networks).
_MARGIN = 12 * MINUTE
#: Seconds between two commands of a person in the web UI and in the CLI (as people.py).
_UI_GAP = (5.0, 65.0)
_CLI_GAP = (5.0, 125.0)


class EvasionScenario(Scenario):
    """A scenario whose steps fall on consecutive working days of its victim's time zone.

    The first day is ``fraction`` into the attack period; each step is planned at local
    ``hour`` (before the victim's day begins, so the step sees that day's sessions and
    can avoid them). ``workdays`` steps at most; a run too short for ``min_workdays``
    leaves the scenario out.
    """

    zone = "UTC"
    fraction = 0.0
    hour = 6.0
    workdays = 1
    min_workdays = 1

    @classmethod
    def timing(cls, world: World, first: float, last: float, days: float) -> list[int]:
        """One time per working day, while a whole working day still fits in the run."""
        clock = LocalClock(cls.zone)
        day = LocalClock("UTC").date_of(world.start) + timedelta(
            days=int(first + cls.fraction * (last - first))
        )
        jitter = world.rng(f"schedule/{cls.name}")
        begin = world.start + int(first * DAY)
        when: list[int] = []
        while len(when) < cls.workdays:
            t = clock.at(day, cls.hour) + int(jitter.random() * 20 * MINUTE)
            if t + 16 * HOUR > world.end:
                break
            if day.weekday() < 5 and t >= begin:
                when.append(t)
            day += timedelta(days=1)
        return when if len(when) >= cls.min_workdays else []

    # -- helpers for impostors --------------------------------------------------------------

    def impersonate(
        self,
        client: Client,
        person: Person,
        t: int,
        actions: list[tuple[str, str]],
        ui: bool,
        gap: tuple[float, float] | None = None,
    ) -> tuple[list[Call], int]:
        """``actions`` (operation, path) made as ``person`` makes them: the web UI's opening
        calls first, or the CLI's preflight before each KV command; ``gap`` seconds apart
        (by default at the person's own pace)."""
        rng, calls = self.rng, []
        if ui:
            for path, reply, body in person.ui_opening():
                call = client.call(t, "read", path, None, reply, body)
                calls.append(call)
                t = client.after(call, 0.05 + 0.2 * rng.random())
        lo, hi = gap or (_UI_GAP if ui else _CLI_GAP)
        for operation, path in actions:
            if not ui:
                t = person.cli_preflight(client, t, path, calls)
            call = client.call(t, operation, path)
            calls.append(call)
            t = client.after(call, lo + (hi - lo) * rng.random())
            if not ui:
                client.reconnect()  # every CLI command is a new process
        return calls, t

    def usual_reads(self, person: Person, count: int) -> list[tuple[str, str]]:
        """``count`` reads of the person's favourite secrets, favoured as they favour them."""
        favourites = person.favourites
        weights = [1 / (i + 1) for i in range(len(favourites))]
        picks = self.rng.choices(favourites, weights, k=count)
        return [("read", f"secret/data/{p}") for p in picks]

    def unseen(
        self, person: Person, since: int, count: int, length: int
    ) -> tuple[list[Session], list[int]] | None:
        """The person's sessions on the local day of ``since`` and up to ``count`` times
        after ``since`` to act unseen for ``length``; ``None`` if that day offers none."""
        sessions = _day_sessions(person, person.clock.date_of(since))
        starts = _quiet_starts(self.rng, person, sessions, since, count, length)
        return (sessions, starts) if starts else None

    def as_victim(self, session: Session) -> Token:
        """The session's token, recorded as the credential the instance is about."""
        token = session.token
        assert token is not None
        self.victim(token)
        return token


def _day_sessions(person: Person, day: date) -> list[Session]:
    """The person's working sessions on their local ``day``, in time order."""
    return sorted(
        (
            s
            for s in person.sessions
            if s.token is not None
            and s.place in ("office", "home")
            and person.clock.date_of(s.start) == day
        ),
        key=lambda s: s.start,
    )


def _session_at(sessions: list[Session], t: int) -> Session | None:
    """The latest session begun by ``t`` whose token Vault still accepts at ``t``: what an
    infostealer on the laptop holds then."""
    for session in reversed(sessions):
        if session.start <= t and session.token is not None and session.token.valid_at(t):
            return session
    return None


def _quiet_starts(
    rng: random.Random,
    person: Person,
    sessions: list[Session],
    since: int,
    count: int,
    length: int,
) -> list[int]:
    """Up to ``count`` times in the person's working hours at which ``length`` of activity
    begins and ends at least ``_MARGIN`` away from their own sessions.

    A token used only while its owner is idle is never seen from two networks within the
    replay window.
    """
    if len(sessions) < 2:
        return []
    clock, spec = person.clock, person.spec
    day = clock.date_of(sessions[0].start)
    opens, closes = clock.at(day, spec.start_hour), clock.at(day, spec.end_hour)
    gaps = []
    for before, after in zip(sessions, sessions[1:], strict=False):
        lo = max(before.end + _MARGIN, since, opens)
        hi = min(after.start - _MARGIN, closes) - length
        if hi > lo:
            gaps.append((lo, hi))
    total = sum(hi - lo for lo, hi in gaps)
    if not total:
        return []
    starts = []
    for _ in range(count):
        x = int(rng.random() * total)
        for lo, hi in gaps:
            if x < hi - lo:
                starts.append(lo + x)
                break
            x -= hi - lo
    kept: list[int] = []
    for t in sorted(starts):
        if not kept or t >= kept[-1] + length + _MARGIN:
            kept.append(t)
    return kept


class SlowExfiltration(EvasionScenario):
    """Volume is judged per five-minute window: one read every quarter of an hour never
    makes a window larger than the victim's own, however many secrets it adds up to.
    """

    name = "slow-exfiltration"
    description = (
        "Malware on noah's laptop uses his Vault token from his own address with his Vault "
        "CLI to read, one every 11 to 25 minutes through his working day, the ETL connector "
        "keys and billing secrets he never reads."
    )
    zone = "America/New_York"
    fraction = 0.5

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        noah = self.cast.people["noah"]
        since = max(self.when[0], start)
        latest = noah.spec.end_hour - 2
        begun = [
            s
            for s in noah.sessions
            if s.start >= since
            and s.token is not None
            and s.place in ("office", "home")
            and noah.clock.hour_of(s.start) < latest
        ]
        if not begun:
            return None  # his day is not planned yet, or he is off: wait
        day = noah.clock.date_of(begun[0].start)
        sessions = _day_sessions(noah, day)
        closes = noah.clock.at(day, noah.spec.end_hour)
        t = begun[0].start + int((15 + 20 * self.rng.random()) * MINUTE)
        calls: list[Call] = []
        for path in self._targets(noah):
            session = _session_at(sessions, t)
            if t >= closes or session is None:
                break
            client = self.at(session.ip, noah.spec.cli, self.as_victim(session))
            more, _ = self.impersonate(client, noah, t, [("read", path)], ui=False)
            calls.extend(more)
            t += int((11 + 14 * self.rng.random()) * MINUTE)
        return calls

    def _targets(self, noah: Person) -> list[str]:
        """The ETL connectors' keys and the billing secrets (the finance grant), less his own."""
        store, own = self.world.store, set(noah.favourites)
        paths = store.paths("secret", "data/etl/") + store.paths("secret", "payments/billing/")
        wanted = [f"secret/data/{p}" for p in paths if p not in own]
        self.rng.shuffle(wanted)
        return wanted


class SameCountryNetwork(EvasionScenario):
    """The only difference left is the network: same city, same agent, the service's own
    secrets in its own rhythm, and a token nobody else uses any more.
    """

    name = "same-country-network"
    description = (
        "The token of a payments-api pod, leaked in a crash report, is used in the hour after "
        "the pod was replaced (Vault still accepts it, nothing else uses it) from a "
        "DigitalOcean droplet in Frankfurt, the city of the service's AWS NAT addresses, with "
        "the service's user agent, to read the service's own secrets as its agent does."
    )
    zone = "Europe/Berlin"
    fraction = 0.3
    hour = 9.0

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        found = self._abandoned(max(self.when[0], start))
        if found is None:
            return None
        host, token, replaced = found
        self.victim(token)
        spec, rng = host.spec, self.rng
        client = self.attacker("do-frankfurt", spec.user_agent, token)
        t = replaced + int((11 + 4 * rng.random()) * MINUTE)
        calls: list[Call] = []
        while token.valid_at(t + MINUTE):
            render = t
            for path in spec.templates:
                call = client.read(t, path)
                calls.append(call)
                t = client.after(call, 0.002 + 0.01 * rng.random())
            t = render + int(spec.template_interval * (0.98 + 0.04 * rng.random()) * SECOND)
        return calls

    def _abandoned(self, since: int) -> tuple[ServiceHost, Token, int] | None:
        """The first token a payments-api pod stopped using after ``since``, in Berlin office
        hours, that Vault accepts for another half hour: (host, token, when replaced)."""
        berlin = LocalClock("Europe/Berlin")
        found = []
        for host in self.cast.services["payments-api"]:
            tokens = list(host.tokens)
            for old, new in zip(tokens, tokens[1:], strict=False):
                replaced = new.issued
                if replaced < since or old.expires - replaced < 30 * MINUTE:
                    continue
                if berlin.weekday_of(replaced) < 5 and 9 <= berlin.hour_of(replaced) < 17:
                    found.append((replaced, host.index, host, old))
        if not found:
            return None
        replaced, _, host, token = min(found, key=lambda f: (f[0], f[1]))
        return host, token, replaced


class SlowWarmup(EvasionScenario):
    """A new network alerts once and is then learned: the thief spends that first look on
    nothing but the victim's routine, and takes the rest when the network is familiar.
    """

    name = "slow-warmup"
    description = (
        "An infostealer on lucas's laptop sends his Vault token each morning; from one AWS "
        "address in São Paulo, his own city, the attacker repeats for two working days only "
        "his usual reads of his usual secrets with his browser or CLI while he is idle, then "
        "on the third lists and reads the shop secrets he never reads."
    )
    zone = "America/Sao_Paulo"
    fraction = 0.15
    workdays = 3
    min_workdays = 2

    def __init__(self, world: World, cast: Cast, when: list[int], number: int = 1) -> None:
        super().__init__(world, cast, when, number)
        self.ip = POOLS["aws-sa-east-1"].pick(self.rng)  # one instance, one address

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        lucas = self.cast.people["lucas"]
        since = max(self.when[index], start)
        if index < len(self.when) - 1:
            return self._routine(lucas, since)
        return self._take(lucas, since)

    def _session(
        self, lucas: Person, sessions: list[Session], t: int, actions: list[tuple[str, str]]
    ) -> list[Call]:
        session = _session_at(sessions, t)
        if session is None:
            return []
        ui = self.rng.random() < lucas.spec.ui_share
        agent = lucas.spec.browser if ui else lucas.spec.cli
        client = self.at(self.ip, agent, self.as_victim(session))
        calls, _ = self.impersonate(client, lucas, t, actions, ui)
        return calls

    def _routine(self, lucas: Person, since: int) -> list[Call]:
        """Two or three short sessions of his favourite reads; a day off is skipped."""
        found = self.unseen(lucas, since, 2 + self.rng.randrange(2), 10 * MINUTE)
        if found is None:
            return []
        sessions, starts = found
        calls: list[Call] = []
        for t in starts:
            reads = self.usual_reads(lucas, 2 + self.rng.randrange(3))
            calls.extend(self._session(lucas, sessions, t, reads))
        return calls

    def _take(self, lucas: Person, since: int) -> list[Call] | None:
        """Every shop secret he never reads, folder by folder, in two sessions."""
        found = self.unseen(lucas, since, 2, 20 * MINUTE)
        if found is None:
            return None  # no moment unseen today: try again later
        sessions, starts = found
        own = set(lucas.favourites)
        wanted = [p for p in self.world.store.paths("secret", "shop/") if p not in own]
        halves = [wanted[: len(wanted) // 2], wanted[len(wanted) // 2 :]]
        if len(starts) < 2:
            halves = [wanted]
        calls: list[Call] = []
        for t, paths in zip(starts, halves, strict=False):
            folders = sorted({p.rsplit("/", 1)[0] for p in paths})
            actions = [("list", f"secret/metadata/{f}/") for f in folders]
            actions += [("read", f"secret/data/{p}") for p in paths]
            calls.extend(self._session(lucas, sessions, t, actions))
        return calls


class BaselinePoisoning(EvasionScenario):
    """Baselines learn from trusted traffic: traffic that grows slowly from a new network
    is learned as it grows, until the network is home and a big read is a busy day.
    """

    name = "baseline-poisoning"
    description = (
        "An infostealer on tobias's laptop sends his Vault token each morning; from a Strato "
        "server in Berlin, his own city, the attacker reads his usual secrets while he is "
        "idle, one read on the first day and a little more each working day, up to about as "
        "much as he reads himself, then reads some thirty secrets across teams, most of which "
        "he never reads, in a quarter of an hour."
    )
    zone = "Europe/Berlin"
    fraction = 0.0
    workdays = 9
    min_workdays = 3

    def __init__(self, world: World, cast: Cast, when: list[int], number: int = 1) -> None:
        super().__init__(world, cast, when, number)
        self.ip = POOLS["strato-berlin"].pick(self.rng)  # the attacker's own server

    def step(self, index: int, start: int, end: int) -> list[Call] | None:
        tobias = self.cast.people["tobias"]
        since = max(self.when[index], start)
        days = len(self.when) - 1
        if index < days:
            return self._poison(tobias, since, index / max(1, days - 1))
        return self._bulk(tobias, since)

    def _poison(self, tobias: Person, since: int, growth: float) -> list[Call]:
        """``growth`` 0 → 1 over the days: 1 session of 1 read, up to 4 sessions of 5."""
        sessions_today, reads = 1 + round(3 * growth), 1 + round(4 * growth)
        found = self.unseen(tobias, since, sessions_today, 15 * MINUTE)
        if found is None:
            return []
        sessions, starts = found
        calls: list[Call] = []
        for t in starts:
            session = _session_at(sessions, t)
            if session is None:
                continue
            ui = self.rng.random() < tobias.spec.ui_share
            agent = tobias.spec.browser if ui else tobias.spec.cli
            client = self.at(self.ip, agent, self.as_victim(session))
            more, _ = self.impersonate(client, tobias, t, self.usual_reads(tobias, reads), ui)
            calls.extend(more)
        return calls

    def _bulk(self, tobias: Person, since: int) -> list[Call] | None:
        """The secrets across teams his SRE policy reads and he never does, by CLI, with
        a few seconds to a minute between commands (a script with sleeps)."""
        found = self.unseen(tobias, since, 1, 40 * MINUTE)
        if found is None:
            return None
        sessions, (t, *_) = found
        session = _session_at(sessions, t)
        if session is None:
            return None
        client = self.at(self.ip, tobias.spec.cli, self.as_victim(session))
        calls, _ = self.impersonate(client, tobias, t, self._wanted(tobias), False, (5.0, 45.0))
        return calls

    def _wanted(self, tobias: Person) -> list[tuple[str, str]]:
        store, own = self.world.store, set(tobias.favourites)
        folders = ("payments/", "platform/auth-gateway/", "platform/search/", "sre/")
        folders += ("ci/deploy/", "shop/cart/", "shop/inventory/")
        paths = [p for f in folders for p in store.paths("secret", f) if p not in own]
        self.rng.shuffle(paths)
        wanted = [("read", f"secret/data/{p}") for p in paths]
        wanted += [("read", f"kv-legacy/{p}") for p in store.paths("kv-legacy", "ops/")]
        wanted += [("read", "kv-legacy/payments/legacy-sftp")]
        wanted += [("read", "database/creds/billing"), ("read", "database/creds/payments-api")]
        return [("list", "secret/metadata/"), *wanted]


#: The evasion scenarios, in the order they are scheduled.
EVASION_SCENARIOS: tuple[type[Scenario], ...] = (
    SlowExfiltration,
    SameCountryNetwork,
    SlowWarmup,
    BaselinePoisoning,
)
